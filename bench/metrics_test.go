package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// result returns a result scheduled at off with the given latency.
func result(off, latency time.Duration, status int, reason string) *Result {
	r := &Result{
		Scheduled: t0.Add(off), Sent: t0.Add(off), Done: t0.Add(off + latency),
		Status: status, TMax: 100 * time.Millisecond,
	}
	if reason != "" {
		r.NoBidReason = []byte(reason)
	}
	return r
}

func TestMetricsAdd(t *testing.T) {
	m := NewMetrics()
	m.Add(result(0, 2*time.Millisecond, 200, ""))
	m.Add(result(time.Millisecond, 3*time.Millisecond, 204, "no-campaign"))
	m.Add(result(2*time.Millisecond, 150*time.Millisecond, 204, "no-campaign"))
	// Late from its send too, but only because the generator stalled for 60ms
	// of it: late for the exchange, not the server's.
	stalled := result(2*time.Millisecond, 150*time.Millisecond, 204, "no-campaign")
	stalled.Stall = 60 * time.Millisecond
	m.Add(stalled)
	m.Add(result(3*time.Millisecond, time.Millisecond, 204, ""))
	m.Add(result(4*time.Millisecond, time.Millisecond, 400, ""))
	m.Add(&Result{Scheduled: t0, Sent: t0.Add(5 * time.Millisecond), Done: t0.Add(time.Second), ErrKind: ErrKindTimeout})
	m.flush()

	f := func(name string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	f("requests", m.Requests, 7)
	f("responses", m.Responses, 6)
	f("bids", m.Bids, 1)
	f("nobids", m.NoBids, 4)
	f("errors", m.Errors, 2)
	f("late", m.Late, 2)
	f("late from send", m.LateSent, 2)
	f("late from send, the server's", m.LateServer, 1)
	f("reason no-campaign", m.NoBidReasons["no-campaign"], 3)
	f("reason unknown", m.NoBidReasons[NoBidUnknown], 1)
	f("status 400", m.StatusCodes[400], 1)
	f("error status", m.ErrorKinds[ErrKindStatus], 1)
	f("error timeout", m.ErrorKinds[ErrKindTimeout], 1)
	if got := m.Service.Max(); got < 995000 || got > 996000 { // the timeout was sent 5ms late
		t.Errorf("service max = %dµs, want 995ms", got)
	}
	if m.SchedLagMax != 5*time.Millisecond {
		t.Errorf("sched lag max = %v, want 5ms", m.SchedLagMax)
	}
	if s := m.Summary(); s.Max < 999*time.Millisecond || s.BidRate != 1.0/7 {
		t.Errorf("summary max %v bid rate %v", s.Max, s.BidRate)
	}
}

func TestMetricsMergeHistograms(t *testing.T) {
	a, b := NewMetrics(), NewMetrics()
	all := hdrhistogram.New(histLowest, histHighest, histSigFigs)
	for i := range 10000 {
		lat := time.Duration(100+i*37%50000) * time.Microsecond
		m := a
		if i%3 == 0 {
			m = b
			lat *= 4 // b is the slow half
		}
		m.Add(result(time.Duration(i)*time.Millisecond, lat, 204, "x"))
		_ = all.RecordValue(lat.Microseconds())
	}
	countA := a.Latency.TotalCount()
	a.Merge(b)
	if a.Latency.TotalCount() != 10000 || countA == 10000 {
		t.Fatalf("merged count %d (a had %d), want 10000", a.Latency.TotalCount(), countA)
	}
	for _, q := range []float64{50, 90, 99, 99.9, 100} {
		if got, want := a.Latency.ValueAtQuantile(q), all.ValueAtQuantile(q); got != want {
			t.Errorf("p%v after merge = %d, want %d", q, got, want)
		}
	}
	if a.Requests != 10000 || a.NoBidReasons["x"] != 10000 {
		t.Errorf("merged requests %d reasons %v", a.Requests, a.NoBidReasons)
	}
	if !a.LastSend.Equal(t0.Add(9999 * time.Millisecond)) {
		t.Errorf("merged last send %v", a.LastSend)
	}
}

func TestMetricsJSONRoundTrip(t *testing.T) {
	m := NewMetrics()
	m.Label, m.Mode, m.Targets, m.Workers = "kairos", "open", []string{"127.0.0.1:8080"}, 8
	for i := range 1000 {
		m.Add(result(time.Duration(i)*time.Millisecond, time.Duration(i+1)*10*time.Microsecond, 200+4*(i%2), "no-user"))
	}
	m.Auction = AuctionStats{Mode: "second", Bids: 500, Wins: 200, Losses: 300, SpendMicros: 123456, LossReasons: map[int]uint64{102: 300}}
	var buf bytes.Buffer
	if err := m.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"throughput", "rate", "bid_rate", "latency_ms", "nobid_reasons", "histogram", "auction"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("results JSON lacks %q", k)
		}
	}
	var back Metrics
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Requests != 1000 || back.Bids != 500 || back.NoBidReasons["no-user"] != 500 ||
		back.Auction.LossReasons[102] != 300 || back.Label != "kairos" {
		t.Errorf("round trip lost counts: %+v", back)
	}
	if got, want := back.Summary(), m.Summary(); got.P99 != want.P99 || got.ServiceP99 != want.ServiceP99 || got.Throughput != want.Throughput {
		t.Errorf("round trip summary %+v, want %+v", got, want)
	}
	back.Merge(m)
	if back.Latency.TotalCount() != 2000 {
		t.Errorf("merge of decoded results: count %d, want 2000", back.Latency.TotalCount())
	}
}

func TestCompareShowsRatios(t *testing.T) {
	base, k := NewMetrics(), NewMetrics()
	base.Label, k.Label = "baseline", "kairos"
	for i := range 100 {
		off := time.Duration(i) * 10 * time.Millisecond
		base.Add(result(off, time.Millisecond, 204, ""))
		if i%2 == 0 { // half the throughput, twice the latency
			k.Add(result(off, 2*time.Millisecond, 200, ""))
		}
	}
	var buf bytes.Buffer
	if err := Compare(&buf, base, k); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"kairos/baseline", "| p50", "2.00x", "0.50x"} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := k.WriteText(&buf); err != nil || !strings.Contains(buf.String(), "p99.9") {
		t.Errorf("text report (err %v):\n%s", err, buf.String())
	}
}

func TestMetricsGet(t *testing.T) {
	m := NewMetrics()
	m.Add(result(0, 4*time.Millisecond, 204, ""))
	m.Add(result(time.Second, 4*time.Millisecond, 200, ""))
	f := func(name string, want float64) {
		t.Helper()
		got, err := m.Get(name)
		if err != nil || got < want*0.99 || got > want*1.01 {
			t.Errorf("Get(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	f("requests", 2)
	f("rate", 2)
	f("bid_rate", 0.5)
	f("p50_ms", 4)
	if _, err := m.Get("nope"); err == nil {
		t.Error("Get(nope) succeeded")
	}
}

func BenchmarkMetricsAdd(b *testing.B) {
	m := NewMetrics()
	r := result(0, 3*time.Millisecond, 204, "no-campaign")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Done = r.Scheduled.Add(time.Duration(i%5000) * time.Microsecond)
		m.Add(r)
	}
}
