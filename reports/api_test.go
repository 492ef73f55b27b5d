package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/valyala/fasthttp"
)

// fixture flushes a simulated day into a fresh Redis and returns a Reader
// whose clock stands at the end of it, plus what was sent.
type fixture struct {
	rd   *Reader
	h0   int64 // first hour
	want tally
}

const fixtureHours = 24

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	r := storagetest.Open(t, false)
	h0 := hourOf(time.Now()) - fixtureHours + 1
	c := NewCounter(r, Config{}, nil, nil)
	fx := &fixture{h0: h0}
	auctions := simulate(11, n, h0, fixtureHours)
	for i := range auctions {
		fx.want.add(&auctions[i])
		count(c, c, &auctions[i])
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.rd = NewReader(r, Config{Clock: fixedClock{HourTime(h0 + fixtureHours).Add(-time.Minute)}})
	return fx
}

// get calls h with a GET of uri and returns the status and body.
func get(h fasthttp.RequestHandler, uri string) (int, []byte) {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(uri)
	h(&ctx)
	return ctx.Response.StatusCode(), append([]byte(nil), ctx.Response.Body()...)
}

func TestWinRateParams(t *testing.T) {
	fx := newFixture(t, 200)
	api := NewAPI(fx.rd)
	f := func(query string, wantStatus int, wantField string) {
		t.Helper()
		status, body := get(api.WinRate, "/v1/reports/winrate?"+query)
		if status != wantStatus {
			t.Fatalf("%s: status %d, want %d: %s", query, status, wantStatus, body)
		}
		if wantField == "" {
			return
		}
		var e struct{ Error, Field string }
		if err := json.Unmarshal(body, &e); err != nil || e.Field != wantField || !strings.Contains(e.Error, wantField) {
			t.Fatalf("%s: error %s, want one naming %q", query, body, wantField)
		}
	}
	f("", 200, "")
	f("by=campaign,phase&format=csv", 200, "")
	f("from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z", 200, "")
	f("from=1790000000&to=1790003600", 200, "")
	f("since=6h", 200, "")
	f("from=yesterday", 400, "from")
	f("to=2026-13-01", 400, "to")
	f("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", 400, "to")
	f("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", 400, "from")
	f("by=campaign,colour", 400, "by")
	f("by=phase,phase", 400, "by")
	f("format=xml", 400, "format")
	f("since=-1h", 400, "since")

	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v1/reports/winrate")
	api.WinRate(&ctx)
	if ctx.Response.StatusCode() != 405 {
		t.Fatalf("POST: %d", ctx.Response.StatusCode())
	}
	if s, _ := get(api.Landscape, "/v1/reports/landscape?from=x"); s != 400 {
		t.Fatalf("landscape bad from: %d", s)
	}
	if s, _ := get(api.NoBids, "/v1/reports/nobids?to=x"); s != 400 {
		t.Fatalf("nobids bad to: %d", s)
	}
}

// TestWinRateJSONShape pins the documented JSON (see doc.go).
func TestWinRateJSONShape(t *testing.T) {
	fx := newFixture(t, 3000)
	status, body := get(NewAPI(fx.rd).WinRate, "/v1/reports/winrate?by=campaign,phase")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	keysOf := func(raw json.RawMessage) []string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	if got := strings.Join(keysOf(body), ","); got != "by,from,rows,to,totals" {
		t.Fatalf("top-level keys %s", got)
	}
	rowKeys := "avg_bid_cpm,avg_clearing_cpm,bids,clicks,ctr,dims,ecpm,impressions,late_wins,losses,no_bids,requests,spend,win_rate,wins"
	if got := strings.Join(keysOf(doc["totals"]), ","); got != rowKeys {
		t.Fatalf("totals keys %s", got)
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(doc["rows"], &rows); err != nil || len(rows) == 0 {
		t.Fatalf("rows: %v %s", err, doc["rows"])
	}
	for _, r := range rows {
		if got := strings.Join(keysOf(r), ","); got != rowKeys {
			t.Fatalf("row keys %s", got)
		}
	}
	var rep struct {
		By     []string
		Rows   []map[string]any
		Totals map[string]any
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.By, []string{"campaign", "phase"}) {
		t.Fatalf("by = %v", rep.By)
	}
	dims := rep.Rows[len(rep.Rows)-1]["dims"].(map[string]any)
	if _, ok := dims["campaign"]; !ok || len(dims) != 2 {
		t.Fatalf("dims = %v", dims)
	}
	// Amounts are JSON numbers in currency units.
	if _, ok := rep.Totals["spend"].(float64); !ok {
		t.Fatalf("spend is %T", rep.Totals["spend"])
	}
	if int64(rep.Totals["bids"].(float64)) != fx.want.bids || int64(rep.Totals["requests"].(float64)) != fx.want.requests {
		t.Fatalf("totals %v, want bids %d requests %d", rep.Totals, fx.want.bids, fx.want.requests)
	}
}

func TestWinRateCSV(t *testing.T) {
	fx := newFixture(t, 3000)
	status, body := get(NewAPI(fx.rd).WinRate, "/v1/reports/winrate?by=campaign,phase,exchange&format=csv")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, body)
	}
	if !slices.Equal(recs[0], CSVHeader([]string{"campaign", "phase", "exchange"})) {
		t.Fatalf("header %v", recs[0])
	}
	col := func(name string) int { return slices.Index(recs[0], name) }
	var bids, wins int64
	var spend float64
	for _, rec := range recs[1:] {
		if len(rec) != len(recs[0]) {
			t.Fatalf("record %v has %d fields", rec, len(rec))
		}
		b, err1 := strconv.ParseInt(rec[col("bids")], 10, 64)
		w, err2 := strconv.ParseInt(rec[col("wins")], 10, 64)
		s, err3 := strconv.ParseFloat(rec[col("spend")], 64)
		wr, err4 := strconv.ParseFloat(rec[col("win_rate")], 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || wr < 0 || wr > 1 {
			t.Fatalf("record %v does not parse", rec)
		}
		bids, wins, spend = bids+b, wins+w, spend+s
	}
	if bids != fx.want.bids || wins != fx.want.wins || int64(spend*1e6+0.5) != int64(fx.want.spend) {
		t.Fatalf("CSV sums bids %d wins %d spend %f, want %d %d %s", bids, wins, spend, fx.want.bids, fx.want.wins, fx.want.spend)
	}
}

