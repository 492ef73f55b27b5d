package quality

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// ipSet is an immutable set of IPv4 and IPv6 ranges: sorted, merged,
// non-overlapping inclusive ranges, searched by binary search. IPv4 ranges are
// uint32 pairs, IPv6 ranges 128-bit pairs.
type ipSet struct {
	v4lo, v4hi []uint32
	v6lo, v6hi []u128
}

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) succ() (u128, bool) {
	if a.lo == ^uint64(0) {
		if a.hi == ^uint64(0) {
			return a, false
		}
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

func u128Of(a netip.Addr) u128 {
	b := a.As16()
	var v u128
	for i := 0; i < 8; i++ {
		v.hi = v.hi<<8 | uint64(b[i])
		v.lo = v.lo<<8 | uint64(b[i+8])
	}
	return v
}

func v4Of(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// contains4 reports whether ip is in an IPv4 range.
func (s *ipSet) contains4(ip uint32) bool {
	lo, hi := 0, len(s.v4lo)
	for lo < hi { // first range starting after ip
		mid := int(uint(lo+hi) >> 1)
		if s.v4lo[mid] <= ip {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo > 0 && ip <= s.v4hi[lo-1]
}

// contains6 reports whether ip is in an IPv6 range.
func (s *ipSet) contains6(ip u128) bool {
	lo, hi := 0, len(s.v6lo)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if !ip.less(s.v6lo[mid]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo > 0 && !s.v6hi[lo-1].less(ip)
}

// contains reports whether a is in the set; IPv4-mapped IPv6 addresses are
// looked up as IPv4.
func (s *ipSet) contains(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() {
		return s.contains4(v4Of(a))
	}
	return s.contains6(u128Of(a))
}

func (s *ipSet) len4() int { return len(s.v4lo) }
func (s *ipSet) len6() int { return len(s.v6lo) }

// ipSetBuilder collects ranges before they are sorted and merged.
type ipSetBuilder struct {
	v4 [][2]uint32
	v6 [][2]u128
}

// addPrefix adds a CIDR range; IPv4-mapped IPv6 prefixes become IPv4.
func (b *ipSetBuilder) addPrefix(p netip.Prefix) {
	p = p.Masked()
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	if a.Is4() {
		lo := v4Of(a)
		hi := lo | uint32((uint64(1)<<(32-uint(bits)))-1)
		b.v4 = append(b.v4, [2]uint32{lo, hi})
		return
	}
	lo := u128Of(a)
	hi := lo
	host := 128 - bits
	switch {
	case host >= 64:
		hi.lo = ^uint64(0)
		hi.hi |= (uint64(1) << uint(host-64)) - 1
		if host == 128 {
			hi.hi = ^uint64(0)
		}
	default:
		hi.lo |= (uint64(1) << uint(host)) - 1
	}
	b.v6 = append(b.v6, [2]u128{lo, hi})
}

// build sorts and merges the ranges (overlapping or adjacent ones become one).
func (b *ipSetBuilder) build() *ipSet {
	s := &ipSet{}
	slices.SortFunc(b.v4, func(x, y [2]uint32) int { return cmp.Compare(x[0], y[0]) })
	for _, r := range b.v4 {
		if n := len(s.v4lo); n > 0 && (s.v4hi[n-1] == ^uint32(0) || r[0] <= s.v4hi[n-1]+1) {
			s.v4hi[n-1] = max(s.v4hi[n-1], r[1])
			continue
		}
		s.v4lo = append(s.v4lo, r[0])
		s.v4hi = append(s.v4hi, r[1])
	}
	slices.SortFunc(b.v6, func(x, y [2]u128) int {
		switch {
		case x[0].less(y[0]):
			return -1
		case y[0].less(x[0]):
			return 1
		}
		return 0
	})
	for _, r := range b.v6 {
		if n := len(s.v6lo); n > 0 {
			last := s.v6hi[n-1]
			next, ok := last.succ()
			if !ok || !next.less(r[0]) { // r starts at or before last+1
				if last.less(r[1]) {
					s.v6hi[n-1] = r[1]
				}
				continue
			}
		}
		s.v6lo = append(s.v6lo, r[0])
		s.v6hi = append(s.v6hi, r[1])
	}
	s.v4lo, s.v4hi = slices.Clip(s.v4lo), slices.Clip(s.v4hi)
	s.v6lo, s.v6hi = slices.Clip(s.v6lo), slices.Clip(s.v6hi)
	return s
}

// LineError is a line of a blocklist file that could not be read.
type LineError struct {
	File string
	Line int
	Text string
	Err  error
}

// Error returns "file:line: text: reason".
func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %q: %v", e.File, e.Line, e.Text, e.Err)
}

// Unwrap returns the reason.
func (e *LineError) Unwrap() error { return e.Err }

// ErrInvalidList is the error a blocklist with unreadable lines wraps; the
// lines are listed in a *ListError.
var ErrInvalidList = errors.New("invalid IP blocklist")

// ListError lists the bad lines of a reload; nothing of that reload was used.
type ListError struct {
	Lines []*LineError
	// More counts further bad lines not listed.
	More int
}

// maxListedErrors bounds the lines a ListError lists.
const maxListedErrors = 20

// Error lists the bad lines.
func (e *ListError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d bad line(s), kept the previous list:", ErrInvalidList, len(e.Lines)+e.More)
	for _, l := range e.Lines {
		b.WriteString("\n\t")
		b.WriteString(l.Error())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n\t… and %d more", e.More)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidList) true.
func (e *ListError) Is(target error) bool { return target == ErrInvalidList }

func (e *ListError) add(le *LineError) {
	if len(e.Lines) < maxListedErrors {
		e.Lines = append(e.Lines, le)
	} else {
		e.More++
	}
}

// maxLine bounds a blocklist line.
const maxLine = 1024

var (
	errZone     = errors.New("an address with a zone is not a network address")
	errLongLine = fmt.Errorf("line longer than %d bytes", maxLine)
)

// parseList reads a blocklist: one IPv4 or IPv6 address or CIDR prefix a
// line; '#' starts a comment (whole-line or trailing); blank lines are
// ignored. Prefixes with host bits set are masked ("10.1.2.3/8" is
// 10.0.0.0/8). Bad lines are added to errs with name and line number; the
// error returned is a read error of r.
func parseList(r io.Reader, name string, b *ipSetBuilder, errs *ListError) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Skip the rest of an overlong line.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			errs.add(&LineError{File: name, Line: n, Text: string(line[:64]) + "…", Err: errLongLine})
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		if len(line) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		if len(line) > maxLine {
			errs.add(&LineError{File: name, Line: n, Text: string(line[:64]) + "…", Err: errLongLine})
		} else if perr := parseLine(string(line), b); perr != nil {
			errs.add(&LineError{File: name, Line: n, Text: strings.TrimSpace(string(line)), Err: perr})
		}
		if err == io.EOF {
			return nil
		}
	}
}

// parseLine adds the address or prefix on one line, if any.
func parseLine(line string, b *ipSetBuilder) error {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return nil
	}
	if strings.IndexByte(line, '/') >= 0 {
		p, err := netip.ParsePrefix(line)
		if err != nil {
			return err
		}
		b.addPrefix(p)
		return nil
	}
	a, err := netip.ParseAddr(line)
	if err != nil {
		return err
	}
	if a.Zone() != "" {
		return errZone
	}
	b.addPrefix(netip.PrefixFrom(a, a.BitLen()))
	return nil
}
