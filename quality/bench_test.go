package quality

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// cidrList returns n random CIDR lines, 70% IPv4 (/20 to /32, like data-centre
// lists) and 30% IPv6 (/32 to /128), none covering the benchmark's clean
// addresses.
func cidrList(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	for i := 0; i < n; {
		if r.IntN(10) < 7 {
			var a [4]byte
			for j := range a {
				a[j] = byte(r.Uint32())
			}
			if a[0] == 198 || a[0] == 0 { // keep 198.51.100.1 clean, and 0/8 out
				continue
			}
			fmt.Fprintf(&b, "%s/%d\n", netip.AddrFrom4(a), 20+r.IntN(13))
		} else {
			var a [16]byte
			for j := range a {
				a[j] = byte(r.Uint32())
			}
			a[0] = 0x20 | a[0]&0x0f // 2000::/4 like the real Internet
			if a[0] == 0x2a {
				continue // keep 2a00::/8 clean
			}
			fmt.Fprintf(&b, "%s/%d\n", netip.AddrFrom16(a), 32+r.IntN(97))
		}
		i++
	}
	return b.String()
}

func benchScreener(b *testing.B) *Screener {
	b.Helper()
	path := writeFile(b, "dc.txt", cidrList(100_000, 42))
	s, err := NewScreener(Config{
		IPBlocklistFiles:  []string{path},
		BlockedDomains:    []string{"spam.example", "bad.test", "fraud.example"},
		BlockedApps:       []string{"com.fraud.app"},
		BlockedPublishers: []string{"pub-666", "pub-667"},
		SellerAllowList:   []string{"ssp.example", "exchange.example:pub-1"},
	}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	set := s.ips.Load()
	b.Logf("100k CIDRs merged into %d IPv4 and %d IPv6 ranges", set.len4(), set.len6())
	return s
}

// BenchmarkScreen100kCIDR screens web requests that pass every check (the
// most work) with 100,000 random IPv4 and IPv6 CIDRs loaded.
func BenchmarkScreen100kCIDR(b *testing.B) {
	s := benchScreener(b)
	reqs := []string{
		`{"id":"1","site":{"domain":"www.news.example","page":"https://www.news.example/sport/article-123?ref=home","publisher":{"id":"pub-1","domain":"news.example"}},` +
			`"device":{"ip":"198.51.100.1","ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"}}`,
		`{"id":"2","site":{"domain":"m.news.example","page":"https://m.news.example/","publisher":{"id":"pub-1"}},` +
			`"device":{"ip":"198.51.100.7","ipv6":"2a00:1450:4001:81c::200e","ua":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"}}`,
	}
	r0, r1 := bidRequest(b, reqs[0]), bidRequest(b, reqs[1])
	if v := s.Screen(r0); !v.OK {
		b.Fatalf("request 0: %+v", v)
	}
	if v := s.Screen(r1); !v.OK {
		b.Fatalf("request 1: %+v", v)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := r0
		if i&1 == 1 {
			req = r1
		}
		if !s.Screen(req).OK {
			b.Fatal("blocked")
		}
		s.SupplyChain(req)
	}
}

// BenchmarkIPLookup100k looks up random addresses in the 100k-CIDR list.
func BenchmarkIPLookup100k(b *testing.B) {
	s := benchScreener(b)
	set := s.ips.Load()
	r := rand.New(rand.NewPCG(7, 7))
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		if i%3 == 0 {
			var a [16]byte
			for j := range a {
				a[j] = byte(r.Uint32())
			}
			addrs[i] = netip.AddrFrom16(a)
		} else {
			addrs[i] = netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		if set.contains(addrs[i&1023]) {
			hits++
		}
	}
	_ = hits
}

// BenchmarkSupplyChain25 reads an OpenRTB 2.5 source.ext.schain.
func BenchmarkSupplyChain25(b *testing.B) {
	s := benchScreener(b)
	req := bidRequest(b, `{"id":"1","source":{"tid":"t","ext":{"schain":{"complete":1,"ver":"1.0","nodes":[{"asi":"exchange.example","sid":"pub-1","hp":1},{"asi":"ssp.example","sid":"77","hp":1}]}}}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !s.SupplyChain(req).AllowedSellers {
			b.Fatal("not allowed")
		}
	}
}
