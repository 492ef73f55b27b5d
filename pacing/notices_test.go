package pacing

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/valyala/fasthttp"
)

type freqCall struct {
	user, campaign string
	window         time.Duration
}

type fakeFreq struct {
	mu    sync.Mutex
	calls []freqCall
}

func (f *fakeFreq) IncrFrequency(_ context.Context, user, campaignID string, window time.Duration, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, freqCall{user, campaignID, window})
	return nil
}

// fakeRecorder keeps what the notices reported, and every event in order
// ("win", "win late", "imp", "loss") in log.
type fakeRecorder struct {
	mu     sync.Mutex
	wins   []string
	imps   int
	losses []int
	minWin []money.Micros // each loss's minimum bid to win
	clicks int
	log    []string
}

func (r *fakeRecorder) Win(n *Notice, clearing money.Micros, late bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wins = append(r.wins, n.Kind.String()+" "+clearing.String()+map[bool]string{true: " late", false: ""}[late])
	r.log = append(r.log, "win"+map[bool]string{true: " late", false: ""}[late])
}

func (r *fakeRecorder) Impression(*Notice) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.imps++
	r.log = append(r.log, "imp")
}

func (r *fakeRecorder) Loss(_ *Notice, reason int, minToWin money.Micros) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.losses = append(r.losses, reason)
	r.minWin = append(r.minWin, minToWin)
	r.log = append(r.log, "loss")
}

func (r *fakeRecorder) Click(*Notice) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clicks++
}

type noticeFixture struct {
	p      *Pacer
	h      *Notices
	h2     *Notices // a second instance's handlers, on a connection of its own
	s      *Signer
	clk    *ManualClock
	src    *fixedIndex
	freq   *fakeFreq
	rec    *fakeRecorder
	target string
}

func newNoticeFixture(t *testing.T) *noticeFixture {
	rdb, keys := testRedis(t)
	fx := &noticeFixture{clk: NewManualClock(t0), freq: &fakeFreq{}, rec: &fakeRecorder{}}
	fx.src = newIndex(t0, testCampaign("c1", "UTC", "asap", 10*money.Unit, 100*money.Unit))
	fx.p = testPacer(t, rdb, keys, fx.src, fx.clk, Config{Instance: "i1"})
	fx.s, _ = NewSigner(testSecret)
	handlers := func(l *Ledger) *Notices {
		h, err := NewNotices(NoticesConfig{}, NoticesDeps{Signer: fx.s, Ledger: l, Campaigns: fx.src,
			Clock: fx.clk, Frequency: fx.freq, Recorder: fx.rec})
		if err != nil {
			t.Fatal(err)
		}
		h.Start()
		t.Cleanup(func() { h.Stop(context.Background()) })
		return h
	}
	fx.h = handlers(fx.p.Ledger())
	fx.h2 = handlers(NewLedger(secondClient(t, rdb), keys))
	return fx
}

// bid reserves one bid at 4.00 CPM in USD (campaign currency) answered in
// EUR at 3.60 and returns its notice.
func (fx *noticeFixture) bid(t *testing.T, user string) Notice {
	t.Helper()
	c := fx.src.get(t, "c1")
	now := fx.clk.Now()
	r, why := fx.p.Reserve(c, 4*money.Unit, now)
	if why == ReasonNoLease {
		fx.p.maintain(context.Background(), now)
		r, why = fx.p.Reserve(c, 4*money.Unit, now)
	}
	if why != ReasonNone {
		t.Fatal(why)
	}
	n := Notice{CreativeID: "cr1", ImpID: "1", Price: 3_600_000, Currency: "EUR", Exchange: "ex", User: user}
	r.Fill(&n)
	return n
}

func (fx *noticeFixture) get(kind Kind, n *Notice, price string) *fasthttp.RequestCtx {
	return fx.getAt(fx.h, kind, n, price)
}

