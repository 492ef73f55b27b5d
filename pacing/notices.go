package pacing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// FrequencyCounter counts a user's impressions of a campaign per window;
// segments.Store implements it. Its error is logged, not retried.
type FrequencyCounter interface {
	IncrFrequency(ctx context.Context, user, campaignID string, window time.Duration, now time.Time) error
}

// Recorder receives notice events for reports. Each bid's Win is recorded
// once, on the notice that settles it: whichever of nurl, burl or the
// impression pixel comes first (n.Kind says which). Impression is recorded
// once per bid, on its first burl or pixel, whether that settled the bid or
// followed its nurl; Loss once per bid, also after a win (which it does not
// undo); Click on every verified click. Methods run on the notice request and
// must not block; n is valid only during the call. Amounts are per impression
// in the campaign's currency, micros: clearing is what the bid cost, minToWin
// the exchange's ${AUCTION_MIN_TO_WIN} (0 when it reported none).
type Recorder interface {
	Win(n *Notice, clearing money.Micros, late bool)
	Impression(n *Notice)
	Loss(n *Notice, reason int, minToWin money.Micros)
	Click(n *Notice)
}

// PriceDecoder turns the raw ${AUCTION_PRICE} substitution of an exchange into
// a CPM in the bid response currency, micros. The default, ClearPrice, reads
// clear-text decimals; an exchange that encrypts prices (e.g. with its own
// HMAC/AES scheme keyed per buyer) gets a decoder that switches on exchange
// and decrypts, returning an error for anything it cannot authenticate.
type PriceDecoder interface {
	Decode(exchange, raw string) (money.Micros, error)
}

// ClearPrice decodes clear-text decimal CPM prices such as "1.234".
type ClearPrice struct{}

var _ PriceDecoder = ClearPrice{}

// Decode parses raw as a decimal amount.
func (ClearPrice) Decode(_ string, raw string) (money.Micros, error) { return money.Parse(raw) }

// NoticesConfig tunes the notice handlers; zero values mean defaults.
type NoticesConfig struct {
	// Grace must equal the Pacer's Config.Grace (default 12m, the Pacer's
	// default): loss markers live that long past their reservation window.
	Grace time.Duration
	// Timeout bounds one ledger call (default 2s).
	Timeout time.Duration
	// RetryQueue is how many settlements that failed on a Redis error are kept
	// for retrying in the background (default 10000); beyond it the notice is
	// answered 503.
	RetryQueue int
}

// NoticesDeps are the notice handlers' collaborators.
type NoticesDeps struct {
	// Signer verifies the URLs; it must hold the secret every instance signs with.
	Signer *Signer
	// Ledger records spend; use Pacer.Ledger.
	Ledger *Ledger
	// Campaigns supplies frequency caps and landing URLs.
	Campaigns CampaignSource
	// Clock must be the Pacer's clock; nil means SystemClock.
	Clock Clock
	// Frequency, Recorder: nil means none.
	Frequency FrequencyCounter
	Recorder  Recorder
	// Prices decodes ${AUCTION_PRICE}; nil means ClearPrice.
	Prices PriceDecoder
	// Log receives notice problems (at most one line a second); nil = none.
	Log *zap.Logger
	// Registerer receives the notice counters; nil = none.
	Registerer prometheus.Registerer
}

// Notices serves the notice URLs on the exchange-facing listener:
// /notice/win (nurl), /notice/bill (burl), /notice/loss (lurl),
// /notice/click and /notice/imp (a 1×1 GIF pixel). Any instance settles any
// instance's bids: everything needed travels, signed, in the URL.
//
// Answers: 204 (win, bill, loss: done, duplicate or late alike), 200 GIF
// (imp), 302 (click), 400 malformed, 403 forged, 410 expired, 503 when the
// ledger is unreachable and the retry queue is full.
type Notices struct {
	cfg    NoticesConfig
	d      NoticesDeps
	count  [6][9]prometheus.Counter // kind × outcome
	capped prometheus.Counter
	noPx   prometheus.Counter
	freqEr prometheus.Counter
	retry  chan pendingSettle
	done   chan struct{}
	wg     sync.WaitGroup
	last   atomic.Int64
}

type pendingSettle struct {
	n Notice
	s Settlement
}

// Outcome labels beyond the ledger's: verification failures and queueing.
const (
	outMalformed = iota + OutcomeCounted + 1
	outForged
	outExpired
)

