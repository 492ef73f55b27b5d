package quality

// A minimal, allocation-free reader for the one OpenRTB ext member this
// package needs: source.ext.schain (OpenRTB 2.5). It never unescapes: a
// seller's asi or sid with an escape in it is compared as written, so it
// does not match an allow-list entry.

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

// intValue reads a JSON integer (or a string holding one) of up to 9 digits.
func intValue(tok []byte) (int, bool) {
	if s, isStr := rawString(tok); isStr {
		tok = s
	}
	if len(tok) == 0 || len(tok) > 9 {
		return 0, false
	}
	v := 0
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// elements iterates over the elements of a JSON array without allocating.
type elements struct {
	b []byte
	i int
	n int
}

// next returns the next element's raw value; ok is false at the end or at
// malformed input.
func (e *elements) next() (val []byte, ok bool) {
	b, i := e.b, skipSpace(e.b, e.i)
	if e.n == 0 {
		if i >= len(b) || b[i] != '[' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return nil, false
		}
	} else {
		if i >= len(b) || b[i] != ',' {
			return nil, false
		}
		i = skipSpace(b, i+1)
	}
	start := i
	if i = skipValue(b, i, 1); i < 0 {
		return nil, false
	}
	e.i, e.n = i, e.n+1
	return b[start:i], true
}
