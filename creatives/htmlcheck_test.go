package creatives

import (
	"strings"
	"testing"
)

// checkHTML tokenizes banner markup and fails on anything Kairos does not
// write itself: an unknown tag or attribute, an unquoted attribute, a URL that
// is not http(s), a stray '<' or '>' in text, or unbalanced elements. Injected
// markup from a profile value would trip one of these.
func checkHTML(t testing.TB, s string) {
	t.Helper()
	tags := map[string]bool{"div": true, "a": true, "img": true, "span": true, "strong": true}
	attrs := map[string]bool{"style": true, "href": true, "src": true, "target": true, "rel": true,
		"alt": true, "width": true, "height": true}
	var stack []string
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		text := s
		if lt >= 0 {
			text = s[:lt]
		}
		if strings.ContainsAny(text, "<>\"'") {
			t.Fatalf("raw markup character in text %q", text)
		}
		if lt < 0 {
			break
		}
		s = s[lt+1:]
		closing := strings.HasPrefix(s, "/")
		s = strings.TrimPrefix(s, "/")
		end := strings.IndexAny(s, " >")
		if end < 0 {
			t.Fatalf("unterminated tag near %q", s)
		}
		name := s[:end]
		if !tags[name] {
			t.Fatalf("unexpected tag <%s>", name)
		}
		s = s[end:]
		for {
			s = strings.TrimLeft(s, " ")
			if strings.HasPrefix(s, ">") {
				s = s[1:]
				break
			}
			eq := strings.IndexByte(s, '=')
			if eq < 0 || eq+1 >= len(s) || (s[eq+1] != '"' && s[eq+1] != '\'') || closing {
				t.Fatalf("malformed attributes in <%s> near %q", name, s)
			}
			an, quote := s[:eq], s[eq+1]
			if !attrs[an] {
				t.Fatalf("unexpected attribute %q in <%s>", an, name)
			}
			s = s[eq+2:]
			q := strings.IndexByte(s, quote)
			if q < 0 {
				t.Fatalf("unterminated attribute %s", an)
			}
			val := s[:q]
			s = s[q+1:]
			if strings.ContainsAny(val, "<>\"'") {
				t.Fatalf("raw <, >, or quote in attribute %s=%q", an, val)
			}
			if (an == "href" || an == "src") && !strings.HasPrefix(val, "https://") && !strings.HasPrefix(val, "http://") {
				t.Fatalf("%s is not an http(s) URL: %q", an, val)
			}
			if an == "style" && strings.Contains(strings.ToLower(val), "url(") {
				t.Fatalf("style loads a resource: %q", val)
			}
		}
		switch {
		case name == "img":
		case closing:
			if len(stack) == 0 || stack[len(stack)-1] != name {
				t.Fatalf("</%s> does not close %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		default:
			stack = append(stack, name)
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
}
