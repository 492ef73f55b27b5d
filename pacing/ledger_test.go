package pacing

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func TestLeaseScriptGrantsWithinBudget(t *testing.T) {
	rdb, keys := testRedis(t)
	l := NewLedger(rdb, keys)
	ctx := context.Background()
	a := leaseArgs{campaign: "c1", holder: "a", day: "2026-11-02", want: 600, daily: 1000, total: 1500,
		now: t0, ttl: 30 * time.Second, grace: time.Minute}
	f := func(holder string, want, wantGrant money.Micros) leaseResult {
		t.Helper()
		a.holder, a.want = holder, want
		r, err := l.lease(ctx, &a)
		if err != nil {
			t.Fatal(err)
		}
		if r.grant != wantGrant {
			t.Fatalf("lease %s want %d: granted %d, want %d", holder, want, r.grant, wantGrant)
		}
		return r
	}
	f("a", 600, 600)
	f("b", 600, 400) // daily budget caps
	r := f("c", 600, 0)
	if r.fig.LeasedToday != 1000 || r.fig.LeasedTotal != 1000 || r.fig.Init == "" {
		t.Fatalf("figures %+v", r.fig)
	}
	// The next day is capped by what is left of the total.
	a.day = "2026-11-03"
	f("a", 900, 500)
	if got := leaseField(t, rdb, l, "c1", "2026-11-02", "a"); got != 600 {
		t.Fatalf("day-1 lease of a = %d, want 600", got)
	}
	// Unlease gives back at most what the lease holds.
	n, err := l.unlease(ctx, "c1", "a", "2026-11-02", 10_000)
	if err != nil || n != 600 {
		t.Fatalf("unlease = %d, %v", n, err)
	}
	fig := figures(t, l, "c1", "2026-11-02")
	if fig.LeasedToday != 400 || fig.LeasedTotal != 900 {
		t.Fatalf("after unlease %+v", fig)
	}
}

func TestSettleLossRelease(t *testing.T) {
	rdb, keys := testRedis(t)
	l := NewLedger(rdb, keys)
	ctx := context.Background()
	day := "2026-11-02"
	a := leaseArgs{campaign: "c1", holder: "a", day: day, want: 10_000, daily: 100_000, total: 100_000,
		now: t0, ttl: 30 * time.Second, grace: time.Minute}
	if _, err := l.lease(ctx, &a); err != nil {
		t.Fatal(err)
	}
	wend := t0.Add(10 * time.Minute)
	exp := t0.Add(time.Hour)
	s := func(seq uint64, clearing money.Micros) *Settlement {
		return &Settlement{CampaignID: "c1", Holder: "a", Seq: seq, Day: day, Reserved: 1000, Clearing: clearing, WindowEnd: wend, Expiry: exp}
	}
	settle := func(seq uint64, clearing money.Micros, now time.Time, want Outcome) {
		t.Helper()
		got, err := l.Settle(ctx, s(seq, clearing), now)
		if err != nil || got != want {
			t.Fatalf("settle %d: %v, %v; want %v", seq, got, err, want)
		}
	}
	bill := func(seq uint64, want Outcome) {
		t.Helper()
		b := s(seq, 700)
		b.Kind = KindBill
		got, err := l.Settle(ctx, b, t0)
		if err != nil || got != want {
			t.Fatalf("bill %d: %v, %v; want %v", seq, got, err, want)
		}
	}
	loss := func(seq uint64, now time.Time, want Outcome) {
		t.Helper()
		got, err := l.Loss(ctx, s(seq, 0), now, time.Minute)
		if err != nil || got != want {
			t.Fatalf("loss %d: %v, %v; want %v", seq, got, err, want)
		}
	}
	check := func(lease, spent, leased, late int64) {
		t.Helper()
		fig := figures(t, l, "c1", day)
		if got := leaseField(t, rdb, l, "c1", day, "a"); got != lease || int64(fig.SpentToday) != spent ||
			int64(fig.LeasedToday) != leased || int64(fig.LateToday) != late || fig.SpentTotal != fig.SpentToday {
			t.Fatalf("lease %d, figures %+v; want lease %d spent %d leased %d late %d", got, fig, lease, spent, leased, late)
		}
	}
	// Settled in window: spend at clearing (capped at the reservation), the
	// whole reservation leaves the lease.
	settle(1, 700, t0, OutcomeSettled)
	check(9000, 700, 9000, 0)
	settle(1, 700, t0, OutcomeDuplicate) // replay
	check(9000, 700, 9000, 0)
	// The billing notice and a loss after the win are counted once each and
	// change nothing: the bid is settled, its reservation gone from the lease.
	bill(1, OutcomeCounted)
	bill(1, OutcomeDuplicate)
	loss(1, t0, OutcomeCounted)
	loss(1, t0, OutcomeDuplicate)
	settle(1, 700, t0, OutcomeDuplicate)
	check(9000, 700, 9000, 0)
	settle(2, 5000, t0, OutcomeSettled) // above the reservation: capped
	check(8000, 1700, 8000, 0)
	// A loss in window releases; a win after it is late; replays do nothing.
	loss(3, t0, OutcomeReleased)
	check(7000, 1700, 7000, 0)
	loss(3, t0, OutcomeDuplicate)
	settle(3, 400, t0, OutcomeLate)
	check(7000, 2100, 7000, 400)
	settle(3, 400, t0, OutcomeDuplicate)
	// After the window: late, and the lease keeps the reservation until the
	// owner's sweep releases it.
	settle(4, 500, wend, OutcomeLate)
	check(7000, 2600, 7000, 900)
	loss(5, wend.Add(time.Second), OutcomeLossLate)
	// The sweep releases what no in-window notice took off the lease: 4 (late),
	// 5 (late loss) and 6 (no notice), not 1, 2 (settled) or 3 (lost in window).
	n, err := l.release(ctx, &releaseBatch{campaign: "c1", holder: "a", day: day, maxSeq: 6,
		seqs: []uint64{1, 2, 3, 4, 5, 6}, amounts: []money.Micros{1000, 1000, 1000, 1000, 1000, 1000}})
	if err != nil || n != 3000 {
		t.Fatalf("release = %d, %v; want 3000", n, err)
	}
	check(4000, 2600, 4000, 900)
	// Below the watermark a notice is late even inside its window.
	settle(6, 100, t0, OutcomeLate)
	loss(7, t0, OutcomeReleased)
	settle(8, 100, t0, OutcomeSettled)
	check(2000, 2700+100, 2000, 1000)
	// A marker written before kinds were recorded reads as one notice of the
	// kind that made it.
	rdb.Set(ctx, l.noticeKey("c1", "a", 9), "s", time.Hour)
	settle(9, 100, t0, OutcomeDuplicate)
	bill(9, OutcomeCounted)
	rdb.Set(ctx, l.noticeKey("c1", "a", 10), "r", time.Hour)
	loss(10, t0, OutcomeDuplicate)
	check(2000, 2800, 2000, 1000)
}