var outLabels = [9]string{"duplicate", "settled", "late", "released", "loss_late", "counted", "malformed", "forged", "expired"}

// NewNotices returns the notice handlers; Start begins the retry loop.
func NewNotices(cfg NoticesConfig, d NoticesDeps) (*Notices, error) {
	if d.Signer == nil || d.Ledger == nil || d.Campaigns == nil {
		return nil, errors.New("pacing notices: Signer, Ledger and Campaigns are required")
	}
	if cfg.Grace == 0 {
		cfg.Grace = (Config{}).withDefaults().Grace
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.RetryQueue == 0 {
		cfg.RetryQueue = 10000
	}
	if d.Clock == nil {
		d.Clock = SystemClock{}
	}
	if d.Prices == nil {
		d.Prices = ClearPrice{}
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	h := &Notices{cfg: cfg, d: d, retry: make(chan pendingSettle, cfg.RetryQueue), done: make(chan struct{})}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kairos_notices_total",
		Help: "Notices received by kind and outcome."}, []string{"kind", "outcome"})
	for k := KindWin; k <= KindImp; k++ {
		for o, l := range outLabels {
			h.count[k][o] = vec.WithLabelValues(k.String(), l)
		}
	}
	h.capped = prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_notice_clearing_capped_total",
		Help: "Clearing prices above the bid price, settled at the bid price."})
	h.noPx = prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_notice_price_missing_total",
		Help: "Win notices without a readable clearing price, settled at the bid price."})
	h.freqEr = prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_notice_frequency_errors_total",
		Help: "Frequency counter increments that failed."})
	if d.Registerer != nil {
		for _, c := range []prometheus.Collector{vec, h.capped, h.noPx, h.freqEr} {
			if err := d.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register notice metrics: %w", err)
			}
		}
	}
	return h, nil
}

// Start launches the goroutine that retries settlements that failed on a
// Redis error.
func (h *Notices) Start() {
	h.wg.Add(1)
	go h.retryLoop()
}

// Stop ends the retry loop after one last attempt at every queued settlement.
func (h *Notices) Stop(ctx context.Context) {
	close(h.done)
	h.wg.Wait()
	for {
		select {
		case p := <-h.retry:
			if err := h.settleOnce(ctx, &p); err != nil {
				h.d.Log.Error("pacing: settlement lost at shutdown", zap.String("campaign", p.s.CampaignID),
					zap.Uint64("seq", p.s.Seq), zap.Error(err))
			}
		default:
			return
		}
	}
}

