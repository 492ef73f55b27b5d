package segments

import (
	"strconv"
	"unicode/utf8"
)

// scanner is a small strict JSON reader over a byte slice, for the few shapes
// this package reads from outside (import lines, events, OpenRTB ext objects).
// It does not allocate on valid input: strings without escapes are returned as
// sub-slices of the input, escaped ones are unescaped into buf. Returned slices
// are valid until the next reset.
type scanner struct {
	b     []byte
	i     int
	buf   []byte
	depth int
}

// syntaxError is malformed JSON at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.off) + ": " + e.msg
}

// Is makes errors.Is(err, ErrInvalid) true for a syntax error.
func (e *syntaxError) Is(target error) bool { return target == ErrInvalid }

func (s *scanner) reset(b []byte) {
	s.b, s.i, s.buf, s.depth = b, 0, s.buf[:0], 0
}

func (s *scanner) fail(msg string) error { return &syntaxError{off: s.i, msg: msg} }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// open consumes c ('{' or '[').
func (s *scanner) open(c byte) error {
	if s.peek() != c {
		if c == '{' {
			return s.fail("expected an object")
		}
		return s.fail("expected an array")
	}
	s.i++
	return nil
}

// next reports whether the object or array whose opening bracket was consumed
// has an n-th (0-based) member; it consumes the separating comma or the closing
// bracket.
func (s *scanner) next(n int, closing byte) (bool, error) {
	c := s.peek()
	if c == closing {
		s.i++
		return false, nil
	}
	if n > 0 {
		if c != ',' {
			return false, s.fail("expected , or " + string(closing))
		}
		s.i++
	}
	return true, nil
}

// key reads a member name and its colon.
func (s *scanner) key() ([]byte, error) {
	k, err := s.str()
	if err != nil {
		return nil, err
	}
	if s.peek() != ':' {
		return nil, s.fail("expected :")
	}
	s.i++
	return k, nil
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool {
	if s.peek() == 'n' && len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// str reads a string value.
func (s *scanner) str() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.fail("expected a string")
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, nil
		case c == '\\':
			return s.strSlow(start)
		case c < 0x20:
			return nil, s.fail("control character in string")
		}
		s.i++
	}
	return nil, s.fail("unterminated string")
}

func (s *scanner) strSlow(start int) ([]byte, error) {
	mark := len(s.buf)
	s.buf = append(s.buf, s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.buf[mark:], nil
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c != '\\':
			s.buf = append(s.buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.fail("bad \\u escape")
			}
			if r >= 0xd800 && r < 0xdc00 {
				// A high surrogate must be followed by a low one.
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					lo, ok := s.hex4()
					if !ok {
						return nil, s.fail("bad \\u escape")
					}
					if lo >= 0xdc00 && lo < 0xe000 {
						r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					} else {
						s.buf = utf8.AppendRune(s.buf, utf8.RuneError)
						r = lo
					}
				} else {
					r = utf8.RuneError
				}
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, s.fail("bad escape")
		}
	}
	return nil, s.fail("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// number reads a JSON number token.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := 0
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || (c == '-' && s.i > start) {
			if c >= '0' && c <= '9' {
				digits++
			}
			s.i++
			continue
		}
		break
	}
	if digits == 0 {
		return nil, s.fail("expected a value")
	}
	return s.b[start:s.i], nil
}

// skip consumes one value of any type.
func (s *scanner) skip() error {
	switch c := s.peek(); c {
	case '"':
		_, err := s.str()
		return err
	case '{', '[':
		s.depth++
		if s.depth > 64 {
			return s.fail("nested too deeply")
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.i++
		for n := 0; ; n++ {
			ok, err := s.next(n, closing)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if c == '{' {
				if _, err := s.key(); err != nil {
					return err
				}
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
		s.depth--
		return nil
	case 't', 'f', 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return nil
			}
		}
		return s.fail("bad literal")
	default:
		_, err := s.number()
		return err
	}
}

// end checks that only whitespace remains.
func (s *scanner) end() error {
	if s.peek() != 0 {
		return s.fail("unexpected data after the value")
	}
	return nil
}

// field returns the raw value of the top-level member key of the JSON object
// obj, without allocating. A malformed object yields not found.
func field(obj []byte, key string) ([]byte, bool) {
	var s scanner
	s.b = obj
	if s.open('{') != nil {
		return nil, false
	}
	for n := 0; ; n++ {
		ok, err := s.next(n, '}')
		if err != nil || !ok {
			return nil, false
		}
		k, err := s.key()
		if err != nil {
			return nil, false
		}
		s.ws()
		start := s.i
		if err := s.skip(); err != nil {
			return nil, false
		}
		if string(k) == key {
			return s.b[start:s.i], true
		}
	}
}

// rawString returns the contents of a raw JSON string token (escapes left as
// they are), or false for any other token.
func rawString(tok []byte) ([]byte, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return nil, false
	}
	return tok[1 : len(tok)-1], true
}
