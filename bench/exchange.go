package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"
)

// SimTimeHeader carries the simulated time of a request or notice in day mode.
const SimTimeHeader = "X-Kairos-Sim-Time"

// NoticeConfig configures how the simulated exchange fires notices. Zero values
// mean defaults.
type NoticeConfig struct {
	// Concurrency is how many notices may be in flight; default 32.
	Concurrency int
	// Queue is how many notices may wait; when it is full, notices are dropped and
	// counted rather than slowing the attack. Default 16384.
	Queue int
	// Timeout bounds each notice request; default 2s.
	Timeout time.Duration
	// AnyHost allows notice URLs on any host. By default only loopback hosts and
	// the attacked targets receive notices, so a replayed corpus cannot make the
	// simulator call the outside world.
	AnyHost bool
}

func (c NoticeConfig) withDefaults() NoticeConfig {
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.Queue <= 0 {
		c.Queue = 16384
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	return c
}

// notice is one win (nurl then burl) or loss (lurl) notification.
type notice struct {
	urls    [2]string
	simTime string
}

// Exchange simulates the exchange side of each auction: it clears our bids
// against synthetic competition and fires win, billing and loss notices with the
// macros substituted. Start it before Settle and Stop it after the last Settle.
type Exchange struct {
	auction AuctionConfig
	cfg     NoticeConfig
	allowed map[string]bool // host:port of the targets
	client  *fasthttp.Client
	queue   chan notice
	wg      sync.WaitGroup
	abandon atomic.Bool

	sent, failed, dropped, skipped atomic.Uint64
}

// NewExchange returns an Exchange clearing with auction and sending notices as
// cfg says. targets are the attacked addresses, whose hosts may receive notices.
func NewExchange(auction AuctionConfig, cfg NoticeConfig, targets []string) (*Exchange, error) {
	if auction.Mode == AuctionNone {
		return nil, errors.New("exchange: auction mode is none")
	}
	if err := auction.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// Compile sonic's decoder now rather than during the first, measured answers.
	_ = sonic.Pretouch(reflect.TypeFor[openrtb2.BidResponse]())
	e := &Exchange{
		auction: auction,
		cfg:     cfg,
		allowed: make(map[string]bool),
		client: &fasthttp.Client{
			Name:                      "kairos-bench",
			MaxConnsPerHost:           cfg.Concurrency,
			ReadTimeout:               cfg.Timeout,
			WriteTimeout:              cfg.Timeout,
			MaxIdemponentCallAttempts: 1,
		},
		queue: make(chan notice, cfg.Queue),
	}
	for _, t := range targets {
		tg, err := parseTarget(t)
		if err != nil {
			return nil, err
		}
		e.allowed[tg.addr] = true
	}
	return e, nil
}

// Start starts the notice senders.
func (e *Exchange) Start() {
	for range e.cfg.Concurrency {
		e.wg.Add(1)
		go e.sendLoop()
	}
}

// Stop waits for queued notices to be sent; when ctx ends first, the rest are
// dropped and Stop returns after the requests in flight.
func (e *Exchange) Stop(ctx context.Context) {
	close(e.queue)
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.abandon.Store(true)
		<-done
	}
}

// Counts adds the notice counters to s.
func (e *Exchange) Counts(s *AuctionStats) {
	s.Mode = e.auction.Mode.String()
	s.NoticesSent += e.sent.Load()
	s.NoticesFailed += e.failed.Load()
	s.NoticesDropped += e.dropped.Load()
	s.NoticesSkipped += e.skipped.Load()
}

func (e *Exchange) sendLoop() {
	defer e.wg.Done()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for n := range e.queue {
		for _, u := range n.urls {
			if u == "" {
				continue
			}
			if e.abandon.Load() {
				e.dropped.Add(1)
				continue
			}
			req.Reset()
			resp.Reset()
			req.SetRequestURI(u)
			req.Header.SetMethod(fasthttp.MethodGet)
			if n.simTime != "" {
				req.Header.Set(SimTimeHeader, n.simTime)
			}
			err := e.client.DoTimeout(req, resp, e.cfg.Timeout)
			if err == nil && resp.StatusCode() >= 200 && resp.StatusCode() < 300 {
				e.sent.Add(1)
			} else {
				e.failed.Add(1)
			}
		}
	}
}

