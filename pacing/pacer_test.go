package pacing

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
)

func TestReserveLeasesOnDemand(t *testing.T) {
	p, c, _, _ := asapRig(t, 100*money.Unit, 1000*money.Unit)
	ctx := context.Background()

	if _, why := p.Reserve(c, 2*money.Unit, t0); why != ReasonNoLease {
		t.Fatalf("first reserve: %v, want no_lease", why)
	}
	p.maintain(ctx, t0)
	st, _ := p.State("c1")
	// No rate observed yet: the minimum lease, ten impressions at max CPM.
	if st.LocalBalance != 80_000 || st.Reserved != 80_000 {
		t.Fatalf("after first lease: %+v", st)
	}
	r, why := p.Reserve(c, 2*money.Unit, t0)
	if why != ReasonNone || r.Amount != 2000 || r.Seq != 1 {
		t.Fatalf("reserve: %+v %v", r, why)
	}
	var n Notice
	r.Fill(&n)
	if n.Holder != "i1" || n.CampaignID != "c1" || n.Day != "2026-11-02" || n.Reserved != 2000 ||
		n.WindowEnd != t0.Add(10*time.Minute).Unix() || n.Expiry != t0.Add(6*time.Hour).Unix() {
		t.Fatalf("notice %+v", n)
	}
	if got := string(r.AppendBidID(nil)); got != "i1.1" {
		t.Fatalf("bid id %q", got)
	}
	if !p.Cancel(&r) || p.Cancel(&r) {
		t.Fatal("cancel must succeed exactly once")
	}
	if st, _ := p.State("c1"); st.LocalBalance != 80_000 || st.LocalOutstanding != 0 {
		t.Fatalf("after cancel: %+v", st)
	}
	if _, why := p.Reserve(c, 1, t0); why != ReasonPrice {
		t.Fatalf("sub-micro price: %v", why)
	}
}

func TestLeaseFollowsRate(t *testing.T) {
	rdb, keys := testRedis(t)
	clk := NewManualClock(t0)
	src := newIndex(t0, testCampaign("big", "UTC", "asap", 10_000*money.Unit, 100_000*money.Unit),
		testCampaign("small", "UTC", "asap", 1*money.Unit, 100*money.Unit))
	p := testPacer(t, rdb, keys, src, clk, Config{Instance: "i1", ExpectedInstances: 2})
	ctx := context.Background()
	big, small := src.get(t, "big"), src.get(t, "small")
	now := t0
	calls := 0
	// 1000 bids per second at 4.00 CPM = 4.00 per second.
	for sec := 0; sec < 20; sec++ {
		for i := 0; i < 1000; i++ {
			if _, why := p.Reserve(big, 4*money.Unit, now.Add(time.Duration(i)*time.Millisecond)); why != ReasonNone {
				calls++
				p.maintain(ctx, now.Add(time.Duration(i)*time.Millisecond))
			}
		}
		now = now.Add(time.Second)
		p.maintain(ctx, now)
	}
	st, _ := p.State("big")
	// A lease is about RefillHorizon (5s) of spend: 20 units, topped up at half.
	if st.LocalBalance < 8*money.Unit || st.LocalBalance > 25*money.Unit {
		t.Fatalf("big campaign balance %s after 20s at 4.00/s, want ≈ 10-20", st.LocalBalance)
	}
	t.Logf("%d refills asked by the bid path for 20000 bids", calls)
	if calls > 40 {
		t.Fatalf("%d refills on the bid path for 20000 bids", calls)
	}
	// A small budget is never leased whole to one instance: at most the
	// unleased rest / (2 × ExpectedInstances) per lease.
	p.Reserve(small, 4*money.Unit, now)
	p.maintain(ctx, now)
	if st, _ := p.State("small"); st.LocalBalance > money.Unit/4 || st.LocalBalance <= 0 {
		t.Fatalf("small campaign leased %s of 1.00", st.LocalBalance)
	}
}

