package bidder

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	f := func(in, wantDecoded string) {
		t.Helper()
		out := appendJSONString(nil, in)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", in, out, err)
		}
		if got != wantDecoded {
			t.Fatalf("%q round-trips to %q, want %q", in, got, wantDecoded)
		}
	}
	f("", "")
	f("plain <b>markup</b> & more", "plain <b>markup</b> & more")
	f(`quote " and \ backslash`, `quote " and \ backslash`)
	f("ctl \x00\x01\n\r\t\x1f", "ctl \x00\x01\n\r\t\x1f")
	f("ünïcødé ✓ \u2028\u2029", "ünïcødé ✓ \u2028\u2029")
	f("bad \xff utf8", "bad \ufffd utf8")
	// The eight-bytes-at-a-time path must find a special byte at any offset
	// of a word, and the bytes around it.
	for _, special := range []string{`"`, `\`, "\x00", "\x1f", "\n", "é", "\u2028", " ", "~", "\x7f"} {
		for pos := 0; pos < 20; pos++ {
			in := strings.Repeat("a", pos) + special + strings.Repeat("b", 19-pos)
			f(in, in)
		}
	}
	f("bad utf8 after a long plain run \xff", "bad utf8 after a long plain run \ufffd")
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("<a href=\"x\">\u2028\xff</a>")
	f.Fuzz(func(t *testing.T, in string) {
		out := appendJSONString(nil, in)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", in, out, err)
		}
		if utf8.ValidString(in) && got != in {
			t.Fatalf("%q round-trips to %q", in, got)
		}
	})
}
