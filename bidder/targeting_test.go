package bidder

import (
	"testing"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

func ptr[T any](v T) *T { return &v }

// baseRequest is a banner request that baseCampaign bids on.
func baseRequest() *openrtb2.BidRequest {
	return &openrtb2.BidRequest{
		ID:   "req-1",
		Imp:  []openrtb2.Imp{{ID: "1", Banner: &openrtb2.Banner{W: ptr[int64](300), H: ptr[int64](250)}, BidFloor: 0.1}},
		Site: &openrtb2.Site{Domain: "news.example", Cat: []string{"IAB12"}},
		Device: &openrtb2.Device{UA: "Mozilla/5.0 (X11; Linux x86_64)", DeviceType: adcom1.DevicePC,
			Geo: &openrtb2.Geo{Country: "DEU"}},
		User: &openrtb2.User{BuyerUID: "u-1"},
	}
}

func encodeRequest(t testing.TB, r *openrtb2.BidRequest) string {
	t.Helper()
	b, err := sonicAPI.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTargeting(t *testing.T) {
	f := func(name string, camp func(*campaigns.Campaign), req func(*openrtb2.BidRequest), wantReason string) {
		t.Helper()
		c := parseCampaign(t, baseCampaign, camp)
		s := newTestServer(t, []campaigns.Campaign{c}, nil)
		r := baseRequest()
		if req != nil {
			req(r)
		}
		status, reason, body := do(s, encodeRequest(t, r))
		switch {
		case wantReason == "" && status != 200:
			t.Errorf("%s: want a bid, got %d %s %s", name, status, reason, body)
		case wantReason != "" && (status != 204 || reason != wantReason):
			t.Errorf("%s: want 204 %s, got %d %q %s", name, wantReason, status, reason, body)
		}
	}
	f("baseline", nil, nil, "")
	f("paused", func(c *campaigns.Campaign) { c.Status = "paused" }, nil, "no_campaign")
	f("flight over", func(c *campaigns.Campaign) { c.Flight.End = campaigns.Date{Y: 2026, M: 6, D: 14} }, nil, "targeting")
	f("flight ends today in zone", func(c *campaigns.Campaign) {
		c.Flight.End = campaigns.Date{Y: 2026, M: 6, D: 15}
		c.Flight.Timezone = "Pacific/Kiritimati" // UTC+14: 2026-06-16 02:00 there
	}, nil, "targeting")
	f("daypart outside", func(c *campaigns.Campaign) {
		c.Targeting.Dayparts = []campaigns.Daypart{{From: "18:00", To: "23:00"}}
	}, nil, "targeting")
	f("daypart inside", func(c *campaigns.Campaign) {
		c.Targeting.Dayparts = []campaigns.Daypart{{Days: []string{"mon"}, From: "08:00", To: "13:00"}}
	}, nil, "")
	f("country match", func(c *campaigns.Campaign) { c.Targeting.Countries = []string{"DEU"} }, nil, "")
	f("country miss", func(c *campaigns.Campaign) { c.Targeting.Countries = []string{"FRA"} }, nil, "no_campaign")
	f("country alpha-2 from user.geo", func(c *campaigns.Campaign) { c.Targeting.Countries = []string{"AUT"} },
		func(r *openrtb2.BidRequest) { r.Device.Geo = nil; r.User.Geo = &openrtb2.Geo{Country: "AT"} }, "")
	f("device miss", func(c *campaigns.Campaign) { c.Targeting.Devices = []string{"mobile"} }, nil, "no_campaign")
	f("device from UA", func(c *campaigns.Campaign) { c.Targeting.Devices = []string{"mobile"} },
		func(r *openrtb2.BidRequest) {
			r.Device.DeviceType = 0
			r.Device.UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
		}, "")
	f("size from format[]", nil, func(r *openrtb2.BidRequest) {
		r.Imp[0].Banner = &openrtb2.Banner{Format: []openrtb2.Format{{W: 160, H: 600}, {W: 728, H: 90}}}
	}, "")
	f("size miss", nil, func(r *openrtb2.BidRequest) {
		r.Imp[0].Banner = &openrtb2.Banner{W: ptr[int64](160), H: ptr[int64](600)}
	}, "no_campaign")
	f("video only imp, banner creative", nil, func(r *openrtb2.BidRequest) {
		r.Imp[0].Banner = nil
		r.Imp[0].Video = &openrtb2.Video{MIMEs: []string{"video/mp4"}}
	}, "no_campaign")
	f("no format at all", nil, func(r *openrtb2.BidRequest) { r.Imp[0].Banner = nil }, "no_imps")
	f("domain block", func(c *campaigns.Campaign) { c.Targeting.Domains.Block = []string{"news.example"} }, nil, "targeting")
	f("domain block parent", func(c *campaigns.Campaign) { c.Targeting.Domains.Block = []string{"news.example"} },
		func(r *openrtb2.BidRequest) { r.Site.Domain = "sport.news.example" }, "targeting")
	f("domain allow miss", func(c *campaigns.Campaign) { c.Targeting.Domains.Allow = []string{"other.example"} }, nil, "targeting")
	f("domain allow hit www", func(c *campaigns.Campaign) { c.Targeting.Domains.Allow = []string{"news.example"} },
		func(r *openrtb2.BidRequest) { r.Site.Domain = "www.news.example" }, "")
	f("app bundle block", func(c *campaigns.Campaign) { c.Targeting.Domains.Block = []string{"com.game.app"} },
		func(r *openrtb2.BidRequest) { r.Site = nil; r.App = &openrtb2.App{Bundle: "com.game.app"} }, "targeting")
	f("site and app both present", nil, func(r *openrtb2.BidRequest) { r.App = &openrtb2.App{Bundle: "com.x"} }, "")
	f("page category blocked", func(c *campaigns.Campaign) { c.Targeting.Categories.Block = []string{"IAB12"} }, nil, "targeting")
	f("page subcategory blocked by parent", func(c *campaigns.Campaign) { c.Targeting.Categories.Block = []string{"IAB12"} },
		func(r *openrtb2.BidRequest) { r.Site.Cat = []string{"IAB12-3"} }, "targeting")
	f("bcat blocks ad category", nil, func(r *openrtb2.BidRequest) { r.BCat = []string{"IAB17"} }, "targeting")
	f("bcat other", nil, func(r *openrtb2.BidRequest) { r.BCat = []string{"IAB1"} }, "")
	f("badv", nil, func(r *openrtb2.BidRequest) { r.BAdv = []string{"acme.example"} }, "targeting")
	f("battr", func(c *campaigns.Campaign) { c.Creatives[0].Attributes = []int{6} },
		func(r *openrtb2.BidRequest) { r.Imp[0].Banner.BAttr = []adcom1.CreativeAttribute{6} }, "creative")
	f("secure with http landing", func(c *campaigns.Campaign) { c.Creatives[0].LandingURL = "http://acme.example/" },
		func(r *openrtb2.BidRequest) { r.Imp[0].Secure = ptr[int8](1) }, "creative")
	f("secure ok", nil, func(r *openrtb2.BidRequest) { r.Imp[0].Secure = ptr[int8](1) }, "")
	f("wseat excludes", nil, func(r *openrtb2.BidRequest) { r.WSeat = []string{"other"} }, "seat")
	f("wseat includes", nil, func(r *openrtb2.BidRequest) { r.WSeat = []string{"kairos"} }, "")
	f("bseat", nil, func(r *openrtb2.BidRequest) { r.BSeat = []string{"kairos"} }, "seat")
	f("exchange restricted", func(c *campaigns.Campaign) { c.Targeting.Exchanges = []string{"adx"} }, nil, "targeting")
	f("phase excluded (contextual)", func(c *campaigns.Campaign) { c.Targeting.Phases = []string{"intent"} }, nil, "no_campaign")
	f("private auction, no deal campaign", nil, func(r *openrtb2.BidRequest) {
		r.Imp[0].PMP = &openrtb2.PMP{PrivateAuction: 1, Deals: []openrtb2.Deal{{ID: "d1"}}}
	}, "no_campaign")
	f("private auction, deal campaign", func(c *campaigns.Campaign) { c.Targeting.Deals = []string{"d1"} },
		func(r *openrtb2.BidRequest) {
			r.Imp[0].PMP = &openrtb2.PMP{PrivateAuction: 1, Deals: []openrtb2.Deal{{ID: "d1", BidFloor: 0.5}}}
		}, "")
	f("deal wseat excludes", func(c *campaigns.Campaign) { c.Targeting.Deals = []string{"d1"} },
		func(r *openrtb2.BidRequest) {
			r.Imp[0].PMP = &openrtb2.PMP{PrivateAuction: 1, Deals: []openrtb2.Deal{{ID: "d1", WSeat: []string{"x"}}}}
		}, "no_campaign")
	f("deal floor above price", func(c *campaigns.Campaign) { c.Targeting.Deals = []string{"d1"} },
		func(r *openrtb2.BidRequest) {
			r.Imp[0].PMP = &openrtb2.PMP{Deals: []openrtb2.Deal{{ID: "d1", BidFloor: 9}}}
		}, "below_floor")
	f("consent required, COPPA request", func(c *campaigns.Campaign) { c.Consent = "required" },
		func(r *openrtb2.BidRequest) { r.Regs = &openrtb2.Regs{COPPA: 1} }, "consent")
	f("consent contextual, COPPA request", nil,
		func(r *openrtb2.BidRequest) { r.Regs = &openrtb2.Regs{COPPA: 1} }, "")
	f("GDPR without consent string: no legal basis for any ad", nil,
		func(r *openrtb2.BidRequest) { r.Regs = &openrtb2.Regs{GDPR: ptr[int8](1)} }, "consent")
	f("deal campaign without deal in open auction", func(c *campaigns.Campaign) { c.Targeting.Deals = []string{"d1"} },
		nil, "no_campaign")
}

func TestDealIDInBid(t *testing.T) {
	c := parseCampaign(t, baseCampaign, func(c *campaigns.Campaign) { c.Targeting.Deals = []string{"d1"} })
	s := newTestServer(t, []campaigns.Campaign{c}, nil)
	r := baseRequest()
	r.Imp[0].PMP = &openrtb2.PMP{PrivateAuction: 1, Deals: []openrtb2.Deal{{ID: "d0"}, {ID: "d1"}}}
	status, _, body := do(s, encodeRequest(t, r))
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	resp := decodeResponse(t, body)
	if got := resp.SeatBid[0].Bid[0].DealID; got != "d1" {
		t.Fatalf("dealid = %q, want d1", got)
	}
}

func TestPriceFloorCurrency(t *testing.T) {
	// base 2.00 USD × unknown 0.5 = 1.00 USD; × intent 2.0 = 4.00; × purchased 3.0 = 6.00 capped at 5.00.
	f := func(name string, user string, req func(*openrtb2.BidRequest), wantStatus int, wantPrice float64, wantCur string) {
		t.Helper()
		c := parseCampaign(t, baseCampaign, nil)
		prof := &fakeProfiles{users: map[string]segments.Profile{
			"u-intent": {User: "u-intent", Phase: segments.PhaseIntent},
			"u-bought": {User: "u-bought", Phase: segments.PhasePurchased},
		}}
		s := newTestServer(t, []campaigns.Campaign{c}, prof)
		r := baseRequest()
		r.User.BuyerUID = user
		if req != nil {
			req(r)
		}
		status, reason, body := do(s, encodeRequest(t, r))
		if status != wantStatus {
			t.Fatalf("%s: status %d (%s), want %d: %s", name, status, reason, wantStatus, body)
		}
		if status != 200 {
			return
		}
		resp := decodeResponse(t, body)
		b := resp.SeatBid[0].Bid[0]
		if b.Price != wantPrice || resp.Cur != wantCur {
			t.Fatalf("%s: price %v %s, want %v %s", name, b.Price, resp.Cur, wantPrice, wantCur)
		}
	}
	f("contextual", "nobody", nil, 200, 1.0, "USD")
	f("intent multiplier", "u-intent", nil, 200, 4.0, "USD")
	f("capped at max", "u-bought", nil, 200, 5.0, "USD")
	f("floor above price", "nobody", func(r *openrtb2.BidRequest) { r.Imp[0].BidFloor = 1.01 }, 204, 0, "")
	f("floor equal to price", "nobody", func(r *openrtb2.BidRequest) { r.Imp[0].BidFloor = 1.0 }, 200, 1.0, "USD")
	f("floor in EUR converted", "nobody", func(r *openrtb2.BidRequest) {
		r.Imp[0].BidFloor, r.Imp[0].BidFloorCur = 0.95, "EUR" // 1.026 USD > 1.00
	}, 204, 0, "")
	f("unknown floor currency", "nobody", func(r *openrtb2.BidRequest) { r.Imp[0].BidFloorCur = "XXX" }, 204, 0, "")
	f("answer in EUR", "u-intent", func(r *openrtb2.BidRequest) { r.Cur = []string{"EUR"} }, 200, 3.703704, "EUR")
	f("first known currency", "u-intent", func(r *openrtb2.BidRequest) { r.Cur = []string{"XXX", "USD"} }, 200, 4.0, "USD")
	f("no known currency", "u-intent", func(r *openrtb2.BidRequest) { r.Cur = []string{"XXX"} }, 204, 0, "")
	f("coppa means contextual", "u-intent", func(r *openrtb2.BidRequest) { r.Regs = &openrtb2.Regs{COPPA: 1} }, 200, 1.0, "USD")
}

func TestHighestPriceWinsAndMultiImp(t *testing.T) {
	cheap := parseCampaign(t, baseCampaign, func(c *campaigns.Campaign) { c.ID = "cheap" })
	dear := parseCampaign(t, baseCampaign, func(c *campaigns.Campaign) {
		c.ID = "dear"
		c.Bid.BaseCPM = 3_000_000
		c.Creatives[0].Sizes = []campaigns.Size{{W: 300, H: 250}}
	})
	s := newTestServer(t, []campaigns.Campaign{cheap, dear}, nil)
	r := baseRequest()
	r.Imp = append(r.Imp, openrtb2.Imp{ID: "2", Banner: &openrtb2.Banner{W: ptr[int64](728), H: ptr[int64](90)}},
		openrtb2.Imp{ID: "3", Banner: &openrtb2.Banner{W: ptr[int64](1), H: ptr[int64](1)}})
	status, _, body := do(s, encodeRequest(t, r))
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	resp := decodeResponse(t, body)
	bids := resp.SeatBid[0].Bid
	if len(bids) != 2 {
		t.Fatalf("want 2 bids (one per biddable imp), got %d: %s", len(bids), body)
	}
	if bids[0].ImpID != "1" || bids[0].CID != "dear" || bids[1].ImpID != "2" || bids[1].CID != "cheap" {
		t.Fatalf("wrong winners: %s", body)
	}
	if bids[0].ID == bids[1].ID {
		t.Fatalf("bid ids not unique: %s", body)
	}
	if bids[1].W != 728 || bids[1].H != 90 || bids[0].MType != openrtb2.MarkupBanner {
		t.Fatalf("size/mtype wrong: %s", body)
	}
}