func TestLeaseReclaimAndLoss(t *testing.T) {
	rdb, keys := testRedis(t)
	l := NewLedger(rdb, keys)
	ctx := context.Background()
	day := "2026-11-02"
	a := leaseArgs{campaign: "c1", holder: "dead", day: day, want: 3000, daily: 5000, total: 5000,
		now: t0, ttl: 30 * time.Second, grace: time.Minute}
	if _, err := l.lease(ctx, &a); err != nil {
		t.Fatal(err)
	}
	// Before expiry + grace nothing is reclaimed.
	a.holder, a.want, a.now = "live", 5000, t0.Add(89*time.Second)
	r, err := l.lease(ctx, &a)
	if err != nil || r.grant != 2000 || r.reclaimed != 0 {
		t.Fatalf("early lease: %+v, %v", r, err)
	}
	// After it the dead holder's lease returns to the budget.
	a.want, a.now = 5000, t0.Add(91*time.Second)
	r, err = l.lease(ctx, &a)
	if err != nil || r.reclaimed != 3000 || r.grant != 3000 {
		t.Fatalf("lease after expiry: %+v, %v", r, err)
	}
	if got := leaseField(t, rdb, l, "c1", day, "dead"); got != -1 {
		t.Fatalf("dead lease still there: %d", got)
	}
	// A notice of the dead holder's bid still counts, late.
	got, err := l.Settle(ctx, &Settlement{CampaignID: "c1", Holder: "dead", Seq: 1, Day: day, Reserved: 100,
		Clearing: 100, WindowEnd: a.now.Add(time.Minute), Expiry: a.now.Add(time.Hour)}, a.now)
	if err != nil || got != OutcomeLate {
		t.Fatalf("settle of reclaimed bid: %v, %v", got, err)
	}
	// The dead holder coming back learns its lease is gone.
	a.holder, a.had = "dead", true
	if _, err := l.lease(ctx, &a); !errors.Is(err, errReclaimed) {
		t.Fatalf("lease of reclaimed holder: %v, want errReclaimed", err)
	}
	fig := figures(t, l, "c1", day)
	if fig.LeasedToday != 5000 || fig.SpentToday != 100 || fig.LateToday != 100 {
		t.Fatalf("figures %+v", fig)
	}
}

func TestLeaseDetectsLostLedger(t *testing.T) {
	rdb, keys := testRedis(t)
	l := NewLedger(rdb, keys)
	ctx := context.Background()
	a := leaseArgs{campaign: "c1", holder: "a", day: "2026-11-02", want: 100, daily: 5000, total: 5000,
		now: t0, ttl: 30 * time.Second, grace: time.Minute}
	r, err := l.lease(ctx, &a)
	if err != nil {
		t.Fatal(err)
	}
	a.expectInit = r.fig.Init
	if _, err := l.lease(ctx, &a); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, l.keys("c1")...)
	if _, err := l.lease(ctx, &a); !errors.Is(err, ErrLedgerLost) {
		t.Fatalf("lease after keys vanished: %v, want ErrLedgerLost", err)
	}
	if n, _ := rdb.Exists(ctx, l.keys("c1")[0]).Result(); n != 0 {
		t.Fatal("a lost ledger must not be recreated by a lease")
	}
	if err := l.Restore(ctx, "c1", "2026-11-02", 700, 900, t0); err != nil {
		t.Fatal(err)
	}
	a.expectInit = ""
	r, err = l.lease(ctx, &a)
	if err != nil || r.fig.SpentToday != 700 || r.grant != 100 {
		t.Fatalf("lease after restore: %+v, %v", r, err)
	}
}