// getAt sends n's notice of kind to the handlers h, with price for both
// ${AUCTION_PRICE} and ${AUCTION_LOSS}.
func (fx *noticeFixture) getAt(h *Notices, kind Kind, n *Notice, price string) *fasthttp.RequestCtx {
	u := string(fx.s.AppendNoticeURL(nil, kind, "http://kairos.test", n))
	u = strings.Replace(u, MacroAuctionPrice, price, 1)
	u = strings.Replace(u, MacroAuctionLoss, price, 1)
	return doAt(h, u)
}

func (fx *noticeFixture) do(u string) *fasthttp.RequestCtx { return doAt(fx.h, u) }

func doAt(h *Notices, u string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetRequestURI(u)
	h.Handler(ctx)
	return ctx
}

func (fx *noticeFixture) spent(t *testing.T) Figures {
	return figures(t, fx.p.Ledger(), "c1", "2026-11-02")
}

func TestWinNoticeSettlesOnceAndCountsFrequencyOnce(t *testing.T) {
	fx := newNoticeFixture(t)
	n := fx.bid(t, "user-1")
	// nurl, replayed nurl, then burl and the impression pixel: one settlement.
	for i, k := range []Kind{KindWin, KindWin, KindBill, KindImp} {
		ctx := fx.get(k, &n, "1.80")
		want := fasthttp.StatusNoContent
		if k == KindImp {
			want = fasthttp.StatusOK
		}
		if ctx.Response.StatusCode() != want {
			t.Fatalf("notice %d (%s): status %d", i, k, ctx.Response.StatusCode())
		}
	}
	if len(fx.freq.calls) != 1 || fx.freq.calls[0] != (freqCall{"user-1", "c1", 24 * time.Hour}) {
		t.Fatalf("frequency calls %+v, want one", fx.freq.calls)
	}
	// Cleared at half the bid: half the 0.004 reservation.
	if f := fx.spent(t); f.SpentToday != 2000 {
		t.Fatalf("spent %s, want 0.002", f.SpentToday)
	}
	if len(fx.rec.wins) != 1 || fx.rec.wins[0] != "win 0.002" || fx.rec.imps != 1 {
		t.Fatalf("recorded wins %v, impressions %d", fx.rec.wins, fx.rec.imps)
	}
	// A second bid for the same user is a second impression.
	n2 := fx.bid(t, "user-1")
	fx.get(KindBill, &n2, "3.60")
	if len(fx.freq.calls) != 2 || fx.rec.imps != 2 {
		t.Fatalf("frequency calls %d, impressions %d, want 2 each", len(fx.freq.calls), fx.rec.imps)
	}
	// A bid without a user key (no consent) does not count frequency.
	n3 := fx.bid(t, "")
	fx.get(KindWin, &n3, "3.60")
	if len(fx.freq.calls) != 2 {
		t.Fatalf("frequency calls %d without a user key", len(fx.freq.calls))
	}
}

