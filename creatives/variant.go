package creatives

import (
	"strconv"

	"github.com/kairos-rtb/kairos/segments"
)

// Part is one combinable piece of a creative, as named under parts: in a
// campaign file.
type Part uint8

// The creative parts, in the order campaigns.Parts lists them.
const (
	PartHeadline Part = iota
	PartMessage
	PartProduct
	PartOffer
	PartCTA
	PartCrossSell
	PartGreeting
	// NumParts is the number of parts, for arrays indexed by Part.
	NumParts
)

var partNames = [NumParts]string{"headline", "message", "product", "offer", "cta", "crosssell", "greeting"}

// partLetters name the parts in a crid; the upper-case form marks a variant
// taken from the part's default list rather than its phase list.
var partLetters = [NumParts]byte{'h', 'm', 'p', 'o', 'c', 'x', 'g'}

// String returns the part's name as used in campaign files.
func (p Part) String() string {
	if p < NumParts {
		return partNames[p]
	}
	return "part(" + strconv.Itoa(int(p)) + ")"
}

// maxVariants bounds the variants per part and phase that a Variant can name.
const maxVariants = 127

// Variant records which variant of each part an assembled creative shows. It is
// a small value; the zero value names no parts.
type Variant struct {
	// Creative is the creative's id.
	Creative string
	// Phase is the phase the parts were chosen for: the profile's phase, or
	// PhasePurchased for a user who bought the product they last viewed.
	Phase segments.Phase
	// pick per part: 0 = part not shown, else index+1, bit 7 set when the
	// variant came from the part's default list.
	pick [NumParts]uint8
}

const fromDefault = 0x80

func (v *Variant) set(p Part, index int, def bool) {
	b := uint8(index + 1)
	if def {
		b |= fromDefault
	}
	v.pick[p] = b
}

// Pick returns the index of the variant shown for part p, whether it came from
// the part's default list rather than the list for Phase, and whether the part
// was shown at all.
func (v Variant) Pick(p Part) (index int, def, ok bool) {
	if p >= NumParts || v.pick[p] == 0 {
		return 0, false, false
	}
	b := v.pick[p]
	return int(b&^fromDefault) - 1, b&fromDefault != 0, true
}

// AppendCrid appends the bid's crid to dst: the creative id, a dot, then per
// shown part its letter and variant index, e.g. "tr-main.h1m0C0" (an upper-case
// letter marks a default-list variant). The phase is not part of the crid: it is
// personal data and is recorded by Kairos, not sent to the exchange.
func (v Variant) AppendCrid(dst []byte) []byte {
	dst = append(dst, v.Creative...)
	dst = append(dst, '.')
	for p := Part(0); p < NumParts; p++ {
		b := v.pick[p]
		if b == 0 {
			continue
		}
		l := partLetters[p]
		if b&fromDefault != 0 {
			l -= 'a' - 'A'
		}
		dst = append(dst, l)
		dst = strconv.AppendUint(dst, uint64(b&^fromDefault)-1, 10)
	}
	return dst
}

// String returns the crid; it allocates, use AppendCrid on the hot path.
func (v Variant) String() string { return string(v.AppendCrid(nil)) }
