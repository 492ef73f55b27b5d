package money

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	f := func(in string, want Micros, wantErr bool) {
		t.Helper()
		got, err := Parse(in)
		if (err != nil) != wantErr {
			t.Fatalf("Parse(%q) err = %v, want error %v", in, err, wantErr)
		}
		if err == nil && got != want {
			t.Fatalf("Parse(%q) = %d, want %d", in, got, want)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Fatalf("Parse(%q) err = %v, want ErrSyntax", in, err)
		}
	}
	f("0", 0, false)
	f("12", 12_000_000, false)
	f("2.50", 2_500_000, false)
	f("-3.5", -3_500_000, false)
	f(".5", 500_000, false)
	f("0.000001", 1, false)
	f("10000.00", 10_000_000_000, false)
	f("0.0000001", 0, true)
	f("", 0, true)
	f("1e3", 0, true)
	f("abc", 0, true)
	f("1.2.3", 0, true)
	f("-", 0, true)
}

func TestString(t *testing.T) {
	f := func(in Micros, want string) {
		t.Helper()
		if got := in.String(); got != want {
			t.Fatalf("%d.String() = %q, want %q", int64(in), got, want)
		}
	}
	f(0, "0.00")
	f(2_500_000, "2.50")
	f(1, "0.000001")
	f(-1_230_000, "-1.23")
	f(89_990_000, "89.99")
}

func TestCPM(t *testing.T) {
	if got := CPMToImpression(2_500_000); got != 2_500 {
		t.Fatalf("CPMToImpression = %d", got)
	}
	if got := ImpressionToCPM(2_500); got != 2_500_000 {
		t.Fatalf("ImpressionToCPM = %d", got)
	}
	if got := FromFloat(0.03); got != 30_000 {
		t.Fatalf("FromFloat(0.03) = %d", got)
	}
}

func TestRates(t *testing.T) {
	r, err := ParseRates("USD=1,EUR=1.10")
	if err != nil {
		t.Fatal(err)
	}
	f := func(m Micros, from, to string, want Micros, wantOK bool) {
		t.Helper()
		got, ok := r.Convert(m, from, to)
		if ok != wantOK || got != want {
			t.Fatalf("Convert(%d,%s,%s) = %d,%v want %d,%v", m, from, to, got, ok, want, wantOK)
		}
	}
	f(1_000_000, "EUR", "USD", 1_100_000, true)
	f(1_100_000, "USD", "EUR", 1_000_000, true)
	f(1_000_000, "", "USD", 1_000_000, true)
	f(1_000_000, "XXX", "USD", 0, false)
	for _, bad := range []string{"", "EUR=1.1", "USD=1,E=2", "USD=1,EUR=-1", "USD=1,EUR"} {
		if _, err := ParseRates(bad); err == nil {
			t.Fatalf("ParseRates(%q) accepted", bad)
		}
	}
}

func BenchmarkConvert(b *testing.B) {
	r, _ := ParseRates(DefaultRates)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Convert(2_500_000, "EUR", "USD")
	}
}