// TestInstancesNeverOverspend runs several instances (each with several
// bidding goroutines) against one budget with random wins, losses, silent
// bids and wins notified after their window: in-window spend + leased never
// exceeds the daily budget, spend exceeds it by at most the late spend, and
// the budget is used.
func TestInstancesNeverOverspend(t *testing.T) {
	rdb, keys := testRedis(t)
	clk := NewManualClock(t0)
	daily := 5 * money.Unit
	src := newIndex(t0, testCampaign("c1", "Europe/Berlin", "asap", daily, 10*daily))
	cfg := Config{ReserveWindow: 20 * time.Second, SweepLag: time.Second, Grace: 30 * time.Second, ExpectedInstances: 3}
	const instances, workers = 3, 4
	ps := make([]*Pacer, instances)
	for i := range ps {
		cfg.Instance = string(rune('a' + i))
		ps[i] = testPacer(t, rdb, keys, src, clk, cfg)
	}
	l := ps[0].Ledger()
	c := src.get(t, "c1")
	day, _, _ := dayOf(t0, c.Loc)
	ctx := context.Background()
	now := t0
	var mu sync.Mutex
	var delayed []Settlement
	var lateSum money.Micros
	for step := 0; step < 120; step++ {
		// Wins notified after their window settle late.
		keep := delayed[:0]
		for _, s := range delayed {
			if now.Before(s.WindowEnd.Add(2 * time.Second)) {
				keep = append(keep, s)
				continue
			}
			if out, err := l.Settle(ctx, &s, now); err != nil || out != OutcomeLate {
				t.Fatalf("delayed settle: %v %v", out, err)
			}
			lateSum += min(s.Clearing, s.Reserved)
		}
		delayed = keep
		var wg sync.WaitGroup
		for i, p := range ps {
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(p *Pacer, seed uint64) {
					defer wg.Done()
					rnd := rand.New(rand.NewPCG(seed, 7))
					for b := 0; b < 25; b++ {
						cpm := money.Micros(1+rnd.IntN(8)) * money.Unit
						r, why := p.Reserve(c, cpm, now)
						if why != ReasonNone {
							continue
						}
						var n Notice
						r.Fill(&n)
						s := Settlement{CampaignID: n.CampaignID, Holder: n.Holder, Seq: n.Seq, Day: n.Day, Reserved: n.Reserved,
							Clearing: r.Amount * money.Micros(50+rnd.IntN(60)) / 100, WindowEnd: time.Unix(n.WindowEnd, 0), Expiry: time.Unix(n.Expiry, 0)}
						var out Outcome
						var err error
						switch x := rnd.IntN(10); {
						case x < 3:
							out, err = l.Settle(ctx, &s, now)
						case x == 3:
							mu.Lock()
							delayed = append(delayed, s)
							mu.Unlock()
						case x < 7:
							_, err = l.Loss(ctx, &s, now, cfg.Grace)
						default: // silent: released by the sweep
						}
						if err != nil {
							t.Error(err)
						}
						if out == OutcomeLate {
							t.Errorf("in-window settlement came out late")
						}
					}
				}(p, uint64(step*100+i*10+w))
			}
		}
		wg.Wait()
		for _, p := range ps {
			p.maintain(ctx, now)
		}
		f := figures(t, l, "c1", day)
		if f.SpentToday-f.LateToday+f.LeasedToday > daily || f.SpentToday < 0 || f.LeasedToday < 0 {
			t.Fatalf("step %d: in-window spent %s + leased %s exceeds daily %s", step, f.SpentToday-f.LateToday, f.LeasedToday, daily)
		}
		if f.LateToday != lateSum {
			t.Fatalf("late %s, want %s", f.LateToday, lateSum)
		}
		now = now.Add(time.Second)
	}
	// Let every window pass, sweep, stop: nothing stays leased.
	now = now.Add(25 * time.Second)
	for _, p := range ps {
		p.maintain(ctx, now)
		clk.Set(now)
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f := figures(t, l, "c1", day)
	t.Logf("daily %s: spent %s of which late %s, leased %s", daily, f.SpentToday, f.LateToday, f.LeasedToday)
	if f.LeasedToday != 0 {
		t.Log(rdb.HGetAll(ctx, l.keys("c1")[1]).Val())
		for _, p := range ps {
			st := p.lookup("c1")
			t.Logf("%s: %+v out %d q %d", p.instance, p.stateOf(st), st.outstanding.Load(), len(st.q)-st.head)
		}
	}
	if f.LeasedToday != 0 || f.SpentToday > daily+f.LateToday || f.SpentToday < daily*8/10 {
		t.Fatalf("final figures %+v, daily %s", f, daily)
	}
}

