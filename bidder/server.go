package bidder

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic"
	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/consent"
	"github.com/kairos-rtb/kairos/creatives"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/quality"
	"github.com/kairos-rtb/kairos/reports"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/shading"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Header names of the exchange-facing API.
const (
	// HeaderDebug on a request ("1") asks for the no-bid reason.
	HeaderDebug = "X-Kairos-Debug"
	// HeaderNoBidReason carries the no-bid reason when debugging was asked for.
	HeaderNoBidReason = "X-Kairos-Nobid-Reason"
	// HeaderExchange names the exchange a request comes from (alternatively the
	// query parameter "exchange" on the bid URL).
	HeaderExchange = "X-Kairos-Exchange"
)

// Profiles fetches a user's profile and frequency counters in one round trip,
// giving up at the deadline. segments.Lookup implements it.
type Profiles interface {
	GetUntil(deadline time.Time, user string, res *segments.Result) error
}

var _ Profiles = (*segments.Lookup)(nil)

// Pacer spends campaign budgets on the bid path; pacing.Pacer implements it.
type Pacer interface {
	ObserveRequest(now time.Time)
	Allow(c *campaigns.Compiled, rnd uint64) bool
	Reserve(c *campaigns.Compiled, cpm money.Micros, now time.Time) (pacing.Reservation, pacing.Reason)
	Cancel(r *pacing.Reservation) bool
}

var _ Pacer = (*pacing.Pacer)(nil)

// Reports counts requests, bids and no-bids for the win-rate reports;
// reports.Counter implements it. Its methods must not block or keep the
// strings they are given.
type Reports interface {
	Request(d *reports.Dims)
	Bid(d *reports.Dims, bidCPM money.Micros)
	NoBid(d *reports.Dims, reason string)
}

var _ Reports = (*reports.Counter)(nil)

// Consent decides once per request whether personal data may be used and
// whether any bid is allowed; consent.Decider implements it.
type Consent interface {
	Decide(req *openrtb2.BidRequest) consent.Decision
}

// Screener screens traffic quality before any lookup; quality.Screener
// implements it.
type Screener interface {
	Screen(req *openrtb2.BidRequest) quality.Verdict
	SupplyChain(req *openrtb2.BidRequest) quality.SChainStatus
}

var (
	_ Consent  = (*consent.Decider)(nil)
	_ Screener = (*quality.Screener)(nil)
)

// Shader shades bids in first-price auctions from the win rates learnt so
// far; shading.Shader implements it. Price must not block or allocate.
type Shader interface {
	Price(k shading.Key, value, floor money.Micros, firstPrice bool, rnd uint64) money.Micros
}

// Holdout keeps a share of each campaign's users out of its ads to measure
// lift; holdout.Holdout implements it. Neither method may block or allocate.
type Holdout interface {
	Assign(user, campaignID string) holdout.Group
	Record(g holdout.Group, campaignID, user string, price money.Micros, now time.Time)
}

var (
	_ Shader  = (*shading.Shader)(nil)
	_ Holdout = (*holdout.Holdout)(nil)
)

// Campaigns supplies the current compiled campaign snapshot; never nil.
type Campaigns interface {
	Index() *campaigns.Index
}

// Deps are the bidder's collaborators.
type Deps struct {
	Campaigns Campaigns
	// Profiles may be nil: every request is then decided contextually.
	Profiles  Profiles
	Assembler Assembler
	// Pacer and Signer, when set, reserve budget for every bid and sign its
	// notice URLs; both or neither.
	Pacer  Pacer
	Signer *pacing.Signer
	// Consent decides personal data use; nil means consent's defaults.
	Consent Consent
	// Screener, when set, refuses invalid traffic and reports supply chains.
	Screener Screener
	// Reports, when set, counts every decoded request's outcome.
	Reports Reports
	// Shader, when set, shades first-price bids.
	Shader Shader
	// Holdout, when set, holds users out of campaigns: their bids are
	// recorded as ghost bids and not sent.
	Holdout Holdout
	Metrics *Metrics
	Log     *zap.Logger
	// Now is the clock of deadlines and latency; nil means time.Now.
	Now func() time.Time
	// Clock is the business clock of flights, pacing and report hours; nil
	// means Now. Time-compressed tests run it faster than Now, while the
	// deadline stays in real time.
	Clock func() time.Time
}

