package consent

import "github.com/kairos-rtb/kairos/extjson"

// sidsFromJSON reads an array of small integers (gpp_sid) into a set.
func sidsFromJSON(tok []byte) (s sidSet) {
	i := extjson.SkipSpace(tok, 0)
	if i >= len(tok) || tok[i] != '[' {
		return s
	}
	s.given = true
	i++
	for i < len(tok) {
		i = extjson.SkipSpace(tok, i)
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
			if i = extjson.SkipValue(tok, i, 1); i < 0 {
				return s
			}
			continue
		}
		s.add(v)
	}
	return s
}