func TestKilledInstanceLeaseIsReclaimed(t *testing.T) {
	rdb, keys := testRedis(t)
	clk := NewManualClock(t0)
	src := newIndex(t0, testCampaign("c1", "UTC", "asap", 1*money.Unit, 10*money.Unit))
	cfg := Config{ReserveWindow: time.Minute, LeaseTTL: 30 * time.Second, Grace: 2 * time.Minute}
	cfg.Instance = "dead"
	dead := testPacer(t, rdb, keys, src, clk, cfg)
	cfg.Instance = "live"
	live := testPacer(t, rdb, keys, src, clk, cfg)
	c := src.get(t, "c1")
	ctx := context.Background()
	dead.Reserve(c, 8*money.Unit, t0)
	dead.maintain(ctx, t0)
	r, why := dead.Reserve(c, 8*money.Unit, t0)
	if why != ReasonNone {
		t.Fatal(why)
	}
	// The dead instance vanishes without Stop, holding a lease and a bid.
	held := leaseField(t, rdb, dead.Ledger(), "c1", "2026-11-02", "dead")
	if held <= 0 {
		t.Fatalf("dead lease %d", held)
	}
	// Its bid wins inside the window: settled against its lease.
	var n Notice
	r.Fill(&n)
	out, err := live.Ledger().Settle(ctx, &Settlement{CampaignID: "c1", Holder: n.Holder, Seq: n.Seq, Day: n.Day,
		Reserved: n.Reserved, Clearing: 5000, WindowEnd: time.Unix(n.WindowEnd, 0), Expiry: time.Unix(n.Expiry, 0)}, t0.Add(time.Second))
	if err != nil || out != OutcomeSettled {
		t.Fatalf("settle: %v %v", out, err)
	}
	// Until LeaseTTL + Grace has passed the lease stays; then it returns.
	for _, d := range []time.Duration{time.Minute, 2*time.Minute + 20*time.Second, 2*time.Minute + 40*time.Second} {
		now := t0.Add(d)
		live.Reserve(c, 8*money.Unit, now)
		live.maintain(ctx, now)
		got := leaseField(t, rdb, live.Ledger(), "c1", "2026-11-02", "dead")
		if want := held - 8000; d < 150*time.Second && got != want {
			t.Fatalf("at +%s dead lease %d, want %d", d, got, want)
		} else if d > 150*time.Second && got != -1 {
			t.Fatalf("at +%s dead lease %d, want reclaimed", d, got)
		}
	}
	f := figures(t, live.Ledger(), "c1", "2026-11-02")
	if own := leaseField(t, rdb, live.Ledger(), "c1", "2026-11-02", "live"); f.LeasedToday != money.Micros(own) || f.SpentToday != 5000 {
		t.Fatalf("figures %+v, live lease %d", f, own)
	}
}

func TestDayRolloverInCampaignZone(t *testing.T) {
	rdb, keys := testRedis(t)
	// 23:59:50 in Kolkata (UTC+5:30) is 18:29:50 UTC.
	kol, _ := time.LoadLocation("Asia/Kolkata")
	before := time.Date(2026, 11, 2, 23, 59, 50, 0, kol)
	after := before.Add(20 * time.Second)
	clk := NewManualClock(before)
	src := newIndex(before, testCampaign("c1", "Asia/Kolkata", "asap", 1*money.Unit, 10*money.Unit))
	p := testPacer(t, rdb, keys, src, clk, Config{Instance: "i1"})
	c := src.get(t, "c1")
	ctx := context.Background()
	l := p.Ledger()

	p.Reserve(c, 4*money.Unit, before)
	p.maintain(ctx, before)
	r1, why := p.Reserve(c, 4*money.Unit, before)
	if why != ReasonNone {
		t.Fatal(why)
	}
	// After local midnight the next bid needs the new day's lease.
	if _, why := p.Reserve(c, 4*money.Unit, after); why != ReasonNoLease {
		t.Fatalf("first bid of the new day: %v", why)
	}
	p.maintain(ctx, after)
	r2, why := p.Reserve(c, 4*money.Unit, after)
	if why != ReasonNone {
		t.Fatal(why)
	}
	var n1, n2 Notice
	r1.Fill(&n1)
	r2.Fill(&n2)
	if n1.Day != "2026-11-02" || n2.Day != "2026-11-03" {
		t.Fatalf("days %s, %s", n1.Day, n2.Day)
	}
	// Yesterday's lease keeps only its outstanding reservation.
	if got := leaseField(t, rdb, l, "c1", "2026-11-02", "i1"); got != 4000 {
		t.Fatalf("yesterday's lease %d, want 4000", got)
	}
	// Yesterday's bid, won after midnight, books to yesterday.
	for _, n := range []*Notice{&n1, &n2} {
		if _, err := l.Settle(ctx, &Settlement{CampaignID: "c1", Holder: n.Holder, Seq: n.Seq, Day: n.Day, Reserved: n.Reserved,
			Clearing: 3000, WindowEnd: time.Unix(n.WindowEnd, 0), Expiry: time.Unix(n.Expiry, 0)}, after); err != nil {
			t.Fatal(err)
		}
	}
	f1, f2 := figures(t, l, "c1", "2026-11-02"), figures(t, l, "c1", "2026-11-03")
	if f1.SpentToday != 3000 || f1.LeasedToday != 0 || f2.SpentToday != 3000 || f1.SpentTotal != 6000 {
		t.Fatalf("day figures %+v / %+v", f1, f2)
	}
}

