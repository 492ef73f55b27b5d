package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/bandit"
	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/shading"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

func TestLearningConfig(t *testing.T) {
	f := func(env map[string]string, wantErr string) *config {
		t.Helper()
		c, err := parseConfig(nil, func(k string) string { return env[k] })
		if wantErr == "" {
			if err != nil {
				t.Fatalf("%v: %v", env, err)
			}
			return c
		}
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%v: error %v, want %q", env, err, wantErr)
		}
		return nil
	}
	c := f(nil, "")
	if !c.Bandit || c.BanditExplore != 0.05 || c.HoldoutShare != 0 || c.Shading || c.ShadingMaxWinLoss != 0.1 {
		t.Fatalf("defaults %+v", c)
	}
	c = f(map[string]string{"KAIROS_BANDIT": "off", "KAIROS_BANDIT_EXPLORE": "0", "KAIROS_HOLDOUT_SHARE": "0.1",
		"KAIROS_SHADING": "ON", "KAIROS_SHADING_MAX_WIN_LOSS": "1"}, "")
	if c.Bandit || c.BanditExplore != 0 || c.HoldoutShare != 0.1 || !c.Shading || c.ShadingMaxWinLoss != 1 {
		t.Fatalf("set %+v", c)
	}
	f(map[string]string{"KAIROS_BANDIT": "maybe"}, `KAIROS_BANDIT: "maybe": want on or off`)
	f(map[string]string{"KAIROS_BANDIT_EXPLORE": "1"}, "KAIROS_BANDIT_EXPLORE: 1: want 0 (none) to below 1")
	f(map[string]string{"KAIROS_HOLDOUT_SHARE": "0.6"}, "KAIROS_HOLDOUT_SHARE: 0.6: want 0 (none) to 0.5")
	f(map[string]string{"KAIROS_HOLDOUT_SHARE": "NaN"}, "KAIROS_HOLDOUT_SHARE")
	f(map[string]string{"KAIROS_HOLDOUT_SHARE": "a tenth"}, `KAIROS_HOLDOUT_SHARE: "a tenth" is not a number`)
	f(map[string]string{"KAIROS_SHADING_MAX_WIN_LOSS": "0"}, "KAIROS_SHADING_MAX_WIN_LOSS: 0: want above 0 up to 1")
}

// fixedCampaigns serves one compiled index.
type fixedCampaigns struct{ ix *campaigns.Index }

func (f fixedCampaigns) Index() *campaigns.Index { return f.ix }

