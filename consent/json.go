package consent

// A minimal, allocation-free reader for the few OpenRTB ext members this
// package needs (regs.ext.gdpr, us_privacy, gpp, gpp_sid; user.ext.consent).
// It never unescapes: the values it reads (flags, numbers and base64url or
// US-privacy strings) contain no characters JSON would escape, so a string
// with a backslash is passed on as it is and fails its own decoder.

// maxDepth bounds nesting while skipping values, so hostile input cannot
// recurse deeply.
const maxDepth = 32

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value starting at b[i]
// (after optional white space), or -1 when it is malformed.
func skipValue(b []byte, i, depth int) int {
	i = skipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return -1
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1
		}
		for {
			if c == '{' {
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != '"' {
					return -1
				}
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i++
			}
			if i = skipValue(b, i, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == closing {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i++
		}
	default:
		// number or literal: up to the next delimiter
		start := i
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if i == start {
					return -1
				}
				return i
			}
			i++
		}
		if i == start {
			return -1
		}
		return i
	}
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// members iterates over the members of a JSON object without allocating.
type members struct {
	b []byte
	i int
	n int
}

// next returns the next member's name (raw, escapes left) and raw value;
// ok is false at the end or at malformed input.
func (m *members) next() (key, val []byte, ok bool) {
	b, i := m.b, skipSpace(m.b, m.i)
	if m.n == 0 {
		if i >= len(b) || b[i] != '{' {
			return nil, nil, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return nil, nil, false
		}
	} else {
		if i >= len(b) || b[i] != ',' {
			return nil, nil, false
		}
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false
	}
	end := skipString(b, i)
	if end < 0 {
		return nil, nil, false
	}
	key = b[i+1 : end-1]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false
	}
	i = skipSpace(b, i+1)
	start := i
	if i = skipValue(b, i, 1); i < 0 {
		return nil, nil, false
	}
	m.i, m.n = i, m.n+1
	return key, b[start:i], true
}

// field returns the raw value of the top-level member key of the JSON object
// obj. A malformed object yields not found.
func field(obj []byte, key string) ([]byte, bool) {
	m := members{b: obj}
	for {
		k, v, ok := m.next()
		if !ok {
			return nil, false
		}
		if string(k) == key {
			return v, true
		}
	}
}

// rawString returns the contents of a JSON string token, escapes left as
// they are, or false for any other token.
func rawString(tok []byte) ([]byte, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return nil, false
	}
	return tok[1 : len(tok)-1], true
}

// flag reads a 0/1 flag given as a number or a string ("1"); ok is false for
// anything else.
func flag(tok []byte) (v int8, ok bool) {
	if s, isStr := rawString(tok); isStr {
		tok = s
	}
	switch string(tok) {
	case "0":
		return 0, true
	case "1":
		return 1, true
	}
	return 0, false
}

// sidsFromJSON reads an array of small integers (gpp_sid) into a set.
func sidsFromJSON(tok []byte) (s sidSet) {
	i := skipSpace(tok, 0)
	if i >= len(tok) || tok[i] != '[' {
		return s
	}
	s.given = true
	i++
	for i < len(tok) {
		i = skipSpace(tok, i)
		if i >= len(tok) || tok[i] == ']' {
			return s
		}
		if tok[i] == ',' {
			i++
			continue
		}
		v, n := 0, 0
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			if v < 1<<16 {
				v = v*10 + int(tok[i]-'0')
			}
			i++
			n++
		}
		if n == 0 {
			// not a number: skip the token
			if i = skipValue(tok, i, 1); i < 0 {
				return s
			}
			continue
		}
		s.add(v)
	}
	return s
}
