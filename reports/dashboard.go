package reports

import (
	"context"
	"embed"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/admin"
	"github.com/kairos-rtb/kairos/money"
	"github.com/valyala/fasthttp"
)

// PacingState is one campaign's budget and pacing today, as the dashboard
// shows it.
type PacingState struct {
	// Campaign is the campaign id.
	Campaign string `json:"campaign"`
	// Daily is today's budget.
	Daily money.Micros `json:"daily"`
	// SpentToday is what all instances spent today.
	SpentToday money.Micros `json:"spent_today"`
	// Planned is what the pacing plan meant to have spent by now.
	Planned money.Micros `json:"planned"`
	// Participation is the share of auctions the campaign takes part in.
	Participation float64 `json:"participation"`
}

// PacingSource lists the campaigns' pacing states; the pacing package adapts
// to it.
type PacingSource interface {
	PacingStates() []PacingState
}

//go:embed assets
var assets embed.FS

// sessionAge is how long the dashboard cookie lives.
const sessionAge = 12 * time.Hour

// Dashboard serves the analysts' page and its data. Its routes are public on
// the admin listener: it checks the session cookie itself.
type Dashboard struct {
	r      *Reader
	check  func([]byte) (string, bool)
	pacing PacingSource
	files  map[string]asset
}

type asset struct {
	body  []byte
	ctype string
}

// NewDashboard returns the dashboard over r. check accepts an admin token
// (admin.Server.Check); pacing may be nil.
func NewDashboard(r *Reader, check func([]byte) (string, bool), pacing PacingSource) *Dashboard {
	d := &Dashboard{r: r, check: check, pacing: pacing, files: map[string]asset{}}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	entries, _ := assets.ReadDir("assets")
	for _, e := range entries {
		b, err := assets.ReadFile("assets/" + e.Name())
		if err == nil {
			d.files[e.Name()] = asset{b, types[path.Ext(e.Name())]}
		}
	}
	return d
}

// Paths lists the exact paths the dashboard answers, to mount with
// admin.Server.HandlePublic and Serve.
func (d *Dashboard) Paths() []string {
	return []string{"/dashboard", "/dashboard/data", "/dashboard/kchart.js", "/dashboard/dashboard.js", "/dashboard/dashboard.css"}
}

// Serve routes a dashboard request by path.
func (d *Dashboard) Serve(ctx *fasthttp.RequestCtx) {
	p := string(ctx.Path())
	switch p {
	case "/dashboard", "/dashboard/":
		d.Page(ctx)
	case "/dashboard/data":
		d.Data(ctx)
	default:
		name := strings.TrimPrefix(p, "/dashboard/")
		a, ok := d.files[name]
		if !ok || strings.HasSuffix(name, ".html") {
			admin.WriteError(ctx, fasthttp.StatusNotFound, "", "no such dashboard file: "+p)
			return
		}
		// Scripts and styles hold no data, so they need no session.
		secureHeaders(ctx)
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		ctx.SetContentType(a.ctype)
		ctx.SetBody(a.body)
	}
}

func secureHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// signedIn reports whether the request carries a valid session cookie.
func (d *Dashboard) signedIn(ctx *fasthttp.RequestCtx) bool {
	_, ok := d.check(ctx.Request.Header.Cookie(admin.CookieName))
	return ok
}

// Page serves GET /dashboard. With ?token= it signs the browser in: a valid
// token becomes an HttpOnly, SameSite=Strict cookie and the answer is a 303
// to /dashboard, so the token leaves the address bar and the history. Without
// a valid cookie it shows how to sign in (401).
func (d *Dashboard) Page(ctx *fasthttp.RequestCtx) {
	if !getOnly(ctx) {
		return
	}
	secureHeaders(ctx)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if tok := ctx.QueryArgs().Peek("token"); len(tok) > 0 {
		if _, ok := d.check(tok); !ok {
			d.signIn(ctx, "That token was not accepted.")
			return
		}
		c := fasthttp.AcquireCookie()
		defer fasthttp.ReleaseCookie(c)
		c.SetKey(admin.CookieName)
		c.SetValueBytes(tok)
		c.SetPath("/")
		c.SetHTTPOnly(true)
		c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
		c.SetMaxAge(int(sessionAge / time.Second))
		c.SetSecure(ctx.IsTLS())
		ctx.Response.Header.SetCookie(c)
		ctx.Response.Header.Set("Location", "/dashboard")
		ctx.SetStatusCode(fasthttp.StatusSeeOther)
		return
	}
	if !d.signedIn(ctx) {
		d.signIn(ctx, "")
		return
	}
	ctx.SetContentType(d.files["dashboard.html"].ctype)
	ctx.SetBody(d.files["dashboard.html"].body)
}

func (d *Dashboard) signIn(ctx *fasthttp.RequestCtx, problem string) {
	ctx.SetStatusCode(fasthttp.StatusUnauthorized)
	ctx.SetContentType(d.files["signin.html"].ctype)
	body := d.files["signin.html"].body
	if problem != "" {
		body = []byte(strings.Replace(string(body), "<!--problem-->", `<p class="problem">`+problem+`</p>`, 1))
	}
	ctx.SetBody(body)
}

