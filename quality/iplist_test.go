package quality

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func buildList(tb testing.TB, text string) (*ipSet, *ListError) {
	tb.Helper()
	var b ipSetBuilder
	var bad ListError
	if err := parseList(strings.NewReader(text), "list.txt", &b, &bad); err != nil {
		tb.Fatal(err)
	}
	return b.build(), &bad
}

func TestIPSet(t *testing.T) {
	set, bad := buildList(t, `# data centres
10.0.0.0/8
192.0.2.7          # one host
198.51.100.0/25
198.51.100.128/25  # adjacent: merged with the one above
203.0.113.9/16     # host bits set: masked to 203.0.0.0/16
2001:db8::/32
2001:db8:ffff::/48 # inside the one above
::ffff:100.64.0.0/106
2a00:1450:4001:81c::200e
fe80::/10

`)
	if len(bad.Lines) != 0 {
		t.Fatalf("bad lines: %v", bad)
	}
	if set.len4() != 5 || set.len6() != 3 {
		t.Errorf("%d IPv4 and %d IPv6 ranges, want 5 and 3 after merging", set.len4(), set.len6())
	}
	f := func(ip string, want bool) {
		t.Helper()
		if got := set.contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("contains(%s) = %v, want %v", ip, got, want)
		}
	}
	f("10.0.0.0", true)
	f("10.255.255.255", true)
	f("11.0.0.0", false)
	f("9.255.255.255", false)
	f("192.0.2.7", true)
	f("192.0.2.8", false)
	f("198.51.100.0", true)
	f("198.51.100.200", true)
	f("198.51.101.0", false)
	f("203.0.200.1", true)
	f("100.64.1.2", true) // from the IPv4-mapped prefix
	f("100.128.0.0", false)
	f("::ffff:10.1.2.3", true) // mapped address looked up as IPv4
	f("2001:db8::1", true)
	f("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true)
	f("2001:db9::", false)
	f("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false)
	f("2a00:1450:4001:81c::200e", true)
	f("2a00:1450:4001:81c::200f", false)
	f("fe80::1", true)
	f("0.0.0.0", false)
	f("::", false)

	all, _ := buildList(t, "0.0.0.0/0\n::/0\n255.255.255.255\n")
	for _, ip := range []string{"0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
		if !all.contains(netip.MustParseAddr(ip)) {
			t.Errorf("everything does not contain %s", ip)
		}
	}
	var empty ipSet
	if empty.contains(netip.MustParseAddr("1.2.3.4")) || empty.contains(netip.MustParseAddr("::1")) {
		t.Error("empty set contains an address")
	}
}

func TestParseListErrors(t *testing.T) {
	_, bad := buildList(t, "10.0.0.0/8\n10.0.0.0/33\n  not-an-ip  # comment\nfe80::1%eth0\n1.2.3.4/24/8\n"+
		strings.Repeat("1", 2000)+"\n::1\n")
	var got []string
	for _, l := range bad.Lines {
		got = append(got, l.File+":"+itoa(l.Line))
	}
	if want := "list.txt:2 list.txt:3 list.txt:4 list.txt:5 list.txt:6"; strings.Join(got, " ") != want {
		t.Errorf("bad lines %v, want %s", got, want)
	}
	if bad.Lines[1].Text != "not-an-ip  # comment" {
		t.Errorf("line text %q", bad.Lines[1].Text)
	}
	if !errors.Is(bad, ErrInvalidList) || !strings.Contains(bad.Error(), `list.txt:3: "not-an-ip  # comment"`) {
		t.Errorf("error %q", bad.Error())
	}
	var many ListError
	for i := 0; i < 30; i++ {
		many.add(&LineError{File: "f", Line: i, Err: errZone})
	}
	if len(many.Lines) != maxListedErrors || many.More != 10 || !strings.Contains(many.Error(), "and 10 more") {
		t.Errorf("30 errors: %d listed, %d more: %s", len(many.Lines), many.More, many.Error())
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// FuzzParseList feeds arbitrary text to the blocklist parser: it must not
// panic, and every address that parsed on its own line must be in the set.
func FuzzParseList(f *testing.F) {
	f.Add("10.0.0.0/8\n# c\n\n2001:db8::/32 # x\n1.2.3.4\n")
	f.Add("::ffff:1.2.3.4/120\n0.0.0.0/0\n")
	f.Add("bad\n1.2.3.4/33\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		set, bad := buildList(t, text)
		if len(bad.Lines) > maxListedErrors {
			t.Fatalf("%d lines listed", len(bad.Lines))
		}
		for _, line := range strings.Split(text, "\n") {
			line, _, _ = strings.Cut(line, "#")
			line = strings.TrimSpace(line)
			if p, err := netip.ParsePrefix(line); err == nil && !set.contains(p.Masked().Addr()) {
				t.Fatalf("%s parsed but its first address is not in the set", line)
			}
			if a, err := netip.ParseAddr(line); err == nil && a.Zone() == "" && !set.contains(a) {
				t.Fatalf("%s parsed but is not in the set", line)
			}
		}
	})
}
