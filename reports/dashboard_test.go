package reports

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/admin"
	"github.com/kairos-rtb/kairos/money"
	"github.com/valyala/fasthttp"
)

const dashToken = "dash-token-0123456789"

func checkToken(b []byte) (string, bool) { return "ops", string(b) == dashToken }

type fakePacing []PacingState

func (f fakePacing) PacingStates() []PacingState { return f }

func demoPacing() fakePacing {
	m := func(s string) money.Micros { v, _ := money.Parse(s); return v }
	return fakePacing{
		{Campaign: "trail-runner-autumn", Daily: m("60"), SpentToday: m("31.20"), Planned: m("36.00"), Participation: 0.62},
		{Campaign: "city-bike-winter", Daily: m("40"), SpentToday: m("21.90"), Planned: m("18.00"), Participation: 0.35},
		{Campaign: "acme-loyalty", Daily: m("25"), SpentToday: m("9.40"), Planned: m("16.25"), Participation: 1},
	}
}

// request runs h on a GET of uri with an optional session cookie.
func request(h fasthttp.RequestHandler, uri, cookie string, tlsConn bool) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	if tlsConn {
		c, _ := net.Pipe()
		ctx.Init2(tls.Server(c, &tls.Config{}), nil, false)
	}
	ctx.Request.SetRequestURI(uri)
	if cookie != "" {
		ctx.Request.Header.SetCookie(admin.CookieName, cookie)
	}
	h(ctx)
	return ctx
}

func TestDashboardSignIn(t *testing.T) {
	fx := newFixture(t, 500)
	d := NewDashboard(fx.rd, checkToken, demoPacing())

	ctx := request(d.Serve, "/dashboard?token="+dashToken, "", false)
	if ctx.Response.StatusCode() != fasthttp.StatusSeeOther {
		t.Fatalf("sign-in: status %d", ctx.Response.StatusCode())
	}
	loc := string(ctx.Response.Header.Peek("Location"))
	if loc != "/dashboard" || strings.Contains(loc, dashToken) {
		t.Fatalf("sign-in redirects to %q", loc)
	}
	var c fasthttp.Cookie
	c.SetKey(admin.CookieName)
	if !ctx.Response.Header.Cookie(&c) {
		t.Fatal("sign-in set no cookie")
	}
	if string(c.Value()) != dashToken || !c.HTTPOnly() || c.SameSite() != fasthttp.CookieSameSiteStrictMode ||
		string(c.Path()) != "/" || c.Secure() || c.MaxAge() <= 0 {
		t.Fatalf("cookie %s", c.String())
	}
	if ref := string(ctx.Response.Header.Peek("Referrer-Policy")); ref != "no-referrer" {
		t.Fatalf("Referrer-Policy %q", ref)
	}

	// Over TLS the cookie is Secure.
	ctx = request(d.Serve, "/dashboard?token="+dashToken, "", true)
	c.Reset()
	c.SetKey(admin.CookieName)
	if !ctx.Response.Header.Cookie(&c) || !c.Secure() {
		t.Fatalf("TLS cookie %s", c.String())
	}

	f := func(uri, cookie string, wantStatus int, wantBody string) {
		t.Helper()
		ctx := request(d.Serve, uri, cookie, false)
		body := string(ctx.Response.Body())
		if ctx.Response.StatusCode() != wantStatus || !strings.Contains(body, wantBody) {
			t.Fatalf("GET %s (cookie %q): %d, want %d with %q:\n%s", uri, cookie, ctx.Response.StatusCode(), wantStatus, wantBody, body)
		}
		if strings.HasSuffix(uri, "token=wrong-token") && len(ctx.Response.Header.PeekCookie(admin.CookieName)) > 0 {
			t.Fatal("a wrong token set a cookie")
		}
	}
	f("/dashboard?token=wrong-token", "", 401, "not accepted")
	f("/dashboard", "", 401, "/dashboard?token=")
	f("/dashboard", "wrong-token", 401, "/dashboard?token=")
	f("/dashboard", dashToken, 200, `id="chart-winrate"`)
	f("/dashboard/data", "", 401, `"error"`)
	f("/dashboard/data", dashToken, 200, `"hours"`)
	f("/dashboard/data?range=forever", dashToken, 400, `"range"`)
	f("/dashboard/data?range=90d", dashToken, 400, `"range"`)
	f("/dashboard/kchart.js", "", 200, "KChart")
	f("/dashboard/dashboard.css", "", 200, ".kchart")
	f("/dashboard/signin.html", "", 404, "no such dashboard file")
	f("/dashboard/nope.js", "", 404, "no such dashboard file")

	if csp := string(request(d.Serve, "/dashboard", dashToken, false).Response.Header.Peek("Content-Security-Policy")); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	for _, p := range d.Paths() {
		if s := request(d.Serve, p, dashToken, false).Response.StatusCode(); s != 200 {
			t.Fatalf("%s: %d", p, s)
		}
	}
}

func TestDashboardData(t *testing.T) {
	fx := newFixture(t, 5000)
	d := NewDashboard(fx.rd, checkToken, demoPacing())
	ctx := request(d.Serve, "/dashboard/data?range=24h", dashToken, false)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	var data DashboardData
	if err := json.Unmarshal(ctx.Response.Body(), &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Hours) != 24 || data.Hours[0].Dims[DimHour] != HourTime(fx.h0).Format("2006-01-02T15:04:05Z07:00") {
		t.Fatalf("%d hours from %v", len(data.Hours), data.Hours[0].Dims)
	}
	var bids int64
	for _, h := range data.Hours {
		bids += h.Bids
	}
	if bids != fx.want.bids || data.Totals.Bids != fx.want.bids || data.Totals.Requests != fx.want.requests {
		t.Fatalf("hours sum %d bids, totals %d, want %d", bids, data.Totals.Bids, fx.want.bids)
	}
	if len(data.ByCampaign) != len(simCampaigns) || len(data.Campaigns) != len(simCampaigns) || len(data.Pacing) != 3 ||
		len(data.Landscape) == 0 || len(data.NoBids) == 0 || len(data.Losses) == 0 {
		t.Fatalf("views missing: %+v", data)
	}

	// Filtered by one campaign.
	ctx = request(d.Serve, "/dashboard/data?range=6h&campaign=acme-loyalty", dashToken, false)
	data = DashboardData{}
	if err := json.Unmarshal(ctx.Response.Body(), &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Hours) != 6 || len(data.Pacing) != 1 || data.Pacing[0].Campaign != "acme-loyalty" || data.Totals.Requests != 0 || data.Totals.Bids == 0 {
		t.Fatalf("filtered: %d hours, pacing %v, totals %+v", len(data.Hours), data.Pacing, data.Totals)
	}

	// No pacing source.
	d = NewDashboard(fx.rd, checkToken, nil)
	ctx = request(d.Serve, "/dashboard/data", dashToken, false)
	if !strings.Contains(string(ctx.Response.Body()), `"pacing":[]`) {
		t.Fatalf("nil pacing: %s", ctx.Response.Body())
	}
}
