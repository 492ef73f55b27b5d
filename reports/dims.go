package reports

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Dims are the dimensions one counted event is filed under. Strings may point
// into a request buffer that is reused after the call: the Counter copies them
// only when it meets a new combination and never keeps the caller's strings.
type Dims struct {
	// Campaign is the campaign id; empty for requests and no-bids.
	Campaign string
	// Variant is the creative variant (creative id and message variant).
	Variant string
	// Exchange is the exchange, optionally "exchange/seat".
	Exchange string
	// Publisher is the site domain or the app bundle.
	Publisher string
	// Country is the ISO 3166-1 alpha-3 country of the device.
	Country string
	// Phase is the user's purchase phase: 0 unknown, 1 awareness,
	// 2 consideration, 3 intent, 4 purchased.
	Phase uint8
	// Device is the device type: 0 unknown, 1 desktop, 2 mobile, 3 tablet, 4 ctv.
	Device uint8
	// Format is the impression format: 0 none, 1 banner, 2 native, 3 video, 4 audio.
	Format uint8
	// Hour is the unix hour (unix seconds / 3600) of the bid.
	Hour int64
}

// The numeric dimensions' names, indexed by their codes.
var (
	phaseNames  = [...]string{"unknown", "awareness", "consideration", "intent", "purchased"}
	deviceNames = [...]string{"unknown", "desktop", "mobile", "tablet", "ctv"}
	formatNames = [...]string{"none", "banner", "native", "video", "audio"}
)

// PhaseName returns the name of a phase code ("unknown" for codes out of range).
func PhaseName(p uint8) string { return codeName(phaseNames[:], p) }

// DeviceName returns the name of a device-type code.
func DeviceName(d uint8) string { return codeName(deviceNames[:], d) }

// FormatName returns the name of a format code.
func FormatName(f uint8) string { return codeName(formatNames[:], f) }

func codeName(names []string, c uint8) string {
	if int(c) < len(names) {
		return names[c]
	}
	return names[0]
}

// Dimension names accepted by Reader.WinRate and the by= parameter.
const (
	DimCampaign  = "campaign"
	DimVariant   = "variant"
	DimPhase     = "phase"
	DimExchange  = "exchange"
	DimPublisher = "publisher"
	DimCountry   = "country"
	DimDevice    = "device"
	DimFormat    = "format"
	DimHour      = "hour"
)

// Dimensions lists every dimension a report can be grouped by.
func Dimensions() []string {
	return []string{DimCampaign, DimVariant, DimPhase, DimExchange, DimPublisher, DimCountry, DimDevice, DimFormat, DimHour}
}

// Limits on dimension strings: longer values are cut (at a rune boundary) when
// a new key is made, so a hostile request cannot make keys huge.
const (
	maxDimLen     = 96
	maxCountryLen = 8
)

// other replaces a dimension value when the Counter holds too many keys.
const other = "(other)"

// sep separates the parts of a Redis hash field; canon removes it from values.
const sep = '\x1f'

// canon returns an owned copy of s fit to be part of a key: cut to max bytes and
// with control characters (the field separator among them) replaced by '?'.
func canon(s string, max int) string {
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return strings.Clone(s)
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

// appendField appends the Redis hash field of k's dimensions (without the
// metric): campaign, variant, exchange, publisher, country, phase, device,
// format, separated by 0x1f.
func appendField(dst []byte, k *key) []byte {
	for _, s := range [...]string{k.campaign, k.variant, k.exchange, k.publisher, k.country} {
		dst = append(dst, s...)
		dst = append(dst, sep)
	}
	dst = strconv.AppendUint(dst, uint64(k.phase), 10)
	dst = append(dst, sep)
	dst = strconv.AppendUint(dst, uint64(k.device), 10)
	dst = append(dst, sep)
	dst = strconv.AppendUint(dst, uint64(k.format), 10)
	return append(dst, sep)
}

// fieldDims is one parsed Redis hash field.
type fieldDims struct {
	strs                  [5]string // campaign, variant, exchange, publisher, country
	phase, device, format uint8
	metric                string
}

// parseField splits a hash field written by appendField plus a metric.
func parseField(f string) (fieldDims, bool) {
	var d fieldDims
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(f, sep)
		if j < 0 {
			return d, false
		}
		d.strs[i], f = f[:j], f[j+1:]
	}
	var codes [3]uint8
	for i := range codes {
		j := strings.IndexByte(f, sep)
		if j < 0 {
			return d, false
		}
		n, err := strconv.ParseUint(f[:j], 10, 8)
		if err != nil {
			return d, false
		}
		codes[i], f = uint8(n), f[j+1:]
	}
	d.phase, d.device, d.format, d.metric = codes[0], codes[1], codes[2], f
	return d, true
}
