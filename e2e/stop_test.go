package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/bench"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"
)

// shot is one bid request of the graceful-stop load, as the client saw it.
type shot struct {
	node       int
	start, end time.Time
	status     int
	err        error
}

// TestGracefulStop: two instances under closed-loop load (eight clients, each
// bid won and its notices sent to a live instance); one gets SIGTERM. It must
// exit 0 within a few seconds; a request it had half read when the signal came
// is finished and answered; every load request sent to it before the signal is
// answered, save those sent in the last 50 ms, which race the closing of idle
// keep-alive connections like the requests sent after the signal; and its
// lease is given back: its unreserved balance at exit, the rest once the
// exchange has sent the notices of all its bids, after which nothing of
// today's budget is leased to it any more.
func TestGracefulStop(t *testing.T) {
	const id = "stop-e2e"
	c := newCluster(t)
	a, b := c.start("a"), c.start("b")
	a.apply(campaignYAML(id, "asap", "100.00", "1000.00", "2.00"))
	holder, day := probeBid(t, a, id, 5*time.Second)
	probeBid(t, b, id, 5*time.Second)
	lease := day + "|" + holder

	tl := newTally()
	ex, err := bench.NewExchange(bench.AuctionConfig{Mode: bench.FirstPrice, CompetitionMean: 1e-6},
		bench.NoticeConfig{Timeout: 2 * time.Second}, []string{a.bid, b.bid})
	if err != nil {
		t.Fatal(err)
	}
	ex.StartRouted(c.routing(tl))
	corpus := simpleCorpus(200, 1000)
	nodes := []*node{a, b}
	clients := []*fasthttp.HostClient{
		{Addr: a.bid, MaxConns: 16, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second},
		{Addr: b.bid, MaxConns: 16, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second},
	}
	var (
		mu    sync.Mutex
		shots []shot
		stats bench.AuctionStats
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			var local []shot
			var st bench.AuctionStats
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					shots = append(shots, local...)
					stats.Bids += st.Bids
					stats.Wins += st.Wins
					mu.Unlock()
					return
				default:
				}
				ni := (w + i) % 2
				q := &corpus[rng.IntN(len(corpus))]
				req.Reset()
				req.SetRequestURI("http://" + nodes[ni].bid + "/openrtb2/bid")
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("application/json")
				req.SetBody(q.Body)
				s := shot{node: ni, start: time.Now()}
				s.err = clients[ni].DoTimeout(req, resp, 5*time.Second)
				s.end = time.Now()
				if s.err == nil {
					s.status = resp.StatusCode()
					if s.status == fasthttp.StatusOK {
						var br openrtb2.BidResponse
						if err := json.Unmarshal(resp.Body(), &br); err == nil {
							ex.Settle(rng, q, &br, false, "", &st)
						}
					}
				}
				local = append(local, s)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	time.Sleep(1500 * time.Millisecond)
	before := c.leases(id)[lease]
	// A request a has half read when the signal comes: it must still be answered.
	half, err := halfRequest(a.bid, string(corpus[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	sigterm := a.term() // a receives no more routed notices from here on
	halfStatus, halfResp, halfErr := half.finish()
	code, took := a.wait(sigterm, 10*time.Second)
	if halfResp != nil {
		// The exchange decides this auction too: its notices go to b.
		var st bench.AuctionStats
		ex.Settle(rand.New(rand.NewPCG(1, 1)), &corpus[0], halfResp, false, "", &st)
		mu.Lock()
		stats.Bids += st.Bids
		stats.Wins += st.Wins
		mu.Unlock()
	}
	afterStop := c.leases(id)[lease]
	time.Sleep(1 * time.Second) // b keeps serving
	close(stop)
	wg.Wait()
	drain, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	ex.Stop(drain)
	cancel()
	ex.Counts(&stats)
	afterNotices, leftover := c.leases(id)[lease], c.leases(id)

	// A request sent on a keep-alive connection just before the signal may not
	// have reached the server when it closes its idle connections: it races
	// the close, like the requests sent after the signal. Earlier requests
	// must all be answered.
	const race = 50 * time.Millisecond
	var inflight, beforeErr, racing, racingErr, afterOK, afterErr int
	var beforeErrs []string
	for _, s := range shots {
		if s.node != 0 {
			continue
		}
		switch {
		case s.start.Before(sigterm.Add(-race)) && s.err == nil:
			inflight += boolInt(s.end.After(sigterm))
		case s.start.Before(sigterm.Add(-race)):
			beforeErr++
			beforeErrs = append(beforeErrs, fmt.Sprintf("%s before SIGTERM: %v", sigterm.Sub(s.start), s.err))
		case s.start.Before(sigterm):
			racing++
			racingErr += boolInt(s.err != nil)
		case s.err == nil:
			afterOK++
		default:
			afterErr++
		}
	}
	t.Logf("graceful stop of one of two instances under load (%d requests, %d bids, %d notices sent, %d failed)",
		len(shots), stats.Bids, stats.NoticesSent, stats.NoticesFailed)
	t.Logf("  %-46s %v, after %s", "exit code", code, took.Round(time.Millisecond))
	t.Logf("  %-46s %d %v", "half-sent request finished after SIGTERM", halfStatus, halfErr)
	t.Logf("  %-46s %d", "requests to a answered across the signal", inflight)
	t.Logf("  %-46s %d", "requests to a sent before SIGTERM-50ms, failed", beforeErr)
	t.Logf("  %-46s %d, %d failed", "requests to a sent in the 50ms before SIGTERM", racing, racingErr)
	t.Logf("  %-46s %d answered, %d failed", "requests to a sent after SIGTERM", afterOK, afterErr)
	t.Logf("  %-46s %s → %s at exit → %s after notices (all leases %v)", "a's lease (micros)",
		fmtInt(before), fmtInt(afterStop), fmtInt(afterNotices), leftover)

	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if took > 5*time.Second {
		t.Errorf("took %s to stop after SIGTERM, want under 5s", took)
	}
	if halfErr != nil || (halfStatus != 200 && halfStatus != 204) {
		t.Errorf("the request half read at SIGTERM got %d %v, want an answer (200 or 204)", halfStatus, halfErr)
	}
	if beforeErr > 0 {
		t.Errorf("%d requests sent to a more than 50ms before SIGTERM failed: %s", beforeErr, strings.Join(beforeErrs[:min(5, len(beforeErrs))], "; "))
	}
	if before <= 0 || afterStop >= before {
		t.Errorf("a's lease: %d under load, %d at exit: its unreserved balance was not given back", before, afterStop)
	}
	if afterNotices != 0 {
		t.Errorf("a's lease holds %d micros after its stop and every notice of its bids, want 0 (given back or settled)", afterNotices)
	}
	if stats.NoticesFailed != 0 || tl.failed != 0 {
		t.Errorf("%d notices failed", stats.NoticesFailed)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// halfSent is a bid request whose body has been sent only in part.
type halfSent struct {
	conn net.Conn
	rest string
}

// halfRequest opens a connection to addr and sends a bid request's headers
// and the first half of body.
func halfRequest(addr, body string) (*halfSent, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("POST /openrtb2/bid HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, len(body))
	cut := len(body) / 2
	if _, err := conn.Write([]byte(head + body[:cut])); err != nil {
		conn.Close()
		return nil, err
	}
	// Let the server read the headers: the request is then in flight.
	time.Sleep(50 * time.Millisecond)
	return &halfSent{conn: conn, rest: body[cut:]}, nil
}

// finish sends the rest of the body after a pause and reads the answer.
func (h *halfSent) finish() (int, *openrtb2.BidResponse, error) {
	defer h.conn.Close()
	time.Sleep(300 * time.Millisecond)
	if _, err := h.conn.Write([]byte(h.rest)); err != nil {
		return 0, nil, fmt.Errorf("send the rest: %w", err)
	}
	_ = h.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(h.conn), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("read the answer: %w", err)
	}
	defer resp.Body.Close()
	var br openrtb2.BidResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("decode the answer: %w", err)
		}
	}
	return resp.StatusCode, &br, nil
}
