package consent

import "strings"

// This file decodes the parts of an IAB Global Privacy Platform (GPP) string
// Kairos reads: the header's section list, the EU TCF v2 section (2) as a
// source of the TC string, the US Privacy section (6), and the opt-out fields
// of the US national (7) and state (8-23) sections plus their Global Privacy
// Control sub-section. No maintained Go GPP decoder is available to this
// module (github.com/prebid/go-gpp is not on the module proxy), and these
// few fields need no allocation.
//
// Layout (GPP consent string specification v1): sections are joined with '~',
// the header first. The header is base64url (6 bits a character, no padding):
// Type int(6)=3, Version int(6)=1, then a Fibonacci range of section ids:
// int(12) count, and per item a bit (0 single id, 1 group), the Fibonacci-
// coded offset from the previous id, and for a group its Fibonacci-coded
// length. Discrete sections follow in the header's order; a section's
// sub-sections are joined with '.'.

// sidSet is the set of applicable GPP section ids (regs.gpp_sid).
type sidSet struct {
	bits  uint64
	given bool // gpp_sid was present; otherwise every section applies
}

func (s *sidSet) add(id int) {
	if id >= 0 && id < 64 {
		s.bits |= 1 << uint(id)
	}
}

func (s sidSet) has(id int) bool { return id >= 0 && id < 64 && s.bits&(1<<uint(id)) != 0 }

// applies reports whether section id applies to the request.
func (s sidSet) applies(id int) bool { return !s.given || s.has(id) }

// GPP section ids.
const (
	sectionTCFEU = 2
	sectionUSP   = 6
	sectionUSNat = 7
	lastUSState  = 23
)

// usFields gives, per US section id, the bit offsets (from the start of the
// core sub-section, whose first 6 bits are the version) of its 2-bit SaleOptOut, SharingOptOut and TargetedAdvertising-
// OptOut fields in the core sub-section; 0 means the section has no such
// field. A value of 1 in any of them means "opted out".
func usFields(id int) (sale, sharing, targeted int) {
	switch id {
	case 7: // usnat v1 and v2: six 2-bit notices precede the opt-outs
		return 18, 20, 22
	case 8: // usca: SaleOptOutNotice, SharingOptOutNotice, SensitiveDataLimitUseNotice
		return 12, 14, 0
	case 11, 18: // usut, usia: four notices, the fourth about sensitive data
		return 14, 0, 16
	case 9, 10, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23:
		// usva, usco, usct, usfl, usmt, usor, ustx, usde, usne, usnh, usnj,
		// ustn, usmn: three notices, then SaleOptOut, TargetedAdvertisingOptOut
		return 12, 0, 14
	}
	return 0, 0, 0
}

// gppResult is what an (applicable part of a) GPP string says.
type gppResult struct {
	optOut    bool
	malformed bool
	tcf       string // the applicable TCF EU v2 section, "" if none
}

// maxSections bounds the header's section list.
const maxSections = 32

// parseGPP decodes s, considering only sections that sids says apply. It
// does not allocate; the returned tcf is a substring of s.
func parseGPP(s string, sids sidSet) (res gppResult) {
	header, rest, more := strings.Cut(s, "~")
	var ids [maxSections]int
	n, ok := gppHeader(header, &ids)
	if !ok {
		res.malformed = true
		return res
	}
	for i := 0; i < n; i++ {
		if !more {
			res.malformed = true // fewer sections than the header lists
			return res
		}
		var sec string
		sec, rest, more = strings.Cut(rest, "~")
		id := ids[i]
		if !sids.applies(id) {
			continue
		}
		switch {
		case id == sectionTCFEU:
			res.tcf = sec
		case id == sectionUSP:
			if optOut, valid := uspOptOut(sec); optOut {
				res.optOut = true
			} else if !valid {
				res.malformed = true
			}
		case id >= sectionUSNat && id <= lastUSState:
			optOut, valid := usSection(sec, id)
			res.optOut = res.optOut || optOut
			res.malformed = res.malformed || !valid
		}
	}
	return res
}

