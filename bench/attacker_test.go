package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// listen listens on a free port of 127.0.0.1.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs h on 127.0.0.1 for the rest of the test and returns its address.
func serve(t testing.TB, h fasthttp.RequestHandler) string {
	t.Helper()
	ln := listen(t)
	srv := &fasthttp.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln.Addr().String()
}

func serveBaseline(t testing.TB) (*Baseline, string) {
	t.Helper()
	b := NewBaseline(BaselineConfig{})
	return b, serve(t, b.Handle)
}

func attack(t testing.TB, cfg AttackConfig, c Corpus) *Metrics {
	t.Helper()
	a, err := NewAttacker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := a.Attack(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAttackClosedLoopAgainstBaseline(t *testing.T) {
	b, addr := serveBaseline(t)
	corpus := generate(t, GeneratorConfig{Seed: 1}, 200)
	m := attack(t, AttackConfig{Label: "baseline", Targets: []string{addr}, Workers: 8, MaxRequests: 3000}, corpus)
	if m.Requests != 3000 || m.NoBids != 3000 || m.Errors != 0 {
		t.Fatalf("requests %d nobids %d errors %d (%v)", m.Requests, m.NoBids, m.Errors, m.ErrorKinds)
	}
	if decoded, malformed := b.Counts(); decoded != 3000 || malformed != 0 {
		t.Errorf("baseline decoded %d, malformed %d", decoded, malformed)
	}
	if m.NoBidReasons[NoBidUnknown] != 3000 || m.Mode != "closed" || m.Latency.TotalCount() != 3000 {
		t.Errorf("reasons %v mode %s histogram count %d", m.NoBidReasons, m.Mode, m.Latency.TotalCount())
	}
	if s := m.Summary(); s.Throughput <= 0 || s.P50 <= 0 {
		t.Errorf("summary %+v", s)
	}
}

func TestAttackRoundRobin(t *testing.T) {
	b1, a1 := serveBaseline(t)
	b2, a2 := serveBaseline(t)
	corpus := generate(t, GeneratorConfig{Seed: 2}, 10)
	m := attack(t, AttackConfig{Targets: []string{a1, "http://" + a2 + "/openrtb2/bid"}, Workers: 4, MaxRequests: 400}, corpus)
	d1, _ := b1.Counts()
	d2, _ := b2.Counts()
	if d1 != 200 || d2 != 200 || m.NoBids != 400 {
		t.Errorf("targets got %d and %d of %d", d1, d2, m.NoBids)
	}
}

// A slow server must not slow the schedule down: 60 requests at 200/s go out in
// about 0.3s even though each answer takes 50ms and the pool starts at one worker
// (with connections enough for them), and every latency includes the full 50ms.
func TestAttackOpenLoopDoesNotWaitForSlowAnswers(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(50 * time.Millisecond)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	})
	corpus := generate(t, GeneratorConfig{Seed: 3}, 10)
	start := time.Now()
	m := attack(t, AttackConfig{Targets: []string{addr}, Rate: 200, Workers: 1, MaxConnsPerTarget: 32, MaxRequests: 60}, corpus)
	elapsed := time.Since(start)
	if m.NoBids != 60 {
		t.Fatalf("answers %d of 60 (errors %v)", m.NoBids, m.ErrorKinds)
	}
	if elapsed > 2*time.Second { // closed over one worker it would take 3s
		t.Errorf("attack took %v: the schedule waited for answers", elapsed)
	}
	if m.Workers < 5 {
		t.Errorf("pool grew to %d workers, want ≥ 5 for 10 requests in flight", m.Workers)
	}
	if s := m.Summary(); s.P50 < 50*time.Millisecond || s.Rate < 100 {
		t.Errorf("p50 %v rate %.0f/s", s.P50, s.Rate)
	}
}

