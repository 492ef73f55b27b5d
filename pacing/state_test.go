package pacing

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
)

func TestConfigValidate(t *testing.T) {
	f := func(c Config, wantErr string) {
		t.Helper()
		err := c.Validate()
		if (err == nil) != (wantErr == "") || (err != nil && !strings.Contains(err.Error(), wantErr)) {
			t.Fatalf("Validate(%+v) = %v, want error containing %q", c, err, wantErr)
		}
	}
	f(Config{}, "")
	f(Config{Instance: "Bad_Name"}, "instance")
	f(Config{ReserveWindow: 10 * time.Minute, Grace: time.Minute}, "grace")
	f(Config{LeaseTTL: 10 * time.Second, Heartbeat: 6 * time.Second}, "heartbeat")
	f(Config{NoticeTTL: time.Minute}, "notice TTL")
	f(Config{MinParticipation: 2}, "min participation")
	f(Config{ExpectedInstances: -1}, "expected instances")
}

func TestAdminAndMetrics(t *testing.T) {
	rdb, keys := testRedis(t)
	clk := NewManualClock(t0)
	src := newIndex(t0, testCampaign("c1", "UTC", "even", 24*money.Unit, 100*money.Unit))
	reg := prometheus.NewRegistry()
	p, err := New(Config{Instance: "i1"}, Deps{Redis: rdb, Keys: keys, Campaigns: src, Clock: clk, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	p.Tick(context.Background(), t0)
	get := func(method, path string) (int, string) {
		ctx := &fasthttp.RequestCtx{}
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(path)
		p.ServeAdmin(ctx)
		return ctx.Response.StatusCode(), string(ctx.Response.Body())
	}
	code, body := get("GET", "/v1/pacing/c1")
	var st CampaignState
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || st.Mode != "even" || st.Daily != 24*money.Unit ||
		st.PlannedToday != 10*money.Unit {
		t.Fatalf("GET one: %d %s %v", code, body, err)
	}
	if code, body := get("GET", "/v1/pacing"); code != 200 || !strings.Contains(body, `"id":"c1"`) {
		t.Fatalf("GET list: %d %s", code, body)
	}
	if code, _ := get("GET", "/v1/pacing/none"); code != 404 {
		t.Fatalf("GET unknown: %d", code)
	}
	if code, _ := get("POST", "/v1/pacing/c1/clear-lost"); code != 409 {
		t.Fatalf("clear-lost on a healthy campaign: %d", code)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] = m.GetGauge().GetValue()
		}
	}
	if len(got) != 11 || got["kairos_pacing_planned_today"] != 10 || got["kairos_pacing_daily_budget"] != 24 ||
		got["kairos_pacing_participation"] != 0.2 {
		t.Fatalf("metrics %v", got)
	}
}

// TestSettleRetriedAfterRedisOutage: a win notice during an outage is
// answered and settled once Redis is back.
func TestSettleRetriedAfterRedisOutage(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	keys := storage.Keys{Prefix: "t:"}
	clk := NewManualClock(t0)
	src := newIndex(t0, testCampaign("c1", "UTC", "asap", 10*money.Unit, 100*money.Unit))
	p := testPacer(t, rdb, keys, src, clk, Config{Instance: "i1"})
	s, _ := NewSigner(testSecret)
	freq := &fakeFreq{}
	h, err := NewNotices(NoticesConfig{Timeout: 200 * time.Millisecond}, NoticesDeps{Signer: s, Ledger: p.Ledger(),
		Campaigns: src, Clock: clk, Frequency: freq})
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	defer h.Stop(context.Background())
	fx := &noticeFixture{p: p, h: h, s: s, clk: clk, src: src}
	n := fx.bid(t, "user-1")
	mr.Close()
	if ctx := fx.get(KindWin, &n, "3.60"); ctx.Response.StatusCode() != fasthttp.StatusNoContent {
		t.Fatalf("status during outage %d", ctx.Response.StatusCode())
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := figures(t, p.Ledger(), "c1", "2026-11-02")
		freq.mu.Lock()
		calls := len(freq.calls)
		freq.mu.Unlock()
		if f.SpentToday == 4000 && calls == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled after the outage: %+v, %d frequency calls", f, calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
