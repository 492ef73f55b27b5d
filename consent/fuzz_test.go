package consent

import (
	"encoding/json"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// FuzzDecide feeds arbitrary consent, GPP and US privacy strings and ext
// objects to Decide: it must not panic, must answer the same twice (the
// second time from the cache), and must never allow a bid Contextual=false
// forbids.
func FuzzDecide(f *testing.F) {
	f.Add(consentAll.encode(), "", "", []byte(`{"gdpr":1}`), []byte{})
	f.Add(tcString{restrictions: []restriction{{4, 0, []uint16{kairosVendor}}}}.encode(),
		"DBABLA~BVQqAAAAAgA.QA", "1YNN", []byte(`{"gpp_sid":[7],"gdpr":"1"}`), []byte{7})
	f.Add("COwAdDhOwAdDhN4ABAENAPCgAAQAAv___wAAAFP_AAp_4AI6ACACAA", "DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN",
		"1YYN", []byte(`{}`), []byte{2, 6})
	f.Add("C", "DBABjw~x~y", "", []byte(`{"gpp":"DBABM~C","us_privacy":"1---"}`), []byte(nil))
	f.Fuzz(func(t *testing.T, tc, gpp, usp string, ext []byte, sidBytes []byte) {
		var sids []int8
		for _, b := range sidBytes {
			sids = append(sids, int8(b))
		}
		gdpr := int8(1)
		req := &openrtb2.BidRequest{
			Regs: &openrtb2.Regs{GDPR: &gdpr, GPP: gpp, GPPSID: sids, USPrivacy: usp, Ext: json.RawMessage(ext)},
			User: &openrtb2.User{Consent: tc, Ext: json.RawMessage(ext)},
		}
		d := newDecider(t, Config{VendorID: kairosVendor, AllowLegitimateInterest: true})
		first := d.Decide(req)
		if second := d.Decide(req); second != first {
			t.Fatalf("second Decide = %+v, first %+v", second, first)
		}
		if first.Personal && (!first.Contextual || first.Reason != ReasonOK) {
			t.Fatalf("inconsistent decision %+v", first)
		}
		if !first.Personal && first.Reason == ReasonOK {
			t.Fatalf("refused without a reason: %+v", first)
		}
		req.Regs.GDPR = nil
		d.Decide(req)
	})
}

// FuzzGPP checks the GPP decoder on arbitrary strings: no panic, and a
// string that decodes also decodes with every section applicable.
func FuzzGPP(f *testing.F) {
	f.Add("DBABLA~BVQqAAAAAgA.QA", uint64(1<<7))
	f.Add("DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN", uint64(0))
	f.Add("DBABjw~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN", uint64(1<<5|1<<6))
	f.Add(gppString(usSectionString(8, []uint64{1, 1, 0, 1, 2}, nil)), uint64(1<<8))
	f.Fuzz(func(t *testing.T, s string, bits uint64) {
		res := parseGPP(s, sidSet{bits: bits, given: bits != 0})
		if res.tcf != "" && len(res.tcf) > len(s) {
			t.Fatalf("tcf section longer than the string")
		}
		parseGPP(s, sidSet{})
	})
}
