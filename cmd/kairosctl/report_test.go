package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/admin"
	"github.com/kairos-rtb/kairos/bandit"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/reports"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

func TestReportVerbs(t *testing.T) {
	r := storagetest.Open(t, false)
	c := reports.NewCounter(r, reports.Config{}, nil, nil)
	h := time.Now().Unix()/3600 - 1
	for i, camp := range []string{"trail-runner-autumn", "city-bike-winter"} {
		for p := uint8(0); p < 5; p++ {
			d := reports.Dims{Campaign: camp, Phase: p, Exchange: "openx", Publisher: "news.example", Hour: h}
			req := d
			req.Campaign = ""
			for k := 0; k < 10+i; k++ {
				c.Request(&req)
				c.Bid(&d, money.Micros(1_000_000*(int64(p)+1)))
				if k%3 == 0 {
					c.Win(&d, money.Micros(1_000_000*(int64(p)+1)), 900_000, false)
				} else {
					c.Loss(&d, 102)
				}
			}
			c.NoBid(&req, "below_floor")
		}
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	api := reports.NewAPI(reports.NewReader(r, reports.Config{}))
	env, f := reportCLI(t, map[string]fasthttp.RequestHandler{"/v1/reports/winrate": api.WinRate,
		"/v1/reports/landscape": api.Landscape, "/v1/reports/nobids": api.NoBids})
	out := f(0, "CAMPAIGN", "report", "winrate", "--by", "campaign,phase", "--since", "24h")
	t.Log("\n" + out)
	f(0, "TOTAL", "report", "winrate")
	out = f(0, "campaign,requests", "report", "winrate", "--by", "campaign", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("csv %v %d:\n%s", err, len(recs), out)
	}
	out = f(0, `"rows"`, "report", "winrate", "--by", "phase", "--format", "json", "--from", "2020-01-01", "--to", "2020-01-02")
	var rep reports.WinRateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	out = f(0, "intent", "report", "landscape", "--campaign", "city-bike-winter")
	t.Log("\n" + out)
	out = f(0, "below_floor", "report", "nobids", "--since", "7d")
	t.Log("\n" + out)
	f(0, "Usage:", "report", "--help")
	f(0, "Usage: kairosctl report winrate", "report", "winrate", "--help")
	f(2, "unknown dimension", "report", "winrate", "--by", "colour")
	f(2, "not both", "report", "winrate", "--since", "1h", "--from", "2026-01-01")
	f(2, "--from", "report", "winrate", "--from", "yesterday")
	f(2, "csv is for winrate, variants and lift only", "report", "nobids", "--format", "csv")
	f(2, "unknown report", "report", "spend")
	f(1, "(field from)", "report", "winrate", "--from", "2020-01-01", "--to", "2026-01-01")
	env["KAIROS_ADMIN_TOKEN"] = "wrong-token-0000000000"
	f(1, "refused the token", "report", "winrate")
}

// TestLearningReportVerbs: report variants and report lift show what a
// bandit and a holdout counted, as a table, CSV or JSON.
func TestLearningReportVerbs(t *testing.T) {
	r := storagetest.Open(t, false)
	ctx := context.Background()
	b, err := bandit.New(bandit.Config{Seed: 1}, bandit.Deps{Redis: r})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		crid := "cr.h0c0"
		if i%4 != 0 {
			crid = "cr.h1c0"
		}
		b.Impression("c1", crid, segments.PhaseIntent)
		if i%20 == 1 {
			b.Click("c1", crid, segments.PhaseIntent, "")
		}
	}
	h, err := holdout.New(holdout.Config{}, holdout.Deps{Redis: r})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 40 {
		g := holdout.GroupExposed
		if i%4 == 0 {
			g = holdout.GroupGhost
		}
		h.Record(g, "c1", "u"+strconv.Itoa(i), 2*money.Unit, now.Add(-time.Hour))
	}
	for _, s := range []interface{ Sync(context.Context) error }{b, h} {
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"u0", "u1", "u2", "u3", "u5"} { // 1 of 10 held out, 4 of 30 exposed
		if _, err := h.Conversion(ctx, u, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	api := reports.NewLearningAPI(b, h)
	_, f := reportCLI(t, map[string]fasthttp.RequestHandler{"/v1/reports/variants": api.Variants, "/v1/reports/lift": api.Lift})
	out := f(0, "POSTERIOR CTR", "report", "variants", "--campaign", "c1")
	t.Log("\n" + out)
	for _, want := range []string{"intent  headline  1        300   20      6.67%  75.0%", "intent  cta       0        400   20      5.00%  100.0%"} {
		if !strings.Contains(out, want) {
			t.Errorf("variants table lacks %q", want)
		}
	}
	out = f(0, "campaign,phase,part,variant", "report", "variants", "--campaign", "c1", "--format", "csv")
	if recs, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil || len(recs) != 4 {
		t.Fatalf("variants csv %v %d:\n%s", err, len(recs), out)
	}
	out = f(0, `"variants":[`, "report", "variants", "--campaign", "c1", "--format", "json")
	var vr bandit.Report
	if err := json.Unmarshal([]byte(out), &vr); err != nil || len(vr.Variants) != 3 {
		t.Fatalf("variants json %v: %s", err, out)
	}

	out = f(0, "CONVERSION RATE", "report", "lift", "--campaign", "c1")
	t.Log("\n" + out)
	for _, want := range []string{"exposed   30     4           13.33% [", "held out  10     1           10.00% [",
		"absolute lift  +3.33 [", "relative lift  +33.3% ["} {
		if !strings.Contains(out, want) {
			t.Errorf("lift table lacks %q", want)
		}
	}
	out = f(0, "exposed_users", "report", "lift", "--campaign", "c1", "--format", "csv")
	if recs, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil || len(recs) != 2 || recs[1][1] != "30" {
		t.Fatalf("lift csv %v:\n%s", err, out)
	}
	out = f(0, `"absolute_lift"`, "report", "lift", "--campaign", "c1", "--format", "json")
	var lr holdout.Report
	if err := json.Unmarshal([]byte(out), &lr); err != nil || lr.Ghost.Users != 10 {
		t.Fatalf("lift json %v: %s", err, out)
	}
	f(0, "n/a (no exposed user or no held-out conversion yet)", "report", "lift", "--campaign", "other")
	f(0, `no variant of campaign "other"`, "report", "variants", "--campaign", "other")

	f(2, "--campaign is required", "report", "lift")
	f(2, "--campaign is required", "report", "variants", "--format", "json")
	f(2, "flag provided but not defined: -since", "report", "variants", "--campaign", "c1", "--since", "1h")
	f(0, "Usage: kairosctl report lift --campaign ID", "report", "lift", "--help")
	f(0, "report variants --campaign ID", "report", "--help")
}

// reportCLI serves routes on an admin listener for the test and returns the
// environment kairosctl runs with (change it to change the token) and f,
// which runs kairosctl and checks its exit code and that its output holds
// wantOut.
func reportCLI(t *testing.T, routes map[string]fasthttp.RequestHandler) (map[string]string, func(wantCode int, wantOut string, args ...string) string) {
	t.Helper()
	srv := admin.New([]admin.Token{{Name: "ops", Secret: testToken}}, nil, prometheus.NewRegistry(), zap.NewNop())
	for path, h := range routes {
		srv.Handle(path, h)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	env := map[string]string{"KAIROS_ADMIN_URL": "http://" + srv.Addr(), "KAIROS_ADMIN_TOKEN": testToken}
	return env, func(wantCode int, wantOut string, args ...string) string {
		t.Helper()
		code, out, errs := run(t, env, args...)
		if code != wantCode || !strings.Contains(out+errs, wantOut) {
			t.Fatalf("kairosctl %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %s", strings.Join(args, " "), code, wantCode, out, errs, wantOut)
		}
		return out
	}
}