// TestNoticeOrders: whatever the order in which a bid's win, billing and loss
// notices arrive, at either of two instances, the first win or billing notice
// settles it (once), every kind is counted once for reports, replays do
// nothing, and a loss after a settlement does not release the reservation.
func TestNoticeOrders(t *testing.T) {
	type step struct {
		kind Kind
		at   int    // the instance that receives it: 0 or 1
		want string // what it reports: "win", "win late", "imp", "loss", joined by "+"; "" nothing
	}
	win := func(at int, want string) step { return step{KindWin, at, want} }
	bill := func(at int, want string) step { return step{KindBill, at, want} }
	pixel := func(at int, want string) step { return step{KindImp, at, want} }
	loss := func(at int, want string) step { return step{KindLoss, at, want} }
	for _, tc := range []struct {
		name        string
		steps       []step
		spent, late money.Micros
	}{
		{"win then bill", []step{win(0, "win"), bill(1, "imp")}, 2000, 0},
		{"bill then win", []step{bill(0, "win+imp"), win(1, "")}, 2000, 0},
		{"win replayed", []step{win(0, "win"), win(1, ""), win(0, "")}, 2000, 0},
		{"bill replayed", []step{bill(0, "win+imp"), bill(1, ""), bill(0, "")}, 2000, 0},
		{"pixel then bill: both billing", []step{pixel(1, "win+imp"), bill(0, ""), win(1, "")}, 2000, 0},
		{"win, bill, replays of both", []step{win(1, "win"), bill(0, "imp"), win(0, ""), bill(1, ""), pixel(0, "")}, 2000, 0},
		{"loss then win: late", []step{loss(0, "loss"), win(1, "win late"), loss(1, "")}, 2000, 2000},
		{"loss, bill, win", []step{loss(1, "loss"), bill(0, "win late+imp"), win(0, "")}, 2000, 2000},
		{"win then loss", []step{win(0, "win"), loss(1, "loss"), loss(0, ""), bill(1, "imp")}, 2000, 0},
		{"bill then loss", []step{bill(1, "win+imp"), loss(0, "loss"), win(0, "")}, 2000, 0},
		{"loss replayed", []step{loss(0, "loss"), loss(1, "")}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := newNoticeFixture(t)
			n := fx.bid(t, "user-1")
			before := fx.spent(t)
			for i, st := range tc.steps {
				h, price, status := fx.h, "1.80", fasthttp.StatusNoContent
				if st.at == 1 {
					h = fx.h2
				}
				switch st.kind {
				case KindLoss:
					price = "102"
				case KindImp:
					status = fasthttp.StatusOK
				}
				from := len(fx.rec.log)
				if got := fx.getAt(h, st.kind, &n, price).Response.StatusCode(); got != status {
					t.Fatalf("step %d (%s at %d): status %d", i, st.kind, st.at, got)
				}
				if got := strings.Join(fx.rec.log[from:], "+"); got != st.want {
					t.Fatalf("step %d (%s at %d) reported %q, want %q", i, st.kind, st.at, got, st.want)
				}
			}
			f := fx.spent(t)
			// Settled or released, the reservation leaves the lease once.
			if f.SpentToday != tc.spent || f.LateToday != tc.late || f.LeasedToday != before.LeasedToday-4000 {
				t.Fatalf("figures %+v, want spent %s, late %s, leased %s", f, tc.spent, tc.late, before.LeasedToday-4000)
			}
			wantFreq := 0
			if tc.spent > 0 {
				wantFreq = 1
			}
			if len(fx.freq.calls) != wantFreq {
				t.Fatalf("frequency counted %d times, want %d", len(fx.freq.calls), wantFreq)
			}
		})
	}
}

func TestNoticeRejections(t *testing.T) {
	fx := newNoticeFixture(t)
	n := fx.bid(t, "user-1")
	good := string(fx.s.AppendNoticeURL(nil, KindWin, "http://kairos.test", &n))
	f := func(name, u string, want int) {
		t.Helper()
		if got := fx.do(u).Response.StatusCode(); got != want {
			t.Fatalf("%s: status %d, want %d", name, got, want)
		}
	}
	f("forged price", strings.Replace(good, "&p=3600000", "&p=9600000", 1), fasthttp.StatusForbidden)
	f("forged kind", strings.Replace(good, "/notice/win", "/notice/loss", 1), fasthttp.StatusForbidden)
	f("malformed", "http://kairos.test/notice/win?b=x", fasthttp.StatusBadRequest)
	f("unknown kind", "http://kairos.test/notice/nope?b=x", fasthttp.StatusNotFound)
	fx.clk.Set(t0.Add(7 * time.Hour))
	f("expired", good, fasthttp.StatusGone)
	if f := fx.spent(t); f.SpentToday != 0 || len(fx.freq.calls) != 0 || len(fx.rec.wins) != 0 {
		t.Fatalf("rejected notices had an effect: %+v %v", f, fx.freq.calls)
	}
}

func TestClearingPriceAboveBidIsCapped(t *testing.T) {
	fx := newNoticeFixture(t)
	n := fx.bid(t, "")
	fx.get(KindWin, &n, "9.99")
	if f := fx.spent(t); f.SpentToday != 4000 {
		t.Fatalf("spent %s, want the reservation 0.004", f.SpentToday)
	}
	n2 := fx.bid(t, "")
	fx.get(KindWin, &n2, MacroAuctionPrice) // not substituted: settled at the bid
	if f := fx.spent(t); f.SpentToday != 8000 {
		t.Fatalf("spent %s, want 0.008", f.SpentToday)
	}
}

