package bidder

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/demo"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"
)

func benchBody(b *testing.B) []byte {
	body, err := os.ReadFile(fixtureDir + "/003-iab26-mobile.json")
	if err != nil {
		return []byte(demo.BidRequest("bench", "demo-intent"))
	}
	return body
}

func BenchmarkDecode(b *testing.B) {
	body := []byte(demo.BidRequest("bench", "demo-intent"))
	b.ReportAllocs()
	b.ResetTimer()
	b.SetBytes(int64(len(body)))
	var r openrtb2.BidRequest
	for i := 0; i < b.N; i++ {
		r = openrtb2.BidRequest{}
		if err := Decode(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeFixture(b *testing.B) {
	body := benchBody(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.SetBytes(int64(len(body)))
	var r openrtb2.BidRequest
	for i := 0; i < b.N; i++ {
		r = openrtb2.BidRequest{}
		if err := Decode(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// manyCampaigns returns n campaigns spread over countries and sizes, so that
// a request matches a small share of them.
func manyCampaigns(b testing.TB, n int) []campaigns.Campaign {
	countries := []string{"DEU", "AUT", "CHE", "USA", "GBR", "FRA", "ITA", "ESP", "NLD", "POL"}
	sizes := []campaigns.Size{{W: 300, H: 250}, {W: 728, H: 90}, {W: 320, H: 50}, {W: 300, H: 600}, {W: 160, H: 600}}
	out := make([]campaigns.Campaign, n)
	for i := range out {
		out[i] = parseCampaign(b, baseCampaign, func(c *campaigns.Campaign) {
			c.ID = "c-" + string(rune('a'+i%26)) + itoa(i)
			c.Targeting.Countries = []string{countries[i%len(countries)]}
			c.Creatives[0].Sizes = []campaigns.Size{sizes[i%len(sizes)]}
			c.Bid.BaseCPM += money.Micros(1000 * (i % 97))
		})
	}
	return out
}

func itoa(i int) string { return string(appendIntStr(nil, i)) }

func appendIntStr(dst []byte, i int) []byte {
	if i >= 10 {
		dst = appendIntStr(dst, i/10)
	}
	return append(dst, byte('0'+i%10))
}

func BenchmarkMatch1000(b *testing.B) {
	ix := campaigns.Compile(manyCampaigns(b, 1000), testNow)
	s := newTestServer(b, nil, nil)
	s.deps.Campaigns = staticCampaigns{ix}
	st := new(reqState)
	st.req = *baseRequest()
	st.cur = "USD"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.bids = st.bids[:0]
		st.adm = st.adm[:0]
		q := campaigns.Query{Country: "DEU", Device: campaigns.DeviceDesktop, Phase: segments.PhaseUnknown}
		if r := s.bidImp(st, ix, &q, &st.req.Imp[0], testNow, "news.example", "", [3][]string{}); r != ReasonNone {
			b.Fatalf("no bid: %s", r)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	s := demoServer(b)
	var ctx fasthttp.RequestCtx
	ctx.Request.SetBodyString(demo.BidRequest("enc", "demo-intent"))
	st := new(reqState)
	if err := Decode(ctx.PostBody(), &st.req); err != nil {
		b.Fatal(err)
	}
	if r := s.auction(st, testNow, testNow.Add(s.cfg.Deadline(0))); r != ReasonNone {
		b.Fatalf("no bid: %s", r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.out = s.encode(st.out[:0], st)
	}
}

// BenchmarkHandler is the whole bid path in process: decode, profile lookup
// (in-memory fake), match, price, assemble, encode.
func BenchmarkHandler(b *testing.B) {
	s := demoServer(b)
	body := []byte(demo.BidRequest("h", "demo-intent"))
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/openrtb2/bid")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Request.SetBody(body)
		ctx.Response.Reset()
		s.Handler(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
	}
}

// BenchmarkDecodeStdlib is the reference for choosing sonic: the same request
// decoded with encoding/json.
func BenchmarkDecodeStdlib(b *testing.B) {
	body := benchBody(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	var r openrtb2.BidRequest
	for i := 0; i < b.N; i++ {
		r = openrtb2.BidRequest{}
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	adm := strings.Repeat(`<div style="width:300px"><a href="https://x.example/?a=1&b=2">Trail Runner 2 is ready</a></div>`, 20)
	b.ReportAllocs()
	b.SetBytes(int64(len(adm)))
	var dst []byte
	for i := 0; i < b.N; i++ {
		dst = appendJSONString(dst[:0], adm)
	}
}
