//go:build !race

package consent

import (
	"fmt"
	"testing"
)

// TestZeroAllocs pins Decide at zero allocations once a TC string is cached.
func TestZeroAllocs(t *testing.T) {
	d := newDecider(t, Config{VendorID: kairosVendor})
	f := func(name, js string) {
		t.Helper()
		req := bidRequest(t, js)
		d.Decide(req) // fill the cache
		if n := testing.AllocsPerRun(200, func() { d.Decide(req) }); n != 0 {
			t.Errorf("%s: %.1f allocations per run, want 0", name, n)
		}
	}
	tc := consentAll.encode()
	f("2.6 gdpr", gdprReq(tc))
	f("2.5 gdpr", `{"id":"1","regs":{"ext":{"gdpr":"1","us_privacy":"1YNN"}},"user":{"ext":{"consent":"`+tc+`"}}}`)
	f("gpp", fmt.Sprintf(`{"id":"1","regs":{"gpp":%q,"gpp_sid":[2,7]},"device":{"lmt":1}}`,
		gppString(gppSection{2, tc}, usSectionString(7, []uint64{1, 1, 1, 1, 0, 0, 2, 2, 1}, nil))))
	f("2.5 gpp", fmt.Sprintf(`{"id":"1","regs":{"ext":{"gpp":%q,"gpp_sid":[8]}}}`,
		gppString(usSectionString(8, []uint64{1, 1, 0, 2, 2}, nil))))
	f("coppa", `{"id":"1","regs":{"coppa":1}}`)
}
