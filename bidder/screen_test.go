package bidder

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/quality"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// TestScreenAndSupplyChain: invalid traffic is refused before any lookup, and
// campaigns that require a complete, allow-listed supply chain get one.
func TestScreenAndSupplyChain(t *testing.T) {
	sc, err := quality.NewScreener(quality.Config{SellerAllowList: []string{"exchange.example:pub-1"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	strict := parseCampaign(t, baseCampaign, func(c *campaigns.Campaign) {
		c.SupplyChain = campaigns.SupplyChainRule{Complete: true, AllowedSellers: true}
	})
	prof := &fakeProfiles{}
	s, err := New(Config{}, Deps{Campaigns: staticCampaigns{campaigns.Compile([]campaigns.Campaign{strict}, testNow)},
		Profiles: prof, Screener: sc, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	chain := func(complete int8, sid string) *openrtb2.Source {
		return &openrtb2.Source{SChain: &openrtb2.SupplyChain{Complete: complete, Ver: "1.0",
			Nodes: []openrtb2.SupplyChainNode{{ASI: "exchange.example", SID: sid, HP: ptr[int8](1)}}}}
	}
	f := func(name string, mod func(*openrtb2.BidRequest), want string) {
		t.Helper()
		r := baseRequest()
		r.Device.IP = "203.0.113.9"
		r.Source = chain(1, "pub-1")
		mod(r)
		calls := prof.calls
		status, reason, body := do(s, encodeRequest(t, r))
		if (want == "" && status != 200) || (want != "" && reason != want) {
			t.Fatalf("%s: %d %q %s, want %q", name, status, reason, body, want)
		}
		if want == "invalid_traffic" && prof.calls != calls {
			t.Fatalf("%s: the profile was looked up for invalid traffic", name)
		}
	}
	f("complete, allowed chain", func(*openrtb2.BidRequest) {}, "")
	f("bot user agent", func(r *openrtb2.BidRequest) { r.Device.UA = "Mozilla/5.0 (compatible; Googlebot/2.1)" }, "invalid_traffic")
	f("web request without IP", func(r *openrtb2.BidRequest) { r.Device.IP = "" }, "invalid_traffic")
	f("incomplete chain", func(r *openrtb2.BidRequest) { r.Source = chain(0, "pub-1") }, "supply_chain")
	f("seller not allowed", func(r *openrtb2.BidRequest) { r.Source = chain(1, "pub-2") }, "supply_chain")
	f("no chain", func(r *openrtb2.BidRequest) { r.Source = nil }, "supply_chain")
	// 2.5 requests carry the chain in source.ext.schain.
	f("2.5 ext chain", func(r *openrtb2.BidRequest) {
		ext, _ := json.Marshal(map[string]any{"schain": r.Source.SChain})
		r.Source = &openrtb2.Source{Ext: ext}
	}, "")
}