// DashboardData is the JSON behind the dashboard's charts
// (GET /dashboard/data?range=24h&campaign=).
type DashboardData struct {
	// Now is the server's clock time.
	Now time.Time `json:"now"`
	// From and To are the range shown.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Campaign filters the totals, hours and landscape; empty for all.
	Campaign string `json:"campaign"`
	// Campaigns lists the campaigns with counts in range, for the filter.
	Campaigns []string `json:"campaigns"`
	// Totals sums the range.
	Totals Row `json:"totals"`
	// Hours has one row per hour of the range, oldest first, zeros included.
	Hours []Row `json:"hours"`
	// ByCampaign has one row per campaign.
	ByCampaign []Row `json:"by_campaign"`
	// Pacing is today's spend against the plan per campaign.
	Pacing []PacingState `json:"pacing"`
	// Landscape is the win rate by bid-price bucket, phases combined.
	Landscape []LandscapeRow `json:"landscape"`
	// NoBids are the most frequent no-bid reasons (all traffic).
	NoBids []ReasonCount `json:"no_bids"`
	// Losses are the most frequent loss reasons.
	Losses []LossCount `json:"losses"`
}

// Data serves GET /dashboard/data for a signed-in browser.
func (d *Dashboard) Data(ctx *fasthttp.RequestCtx) {
	if !getOnly(ctx) {
		return
	}
	if !d.signedIn(ctx) {
		admin.WriteError(ctx, fasthttp.StatusUnauthorized, "", "not signed in: open /dashboard?token=<KAIROS_ADMIN_TOKEN>")
		return
	}
	args := ctx.QueryArgs()
	span := 24 * time.Hour
	if v := string(args.Peek("range")); v != "" {
		var err error
		if span, err = parseSpan(v); err != nil || span > d.r.cfg.TTL {
			admin.WriteError(ctx, fasthttp.StatusBadRequest, "range", "range: want a duration such as 6h, 24h or 7d within the kept "+d.r.cfg.TTL.String())
			return
		}
	}
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data, err := d.collect(c, d.r.Now(), span, string(args.Peek("campaign")))
	if err != nil {
		writeErr(ctx, err)
		return
	}
	writeJSON(ctx, data)
}

func parseSpan(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, &ParamError{"range", "bad days"}
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < time.Hour {
		return 0, &ParamError{"range", "bad duration"}
	}
	return v, nil
}

// collect gathers every view of the dashboard in two scans (counts and
// landscape). The range ends with the current hour.
func (d *Dashboard) collect(ctx context.Context, now time.Time, span time.Duration, campaign string) (*DashboardData, error) {
	to := HourTime(floorDiv(now.Unix(), 3600) + 1)
	from := to.Add(-span.Truncate(time.Hour))
	out := &DashboardData{Now: now.UTC(), From: from, To: to, Campaign: campaign}

	byHour := newGrouping([]string{DimHour})
	byCampaign := newGrouping([]string{DimCampaign})
	total := newGrouping(nil)
	ra := newReasonAgg()
	err := d.r.scan(ctx, from, to, false, func(hour int64, field string, v int64) {
		f, ok := parseField(field)
		if !ok {
			return
		}
		ra.add(f.metric, v)
		if f.strs[0] != "" {
			byCampaign.add(hour, &f, v)
		}
		if campaign == "" || f.strs[0] == campaign {
			byHour.add(hour, &f, v)
			total.add(hour, &f, v)
		}
	})
	if err != nil {
		return nil, err
	}
	out.Totals = Totals(total.result())
	hourRows := map[string]Row{}
	for _, r := range byHour.result() {
		hourRows[r.Dims[DimHour]] = r
	}
	for _, h := range hours(from, to) {
		t := HourTime(h).Format(time.RFC3339)
		r, ok := hourRows[t]
		if !ok {
			r = Row{Dims: map[string]string{DimHour: t}}
		}
		out.Hours = append(out.Hours, r)
	}
	out.ByCampaign = byCampaign.result()
	sort.SliceStable(out.ByCampaign, func(i, j int) bool { return out.ByCampaign[i].Spend > out.ByCampaign[j].Spend })
	out.Campaigns = []string{}
	for _, r := range out.ByCampaign {
		out.Campaigns = append(out.Campaigns, r.Dims[DimCampaign])
	}
	sort.Strings(out.Campaigns)
	nb, ls := ra.result()
	out.NoBids, out.Losses = nb[:min(len(nb), 10)], ls[:min(len(ls), 10)]

	land, err := d.r.Landscape(ctx, from, to, campaign)
	if err != nil {
		return nil, err
	}
	out.Landscape = combinePhases(land)

	out.Pacing = []PacingState{}
	if d.pacing != nil {
		for _, p := range d.pacing.PacingStates() {
			if campaign == "" || p.Campaign == campaign {
				out.Pacing = append(out.Pacing, p)
			}
		}
	}
	return out, nil
}

// combinePhases sums landscape rows of every phase per bucket.
func combinePhases(rows []LandscapeRow) []LandscapeRow {
	var sum [numBuckets]LandscapeRow
	used := [numBuckets]bool{}
	for _, r := range rows {
		s := &sum[r.Bucket]
		if !used[r.Bucket] {
			*s = LandscapeRow{Phase: "all", Bucket: r.Bucket, Low: r.Low, High: r.High}
			used[r.Bucket] = true
		}
		s.Bids += r.Bids
		s.Wins += r.Wins
	}
	out := []LandscapeRow{}
	for b := range sum {
		if used[b] {
			sum[b].WinRate = ratio(sum[b].Wins, sum[b].Bids)
			out = append(out, sum[b])
		}
	}
	return out
}
