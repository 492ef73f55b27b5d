//go:build !race

package quality

import "testing"

// TestZeroAllocs pins Screen and SupplyChain at zero allocations.
func TestZeroAllocs(t *testing.T) {
	s := newScreener(t, Config{
		IPBlocklistFiles:  []string{writeFile(t, "dc.txt", "203.0.113.0/24\n2001:db8::/32\n")},
		BlockedDomains:    []string{"spam.example"},
		BlockedApps:       []string{"com.fraud.app"},
		BlockedPublishers: []string{"pub-666"},
		SellerAllowList:   []string{"ssp.example", "exchange.example:pub-1"},
	})
	f := func(name, js string) {
		t.Helper()
		req := bidRequest(t, js)
		if n := testing.AllocsPerRun(200, func() { s.Screen(req); s.SupplyChain(req) }); n != 0 {
			t.Errorf("%s: %.1f allocations per run, want 0", name, n)
		}
	}
	f("clean site", `{"id":"1","site":{"domain":"WWW.News.Example","page":"https://news.example/a","publisher":{"id":"p","domain":"news.example"}},"device":{"ip":"198.51.100.1","ipv6":"2a00::1","ua":"`+chromeUA+`"},"source":{"schain":{"complete":1,"nodes":[{"asi":"Exchange.example","sid":"pub-1"}]}}}`)
	f("blocked IP", `{"id":"1","app":{"bundle":"com.ok"},"device":{"ip":"203.0.113.5"},"source":{"ext":{"schain":{"complete":1,"nodes":[{"asi":"ssp.example","sid":"3"}]}}}}`)
	f("bot", `{"id":"1","site":{"domain":"a.example"},"device":{"ip":"198.51.100.1","ua":"`+botUA+`","sua":{"browsers":[{"brand":"x"}]}}}`)
	f("blocked app", `{"id":"1","app":{"bundle":"COM.FRAUD.APP"}}`)
}
