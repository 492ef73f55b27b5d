package pacing

import (
	"context"
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

type fakeRecorder struct {
	mu     sync.Mutex
	wins   []string
	losses []int
	clicks int
}

func (r *fakeRecorder) Win(n *Notice, clearing money.Micros, late bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wins = append(r.wins, n.Kind.String()+" "+clearing.String()+map[bool]string{true: " late", false: ""}[late])
}

func (r *fakeRecorder) Loss(_ *Notice, reason int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.losses = append(r.losses, reason)
}

func (r *fakeRecorder) Click(*Notice) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clicks++
}

type noticeFixture struct {
	p      *Pacer
	h      *Notices
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
	var err error
	fx.h, err = NewNotices(NoticesConfig{}, NoticesDeps{Signer: fx.s, Ledger: fx.p.Ledger(), Campaigns: fx.src,
		Clock: fx.clk, Frequency: fx.freq, Recorder: fx.rec})
	if err != nil {
		t.Fatal(err)
	}
	fx.h.Start()
	t.Cleanup(func() { fx.h.Stop(context.Background()) })
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
	u := string(fx.s.AppendNoticeURL(nil, kind, "http://kairos.test", n))
	u = strings.Replace(u, MacroAuctionPrice, price, 1)
	u = strings.Replace(u, MacroAuctionLoss, price, 1)
	return fx.do(u)
}

func (fx *noticeFixture) do(u string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetRequestURI(u)
	fx.h.Handler(ctx)
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
	if len(fx.rec.wins) != 1 || fx.rec.wins[0] != "win 0.002" {
		t.Fatalf("recorded wins %v", fx.rec.wins)
	}
	// A second bid for the same user is a second impression.
	n2 := fx.bid(t, "user-1")
	fx.get(KindBill, &n2, "3.60")
	if len(fx.freq.calls) != 2 {
		t.Fatalf("frequency calls %d, want 2", len(fx.freq.calls))
	}
	// A bid without a user key (no consent) does not count frequency.
	n3 := fx.bid(t, "")
	fx.get(KindWin, &n3, "3.60")
	if len(fx.freq.calls) != 2 {
		t.Fatalf("frequency calls %d without a user key", len(fx.freq.calls))
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