// By default an open loop keeps at most Workers connections: requests beyond
// them wait for one (their latency includes the wait) instead of dialling more.
func TestAttackOpenLoopBoundsConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		conns[ctx.RemoteAddr().String()] = true
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	})
	corpus := generate(t, GeneratorConfig{Seed: 3}, 10)
	m := attack(t, AttackConfig{Targets: []string{addr}, Rate: 400, Workers: 2, MaxRequests: 40}, corpus)
	if m.NoBids != 40 {
		t.Fatalf("answers %d of 40 (errors %v)", m.NoBids, m.ErrorKinds)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) > 2 {
		t.Errorf("%d connections for Workers 2", len(conns))
	}
	// Two connections answer 100/s: the 40 requests due over 0.1s wait.
	s := m.Summary()
	if s.P99 < 150*time.Millisecond {
		t.Errorf("p99 %v: the wait for a connection is not in the latency", s.P99)
	}
	// ... but not in the service time, which starts once a request holds a
	// connection: the server cannot see the exchange's queue.
	if s.ServiceP99 > 150*time.Millisecond || m.LateSent > 0 {
		t.Errorf("service p99 %v, late from send %d: the wait for a connection counts as service", s.ServiceP99, m.LateSent)
	}
}

// TestAttackDropsUnsentWithoutConnWait: with no wait for a connection, a
// request due while every connection is busy is dropped unsent, counted as
// such, and kept out of the latencies.
func TestAttackDropsUnsentWithoutConnWait(t *testing.T) {
	var served atomic.Int64
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		served.Add(1)
		time.Sleep(30 * time.Millisecond)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	})
	corpus := generate(t, GeneratorConfig{Seed: 3}, 10)
	m := attack(t, AttackConfig{Targets: []string{addr}, Rate: 1000, Workers: 1, MaxRequests: 20, ConnWait: -1}, corpus)
	if m.NotSent == 0 || m.ErrorKinds[ErrKindNotSent] != m.NotSent || m.NoBids+m.NotSent != 20 {
		t.Fatalf("no-bids %d, not sent %d, errors %v: want the 20 requests answered or dropped unsent", m.NoBids, m.NotSent, m.ErrorKinds)
	}
	if uint64(served.Load()) != m.NoBids {
		t.Errorf("server saw %d requests, %d answered: a dropped request was sent", served.Load(), m.NoBids)
	}
	if got := uint64(m.Latency.TotalCount()); got != m.NoBids {
		t.Errorf("%d latencies recorded for %d answers", got, m.NoBids)
	}
	if s := m.Summary(); s.Max > 200*time.Millisecond {
		t.Errorf("max latency %v: a dropped request's wait was recorded", s.Max)
	}
}

func TestAttackCountsTimeouts(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(300 * time.Millisecond)
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	})
	corpus := generate(t, GeneratorConfig{Seed: 3}, 2)
	m := attack(t, AttackConfig{Targets: []string{addr}, Workers: 2, MaxRequests: 4, Timeout: 50 * time.Millisecond}, corpus)
	if m.Errors != 4 || m.ErrorKinds[ErrKindTimeout] != 4 {
		t.Errorf("errors %d kinds %v, want 4 timeouts", m.Errors, m.ErrorKinds)
	}
}

// stubBidder answers like Kairos: a bid on every other request (by id), a 204
// with a reason otherwise, and records the notices it receives.
type stubBidder struct {
	addr string

	mu       sync.Mutex
	ids      map[string]int
	simTimes []string
	notices  []url.Values // in arrival order, with "kind" set
	badURLs  []string
}

func newStubBidder(t *testing.T) *stubBidder {
	s := &stubBidder{ids: map[string]int{}}
	s.addr = serve(t, s.handle)
	return s
}