// TestQueryByDims groups by each dimension alone and in pairs: every grouping
// adds up to the same totals, and values are names, not codes.
func TestQueryByDims(t *testing.T) {
	fx := newFixture(t, 4000)
	ctx := context.Background()
	from, to := HourTime(fx.h0), HourTime(fx.h0+fixtureHours)
	valid := map[string][]string{
		DimPhase: phaseNames[:], DimDevice: deviceNames[:], DimFormat: formatNames[:],
		DimCampaign: append([]string{""}, simCampaigns...), DimExchange: simExchanges,
		DimPublisher: simPublishers, DimCountry: simCountries,
	}
	groupings := [][]string{{DimHour, DimCampaign}, {DimVariant, DimFormat}, {DimPublisher, DimDevice, DimCountry}}
	for _, d := range Dimensions() {
		groupings = append(groupings, []string{d})
	}
	for _, by := range groupings {
		rows, err := fx.rd.WinRate(ctx, from, to, by)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			var id []string
			for _, d := range by {
				v, ok := r.Dims[d]
				if !ok {
					t.Fatalf("by %v: row lacks %s: %v", by, d, r.Dims)
				}
				if vs := valid[d]; vs != nil && !slices.Contains(vs, v) {
					t.Fatalf("by %v: %s = %q", by, d, v)
				}
				if d == DimHour {
					ht, err := time.Parse(time.RFC3339, v)
					if err != nil || ht.Before(from) || !ht.Before(to) {
						t.Fatalf("hour %q outside [%v, %v)", v, from, to)
					}
				}
				id = append(id, v)
			}
			k := strings.Join(id, "|")
			if seen[k] {
				t.Fatalf("by %v: row %s twice", by, k)
			}
			seen[k] = true
		}
		checkTally(t, Totals(rows), fx.want)
	}
	// A window of the last 6 hours holds less than the day.
	rows, err := fx.rd.WinRate(ctx, to.Add(-6*time.Hour), to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Bids == 0 || rows[0].Bids >= fx.want.bids {
		t.Fatalf("6h bids %d of %d", rows[0].Bids, fx.want.bids)
	}
}

func TestLandscapeAndReasons(t *testing.T) {
	fx := newFixture(t, 6000)
	api := NewAPI(fx.rd)
	status, body := get(api.Landscape, "/v1/reports/landscape?campaign=city-bike-winter")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var land LandscapeReport
	if err := json.Unmarshal(body, &land); err != nil {
		t.Fatal(err)
	}
	rows, err := fx.rd.WinRate(context.Background(), land.From, land.To, []string{DimCampaign})
	if err != nil {
		t.Fatal(err)
	}
	var want Row
	for _, r := range rows {
		if r.Dims[DimCampaign] == "city-bike-winter" {
			want = r
		}
	}
	var bids, wins int64
	for i, b := range land.Buckets {
		bids, wins = bids+b.Bids, wins+b.Wins
		low, high := BucketBounds(b.Bucket)
		if b.Low != low || (b.High == nil) != (high == 0) || (b.High != nil && *b.High != high) {
			t.Fatalf("bucket %d bounds %v %v", b.Bucket, b.Low, b.High)
		}
		if i > 0 && land.Buckets[i-1].Phase == b.Phase && land.Buckets[i-1].Bucket >= b.Bucket {
			t.Fatal("buckets out of order")
		}
	}
	if bids != want.Bids || wins != want.Wins || bids == 0 {
		t.Fatalf("landscape bids %d wins %d, report %d %d", bids, wins, want.Bids, want.Wins)
	}
	// The simulated win probability rises with price.
	all := combinePhases(land.Buckets)
	if first, last := all[0], all[len(all)-1]; first.WinRate >= last.WinRate {
		t.Fatalf("win rate %v at %s, %v at %s", first.WinRate, first.Low, last.WinRate, last.Low)
	}

	status, body = get(api.NoBids, "/v1/reports/nobids")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var nb NoBidReport
	if err := json.Unmarshal(body, &nb); err != nil {
		t.Fatal(err)
	}
	var n, l int64
	for i, r := range nb.NoBids {
		n += r.Count
		if !slices.Contains(simReasons, r.Reason) || (i > 0 && nb.NoBids[i-1].Count < r.Count) {
			t.Fatalf("no-bid reasons %v", nb.NoBids)
		}
	}
	for _, r := range nb.Losses {
		l += r.Count
		if r.Code == 102 && r.Reason != "lost_to_higher_bid" || r.Code == 1001 && r.Reason != "exchange_1001" {
			t.Fatalf("loss %+v", r)
		}
	}
	if n != fx.want.noBids || l != fx.want.losses {
		t.Fatalf("no-bids %d losses %d, want %d %d", n, l, fx.want.noBids, fx.want.losses)
	}
}
