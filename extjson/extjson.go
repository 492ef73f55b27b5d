package extjson

// maxDepth bounds nesting while skipping values, so hostile input cannot
// recurse deeply.
const maxDepth = 32

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// SkipValue returns the index just after the JSON value starting at b[i]
// (after optional white space), or -1 when it is malformed or nested deeper
// than 32 levels counting from depth (pass 1 at top level).
func SkipValue(b []byte, i, depth int) int {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return SkipString(b, i)
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return -1
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1
		}
		for {
			if c == '{' {
				i = SkipSpace(b, i)
				if i >= len(b) || b[i] != '"' {
					return -1
				}
				if i = SkipString(b, i); i < 0 {
					return -1
				}
				i = SkipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i++
			}
			if i = SkipValue(b, i, depth+1); i < 0 {
				return -1
			}
			i = SkipSpace(b, i)
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

// SkipString returns the index after the string starting at b[i] == '"'.
func SkipString(b []byte, i int) int {
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

// Members iterates over the Members of a JSON object without allocating.
type Members struct {
	// B is the object to iterate.
	B []byte
	i int
	n int
}

// next returns the next member's name (raw, escapes left) and raw value;
// ok is false at the end or at malformed input.
func (m *Members) Next() (key, val []byte, ok bool) {
	b, i := m.B, SkipSpace(m.B, m.i)
	if m.n == 0 {
		if i >= len(b) || b[i] != '{' {
			return nil, nil, false
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return nil, nil, false
		}
	} else {
		if i >= len(b) || b[i] != ',' {
			return nil, nil, false
		}
		i = SkipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		return nil, nil, false
	}
	end := SkipString(b, i)
	if end < 0 {
		return nil, nil, false
	}
	key = b[i+1 : end-1]
	i = SkipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false
	}
	i = SkipSpace(b, i+1)
	start := i
	if i = SkipValue(b, i, 1); i < 0 {
		return nil, nil, false
	}
	m.i, m.n = i, m.n+1
	return key, b[start:i], true
}

// field returns the raw value of the top-level member key of the JSON object
// obj. A malformed object yields not found.
func Field(obj []byte, key string) ([]byte, bool) {
	m := Members{B: obj}
	for {
		k, v, ok := m.Next()
		if !ok {
			return nil, false
		}
		if string(k) == key {
			return v, true
		}
	}
}

// RawString returns the contents of a JSON string token, escapes left as
// they are, or false for any other token.
func RawString(tok []byte) ([]byte, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return nil, false
	}
	return tok[1 : len(tok)-1], true
}

// flag reads a 0/1 flag given as a number or a string ("1"); ok is false for
// anything else.
func Flag(tok []byte) (v int8, ok bool) {
	if s, isStr := RawString(tok); isStr {
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

// Int reads a JSON integer (or a string holding one) of up to 9 digits.
func Int(tok []byte) (int, bool) {
	if s, isStr := RawString(tok); isStr {
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

// Elements iterates over the Elements of a JSON array without allocating.
type Elements struct {
	// B is the array to iterate.
	B []byte
	i int
	n int
}

// next returns the next element's raw value; ok is false at the end or at
// malformed input.
func (e *Elements) Next() (val []byte, ok bool) {
	b, i := e.B, SkipSpace(e.B, e.i)
	if e.n == 0 {
		if i >= len(b) || b[i] != '[' {
			return nil, false
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return nil, false
		}
	} else {
		if i >= len(b) || b[i] != ',' {
			return nil, false
		}
		i = SkipSpace(b, i+1)
	}
	start := i
	if i = SkipValue(b, i, 1); i < 0 {
		return nil, false
	}
	e.i, e.n = i, e.n+1
	return b[start:i], true
}
