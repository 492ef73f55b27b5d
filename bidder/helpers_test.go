package bidder

import (
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"
)

// baseCampaign is a valid campaign that bids on most banner traffic.
const baseCampaign = `
id: base
name: Base
advertiser: Acme
adomain: [acme.example]
cat: [IAB17]
status: active
flight: {start: 2026-01-01, end: 2026-12-31, timezone: UTC}
budget: {daily: 100, total: 1000, currency: USD}
pacing: asap
bid:
  base_cpm: 2.00
  max_cpm: 5.00
  phase_multipliers: {unknown: 0.5, intent: 2.0, purchased: 3.0}
creatives:
  - id: cr1
    formats: [banner]
    sizes: [300x250, 728x90]
    landing_url: https://acme.example/
    image: https://cdn.acme.example/a.jpg
    parts:
      headline: {default: ["Hello <world>"]}
`

// testNow lies inside every test campaign's flight.
var testNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func parseCampaign(t testing.TB, yamlText string, mod func(*campaigns.Campaign)) campaigns.Campaign {
	t.Helper()
	cs, err := campaigns.Parse("test.yaml", strings.NewReader(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if mod != nil {
		mod(&c)
	}
	if ps := c.Validate(); len(ps) > 0 {
		t.Fatalf("test campaign invalid: %v", ps)
	}
	return c
}

type staticCampaigns struct{ ix *campaigns.Index }

func (s staticCampaigns) Index() *campaigns.Index { return s.ix }

// fakeProfiles serves profiles from a map; missing users are not found.
type fakeProfiles struct {
	users map[string]segments.Profile
	delay time.Duration
	calls int
}

func (f *fakeProfiles) GetUntil(deadline time.Time, user string, res *segments.Result) error {
	f.calls++
	if f.delay > 0 {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-time.After(f.delay):
		case <-t.C:
			return segments.ErrTimeout
		}
	}
	p, ok := f.users[user]
	res.Found = ok
	res.Profile = p
	return nil
}

func newTestServer(t testing.TB, cs []campaigns.Campaign, prof Profiles) *Server {
	t.Helper()
	s, err := New(Config{}, Deps{Campaigns: staticCampaigns{campaigns.Compile(cs, testNow)},
		Profiles: prof, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do sends body to the server's handler in process and returns status, reason
// header and body.
func do(s *Server, body string, hdr ...string) (int, string, []byte) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/openrtb2/bid")
	ctx.Request.Header.Set(HeaderDebug, "1")
	for i := 0; i+1 < len(hdr); i += 2 {
		ctx.Request.Header.Set(hdr[i], hdr[i+1])
	}
	ctx.Request.SetBodyString(body)
	s.Handler(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Header.Peek(HeaderNoBidReason)),
		append([]byte(nil), ctx.Response.Body()...)
}

func decodeResponse(t testing.TB, body []byte) openrtb2.BidResponse {
	t.Helper()
	var r openrtb2.BidResponse
	if err := sonicAPI.Unmarshal(body, &r); err != nil {
		t.Fatalf("response is not a BidResponse: %v\n%s", err, body)
	}
	return r
}