func TestLossAndLateNotices(t *testing.T) {
	fx := newNoticeFixture(t)
	n := fx.bid(t, "")
	before := fx.spent(t).LeasedToday
	if ctx := fx.get(KindLoss, &n, "102"); ctx.Response.StatusCode() != fasthttp.StatusNoContent {
		t.Fatalf("loss status %d", ctx.Response.StatusCode())
	}
	fx.get(KindLoss, &n, "102") // replay
	if after := fx.spent(t).LeasedToday; after != before-4000 {
		t.Fatalf("leased %s after loss, was %s", after, before)
	}
	if len(fx.rec.losses) != 1 || fx.rec.losses[0] != 102 {
		t.Fatalf("losses %v", fx.rec.losses)
	}
	// A win after the window still settles, counted as late.
	n2 := fx.bid(t, "")
	fx.clk.Set(t0.Add(11 * time.Minute))
	fx.get(KindWin, &n2, "3.60")
	if f := fx.spent(t); f.SpentToday != 4000 || f.LateToday != 4000 {
		t.Fatalf("late figures %+v", f)
	}
	if len(fx.rec.wins) != 1 || fx.rec.wins[0] != "win 0.004 late" {
		t.Fatalf("wins %v", fx.rec.wins)
	}
}

// TestLossMinToWin: the ${AUCTION_MIN_TO_WIN} of a loss notice reaches the
// recorder per impression in the campaign currency, at the bid's exchange
// rate; absent, unsubstituted or unreadable it is 0.
func TestLossMinToWin(t *testing.T) {
	fx := newNoticeFixture(t)
	f := func(minToWin string, want money.Micros) {
		t.Helper()
		n := fx.bid(t, "") // reserves 4.00 CPM (4000 per impression) for a bid of 3.60 EUR
		u := string(fx.s.AppendNoticeURL(nil, KindLoss, "http://kairos.test", &n))
		u = strings.Replace(u, MacroAuctionLoss, "102", 1)
		switch minToWin {
		case "absent":
			u = strings.Replace(u, "&price="+MacroAuctionMinToWin, "", 1)
		default:
			u = strings.Replace(u, MacroAuctionMinToWin, minToWin, 1)
		}
		if ctx := fx.do(u); ctx.Response.StatusCode() != fasthttp.StatusNoContent {
			t.Fatalf("min to win %q: status %d", minToWin, ctx.Response.StatusCode())
		}
		if got := fx.rec.minWin[len(fx.rec.minWin)-1]; got != want {
			t.Fatalf("min to win %q: recorded %s, want %s", minToWin, got, want)
		}
	}
	f("4.50", 5000) // 4000 × 4.50 / 3.60
	f("1.80", 2000)
	f("absent", 0)
	f(MacroAuctionMinToWin, 0)
	f("n/a", 0)
	f("-1", 0)
	// A price too far above the bid for the result to fit is dropped.
	for _, v := range []money.Micros{2, 3} {
		if got := atBidRate(math.MaxInt64, 1, v); got != 0 {
			t.Fatalf("overflowing conversion × %d: %d, want 0", v, got)
		}
	}
}

func TestClickRedirectsToCampaignLanding(t *testing.T) {
	fx := newNoticeFixture(t)
	n := fx.bid(t, "")
	ctx := fx.get(KindClick, &n, "")
	if ctx.Response.StatusCode() != fasthttp.StatusFound ||
		string(ctx.Response.Header.Peek("Location")) != "https://acme.example/landing" || fx.rec.clicks != 1 {
		t.Fatalf("click: %d %q clicks %d", ctx.Response.StatusCode(), ctx.Response.Header.Peek("Location"), fx.rec.clicks)
	}
	n.CreativeID = "nope"
	if ctx := fx.get(KindClick, &n, ""); ctx.Response.StatusCode() != fasthttp.StatusNotFound {
		t.Fatalf("unknown creative: %d", ctx.Response.StatusCode())
	}
}