// allowedHost reports whether a notice may be sent to u.
func (e *Exchange) allowedHost(u string) bool {
	if e.cfg.AnyHost {
		return true
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
		return false
	}
	if e.allowed[pu.Host] {
		return true
	}
	h := pu.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// enqueue queues a notice without ever blocking.
func (e *Exchange) enqueue(n notice) {
	for i, u := range n.urls {
		if u != "" && !e.allowedHost(u) {
			e.skipped.Add(1)
			n.urls[i] = ""
		}
	}
	if n.urls[0] == "" && n.urls[1] == "" {
		return
	}
	select {
	case e.queue <- n:
	default:
		for _, u := range n.urls {
			if u != "" {
				e.dropped.Add(1)
			}
		}
	}
}

// Settle runs the auction for every bid of resp, an answer to req, adds the
// outcomes to s and queues the notices. late says the answer came after tmax:
// every bid then loses with LossExpired. simTime, when not empty, is sent with
// the notices in the SimTimeHeader.
func (e *Exchange) Settle(rng *rand.Rand, req *Request, resp *openrtb2.BidResponse, late bool, simTime string, s *AuctionStats) {
	cur := resp.Cur
	if cur == "" {
		cur = "USD"
	}
	for si := range resp.SeatBid {
		sb := &resp.SeatBid[si]
		for bi := range sb.Bid {
			b := &sb.Bid[bi]
			s.Bids++
			competing := 0.0
			o := e.outcome(rng, req, resp, b, late, &competing)
			if o.Won {
				s.Wins++
				s.SpendMicros += CPMToMicros(o.Clearing)
				price := strconv.FormatFloat(o.Clearing, 'f', -1, 64)
				e.enqueue(notice{
					urls: [2]string{
						expandMacros(b.NURL, resp.ID, b, sb.Seat, cur, price, "", ""),
						expandMacros(b.BURL, resp.ID, b, sb.Seat, cur, price, "", ""),
					},
					simTime: simTime,
				})
				continue
			}
			s.Losses++
			if s.LossReasons == nil {
				s.LossReasons = make(map[int]uint64)
			}
			s.LossReasons[o.LossReason]++
			if b.LURL != "" {
				// The exchange reveals the winning price (as the price and as
				// the minimum bid to win) only when outbid.
				price := ""
				if o.LossReason == LossHigherBid && competing > 0 {
					price = strconv.FormatFloat(competing, 'f', 2, 64)
				}
				e.enqueue(notice{
					urls:    [2]string{expandMacros(b.LURL, resp.ID, b, sb.Seat, cur, price, strconv.Itoa(o.LossReason), price)},
					simTime: simTime,
				})
			}
		}
	}
}

// outcome decides one bid. Of several bids for one imp only the highest takes
// part in the auction; the others lose to it.
func (e *Exchange) outcome(rng *rand.Rand, req *Request, resp *openrtb2.BidResponse, b *openrtb2.Bid, late bool, competing *float64) Outcome {
	if late {
		return Outcome{LossReason: LossExpired}
	}
	floor, below := 0.0, LossBelowFloor
	if len(req.Imps) > 0 {
		imp := req.imp(b.ImpID)
		if imp == nil {
			return Outcome{LossReason: LossInvalidResponse}
		}
		floor = imp.Floor
		if b.DealID != "" {
			found := false
			for _, d := range imp.Deals {
				if d.ID == b.DealID {
					floor, below, found = d.Floor, LossBelowDealFloor, true
					break
				}
			}
			if !found {
				return Outcome{LossReason: LossInvalidDeal}
			}
		}
	}
	for si := range resp.SeatBid {
		for _, o := range resp.SeatBid[si].Bid {
			if o.ImpID == b.ImpID && o.Price > b.Price {
				return Outcome{LossReason: LossHigherBid}
			}
		}
	}
	*competing = e.auction.DrawCompeting(rng)
	return e.auction.Clear(b.Price, *competing, floor, below)
}

// expandMacros substitutes the OpenRTB notice macros in u; minToWin is the
// OpenRTB 2.6 ${AUCTION_MIN_TO_WIN}, empty when the exchange reveals none.
func expandMacros(u, auctionID string, b *openrtb2.Bid, seat, cur, price, loss, minToWin string) string {
	if u == "" || !strings.Contains(u, "${") {
		return u
	}
	return strings.NewReplacer(
		"${AUCTION_PRICE}", price,
		"${AUCTION_LOSS}", loss,
		"${AUCTION_ID}", url.QueryEscape(auctionID),
		"${AUCTION_BID_ID}", url.QueryEscape(b.ID),
		"${AUCTION_IMP_ID}", url.QueryEscape(b.ImpID),
		"${AUCTION_SEAT_ID}", url.QueryEscape(seat),
		"${AUCTION_CURRENCY}", cur,
		"${AUCTION_MIN_TO_WIN}", minToWin,
	).Replace(u)
}

// target is one attacked endpoint.
type target struct {
	addr string // host:port
	uri  string // full URL
}

// parseTarget accepts host:port, or an http URL whose path defaults to
// /openrtb2/bid.
func parseTarget(s string) (target, error) {
	raw := s
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return target{}, fmt.Errorf("target %q: %w", raw, err)
	}
	if u.Scheme != "http" {
		return target{}, fmt.Errorf("target %q: only http is supported", raw)
	}
	if u.Host == "" {
		return target{}, fmt.Errorf("target %q: no host", raw)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/openrtb2/bid"
	}
	return target{addr: u.Host, uri: u.String()}, nil
}