func TestStopReturnsUnusedLease(t *testing.T) {
	p, c, _, _ := asapRig(t, 1*money.Unit, 10*money.Unit)
	ctx := context.Background()
	p.Reserve(c, 4*money.Unit, t0)
	p.maintain(ctx, t0)
	if _, why := p.Reserve(c, 4*money.Unit, t0); why != ReasonNone {
		t.Fatal(why)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The outstanding reservation stays leased: its win may still come.
	if f := figures(t, p.Ledger(), "c1", "2026-11-02"); f.LeasedToday != 4000 {
		t.Fatalf("after stop leased %s, want 0.004", f.LeasedToday)
	}
	if _, why := p.Reserve(c, 4*money.Unit, t0); why != ReasonStopped {
		t.Fatalf("reserve after stop: %v", why)
	}
}

func TestLostLedgerStopsBidding(t *testing.T) {
	p, c, _, rdb := asapRig(t, 1*money.Unit, 10*money.Unit)
	ctx := context.Background()
	p.Reserve(c, 4*money.Unit, t0)
	p.maintain(ctx, t0)
	if _, why := p.Reserve(c, 4*money.Unit, t0); why != ReasonNone {
		t.Fatal(why)
	}
	// Redis restarts empty.
	rdb.Del(ctx, p.Ledger().keys("c1")...)
	p.Tick(ctx, t0.Add(time.Second))
	if _, why := p.Reserve(c, 4*money.Unit, t0.Add(time.Second)); why != ReasonLedgerLost {
		t.Fatalf("reserve after ledger loss: %v", why)
	}
	if st, _ := p.State("c1"); !st.LedgerLost {
		t.Fatal("state does not show the lost ledger")
	}
	if p.Allow(c, 0) {
		t.Fatal("Allow on a lost ledger")
	}
	// The loss is not undone by the next lease, which must not recreate it.
	p.maintain(ctx, t0.Add(time.Second))
	if st, _ := p.State("c1"); !st.LedgerLost {
		t.Fatal("a lease cleared the lost state")
	}
	// The check for restored ledgers finds nothing to resume yet.
	p.checkRestored(ctx, t0.Add(time.Second))
	if st, _ := p.State("c1"); !st.LedgerLost {
		t.Fatal("the restore check cleared the lost state before any restore")
	}
	// An operator restores the figures; the restore check (every second, not
	// the 5s controller tick) resumes bidding.
	if err := p.Ledger().Restore(ctx, "c1", "2026-11-02", 4000, 4000, t0); err != nil {
		t.Fatal(err)
	}
	p.checkRestored(ctx, t0.Add(2*time.Second))
	if st, _ := p.State("c1"); st.LedgerLost {
		t.Fatalf("the restore check did not notice the restore: %+v", st)
	}
	p.Tick(ctx, t0.Add(2*time.Second))
	if st, _ := p.State("c1"); st.LedgerLost || st.SpentToday != 4000 {
		t.Fatalf("after restore: %+v", st)
	}
	now := t0.Add(2 * time.Second)
	p.Reserve(c, 4*money.Unit, now)
	p.maintain(ctx, now)
	if _, why := p.Reserve(c, 4*money.Unit, now); why != ReasonNone {
		t.Fatalf("reserve after restore: %v", why)
	}
}

func TestStartStop(t *testing.T) {
	rdb, keys := testRedis(t)
	src := newIndex(time.Now(), testCampaign("c1", "UTC", "asap", 1*money.Unit, 10*money.Unit))
	p := testPacer(t, rdb, keys, src, SystemClock{}, Config{Instance: "i1"})
	c := src.get(t, "c1")
	ctx := context.Background()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Start leases for every active campaign (Warm), so the very first bid
	// finds budget.
	if _, why := p.Reserve(c, 4*money.Unit, time.Now()); why != ReasonNone {
		t.Fatalf("first reserve after Start: %s, want a lease already taken", why)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	day, _, _ := dayOf(time.Now(), time.UTC)
	if f := figures(t, p.Ledger(), "c1", day); f.LeasedToday != 4000 {
		t.Fatalf("leased after stop %s, want the one reservation", f.LeasedToday)
	}
}

// TestRestoreBeforeLossNoticed: an operator may restore a ledger before an
// instance noticed it was lost (or restore one that never was): the instance
// finds a restore newer than what it leased from and bids on, instead of
// stopping for good. A restore older than its incarnation (an old snapshot)
// is no restore of the loss.
func TestRestoreBeforeLossNoticed(t *testing.T) {
	p, c, clk, rdb := asapRig(t, 1*money.Unit, 10*money.Unit)
	ctx := context.Background()
	lease := func(now time.Time) Reason {
		p.Reserve(c, 4*money.Unit, now)
		p.maintain(ctx, now)
		_, why := p.Reserve(c, 4*money.Unit, now)
		return why
	}
	if why := lease(t0); why != ReasonNone {
		t.Fatal(why)
	}

	// A healthy ledger restored (nothing was lost): bidding goes on.
	clk.Advance(time.Second)
	if err := p.Ledger().Restore(ctx, "c1", "2026-11-02", 8000, 8000, clk.Now()); err != nil {
		t.Fatal(err)
	}
	p.Tick(ctx, clk.Now())
	if st, _ := p.State("c1"); st.LedgerLost {
		t.Fatalf("a restore of a healthy ledger stopped the campaign: %+v", st)
	}
	if why := lease(clk.Now()); why != ReasonNone {
		t.Fatalf("reserve after restoring a healthy ledger: %v", why)
	}

	// Lost and restored before this instance looked: found at the next lease.
	rdb.Del(ctx, p.Ledger().keys("c1")...)
	clk.Advance(time.Second)
	if err := p.Ledger().Restore(ctx, "c1", "2026-11-02", 12000, 12000, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if why := lease(clk.Now()); why != ReasonNone {
		// The first lease found the restore and retired the old lease; the
		// next one adopts the restored ledger.
		if why = lease(clk.Now()); why != ReasonNone {
			t.Fatalf("reserve after a restore the instance had not seen the loss for: %v", why)
		}
	}
	if st, _ := p.State("c1"); st.LedgerLost {
		t.Fatalf("lost after the restore: %+v", st)
	}

	// Redis comes back with an old snapshot whose restore predates the
	// ledger this instance leases from: lost, until restored anew.
	rdb.Del(ctx, p.Ledger().keys("c1")...)
	if err := p.Ledger().Restore(ctx, "c1", "2026-11-02", 4000, 4000, t0); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	p.Tick(ctx, clk.Now())
	if _, why := p.Reserve(c, 4*money.Unit, clk.Now()); why != ReasonLedgerLost {
		t.Fatalf("reserve on an old snapshot's restore: %v, want ledger_lost", why)
	}
}

func TestRestoredAfter(t *testing.T) {
	for _, c := range []struct {
		init, expect string
		want         bool
	}{
		{"2026-11-02|2000|restore", "2026-11-02|1000|i1abc", true},
		{"2026-11-02|1000|restore", "2026-11-02|1000|i1abc", true},
		{"2026-11-02|999|restore", "2026-11-02|1000|i1abc", false},
		{"2026-11-02|2000|i2xyz", "2026-11-02|1000|i1abc", false}, // a fresh ledger, not a restore
		{"", "2026-11-02|1000|i1abc", false},
		{"garbage|restore", "2026-11-02|1000|i1abc", false},
	} {
		if got := restoredAfter(c.init, c.expect); got != c.want {
			t.Errorf("restoredAfter(%q, %q) = %v, want %v", c.init, c.expect, got, c.want)
		}
	}
}
