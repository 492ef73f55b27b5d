package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/bandit"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/valyala/fasthttp"
)

// learningAPI returns the learning reports over a bandit and a holdout that
// have counted: campaign c1's headline variant 0 shown 100 times and clicked
// 3 times, variant 1 shown 300 times and clicked 12 times (consideration);
// 4 exposed users of c1 of whom 2 converted, 2 held-out users of whom 1 did.
func learningAPI(t *testing.T) *LearningAPI {
	t.Helper()
	r := storagetest.Open(t, false)
	ctx := context.Background()
	b, err := bandit.New(bandit.Config{Seed: 1}, bandit.Deps{Redis: r})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		crid := "cr.h0"
		if i >= 100 {
			crid = "cr.h1"
		}
		b.Impression("c1", crid, segments.PhaseConsideration)
		if i < 3 || (i >= 100 && i < 112) {
			b.Click("c1", crid, segments.PhaseConsideration, "")
		}
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := holdout.New(holdout.Config{}, holdout.Deps{Redis: r})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, u := range []string{"e1", "e2", "e3", "e4", "g1", "g2"} {
		g := holdout.GroupExposed
		if u[0] == 'g' {
			g = holdout.GroupGhost
		}
		h.Record(g, "c1", u, money.Micros(1_000_000*(i+1)), now.Add(-time.Hour))
	}
	if err := h.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"e1", "e2", "g1"} {
		if _, err := h.Conversion(ctx, u, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return NewLearningAPI(b, h)
}

func TestVariantsReport(t *testing.T) {
	api := learningAPI(t)
	status, body := get(api.Variants, "/v1/reports/variants?campaign=c1")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var rep bandit.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Campaign != "c1" || len(rep.Variants) != 2 {
		t.Fatalf("report %s", body)
	}
	v0, v1 := rep.Variants[0], rep.Variants[1]
	if v0.Phase != "consideration" || v0.Part != "headline" || v0.Variant != 0 || v0.Impressions != 100 || v0.Clicks != 3 ||
		v0.CTR != 0.03 || v0.Share != 0.25 || v1.Impressions != 300 || v1.Clicks != 12 || v1.CTR != 0.04 || v1.Share != 0.75 {
		t.Fatalf("variants %+v", rep.Variants)
	}
	if v0.ProbBest+v1.ProbBest < 0.999 || v0.PosteriorCTR <= 0 {
		t.Fatalf("posterior: %+v", rep.Variants)
	}

	status, body = get(api.Variants, "/v1/reports/variants?campaign=c1&format=csv")
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if status != 200 || err != nil || len(rows) != 3 {
		t.Fatalf("csv: %d %v\n%s", status, err, body)
	}
	if strings.Join(rows[0], ",") != strings.Join(VariantsCSVHeader, ",") ||
		strings.Join(rows[2][:8], ",") != "c1,consideration,headline,1,300,12,0,0.04" {
		t.Fatalf("csv rows %q", rows)
	}

	// A campaign without counts has an empty list, not null.
	if status, body = get(api.Variants, "/v1/reports/variants?campaign=other"); status != 200 ||
		!strings.Contains(string(body), `"variants":[]`) {
		t.Fatalf("campaign without counts: %d %s", status, body)
	}
}

func TestLiftReport(t *testing.T) {
	api := learningAPI(t)
	status, body := get(api.Lift, "/v1/reports/lift?campaign=c1")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var rep holdout.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	e, g := rep.Exposed, rep.Ghost
	if rep.Campaign != "c1" || e.Users != 4 || e.Converters != 2 || g.Users != 2 || g.Converters != 1 ||
		e.ConversionRate.Value != 0.5 || g.ConversionRate.Value != 0.5 || e.Bids != 4 || e.AvgBidCPM != 2.5 {
		t.Fatalf("groups %s", body)
	}
	if rep.AbsoluteLift.Value != 0 || rep.AbsoluteLift.Low >= 0 || rep.AbsoluteLift.High <= 0 ||
		rep.RelativeLift == nil || rep.RelativeLift.Value != 0 || rep.Method != holdout.Method {
		t.Fatalf("lift %s", body)
	}

	status, body = get(api.Lift, "/v1/reports/lift?campaign=c1&format=csv")
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if status != 200 || err != nil || len(rows) != 2 || len(rows[1]) != len(LiftCSVHeader) {
		t.Fatalf("csv: %d %v\n%s", status, err, body)
	}
	if strings.Join(rows[1][:3], ",") != "c1,4,2" || rows[1][8] != "2" {
		t.Fatalf("csv rows %q", rows)
	}
	// Without a held-out conversion the relative lift is undefined: null in
	// JSON, empty cells in CSV.
	if _, body = get(api.Lift, "/v1/reports/lift?campaign=other"); !strings.Contains(string(body), `"relative_lift":null`) {
		t.Fatalf("empty study: %s", body)
	}
	_, body = get(api.Lift, "/v1/reports/lift?campaign=other&format=csv")
	if !strings.HasSuffix(string(body), ",,,\n") {
		t.Fatalf("empty study csv: %s", body)
	}
}

func TestLearningReportParams(t *testing.T) {
	api := learningAPI(t)
	for _, h := range []struct {
		name string
		f    func(string) (int, []byte)
	}{
		{"variants", func(q string) (int, []byte) { return get(api.Variants, "/v1/reports/variants?"+q) }},
		{"lift", func(q string) (int, []byte) { return get(api.Lift, "/v1/reports/lift?"+q) }},
	} {
		f := func(query string, wantStatus int, wantField string) {
			t.Helper()
			status, body := h.f(query)
			var e struct{ Error, Field string }
			_ = json.Unmarshal(body, &e)
			if status != wantStatus || e.Field != wantField {
				t.Fatalf("%s?%s: %d %s, want %d naming %q", h.name, query, status, body, wantStatus, wantField)
			}
		}
		f("", 400, "campaign")
		f("campaign=c1&format=xml", 400, "format")
		f("campaign=c1&format=json", 200, "")
	}
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v1/reports/lift?campaign=c1")
	api.Lift(&ctx)
	if ctx.Response.StatusCode() != 405 {
		t.Fatalf("POST: %d", ctx.Response.StatusCode())
	}
	// A failing source answers 503 with its error.
	broken := NewLearningAPI(failingVariants{}, failingLift{})
	for _, h := range []fasthttp.RequestHandler{broken.Variants, broken.Lift} {
		if status, body := get(h, "/v1/reports/x?campaign=c1"); status != 503 || !strings.Contains(string(body), "redis down") {
			t.Fatalf("failing source: %d %s", status, body)
		}
	}
}

type failingVariants struct{}

func (failingVariants) Report(context.Context, string) (bandit.Report, error) {
	return bandit.Report{}, errors.New("redis down")
}

type failingLift struct{}

func (failingLift) Report(context.Context, string) (holdout.Report, error) {
	return holdout.Report{}, errors.New("redis down")
}
