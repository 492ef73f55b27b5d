package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/admin"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/reports"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
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
	srv := admin.New([]admin.Token{{Name: "ops", Secret: testToken}}, nil, prometheus.NewRegistry(), zap.NewNop())
	api := reports.NewAPI(reports.NewReader(r, reports.Config{}))
	srv.Handle("/v1/reports/winrate", api.WinRate)
	srv.Handle("/v1/reports/landscape", api.Landscape)
	srv.Handle("/v1/reports/nobids", api.NoBids)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	env := map[string]string{"KAIROS_ADMIN_URL": "http://" + srv.Addr(), "KAIROS_ADMIN_TOKEN": testToken}
	f := func(wantCode int, wantOut string, args ...string) string {
		t.Helper()
		code, out, errs := run(t, env, args...)
		if code != wantCode || !strings.Contains(out+errs, wantOut) {
			t.Fatalf("kairosctl %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %s", strings.Join(args, " "), code, wantCode, out, errs, wantOut)
		}
		return out
	}
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
	f(2, "csv is for winrate only", "report", "nobids", "--format", "csv")
	f(2, "unknown report", "report", "spend")
	f(1, "(field from)", "report", "winrate", "--from", "2020-01-01", "--to", "2026-01-01")
	env["KAIROS_ADMIN_TOKEN"] = "wrong-token-0000000000"
	f(1, "refused the token", "report", "winrate")
}
