package bidder

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that appear in a JSON string as they are.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string literal. It escapes what JSON
// requires (quote, backslash, control characters) plus U+2028/U+2029, and
// replaces invalid UTF-8; markup in adm stays readable and small. Runs of
// plain ASCII, most of any adm, are copied in one append.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain bytes at a time: most of an adm needs no escaping.
		for i+8 <= len(s) && plainWord(le64(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// SWAR constants: lo has the low bit of every byte set, hi the high bit.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// le64 reads the first eight bytes of s as a little-endian word.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWord reports whether none of the eight bytes of w needs escaping in a
// JSON string: no quote, no backslash, no control character, no byte ≥ 0x80
// (UTF-8, checked on the slow path). The classic has-zero-byte tests, exact
// because bytes with the high bit set are ruled out first.
func plainWord(w uint64) bool {
	if w&swarHi != 0 {
		return false
	}
	lt := (w - swarLo*0x20) &^ w & swarHi // some byte < 0x20
	q := w ^ (swarLo * '"')
	bs := w ^ (swarLo * '\\')
	hasQ := (q - swarLo) &^ q & swarHi
	hasBS := (bs - swarLo) &^ bs & swarHi
	return lt|hasQ|hasBS == 0
}

// appendJSONBytes is appendJSONString for a byte slice, without converting it.
func appendJSONBytes(dst []byte, b []byte) []byte {
	return appendJSONString(dst, unsafeString(b))
}

func appendKey(dst []byte, key string) []byte {
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendStringField(dst []byte, key, v string) []byte {
	dst = append(dst, ',')
	dst = appendKey(dst, key)
	return appendJSONString(dst, v)
}

func appendIntField(dst []byte, key string, v int64) []byte {
	dst = append(dst, ',')
	dst = appendKey(dst, key)
	return strconv.AppendInt(dst, v, 10)
}

func appendStringList(dst []byte, key string, vs []string) []byte {
	dst = append(dst, ',')
	dst = appendKey(dst, key)
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, v)
	}
	return append(dst, ']')
}
