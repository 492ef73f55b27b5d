package extjson

import (
	"encoding/json"
	"testing"
)

func TestField(t *testing.T) {
	f := func(obj, key, want string, wantOK bool) {
		t.Helper()
		got, ok := Field([]byte(obj), key)
		if ok != wantOK || string(got) != want {
			t.Fatalf("Field(%s, %q) = %q, %v; want %q, %v", obj, key, got, ok, want, wantOK)
		}
	}
	f(`{"gdpr":1,"us_privacy":"1YNN"}`, "gdpr", "1", true)
	f(` { "a" : {"b":[1,2,{"c":"}"}]} , "gdpr" : "1" } `, "gdpr", `"1"`, true)
	f(`{"a":{"gdpr":1}}`, "gdpr", "", false) // top level only
	f(`{"gdpr":}`, "gdpr", "", false)
	f(`not json`, "gdpr", "", false)
	f(`{"s":"a\"b","gdpr":0}`, "gdpr", "0", true)
}

func TestScalars(t *testing.T) {
	for tok, want := range map[string]int8{`1`: 1, `"1"`: 1, `0`: 0, `"0"`: 0} {
		if v, ok := Flag([]byte(tok)); !ok || v != want {
			t.Fatalf("Flag(%s) = %d, %v", tok, v, ok)
		}
	}
	for _, bad := range []string{`2`, `true`, `""`, `null`} {
		if _, ok := Flag([]byte(bad)); ok {
			t.Fatalf("Flag(%s) accepted", bad)
		}
	}
	if v, ok := Int([]byte(`"123"`)); !ok || v != 123 {
		t.Fatalf("Int = %d, %v", v, ok)
	}
	if _, ok := Int([]byte(`-1`)); ok {
		t.Fatal("Int accepted a negative number")
	}
	if s, ok := RawString([]byte(`"a\u0041"`)); !ok || string(s) != `a\u0041` {
		t.Fatalf("RawString = %q, %v", s, ok)
	}
}

func TestIterators(t *testing.T) {
	m := Members{B: []byte(`{"a":1,"b":[true,null],"c":{}}`)}
	var keys []string
	for {
		k, _, ok := m.Next()
		if !ok {
			break
		}
		keys = append(keys, string(k))
	}
	if len(keys) != 3 || keys[2] != "c" {
		t.Fatalf("members: %v", keys)
	}
	e := Elements{B: []byte(`[ {"asi":"x"} , "s", 3 ]`)}
	n := 0
	for {
		if _, ok := e.Next(); !ok {
			break
		}
		n++
	}
	if n != 3 {
		t.Fatalf("elements: %d", n)
	}
}

// FuzzSkipValue: on any input the reader neither panics nor reads past the
// end, and a structurally valid document is skipped whole. (It is a skipper,
// not a validator: a bare token such as A is skipped like a literal.)
func FuzzSkipValue(f *testing.F) {
	f.Add([]byte(`{"schain":{"complete":1,"nodes":[{"asi":"a","sid":"b"}]}}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		end := SkipValue(b, 0, 1)
		if end > len(b) {
			t.Fatalf("SkipValue(%q) = %d, past the end", b, end)
		}
		if json.Valid(b) && len(b) < 1000 && end < 0 {
			var v any
			if json.Unmarshal(b, &v) == nil && depth(v) < 30 {
				t.Fatalf("SkipValue refused valid JSON %q", b)
			}
		}
		Field(b, "x")
	})
}

func depth(v any) int {
	switch t := v.(type) {
	case map[string]any:
		d := 0
		for _, c := range t {
			d = max(d, depth(c))
		}
		return d + 1
	case []any:
		d := 0
		for _, c := range t {
			d = max(d, depth(c))
		}
		return d + 1
	}
	return 0
}
