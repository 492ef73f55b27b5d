package creatives

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
)

// placeholder is a value filled into a part at bid time.
type placeholder uint8

const (
	phNone placeholder = iota
	phProductName
	phProductPrice
	phInterest
	phKeywords
	numPlaceholders
)

// placeholderNames are the {names} a part may use.
var placeholderNames = [numPlaceholders]string{"", "product.name", "product.price", "interest", "keywords"}

func placeholderOf(name string) placeholder {
	for i := phProductName; i < numPlaceholders; i++ {
		if placeholderNames[i] == name {
			return i
		}
	}
	return phNone
}

// seg is a literal piece of a template or a placeholder.
type seg struct {
	lit string
	ph  placeholder
}

// tmpl is one variant of a part, split at its placeholders once so that bid
// time only appends.
type tmpl struct {
	segs []seg
	need uint8 // bit ph set when the template uses placeholder ph
}

func (t *tmpl) uses(ph placeholder) bool { return t.need&(1<<ph) != 0 }

// compileTemplate splits s at {placeholders}. Unknown {names} stay literal
// text; Validate reports them.
func compileTemplate(s string) tmpl {
	var t tmpl
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		ph := placeholderOf(s[i+1 : i+j])
		if ph == phNone {
			t.segs = appendLit(t.segs, s[:i+1])
			s = s[i+1:]
			continue
		}
		t.segs = appendLit(t.segs, s[:i])
		t.segs = append(t.segs, seg{ph: ph})
		t.need |= 1 << ph
		s = s[i+j+1:]
	}
	t.segs = appendLit(t.segs, s)
	return t
}

func appendLit(segs []seg, lit string) []seg {
	if lit == "" {
		return segs
	}
	if n := len(segs); n > 0 && segs[n-1].ph == phNone {
		segs[n-1].lit += lit
		return segs
	}
	return append(segs, seg{lit: lit})
}

// partSet holds a part's variants per phase (nil when the phase has none of
// its own) and its default variants.
type partSet struct {
	byPhase [segments.NumPhases][]tmpl
	def     []tmpl
}

func (ps *partSet) empty() bool {
	if len(ps.def) > 0 {
		return false
	}
	for _, l := range ps.byPhase {
		if len(l) > 0 {
			return false
		}
	}
	return true
}

// anyUses reports whether any variant of the part uses ph.
func (ps *partSet) anyUses(ph placeholder) bool {
	for _, t := range ps.def {
		if t.uses(ph) {
			return true
		}
	}
	for _, l := range ps.byPhase {
		for _, t := range l {
			if t.uses(ph) {
				return true
			}
		}
	}
	return false
}

// prepared is a creative compiled for assembly. It is immutable.
type prepared struct {
	parts [NumParts]partSet
	// productAd reports whether the creative advertises a specific product
	// (it has a product part or fills in the profile's product), and so must
	// not be shown to a user who bought that product unless it cross-sells.
	productAd bool
	// usesProduct reports whether any part fills in {product.name} or
	// {product.price}: the profile's product is the creative's product.
	usesProduct bool
	imageMime   mimeBit
	videoSecs   int64
}

func prepare(cr *campaigns.Creative) *prepared {
	pr := &prepared{}
	for p := Part(0); p < NumParts; p++ {
		byPhase := cr.Parts[partNames[p]]
		ps := &pr.parts[p]
		for name, vs := range byPhase {
			list := make([]tmpl, 0, min(len(vs), maxVariants))
			for i, v := range vs {
				if i == maxVariants {
					break
				}
				list = append(list, compileTemplate(v))
			}
			if name == "default" {
				ps.def = list
				continue
			}
			if ph, err := segments.ParsePhase(name); err == nil {
				ps.byPhase[ph] = list
			}
		}
		if ps.anyUses(phProductName) || ps.anyUses(phProductPrice) {
			pr.usesProduct = true
		}
	}
	pr.productAd = pr.usesProduct || !pr.parts[PartProduct].empty()
	pr.imageMime = mimeOfURL(cr.Image)
	if cr.Video != nil {
		d := time.Duration(cr.Video.Duration)
		pr.videoSecs = int64((d + time.Second - 1) / time.Second)
	}
	return pr
}

// Validate checks what assembly needs of a campaign's creatives beyond
// campaigns.Validate: that every {placeholder} is known and that no part has
// more variants than a crid can name. Field paths match campaigns.Validate.
func Validate(c *campaigns.Campaign) []campaigns.Problem {
	var ps []campaigns.Problem
	for i := range c.Creatives {
		cr := &c.Creatives[i]
		parts := make([]string, 0, len(cr.Parts))
		for part := range cr.Parts {
			parts = append(parts, part)
		}
		sort.Strings(parts)
		for _, part := range parts {
			phases := make([]string, 0, len(cr.Parts[part]))
			for ph := range cr.Parts[part] {
				phases = append(phases, ph)
			}
			sort.Strings(phases)
			for _, ph := range phases {
				vs := cr.Parts[part][ph]
				field := fmt.Sprintf("creatives[%d].parts.%s.%s", i, part, ph)
				if len(vs) > maxVariants {
					ps = append(ps, campaigns.Problem{Campaign: c.ID, Field: field,
						Message: fmt.Sprintf("%d variants; at most %d", len(vs), maxVariants)})
				}
				for k, v := range vs {
					if name, ok := unknownPlaceholder(v); ok {
						ps = append(ps, campaigns.Problem{Campaign: c.ID, Field: fmt.Sprintf("%s[%d]", field, k),
							Message: fmt.Sprintf("unknown placeholder {%s} (want {product.name}, {product.price}, {interest} or {keywords})", name)})
					}
				}
			}
		}
	}
	return ps
}

func unknownPlaceholder(s string) (string, bool) {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return "", false
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", false
		}
		if name := s[i+1 : i+j]; placeholderOf(name) == phNone {
			return name, true
		}
		s = s[i+j+1:]
	}
}

// mimeBit is a set of image MIME types.
type mimeBit uint8

const (
	mimeJPEG mimeBit = 1 << iota
	mimePNG
	mimeGIF
	mimeWebP
	mimeSVG
	mimeOther // a type Kairos does not recognise
)

func mimeOfType(t string) mimeBit {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "image/jpeg", "image/jpg", "image/pjpeg":
		return mimeJPEG
	case "image/png":
		return mimePNG
	case "image/gif":
		return mimeGIF
	case "image/webp":
		return mimeWebP
	case "image/svg+xml":
		return mimeSVG
	}
	return mimeOther
}

// mimeOfURL guesses an image's type from its file extension; 0 = unknown.
func mimeOfURL(u string) mimeBit {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	dot := strings.LastIndexByte(u, '.')
	if dot < 0 || strings.LastIndexByte(u, '/') > dot {
		return 0
	}
	switch strings.ToLower(u[dot+1:]) {
	case "jpg", "jpeg":
		return mimeJPEG
	case "png":
		return mimePNG
	case "gif":
		return mimeGIF
	case "webp":
		return mimeWebP
	case "svg":
		return mimeSVG
	}
	return 0
}
