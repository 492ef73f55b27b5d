package creatives

import (
	"unicode/utf8"
	"unsafe"
)

// Escapers append s to dst escaped for one output context. They never fail:
// invalid UTF-8 becomes U+FFFD and control characters that the context cannot
// carry are dropped, so the output always parses (HTML, XML 1.0, JSON).
//
// Text escapers also escape '$' so that a value (a headline, a product name)
// can never form an exchange macro such as ${AUCTION_PRICE}; only the trusted
// tracking URLs, which use the URL escapers, may carry macros.

// escHTML escapes text and attribute values of HTML (double-quoted attributes).
func escHTML(dst []byte, s string) []byte { return appendMarkup(dst, s, true) }

// escHTMLURL escapes a URL for a double-quoted HTML attribute, keeping '$', '{'
// and '}' so exchange macros pass through.
func escHTMLURL(dst []byte, s string) []byte { return appendMarkup(dst, s, false) }

// escXML escapes XML text and attribute values.
func escXML(dst []byte, s string) []byte { return appendMarkup(dst, s, true) }

// markupPlain[c] is 1 for the ASCII bytes every markup escaper copies as they
// are, 2 for those only the URL escapers copy ('$'); the rest take the slow path.
var markupPlain = func() (t [256]uint8) {
	for c := 0x20; c < 0x7f; c++ {
		switch c {
		case '&', '<', '>', '"', '\'', '`':
		case '$':
			t[c] = 2
		default:
			t[c] = 1
		}
	}
	t['\t'], t['\n'], t['\r'] = 1, 1, 1
	return t
}()

func appendMarkup(dst []byte, s string, text bool) []byte {
	plain := uint8(3) // any nonzero class copies
	if text {
		plain = 1
	}
	last := 0
	for i := 0; i < len(s); {
		// Skip the plain run first: most of a URL or a headline.
		for i < len(s) && markupPlain[s[i]]&plain != 0 {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, s[last:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				last = i
				continue
			}
			i += n
			continue
		}
		var rep string
		switch c {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			rep = "&#34;"
		case '\'':
			rep = "&#39;"
		case '`':
			rep = "&#96;"
		case '$':
			if !text {
				i++
				continue
			}
			rep = "&#36;"
		default:
			if !dropControl(c) {
				i++
				continue
			}
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, rep...)
		i++
		last = i
	}
	return append(dst, s[last:]...)
}

// dropControl reports whether c is an ASCII control character that HTML text
// should not carry and XML 1.0 cannot (tab, LF and CR are kept).
func dropControl(c byte) bool {
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f
}

// escCDATA appends s as the content of a CDATA section (the caller writes the
// <![CDATA[ and ]]> delimiters); a "]]>" inside s is split across two sections.
func escCDATA(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, s[last:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				last = i
				continue
			}
			i += n
		case c == ']' && i+2 < len(s) && s[i+1] == ']' && s[i+2] == '>':
			dst = append(dst, s[last:i]...)
			dst = append(dst, "]]]]><![CDATA[>"...)
			i += 3
			last = i
		case dropControl(c):
			dst = append(dst, s[last:i]...)
			i++
			last = i
		default:
			i++
		}
	}
	return append(dst, s[last:]...)
}

// escJSON escapes text for the inside of a JSON string. Besides what JSON
// requires it escapes <, > and & (the JSON may end up inside HTML), U+2028 and
// U+2029 (line breaks to JavaScript) and '$'.
func escJSON(dst []byte, s string) []byte { return appendJSON(dst, s, true) }

// escJSONURL escapes a URL for the inside of a JSON string, keeping '$' and
// '&' literal.
func escJSONURL(dst []byte, s string) []byte { return appendJSON(dst, s, false) }

const hexDigits = "0123456789abcdef"

func appendJSON(dst []byte, s string, text bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				dst = append(dst, s[last:i]...)
				dst = append(dst, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				dst = append(dst, s[last:i]...)
				dst = append(dst, `\u202`...)
				dst = append(dst, hexDigits[r&0xf])
			default:
				i += n
				continue
			}
			i += n
			last = i
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, s[last:i]...)
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, s[last:i]...)
			dst = append(dst, `\n`...)
		case c == '\t':
			dst = append(dst, s[last:i]...)
			dst = append(dst, `\t`...)
		case c == '\r':
			dst = append(dst, s[last:i]...)
			dst = append(dst, `\r`...)
		case dropControl(c):
			dst = append(dst, s[last:i]...)
		case c == '<' || c == '>' || (text && (c == '&' || c == '$')):
			dst = append(dst, s[last:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			i++
			continue
		}
		i++
		last = i
	}
	return append(dst, s[last:]...)
}

// b2s returns b as a string without copying. The caller must not modify b's
// bytes while the string is in use; appending to the buffer b came from is fine.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// webURL reports whether u is an absolute http(s) URL that may be embedded:
// https only when secure is set. Anything else (javascript:, data:, relative
// URLs) is refused, whatever its source.
func webURL(u string, secure bool) bool {
	if hasPrefixFold(u, "https://") {
		return len(u) > len("https://")
	}
	return !secure && hasPrefixFold(u, "http://") && len(u) > len("http://")
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