// Server is the exchange-facing HTTP server: POST /openrtb2/bid and GET /healthz.
type Server struct {
	cfg    Config
	deps   Deps
	rates  *money.Rates
	now    func() time.Time
	pool   sync.Pool
	seq    atomic.Uint64
	prefix [6]byte
	srv    *fasthttp.Server
	ln     net.Listener
	done   chan error
	extra  map[string]fasthttp.RequestHandler
	shed   *shedder
	stop   chan struct{}
	bg     sync.WaitGroup
	// secureTracking reports whether Kairos's own tracking URLs are https, as
	// secure impressions require.
	secureTracking bool
}

// New returns a Server; cfg must have passed Validate.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rates, err := money.ParseRates(cfg.Rates)
	if err != nil {
		return nil, err
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Clock == nil {
		deps.Clock = deps.Now
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	if (deps.Pacer == nil) != (deps.Signer == nil) {
		return nil, errors.New("bidder: Pacer and Signer go together")
	}
	if deps.Signer != nil && cfg.PublicURL == "" {
		return nil, errors.New("KAIROS_PUBLIC_URL: required to sign notice URLs")
	}
	if deps.Consent == nil {
		d, err := consent.NewDecider(consent.Config{}, nil)
		if err != nil {
			return nil, err
		}
		deps.Consent = d
	}
	if deps.Assembler == nil {
		deps.Assembler = creatives.NewAssembler(creatives.Config{}, creatives.HashChooser{})
	}
	// sonic compiles its decoder for a type on first use, which would make the
	// first requests miss their deadline: compile it now.
	if err := sonic.Pretouch(reflect.TypeOf(openrtb2.BidRequest{})); err != nil {
		return nil, fmt.Errorf("prepare JSON decoder: %w", err)
	}
	if err := creatives.PretouchNative(); err != nil {
		return nil, fmt.Errorf("prepare native decoder: %w", err)
	}
	s := &Server{cfg: cfg, deps: deps, rates: rates, now: deps.Now,
		secureTracking: deps.Signer == nil || strings.HasPrefix(cfg.PublicURL, "https://")}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	const b32 = "abcdefghijklmnopqrstuvwxyz234567"
	v := binary.LittleEndian.Uint32(rnd[:])
	for i := range s.prefix {
		s.prefix[i] = b32[v&31]
		v >>= 5
	}
	s.pool.New = func() any { return new(reqState) }
	s.shed = newShedder(cfg.Shed)
	s.srv = &fasthttp.Server{
		Handler:                       s.Handler,
		Name:                          "kairos",
		MaxRequestBodySize:            cfg.MaxBodyBytes,
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  5 * time.Second,
		IdleTimeout:                   2 * time.Minute,
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
		ReduceMemoryUsage:             false,
		// Answers written while stopping carry Connection: close, so the
		// exchange does not send another request on a keep-alive connection
		// that is about to be closed under it.
		CloseOnShutdown: true,
		Logger:          zapPrintf{deps.Log},
	}
	return s, nil
}

type zapPrintf struct{ l *zap.Logger }

func (z zapPrintf) Printf(format string, args ...any) {
	// Connection errors (garbage from scanners, TLS on the plain port) are
	// client faults that must not cost a log line each under load.
	if ce := z.l.Check(zap.DebugLevel, "connection error"); ce != nil {
		ce.Write(zap.String("error", fmt.Sprintf(format, args...)))
	}
}

// Start listens on addr and serves in the background until Stop.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	s.stop = make(chan struct{})
	if s.shed.enabled() {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.shed.run(s.stop)
		}()
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return nil
}

// ShedShare returns the share of bid requests currently shed for overload.
func (s *Server) ShedShare() float64 { return s.shed.Share() }

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop stops accepting connections and waits for in-flight requests to finish,
// at most until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.srv.ShutdownWithContext(ctx)
	if serr := <-s.done; serr != nil && err == nil {
		err = serr
	}
	close(s.stop)
	s.bg.Wait()
	return err
}

// Handler routes the exchange-facing requests.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/openrtb2/bid":
		if !ctx.IsPost() {
			ctx.Response.Header.Set("Allow", "POST")
			ctx.Error("use POST", fasthttp.StatusMethodNotAllowed)
			return
		}
		s.HandleBid(ctx)
	case "/healthz":
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("ok\n")
	default:
		if !s.handleExtra(ctx) {
			ctx.Error("not found", fasthttp.StatusNotFound)
		}
	}
}

// Route adds a handler on the exchange-facing listener (notices, clicks) for an
// exact path, or for every path under it when it ends in "/". Call it before
// Start.
func (s *Server) Route(path string, h fasthttp.RequestHandler) {
	if s.extra == nil {
		s.extra = map[string]fasthttp.RequestHandler{}
	}
	s.extra[path] = h
}

