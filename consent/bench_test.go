package consent

import (
	"fmt"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// BenchmarkDecide decides a GDPR request whose TC string is in the cache
// (the steady state: many requests share a string up to its timestamps).
func BenchmarkDecide(b *testing.B) {
	d := newDecider(b, Config{VendorID: kairosVendor})
	req := bidRequest(b, gdprReq(consentAll.encode()))
	d.Decide(req)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !d.Decide(req).Personal {
			b.Fatal("not personal")
		}
	}
}

// BenchmarkDecideMiss decodes the TC string every time (a cache of 16 slots
// cycled through 4096 distinct strings), the cost go-gdpr adds on a miss.
func BenchmarkDecideMiss(b *testing.B) {
	d := newDecider(b, Config{VendorID: kairosVendor, CacheSize: 16})
	var reqs = make([]string, 4096)
	for i := range reqs {
		tc := consentAll
		tc.vendors = append([]uint16{uint16(i + 1000)}, tc.vendors...)
		reqs[i] = gdprReq(tc.encode())
	}
	parsed := make([]*openrtb2.BidRequest, len(reqs))
	for i := range reqs {
		parsed[i] = bidRequest(b, reqs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Decide(parsed[i%len(parsed)])
	}
}

// BenchmarkDecideGPP decides a US request with a usnat and a state section
// and OpenRTB 2.5 ext fields.
func BenchmarkDecideGPP(b *testing.B) {
	d := newDecider(b, Config{VendorID: kairosVendor})
	gpp := gppString(usSectionString(7, []uint64{1, 1, 1, 1, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, nil),
		usSectionString(8, []uint64{1, 1, 0, 2, 2}, nil))
	req := bidRequest(b, fmt.Sprintf(`{"id":"1","regs":{"ext":{"gdpr":0,"gpp":%q,"gpp_sid":[7,8],"us_privacy":"1YNN"}},"device":{"lmt":0}}`, gpp))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !d.Decide(req).Personal {
			b.Fatal("not personal")
		}
	}
}