// TestCampaignSettings: a campaign's holdout.share replaces the server's
// share, and its shading: off bids the unshaded price.
func TestCampaignSettings(t *testing.T) {
	parse := func(id, extra string) campaigns.Campaign {
		cs, err := campaigns.Parse("c.yaml", strings.NewReader(strings.Replace(learnCampaign, "id: learn-campaign", "id: "+id, 1)+extra))
		if err != nil {
			t.Fatal(err)
		}
		return cs[0]
	}
	ix := campaigns.Compile([]campaigns.Campaign{parse("plain", ""), parse("all-in", "holdout: {share: 0}\n"),
		parse("half", "holdout: {share: 0.5}\nshading: off\n")}, time.Now())
	h, err := holdout.New(holdout.Config{Share: 0.2}, holdout.Deps{Redis: storagetest.Open(t, false)})
	if err != nil {
		t.Fatal(err)
	}
	ch := campaignHoldout{Holdout: h, campaigns: fixedCampaigns{ix}, share: 0.2}
	held := map[string]int{}
	for i := range 2000 {
		u := "user-" + strconv.Itoa(i)
		for _, c := range []string{"plain", "all-in", "half", "unknown"} {
			if g := ch.Assign(u, c); g == holdout.GroupGhost {
				held[c]++
			} else if g != holdout.GroupExposed {
				held[c+" none"]++
			}
		}
	}
	within := func(n, want int) bool { return n > want-150 && n < want+150 }
	if !within(held["plain"], 400) || held["all-in"] != 0 || held["all-in none"] != 2000 || !within(held["half"], 1000) ||
		!within(held["unknown"], 400) {
		t.Fatalf("held out of 2000 users: %v; want about 400 at the server's 0.2, none where 0, 1000 at 0.5", held)
	}

	sh, err := shading.New(shading.Config{Explore: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A market where every competing bid is 1.00 CPM: bidding 5.00 wastes
	// money; shading bids less, the opted-out campaign does not.
	for _, c := range []string{"plain", "half"} {
		k := shading.Key{Campaign: c}
		for i := range 2000 {
			bid := money.Micros(500_000 + 2_500*i)
			if bid > money.Unit {
				sh.Win(k, bid, bid)
			} else {
				sh.Loss(k, bid, money.Unit, shading.LossHigherBid)
			}
		}
	}
	sh.Refresh()
	cs := campaignShader{Shader: sh, campaigns: fixedCampaigns{ix}}
	if p := cs.Price(shading.Key{Campaign: "plain"}, 5*money.Unit, 0, true, 0); p >= 5*money.Unit {
		t.Fatalf("plain campaign not shaded: %s", p)
	}
	if p := cs.Price(shading.Key{Campaign: "half"}, 5*money.Unit, 0, true, 0); p != 5*money.Unit {
		t.Fatalf("shading: off campaign bid %s, want 5.00", p)
	}
}

// TestNoticesTeachTheShader: wins and losses with the minimum bid to win,
// as pacing reports them (per impression, campaign currency), reach the
// shader under the bid's campaign, phase and publisher as CPM.
func TestNoticesTeachTheShader(t *testing.T) {
	r := storagetest.Open(t, false)
	b, err := bandit.New(bandit.Config{}, bandit.Deps{Redis: r})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := shading.New(shading.Config{Explore: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := &learning{bandit: b, shader: sh}
	for i := range 2000 {
		bid := money.Micros(500_000 + 2_500*i) // CPM
		n := pacing.Notice{CampaignID: "c", CreativeID: "cr.h0", Phase: 3, Publisher: "news.example",
			Reserved: money.CPMToImpression(bid)}
		if bid > money.Unit {
			l.win(&n, n.Reserved)
		} else {
			l.loss(&n, shading.LossHigherBid, money.CPMToImpression(money.Unit)) // competing bid 1.00 CPM
		}
	}
	sh.Refresh()
	k := shading.Key{Campaign: "c", Phase: segments.PhaseIntent, Publisher: "news.example"}
	if p := sh.Price(k, 5*money.Unit, 0, true, 0); p >= 2*money.Unit || p < money.Unit {
		t.Fatalf("shaded price %s for a value of 5.00 against competing bids of 1.00, want a little above 1.00", p)
	}
}

const learnCampaign = `id: learn-campaign
name: Learning end to end
advertiser: Test
adomain: [test.example]
status: active
flight: {start: 2026-01-01, end: 2030-12-31, timezone: UTC}
budget: {daily: 100, total: 1000, currency: USD}
pacing: asap
bid: {base_cpm: 2.00, max_cpm: 4.00}
targeting: {countries: [NZL]}
creatives:
  - id: lc
    formats: [banner]
    sizes: [970x250]
    landing_url: https://test.example/learn
    parts:
      headline:
        default: ["Hello"]
        intent: ["Ready when you are", "Go for it", "Today only"]
      crosssell: {default: ["Socks to go with your {product.name}"]}
`

// TestLearningEndToEnd: with a campaign holding half of its users out, the
// held-out users get no bid and the others do; a purchase event lands in
// the lift report in each group; clicks through the click URL are credited
// to the variant shown; a purchaser's creative is learnt under the
// purchased phase; deleting a profile deletes the user's learning keys.
func TestLearningEndToEnd(t *testing.T) {
	url, rdb := realRedisClient(t)
	in := startInstance(t, url, rdb.Keys.Prefix, nil)
	if status, body := adminDo(t, in, "POST", "/v1/campaigns", learnCampaign+"holdout: {share: 0.5}\n"); status/100 != 2 {
		t.Fatalf("apply: %d %s", status, body)
	}
	// The test predicts the groups with the same hash.
	predict, err := holdout.New(holdout.Config{}, holdout.Deps{Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	var exposed, ghosts []string
	for i := 0; len(exposed) < 6 || len(ghosts) < 3; i++ {
		u := fmt.Sprintf("learner-%d", i)
		if g := predict.AssignShare(u, "learn-campaign", 0.5); g == holdout.GroupGhost && len(ghosts) < 3 {
			ghosts = append(ghosts, u)
		} else if g == holdout.GroupExposed && len(exposed) < 6 {
			exposed = append(exposed, u)
		}
	}
	// The last exposed user bought the product they viewed: the purchaser's
	// parts are shown while the profile says intent.
	buyer := exposed[5]
	var lines []string
	for _, u := range append(append([]string{}, exposed...), ghosts...) {
		bought := ""
		if u == buyer {
			bought = `"purchased":["sku-1"],`
		}
		lines = append(lines, fmt.Sprintf(`{"user":%q,"phase":"intent","product":{"id":"sku-1","name":"Shoe","price":"9.00"},%s"ttl":"1h"}`, u, bought))
	}
	if status, body := adminDo(t, in, "POST", "/v1/segments/import", strings.Join(lines, "\n")); status != 200 {
		t.Fatalf("import: %d %s", status, body)
	}
	waitFor(t, 3*time.Second, []*instance{in}, func(in *instance) bool {
		return bid(t, in, e2eRequest(exposed[0])).campaign() == "learn-campaign"
	})

	for _, u := range ghosts {
		if got := bid(t, in, e2eRequest(u)); got.status != 204 || got.reason != "holdout" {
			t.Fatalf("held-out user %s: %d %q, want 204 holdout", u, got.status, got.reason)
		}
	}
	clicks := map[int]int{} // intent headline variant → clicks
	imps := map[int]int{}
	for i, u := range exposed {
		got := bid(t, in, e2eRequest(u))
		if got.campaign() != "learn-campaign" {
			t.Fatalf("exposed user %s: %d %q, want a bid", u, got.status, got.reason)
		}
		b := got.resp.SeatBid[0].Bid[0]
		get(t, strings.ReplaceAll(b.NURL, "${AUCTION_PRICE}", "1.50"), 204)
		click := clickURL(t, b.ADM)
		// The five URLs of a bid are signed together: all name the crid.
		for _, n := range []string{b.NURL, b.BURL, b.LURL, click.String()} {
			if q := queryOf(t, n); q.Get("cr") != b.CrID || q.Get("vp") != click.Query().Get("vp") {
				t.Fatalf("URL %s: want cr=%s and the click URL's vp", n, b.CrID)
			}
		}
		if u == buyer {
			if click.Query().Get("vp") != "4" || click.Query().Get("ph") != "3" || !strings.Contains(b.CrID, "X0") {
				t.Fatalf("purchaser's click URL %s (crid %s): want phase 3 (intent), variant phase 4 (purchased), the cross-sell part", click, b.CrID)
			}
			get(t, click.String(), 302)
			continue
		}
		if click.Query().Has("vp") {
			t.Fatalf("variant phase in the click URL of an intent user: %s", click)
		}
		v := headlineIndex(t, b.CrID)
		imps[v]++
		if i%2 == 0 { // every other user clicks
			get(t, click.String(), 302)
			clicks[v]++
		}
	}

	// The variants report: every impression and click on the variant shown.
	waitReport(t, in, "/v1/reports/variants?campaign=learn-campaign", func(body string) bool {
		var rep bandit.Report
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		got, gotClicks, purchased := map[int]int{}, map[int]int{}, 0
		for _, v := range rep.Variants {
			switch {
			case v.Phase == "intent" && v.Part == "headline":
				if v.Impressions > 0 { // variants shown to nobody are listed with zeros
					got[v.Variant] = int(v.Impressions)
				}
				if v.Clicks > 0 {
					gotClicks[v.Variant] = int(v.Clicks)
				}
			case v.Phase == "purchased" && v.Part == "crosssell":
				purchased += int(v.Impressions + v.Clicks)
			}
		}
		return maps.Equal(got, imps) && maps.Equal(gotClicks, clicks) && purchased == 2
	})

	// Holdout: the eligible users reach the study, then one purchase in each
	// group converts.
	lift := func(cond func(holdout.Report) bool) {
		t.Helper()
		waitReport(t, in, "/v1/reports/lift?campaign=learn-campaign", func(body string) bool {
			var rep holdout.Report
			if err := json.Unmarshal([]byte(body), &rep); err != nil {
				t.Fatal(err)
			}
			return cond(rep)
		})
	}
	lift(func(r holdout.Report) bool {
		return r.Exposed.Users == int64(len(exposed)) && r.Ghost.Users == int64(len(ghosts))
	})
	events := fmt.Sprintf(`[{"type":"purchase","user":%q,"product":{"id":"sku-1"}},{"type":"purchase","user":%q,"product":{"id":"sku-1"}}]`,
		exposed[0], ghosts[0])
	if status, body := adminDo(t, in, "POST", "/v1/events", events); status != 200 {
		t.Fatalf("events: %d %s", status, body)
	}
	lift(func(r holdout.Report) bool {
		return r.Exposed.Converters == 1 && r.Ghost.Converters == 1 && r.RelativeLift != nil
	})
	// exposed[0] clicked: the purchase credits the variant clicked.
	waitReport(t, in, "/v1/reports/variants?campaign=learn-campaign", func(body string) bool {
		return strings.Contains(body, `"purchases":1`)
	})
	if status, body := adminDo(t, in, "GET", "/v1/reports/lift?campaign=learn-campaign&format=csv", ""); status != 200 ||
		!strings.HasPrefix(body, "campaign,exposed_users") {
		t.Fatalf("lift csv: %d %s", status, body)
	}

	// Deleting a profile deletes what the holdout and the bandit keep about
	// the user.
	ctx := context.Background()
	u := exposed[2] // clicked, so the bandit remembers the click
	keys := []string{rdb.Keys.User(u, "ho"), rdb.Keys.User(u, "bv")}
	if n := rdb.Client.Exists(ctx, keys...).Val(); n != 2 {
		t.Fatalf("%s has %d of the learning keys %v before the delete", u, n, keys)
	}
	if status, body := adminDo(t, in, "DELETE", "/v1/segments/"+u, ""); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	if n := rdb.Client.Exists(ctx, keys...).Val(); n != 0 {
		t.Fatalf("%d learning keys of %s left after the delete", n, u)
	}
}

func get(t *testing.T, u string, want int) {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %s, want %d", u, resp.Status, want)
	}
}

// queryOf returns the query of URL s.
func queryOf(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("URL %q: %v", s, err)
	}
	return u.Query()
}

// clickURL returns the click URL of a banner's markup.
func clickURL(t *testing.T, adm string) *url.URL {
	t.Helper()
	_, rest, ok := strings.Cut(adm, "href='")
	if !ok {
		t.Fatalf("no link in the markup: %s", adm)
	}
	href, _, _ := strings.Cut(rest, "'")
	u, err := url.Parse(html.UnescapeString(href))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// headlineIndex reads the headline's variant from a crid such as "lc.h2".
func headlineIndex(t *testing.T, crid string) int {
	t.Helper()
	_, parts, _ := strings.Cut(crid, ".")
	i := strings.IndexByte(parts, 'h')
	if i < 0 {
		t.Fatalf("crid %q names no phase headline", crid)
	}
	n := 0
	for _, c := range parts[i+1:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// waitReport polls an admin report until ok accepts it.
func waitReport(t *testing.T, in *instance, path string, ok func(body string) bool) {
	t.Helper()
	var body string
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(50 * time.Millisecond) {
		var status int
		if status, body = adminDo(t, in, "GET", path, ""); status != 200 {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		if ok(body) {
			return
		}
	}
	t.Fatalf("%s never showed what was expected within 10s; last:\n%s", path, body)
}

// TestSegmentsConfig checks that the profile settings reach segments.Config
// and that bad ones are refused with the variable's name.
func TestSegmentsConfig(t *testing.T) {
	parse := func(env map[string]string) (*config, error) {
		return parseConfig(nil, func(k string) string { return env[k] })
	}
	c, err := parse(nil)
	if err != nil || c.Segments.CacheTTL != 10*time.Second || c.Segments.Decay.Intent != 7*24*time.Hour || c.Segments.MaxBatch != 128 {
		t.Fatalf("defaults %+v: %v", c.Segments, err)
	}
	c, err = parse(map[string]string{"KAIROS_PROFILE_CACHE_TTL": "2s", "KAIROS_PROFILE_NEGATIVE_TTL": "300ms",
		"KAIROS_SEGMENTS_DECAY_INTENT": "48h", "KAIROS_SEGMENTS_DECAY_AWARENESS": "8760h", "KAIROS_SEGMENTS_MAX_IN_FLIGHT": "8"})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Segments; s.CacheTTL != 2*time.Second || s.NegativeTTL != 300*time.Millisecond || s.Decay.Intent != 48*time.Hour ||
		s.Decay.Awareness != 8760*time.Hour || s.MaxInFlight != 8 {
		t.Fatalf("set %+v", s)
	}
	for env, want := range map[string]string{
		"KAIROS_SEGMENTS_DECAY_INTENT":  "KAIROS_SEGMENTS_DECAY_INTENT: must not be negative",
		"KAIROS_SEGMENTS_MAX_BATCH":     "KAIROS_SEGMENTS_MAX_BATCH: want 0 (default) to 10000",
		"KAIROS_PROFILE_NEGATIVE_TTL":   "KAIROS_PROFILE_NEGATIVE_TTL: must not be negative",
		"KAIROS_SEGMENTS_REDIS_TIMEOUT": "KAIROS_SEGMENTS_REDIS_TIMEOUT: must not be negative",
	} {
		bad := "-1h"
		if strings.HasSuffix(env, "BATCH") {
			bad = "20000"
		}
		if _, err := parse(map[string]string{env: bad}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%s: error %v, want %q", env, bad, err, want)
		}
	}
}

// TestReportsConfig checks that the report settings reach reports.Config and
// that bad ones are refused with the variable's name.
func TestReportsConfig(t *testing.T) {
	parse := func(env map[string]string) (*config, error) {
		return parseConfig(nil, func(k string) string { return env[k] })
	}
	c, err := parse(nil)
	if err != nil || c.Reports.FlushInterval != time.Second || c.Reports.MaxKeys != 200_000 || c.Reports.TTL != 40*24*time.Hour {
		t.Fatalf("defaults %+v: %v", c.Reports, err)
	}
	c, err = parse(map[string]string{"KAIROS_REPORTS_FLUSH": "250ms", "KAIROS_REPORTS_FLUSH_TIMEOUT": "2s",
		"KAIROS_REPORTS_TTL": "72h", "KAIROS_REPORTS_MAX_KEYS": "5000"})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Reports; r.FlushInterval != 250*time.Millisecond || r.FlushTimeout != 2*time.Second || r.TTL != 72*time.Hour || r.MaxKeys != 5000 {
		t.Fatalf("set %+v", r)
	}
	for env, bad := range map[string]string{
		"KAIROS_REPORTS_FLUSH":         "5ms",
		"KAIROS_REPORTS_FLUSH_TIMEOUT": "-1s",
		"KAIROS_REPORTS_TTL":           "30m",
		"KAIROS_REPORTS_MAX_KEYS":      "-3",
	} {
		if _, err := parse(map[string]string{env: bad}); err == nil || !strings.Contains(err.Error(), env+" ") {
			t.Errorf("%s=%s: error %v, want one naming %s", env, bad, err, env)
		}
	}
}

func TestPacingInstancesConfig(t *testing.T) {
	parse := func(v string) (*config, error) {
		return parseConfig(nil, func(k string) string {
			if k == "KAIROS_PACING_EXPECTED_INSTANCES" {
				return v
			}
			return ""
		})
	}
	if c, err := parse(""); err != nil || c.PacingInstances != 4 {
		t.Fatalf("default: %v %v", c, err)
	}
	if c, err := parse("12"); err != nil || c.PacingInstances != 12 {
		t.Fatalf("12: %v %v", c, err)
	}
	for _, bad := range []string{"0", "-3", "many"} {
		if _, err := parse(bad); err == nil || !strings.Contains(err.Error(), "KAIROS_PACING_EXPECTED_INSTANCES") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}