// Handler routes /notice/<kind> to the handler of that kind.
func (h *Notices) Handler(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if len(path) <= len(NoticePath) || b2s(path[:len(NoticePath)]) != NoticePath {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	k, ok := KindOf(b2s(path[len(NoticePath):]))
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	switch k {
	case KindLoss:
		h.Loss(ctx)
	case KindClick:
		h.Click(ctx)
	default:
		h.settle(ctx, k)
	}
}

// Win handles the nurl: it settles the bid at the clearing price.
func (h *Notices) Win(ctx *fasthttp.RequestCtx) { h.settle(ctx, KindWin) }

// Bill handles the burl: it settles the bid at the clearing price, unless the
// nurl already did, and counts the impression.
func (h *Notices) Bill(ctx *fasthttp.RequestCtx) { h.settle(ctx, KindBill) }

// Imp handles the impression pixel: a billing event for exchanges without
// burl support (idempotent with nurl and burl), answered with a 1×1 GIF.
func (h *Notices) Imp(ctx *fasthttp.RequestCtx) { h.settle(ctx, KindImp) }

func (h *Notices) reject(ctx *fasthttp.RequestCtx, k Kind, err error) {
	switch {
	case errors.Is(err, ErrForged):
		h.count[k][outForged].Inc()
		ctx.SetStatusCode(fasthttp.StatusForbidden)
	case errors.Is(err, ErrExpired):
		h.count[k][outExpired].Inc()
		ctx.SetStatusCode(fasthttp.StatusGone)
	default:
		h.count[k][outMalformed].Inc()
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
	}
	ctx.SetBodyString(err.Error())
}

// gif1x1 is a transparent 1×1 GIF.
const gif1x1 = "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"

func (h *Notices) settle(ctx *fasthttp.RequestCtx, k Kind) {
	now := h.d.Clock.Now()
	args := ctx.QueryArgs()
	n, err := h.d.Signer.Verify(k, args, now)
	if err != nil {
		h.reject(ctx, k, err)
		return
	}
	clearing := h.clearingPrice(&n, args.Peek("price"))
	p := pendingSettle{s: Settlement{CampaignID: n.CampaignID, Holder: n.Holder, Seq: n.Seq, Kind: k, Day: n.Day,
		Reserved: n.Reserved, Clearing: perImpression(n.Reserved, n.Price, clearing),
		WindowEnd: time.Unix(n.WindowEnd, 0), Expiry: time.Unix(n.Expiry, 0)}}
	cctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
	out, err := h.d.Ledger.Settle(cctx, &p.s, now)
	cancel()
	if err != nil {
		p.n = n.Clone()
		p.s.CampaignID, p.s.Holder, p.s.Day = p.n.CampaignID, p.n.Holder, p.n.Day
		select {
		case h.retry <- p:
			h.warn("settle failed; queued for retry", &n, err)
		default:
			h.warn("settle failed; retry queue full", &n, err)
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		}
	} else {
		h.settled(&n, out, p.s.Clearing, now)
	}
	if k == KindImp {
		ctx.SetContentType("image/gif")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		ctx.SetBodyString(gif1x1)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// settled does what follows a settlement: the frequency count and the win
// are counted only the first time a bid settles, the impression on its first
// billing notice.
func (h *Notices) settled(n *Notice, out Outcome, clearing money.Micros, now time.Time) {
	h.count[n.Kind][out].Inc()
	if out == OutcomeSettled || out == OutcomeLate {
		h.countFrequency(n, now)
		if h.d.Recorder != nil {
			h.d.Recorder.Win(n, clearing, out == OutcomeLate)
		}
	}
	if h.d.Recorder != nil && out != OutcomeDuplicate && (n.Kind == KindBill || n.Kind == KindImp) {
		h.d.Recorder.Impression(n)
	}
}

// countFrequency counts a settled bid's impression towards its user's
// frequency cap.
func (h *Notices) countFrequency(n *Notice, now time.Time) {
	if n.User == "" || h.d.Frequency == nil {
		return
	}
	c, ok := h.d.Campaigns.Index().Get(n.CampaignID)
	if !ok || c.FrequencyCap == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
	err := h.d.Frequency.IncrFrequency(ctx, n.User, n.CampaignID, time.Duration(c.FrequencyCap.Window), now)
	cancel()
	if err != nil {
		h.freqEr.Inc()
		h.warn("frequency count failed", n, err)
	}
}

// clearingPrice reads the clearing CPM in the bid currency; a missing,
// unsubstituted or unreadable price settles at the bid price (never below
// what may have been spent), and a price above the bid is capped.
func (h *Notices) clearingPrice(n *Notice, raw []byte) money.Micros {
	if len(raw) == 0 || raw[0] == '$' {
		h.noPx.Inc()
		return n.Price
	}
	v, err := h.d.Prices.Decode(n.Exchange, b2s(raw))
	if err != nil || v < 0 {
		h.noPx.Inc()
		h.warn("unreadable clearing price; settled at the bid price", n, err)
		return n.Price
	}
	if v > n.Price {
		h.capped.Inc()
		h.warn("clearing price above bid price; settled at the bid price", n,
			fmt.Errorf("clearing %s > bid %s %s", v, n.Price, n.Currency))
		return n.Price
	}
	return v
}

// perImpression converts a clearing CPM in the bid currency into the cost of
// one impression in the campaign currency, at the exchange rate of the bid:
// reserved × clearing / price, exactly, in 128-bit arithmetic.
func perImpression(reserved, price, clearing money.Micros) money.Micros {
	return atBidRate(reserved, price, min(clearing, price))
}

// atBidRate converts a CPM v in the bid currency into a per-impression
// amount in the campaign currency: reserved × v / price. It is 0 for
// non-positive inputs and for a v so far above the bid price that the result
// would not fit.
func atBidRate(reserved, price, v money.Micros) money.Micros {
	if price <= 0 || reserved <= 0 || v <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(reserved), uint64(v))
	if hi >= uint64(price) {
		return 0
	}
	q, _ := bits.Div64(hi, lo, uint64(price))
	if q > math.MaxInt64 {
		return 0
	}
	return money.Micros(q)
}

// Loss handles the lurl: it releases the bid's reservation (unless a win or
// billing notice settled it) and records the ${AUCTION_LOSS} reason code (-1
// when absent) and the ${AUCTION_MIN_TO_WIN} price (when the exchange put a
// number there), once per bid.
func (h *Notices) Loss(ctx *fasthttp.RequestCtx) {
	now := h.d.Clock.Now()
	args := ctx.QueryArgs()
	n, err := h.d.Signer.Verify(KindLoss, args, now)
	if err != nil {
		h.reject(ctx, KindLoss, err)
		return
	}
	reason := -1
	if v, err := strconv.Atoi(b2s(args.Peek("loss"))); err == nil {
		reason = v
	}
	var minToWin money.Micros
	if raw := args.Peek("price"); len(raw) > 0 && raw[0] != '$' { // absent or not substituted
		if v, err := money.Parse(b2s(raw)); err == nil {
			minToWin = atBidRate(n.Reserved, n.Price, v)
		}
	}
	s := Settlement{CampaignID: n.CampaignID, Holder: n.Holder, Seq: n.Seq, Day: n.Day, Reserved: n.Reserved,
		WindowEnd: time.Unix(n.WindowEnd, 0), Expiry: time.Unix(n.Expiry, 0)}
	cctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
	out, err := h.d.Ledger.Loss(cctx, &s, now, h.cfg.Grace)
	cancel()
	if err != nil {
		// The reservation is released by its owner's sweep anyway; only the
		// early release and the reason are lost.
		h.warn("loss notice failed", &n, err)
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		return
	}
	h.count[KindLoss][out].Inc()
	if out != OutcomeDuplicate && h.d.Recorder != nil {
		h.d.Recorder.Loss(&n, reason, minToWin)
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// Click handles the click-through URL: it records the click and redirects to
// the creative's landing URL, looked up in the current campaigns by campaign
// and creative id, never taken from the request, so it cannot be an open
// redirect. An expired click URL still redirects but is not recorded.
func (h *Notices) Click(ctx *fasthttp.RequestCtx) {
	now := h.d.Clock.Now()
	n, err := h.d.Signer.Verify(KindClick, ctx.QueryArgs(), now)
	if err != nil && !errors.Is(err, ErrExpired) {
		h.reject(ctx, KindClick, err)
		return
	}
	c, ok := h.d.Campaigns.Index().Get(n.CampaignID)
	landing := ""
	// CreativeID may be a crid naming the variant too: "<creative>.<variant>".
	creative, _, _ := strings.Cut(n.CreativeID, ".")
	if ok {
		for i := range c.Creatives {
			if c.Creatives[i].ID == creative {
				landing = c.Creatives[i].LandingURL
				break
			}
		}
	}
	if landing == "" {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString("creative not found")
		return
	}
	if err == nil {
		h.count[KindClick][OutcomeSettled].Inc()
		if h.d.Recorder != nil {
			h.d.Recorder.Click(&n)
		}
	} else {
		h.count[KindClick][outExpired].Inc()
	}
	ctx.Redirect(landing, fasthttp.StatusFound)
}

func (h *Notices) retryLoop() {
	defer h.wg.Done()
	for {
		select {
		case <-h.done:
			return
		case p := <-h.retry:
			wait := 100 * time.Millisecond
			for {
				ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
				err := h.settleOnce(ctx, &p)
				cancel()
				if err == nil {
					break
				}
				if h.d.Clock.Now().Unix() >= p.n.Expiry {
					h.d.Log.Error("pacing: settlement given up at notice expiry", zap.String("campaign", p.s.CampaignID),
						zap.Uint64("seq", p.s.Seq), zap.Error(err))
					break
				}
				select {
				case <-h.done:
					// Stop makes a last attempt.
					select {
					case h.retry <- p:
					default:
					}
					return
				case <-time.After(wait):
				}
				wait = min(2*wait, 5*time.Second)
			}
		}
	}
}

func (h *Notices) settleOnce(ctx context.Context, p *pendingSettle) error {
	now := h.d.Clock.Now()
	out, err := h.d.Ledger.Settle(ctx, &p.s, now)
	if err != nil {
		return err
	}
	h.settled(&p.n, out, p.s.Clearing, now)
	return nil
}

// warn logs a notice problem at most once a real second.
func (h *Notices) warn(msg string, n *Notice, err error) {
	now := time.Now().Unix()
	if last := h.last.Load(); last != now && h.last.CompareAndSwap(last, now) {
		h.d.Log.Warn("pacing: "+msg, zap.String("campaign", n.CampaignID), zap.String("holder", n.Holder),
			zap.Uint64("seq", n.Seq), zap.String("exchange", n.Exchange), zap.Error(err))
	}
}