func (s *stubBidder) handle(ctx *fasthttp.RequestCtx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := string(ctx.Path())
	if path != "/openrtb2/bid" {
		if strings.Contains(string(ctx.RequestURI()), "${") {
			s.badURLs = append(s.badURLs, string(ctx.RequestURI()))
		}
		q, _ := url.ParseQuery(string(ctx.QueryArgs().QueryString()))
		q.Set("kind", strings.TrimPrefix(path, "/"))
		q.Set("simtime", string(ctx.Request.Header.Peek(SimTimeHeader)))
		s.notices = append(s.notices, q)
		return
	}
	var req struct {
		ID  string `json:"id"`
		Imp []struct {
			ID string `json:"id"`
		} `json:"imp"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		return
	}
	s.ids[req.ID]++
	s.simTimes = append(s.simTimes, string(ctx.Request.Header.Peek(SimTimeHeader)))
	last, _ := strconv.ParseUint(req.ID[len(req.ID)-1:], 16, 8)
	if last%2 == 1 {
		if string(ctx.Request.Header.Peek(DebugHeader)) == "1" {
			ctx.Response.Header.Set(NoBidReasonHeader, "no-campaign")
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	base := "http://" + s.addr
	resp := fmt.Sprintf(`{"id":%q,"cur":"USD","seatbid":[{"seat":"kairos","bid":[{"id":"b-%s","impid":%q,"price":2.0,`+
		`"nurl":"%s/win?auction=${AUCTION_ID}&bid=${AUCTION_BID_ID}&imp=${AUCTION_IMP_ID}&seat=${AUCTION_SEAT_ID}&price=${AUCTION_PRICE}&cur=${AUCTION_CURRENCY}",`+
		`"burl":"%s/bill?bid=${AUCTION_BID_ID}&price=${AUCTION_PRICE}",`+
		`"lurl":"%s/loss?bid=${AUCTION_BID_ID}&reason=${AUCTION_LOSS}&mtw=${AUCTION_MIN_TO_WIN}"}]}]}`,
		req.ID, req.ID, req.Imp[0].ID, base, base, base)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(resp)
}

func TestAttackWithAuctionAndNotices(t *testing.T) {
	s := newStubBidder(t)
	corpus := generate(t, GeneratorConfig{Seed: 4, Mix: &Mix{MultiImp: 0, Floors: 0.5, App: 0.5}}, 50)
	day := Day{Sim: 24 * time.Hour, Real: 5 * time.Second, Start: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
	m := attack(t, AttackConfig{
		Targets: []string{s.addr}, Rate: 600, Day: day, Workers: 4, MaxRequests: 200, Seed: 9,
		Auction: AuctionConfig{Mode: SecondPrice, CompetitionMean: 1.8, CompetitionSpread: 0.4},
	}, corpus)

	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Requests != 200 || m.Errors != 0 || m.Bids+m.NoBids != 200 {
		t.Fatalf("requests %d bids %d nobids %d errors %v", m.Requests, m.Bids, m.NoBids, m.ErrorKinds)
	}
	if len(s.ids) != 200 {
		t.Errorf("%d distinct request ids in 200 requests cycling 50 bodies", len(s.ids))
	}
	if m.NoBidReasons["no-campaign"] != m.NoBids {
		t.Errorf("no-bid reasons %v for %d no-bids", m.NoBidReasons, m.NoBids)
	}
	a := m.Auction
	if a.Mode != "second" || a.Bids != m.Bids || a.Wins+a.Losses != a.Bids || a.Wins == 0 || a.Losses == 0 {
		t.Fatalf("auction %+v for %d bids", a, m.Bids)
	}
	if len(s.badURLs) > 0 {
		t.Errorf("macros left in %v", s.badURLs)
	}
	kinds := map[string]int{}
	winAt := map[string]int{}
	spend := int64(0)
	for i, q := range s.notices {
		kinds[q.Get("kind")]++
		if _, err := time.Parse(time.RFC3339, q.Get("simtime")); err != nil {
			t.Errorf("notice %v: sim time: %v", q, err)
		}
		switch q.Get("kind") {
		case "win":
			winAt[q.Get("bid")] = i
			price, err := strconv.ParseFloat(q.Get("price"), 64)
			if err != nil || price <= 0 || price > 2.0 || q.Get("cur") != "USD" || q.Get("seat") != "kairos" || q.Get("imp") == "" || "b-"+q.Get("auction") != q.Get("bid") {
				t.Errorf("win notice %v", q)
			}
		case "bill":
			price, _ := strconv.ParseFloat(q.Get("price"), 64)
			spend += CPMToMicros(price)
			if at, ok := winAt[q.Get("bid")]; !ok || at > i {
				t.Errorf("billing notice for %s before its win notice", q.Get("bid"))
			}
		case "loss":
			if r := q.Get("reason"); r != "102" && r != "100" && r != "2" {
				t.Errorf("loss notice reason %q", r)
			}
			// Outbid: the winning price is the minimum bid to win.
			if mtw, err := strconv.ParseFloat(q.Get("mtw"), 64); q.Get("reason") == "102" && (err != nil || mtw <= 0) {
				t.Errorf("loss notice %v: min to win %q", q, q.Get("mtw"))
			} else if q.Get("reason") != "102" && q.Get("mtw") != "" {
				t.Errorf("loss notice %v reveals a min to win", q)
			}
		}
	}
	if kinds["win"] != int(a.Wins) || kinds["bill"] != int(a.Wins) || kinds["loss"] != int(a.Losses) {
		t.Errorf("notices %v for %d wins and %d losses", kinds, a.Wins, a.Losses)
	}
	if a.NoticesSent != uint64(len(s.notices)) || a.NoticesFailed+a.NoticesDropped+a.NoticesSkipped != 0 {
		t.Errorf("notice counts %+v, server saw %d", a, len(s.notices))
	}
	if spend != a.SpendMicros {
		t.Errorf("billed %d micros, counted %d", spend, a.SpendMicros)
	}
	// Day mode: sim time runs from midnight at 24h per 5s. The request due
	// first carries the start; with four workers it need not arrive first.
	var first, lastSim time.Time
	for i, st := range s.simTimes {
		v, err := time.Parse(time.RFC3339, st)
		if err != nil {
			t.Fatalf("sim time header %q: %v", st, err)
		}
		if i == 0 || v.Before(first) {
			first = v
		}
		if v.After(lastSim) {
			lastSim = v
		}
	}
	if !first.Equal(day.Start) {
		t.Errorf("earliest sim time %v, want %v", first, day.Start)
	}
	if lastSim.Sub(first) < time.Hour {
		t.Errorf("simulated time advanced only %v over the attack", lastSim.Sub(first))
	}
}

func TestExchangeAllowsOnlyLocalNoticeHosts(t *testing.T) {
	e, err := NewExchange(AuctionConfig{Mode: FirstPrice}, NoticeConfig{}, []string{"10.1.2.3:8080"})
	if err != nil {
		t.Fatal(err)
	}
	f := func(u string, want bool) {
		t.Helper()
		if got := e.allowedHost(u); got != want {
			t.Errorf("allowedHost(%q) = %v, want %v", u, got, want)
		}
	}
	f("http://127.0.0.1:18080/win", true)
	f("http://localhost/win", true)
	f("http://[::1]:80/win", true)
	f("http://10.1.2.3:8080/win", true)
	f("http://10.1.2.3:9999/win", false)
	f("https://tracker.example/win", false)
	f("file:///etc/passwd", false)
}

func TestParseTarget(t *testing.T) {
	f := func(in, addr, uri string) {
		t.Helper()
		tg, err := parseTarget(in)
		if err != nil || tg.addr != addr || tg.uri != uri {
			t.Errorf("parseTarget(%q) = %+v, %v; want %s %s", in, tg, err, addr, uri)
		}
	}
	f("127.0.0.1:8080", "127.0.0.1:8080", "http://127.0.0.1:8080/openrtb2/bid")
	f("http://127.0.0.1:18080", "127.0.0.1:18080", "http://127.0.0.1:18080/openrtb2/bid")
	f("http://localhost/x/bid", "localhost:80", "http://localhost:80/x/bid")
	if _, err := parseTarget("https://127.0.0.1:1"); err == nil {
		t.Error("https target accepted")
	}
}

func TestAttackConfigValidate(t *testing.T) {
	f := func(cfg AttackConfig, wantErr string) {
		t.Helper()
		err := cfg.Validate()
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("Validate(%+v) = %v, want %q", cfg, err, wantErr)
		}
	}
	ok := AttackConfig{Targets: []string{"127.0.0.1:1"}, Duration: time.Second}
	f(ok, "")
	f(AttackConfig{Duration: time.Second}, "targets")
	bad := ok
	bad.Duration = 0
	f(bad, "duration or max requests")
	bad = ok
	bad.Day = Day{Sim: 24 * time.Hour, Real: time.Minute}
	f(bad, "day compression needs a rate")
	bad = ok
	bad.Rate = -1
	f(bad, "rate")
}

func BenchmarkAttackerClosedLoop(b *testing.B) {
	addr := serve(b, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) })
	corpus := generate(b, GeneratorConfig{Seed: 1}, 100)
	a, err := NewAttacker(AttackConfig{Targets: []string{addr}, Workers: 4, MaxRequests: uint64(b.N)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	m, err := a.Attack(context.Background(), corpus)
	if err != nil || m.NoBids != uint64(b.N) {
		b.Fatalf("%v: %d of %d answered", err, m.NoBids, b.N)
	}
}