func (s *Server) handleExtra(ctx *fasthttp.RequestCtx) bool {
	path := string(ctx.Path())
	for prefix, h := range s.extra {
		if path == prefix || (strings.HasSuffix(prefix, "/") && strings.HasPrefix(path, prefix)) {
			h(ctx)
			return true
		}
	}
	return false
}

// HandleBid answers one OpenRTB bid request.
func (s *Server) HandleBid(ctx *fasthttp.RequestCtx) {
	start := s.now()
	m := s.deps.Metrics
	if m != nil {
		m.Requests.Inc()
	}
	if s.shed.enabled() && s.shed.shed(mrand.Uint64()) {
		s.shedRequest(ctx, start)
		return
	}
	st := s.pool.Get().(*reqState)
	defer s.release(st)

	body := ctx.PostBody()
	if enc := ctx.Request.Header.ContentEncoding(); len(enc) > 0 {
		switch string(enc) {
		case "gzip", "x-gzip":
			var err error
			st.body, err = gunzip(st.body, body, s.cfg.MaxBodyBytes)
			if err != nil {
				s.fail(ctx, err)
				return
			}
			body = st.body
		case "identity":
		default:
			s.fail(ctx, badRequest("unsupported Content-Encoding %q", enc))
			return
		}
	}
	if err := Decode(body, &st.req); err != nil {
		s.fail(ctx, err)
		return
	}
	deadline := start.Add(s.cfg.Deadline(st.req.TMax))
	st.start, st.now = start, s.deps.Clock()
	st.rng = s.seq.Add(1)*0x9E3779B97F4A7C15 ^ uint64(start.UnixNano()) | 1
	if s.deps.Pacer != nil {
		s.deps.Pacer.ObserveRequest(st.now)
	}
	// The exchange name is valid only during the request, like the request's
	// strings; whatever keeps it (reports, notices) copies it.
	st.exchange = unsafeString(ctx.Request.Header.Peek(HeaderExchange))
	if st.exchange == "" {
		st.exchange = unsafeString(ctx.QueryArgs().Peek("exchange"))
	}
	fillDims(st)
	if s.deps.Reports != nil {
		s.deps.Reports.Request(&st.dims)
	}
	reason := s.auction(st, st.now, deadline)
	if reason == ReasonNone && s.now().After(deadline) {
		reason = ReasonDeadline
		s.cancelBids(st)
	}
	s.count(st, reason)
	if reason != ReasonNone {
		s.noBid(ctx, reason)
	} else {
		st.out = s.encode(st.out[:0], st)
		ctx.SetContentType("application/json")
		ctx.Response.Header.Set("X-Openrtb-Version", "2.6")
		ctx.SetBody(st.out)
		if m != nil {
			m.Bids.Add(float64(len(st.bids)))
		}
	}
	if m != nil {
		m.Latency.Observe(s.now().Sub(start).Seconds())
	}
}

// shedRequest answers a request shed for overload: a no-bid without decoding
// the body, counted under the hour only (nothing else of it is known).
func (s *Server) shedRequest(ctx *fasthttp.RequestCtx, start time.Time) {
	if rc := s.deps.Reports; rc != nil {
		d := reports.Dims{Hour: s.deps.Clock().Unix() / 3600}
		rc.Request(&d)
		rc.NoBid(&d, ReasonOverload.String())
	}
	s.noBid(ctx, ReasonOverload)
	if m := s.deps.Metrics; m != nil {
		m.Latency.Observe(s.now().Sub(start).Seconds())
	}
}

func (s *Server) noBid(ctx *fasthttp.RequestCtx, r Reason) {
	if m := s.deps.Metrics; m != nil {
		m.NoBids[r].Inc()
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	if string(ctx.Request.Header.Peek(HeaderDebug)) == "1" {
		ctx.Response.Header.Set(HeaderNoBidReason, r.String())
	}
}

func (s *Server) fail(ctx *fasthttp.RequestCtx, err error) {
	m := s.deps.Metrics
	var bad *BadRequestError
	switch {
	case errors.Is(err, ErrTooLarge):
		if m != nil {
			m.TooLarge.Inc()
		}
		ctx.Error("request body too large", fasthttp.StatusRequestEntityTooLarge)
	case errors.As(err, &bad):
		if m != nil {
			m.BadRequests.Inc()
		}
		ctx.Error(bad.Reason, fasthttp.StatusBadRequest)
	default:
		s.deps.Log.Error("bid request failed", zap.Error(err))
		ctx.Error("internal error", fasthttp.StatusInternalServerError)
	}
}

func (s *Server) release(st *reqState) {
	st.reset()
	s.pool.Put(st)
}
