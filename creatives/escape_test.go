package creatives

import (
	"encoding/json"
	"html"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapers(t *testing.T) {
	f := func(name string, esc func([]byte, string) []byte, in, want string) {
		t.Helper()
		if got := string(esc([]byte("x"), in)); got != "x"+want {
			t.Errorf("%s(%q) = %q, want %q", name, in, got[1:], want)
		}
	}
	f("html", escHTML, "plain text", "plain text")
	f("html", escHTML, `<a href="x" onclick='y'>&`, "&lt;a href=&#34;x&#34; onclick=&#39;y&#39;&gt;&amp;")
	f("html", escHTML, "${AUCTION_PRICE}", "&#36;{AUCTION_PRICE}")
	f("html", escHTML, "a\x00b\x1fc\td\x7f", "abc\td")
	f("html", escHTML, "bad \xff utf8 ü", "bad \uFFFD utf8 ü")
	f("html", escHTML, "`x`", "&#96;x&#96;")
	f("htmlurl", escHTMLURL, `https://k.example/i?p=${AUCTION_PRICE}&a="b"`, `https://k.example/i?p=${AUCTION_PRICE}&amp;a=&#34;b&#34;`)
	f("xml", escXML, `]]></AdTitle>`, `]]&gt;&lt;/AdTitle&gt;`)
	f("cdata", escCDATA, "https://x/?a=]]>b]]>", "https://x/?a=]]]]><![CDATA[>b]]]]><![CDATA[>")
	f("cdata", escCDATA, "a]]b]>c", "a]]b]>c")
	f("cdata", escCDATA, "a\x01b\xfe", "ab\uFFFD")
	f("json", escJSON, `"quoted" \ back`, `\"quoted\" \\ back`)
	f("json", escJSON, "line\nbreak\ttab\r", `line\nbreak\ttab\r`)
	f("json", escJSON, "</script>&${X}", `\u003c/script\u003e\u0026\u0024{X}`)
	f("json", escJSON, "js\u2028sep\u2029", `js\u2028sep\u2029`)
	f("json", escJSON, "nul\x00 bad\xc3", `nul bad\ufffd`)
	f("jsonurl", escJSONURL, "https://k.example/i?p=${AUCTION_PRICE}&a=1", "https://k.example/i?p=${AUCTION_PRICE}&a=1")

	// Every JSON-escaped string decodes back to its input (controls dropped).
	for _, s := range []string{"Trail Runner 2", `<"'&$>`, "ü€😀", "\u2028\u2029", "a\\b"} {
		var back string
		if err := json.Unmarshal([]byte(`"`+string(escJSON(nil, s))+`"`), &back); err != nil || back != s {
			t.Errorf("json round trip %q: %q %v", s, back, err)
		}
	}
}

func TestWebURL(t *testing.T) {
	f := func(u string, secure, want bool) {
		t.Helper()
		if got := webURL(u, secure); got != want {
			t.Errorf("webURL(%q, %v) = %v, want %v", u, secure, got, want)
		}
	}
	f("https://a.example/x", true, true)
	f("HTTPS://a.example/x", true, true)
	f("http://a.example/x", false, true)
	f("http://a.example/x", true, false)
	f("javascript:alert(1)", false, false)
	f("JavaScript:alert(1)", false, false)
	f("data:text/html,x", false, false)
	f("//a.example/x", false, false)
	f("https://", false, false)
	f("", false, false)
}

func FuzzEscapeJSON(f *testing.F) {
	f.Add("Trail Runner 2")
	f.Add("</script>\u2028\xff\x00")
	f.Fuzz(func(t *testing.T, s string) {
		out := `"` + string(escJSON(nil, s)) + `"`
		if !json.Valid([]byte(out)) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
	})
}

func FuzzEscapeHTML(f *testing.F) {
	f.Add(`<script>"'&`)
	f.Fuzz(func(t *testing.T, s string) {
		checkHTML(t, `<span style="`+string(escHTML(nil, s))+`">`+string(escHTML(nil, s))+`</span>`)
	})
}

// FuzzEscapeMarkupRoundTrip: what the markup escapers keep of valid UTF-8
// without control characters unescapes to the input, and no byte that could
// end a value or start markup survives raw.
func FuzzEscapeMarkupRoundTrip(f *testing.F) {
	f.Add("Trail Runner 2 — 10% off ${AUCTION_PRICE}")
	f.Add("https://x.example/c?a=1&b=<2>&c='3'\"`")
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			name string
			esc  func([]byte, string) []byte
			raw  string // bytes that must not appear unescaped
		}{{"escHTML", escHTML, "<>\"'`$"}, {"escHTMLURL", escHTMLURL, "<>\"'`"}, {"escXML", escXML, "<>\"'`$"}} {
			out := string(c.esc(nil, s))
			if strings.ContainsAny(out, c.raw) {
				t.Fatalf("%s(%q) = %q keeps one of %q", c.name, s, out, c.raw)
			}
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x80 && dropControl(byte(r)) }) {
				continue
			}
			if back := html.UnescapeString(out); back != s {
				t.Fatalf("%s(%q) = %q unescapes to %q", c.name, s, out, back)
			}
		}
	})
}