// gppHeader decodes the header's section ids into ids, in order.
func gppHeader(h string, ids *[maxSections]int) (int, bool) {
	r := bitReader{s: h}
	typ, ok1 := r.read(6)
	ver, ok2 := r.read(6)
	count, ok3 := r.read(12)
	if !ok1 || !ok2 || !ok3 || typ != 3 || ver != 1 {
		return 0, false
	}
	n, last := 0, 0
	for k := uint64(0); k < count; k++ {
		group, ok := r.read(1)
		if !ok {
			return 0, false
		}
		off, ok := r.fib()
		if !ok {
			return 0, false
		}
		start := last + int(off)
		end := start
		if group == 1 {
			length, ok := r.fib()
			if !ok {
				return 0, false
			}
			end = start + int(length)
		}
		for id := start; id <= end; id++ {
			if n == maxSections {
				return 0, false
			}
			ids[n] = id
			n++
		}
		last = end
	}
	return n, true
}

// usSection reads a US national or state section: its core sub-section's
// opt-out fields and, in a GPC sub-section, the GPC flag (which Kairos honours
// as an opt-out of sale and sharing).
func usSection(sec string, id int) (optOut, valid bool) {
	core, subs, _ := strings.Cut(sec, ".")
	for i := 0; i < len(core); i++ {
		if b64(core[i]) < 0 {
			return false, false
		}
	}
	r := bitReader{s: core}
	if v, ok := r.read(6); !ok || v == 0 {
		return false, false
	}
	sale, sharing, targeted := usFields(id)
	for _, off := range [3]int{sale, sharing, targeted} {
		if off == 0 {
			continue
		}
		r.pos = off
		v, ok := r.read(2)
		if !ok {
			return false, false
		}
		if v == 1 {
			optOut = true
		}
	}
	for subs != "" {
		var sub string
		sub, subs, _ = strings.Cut(subs, ".")
		r := bitReader{s: sub}
		typ, ok := r.read(2)
		if !ok {
			return optOut, false
		}
		if typ == 1 { // GPC sub-section
			gpc, ok := r.read(1)
			if !ok {
				return optOut, false
			}
			if gpc == 1 {
				optOut = true
			}
		}
	}
	return optOut, true
}

// uspOptOut reads a US Privacy string ("1YNN": version 1, notice given,
// opt-out of sale, LSPA covered; '-' not applicable). valid is false when s
// is not such a string.
func uspOptOut(s string) (optOut, valid bool) {
	if len(s) != 4 || s[0] != '1' {
		return false, false
	}
	for i := 1; i < 4; i++ {
		switch s[i] {
		case 'Y', 'y', 'N', 'n', '-':
		default:
			return false, false
		}
	}
	return s[2] == 'Y' || s[2] == 'y', true
}

// bitReader reads big-endian bit fields from a base64url string without
// decoding it first.
type bitReader struct {
	s   string
	pos int // in bits
}

// read returns the next n (≤ 64) bits, or false past the end or at a
// character that is not base64url.
func (r *bitReader) read(n int) (uint64, bool) {
	if r.pos+n > len(r.s)*6 {
		return 0, false
	}
	var v uint64
	for n > 0 {
		c := b64(r.s[r.pos/6])
		if c < 0 {
			return 0, false
		}
		off := r.pos % 6
		take := min(6-off, n)
		v = v<<uint(take) | uint64(c>>uint(6-off-take))&(1<<uint(take)-1)
		r.pos += take
		n -= take
	}
	return v, true
}

// fib reads a Fibonacci-coded integer: bits weigh 1, 2, 3, 5, 8, … and the
// code ends with two consecutive ones.
func (r *bitReader) fib() (uint64, bool) {
	var v uint64
	a, b := uint64(1), uint64(2)
	prev := false
	for i := 0; i < 40; i++ {
		bit, ok := r.read(1)
		if !ok {
			return 0, false
		}
		if bit == 1 {
			if prev {
				return v, true
			}
			v += a
		}
		prev = bit == 1
		a, b = b, a+b
	}
	return 0, false
}

// b64 returns the 6-bit value of a base64url character, -1 for others.
func b64(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}
