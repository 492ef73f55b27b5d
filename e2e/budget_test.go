package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/bench"
)

// TestNoOverspendAcrossInstances: three Kairos processes share a 2.00 USD
// daily budget (500 impressions at 4.00 CPM, asap); a first-price exchange
// awards every bid and sends each notice to a random live instance; once 30%
// of the budget is spent one instance is killed with SIGKILL, stranding its
// lease and its outstanding reservations. Traffic goes on until the budget is
// exhausted (or 45 s). Settled spend never exceeds the budget, no notice is
// late, the ledger equals what the exchange charged, and at least 98% of the
// budget is spent: the dead instance's lease comes back LeaseTTL + Grace
// (12.5 simulated minutes) after its last heartbeat, which the 60× pacing
// clock turns into 12.5 real seconds.
func TestNoOverspendAcrossInstances(t *testing.T) {
	const (
		id     = "budget-e2e"
		daily  = 2_000_000 // micros
		oneImp = 4_000     // 4.00 CPM
		speed  = 60
	)
	// Simulated 01:00 of a day after today: far from midnight, so the run stays
	// within one budget day, and ahead of the real clock.
	now := time.Now()
	simStart := now.UTC().Truncate(24 * time.Hour).Add(25 * time.Hour)
	// The bidder measures tmax on the pacing clock (see the report): a 60 s
	// tmax gives a request one real second at 60×.
	c := newCluster(t, append(clockEnv(speed, simStart, now), "KAIROS_MAX_TMAX=60s")...)
	a, b, victim := c.start("a"), c.start("b"), c.start("victim")
	a.apply(campaignYAML(id, "asap", "2.00", "10.00", "4.00"))
	_, day := probeBid(t, a, id, 5*time.Second)
	probeBid(t, b, id, 5*time.Second)
	victimHolder, _ := probeBid(t, victim, id, 5*time.Second)
	if day != simStart.Format(time.DateOnly) {
		t.Fatalf("bids are booked to %s, not to the simulated day %s: KAIROS_CLOCK_START is not honoured", day, simStart.Format(time.DateOnly))
	}
	victimLease := day + "|" + victimHolder

	tl := newTally()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var m *bench.Metrics
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m = attack(t, c, bench.AttackConfig{Label: "no-overspend", Targets: []string{a.bid, b.bid, victim.bid},
			Rate: 60, Duration: 45 * time.Second, Workers: 8, Timeout: 2 * time.Second, NoticeDrain: 10 * time.Second,
			Auction: bench.AuctionConfig{Mode: bench.FirstPrice, CompetitionMean: 1e-6}, Seed: 1}, simpleCorpus(500, 60000), tl, ctx)
	}()

	start := time.Now()
	var killedAt, reclaimedAt, exhaustedAt time.Time
	var spentAtKill, strandedAtKill, plateau int64
	for {
		time.Sleep(50 * time.Millisecond)
		l := c.ledger(id)
		spent := l["d:"+day+":spent"]
		if spent > daily {
			t.Errorf("overspend while running: %d > %d micros", spent, daily)
		}
		leases := c.leases(id)
		switch {
		case killedAt.IsZero() && spent >= daily*30/100:
			victim.kill()
			killedAt, spentAtKill, strandedAtKill = time.Now(), spent, c.leases(id)[victimLease]
		case !killedAt.IsZero() && reclaimedAt.IsZero():
			if _, ok := leases[victimLease]; !ok {
				reclaimedAt = time.Now()
			} else {
				plateau = spent
			}
		}
		if spent > daily-oneImp {
			exhaustedAt = time.Now()
			break
		}
		if time.Since(start) > 45*time.Second {
			break
		}
	}
	cancel()
	wg.Wait()

	l := c.ledger(id)
	spent, late, leased := l["d:"+day+":spent"], l["d:"+day+":late"], l["d:"+day+":leased"]
	st, _ := a.pacing(id)
	since := func(at time.Time) string {
		if at.IsZero() {
			return "never"
		}
		return at.Sub(start).Round(10 * time.Millisecond).String()
	}
	t.Logf("no overspend, 3 instances, asap, first price, every bid wins at 4.00 CPM (clock %d×)", speed)
	t.Logf("  %-34s %12s", "daily budget (micros)", fmtInt(daily))
	t.Logf("  %-34s %12s  (%s of budget)", "settled spend, ledger", fmtInt(spent), pct(spent, daily))
	t.Logf("  %-34s %12s", "late spend, ledger", fmtInt(late))
	t.Logf("  %-34s %12s", "still leased at end", fmtInt(leased))
	t.Logf("  %-34s %12s", "pacing API spent_today (a)", fmtInt(int64(st.SpentToday)))
	t.Logf("  %-34s %12s  (%d wins delivered; exchange awarded %d of %d bids)", "exchange charged, delivered", fmtInt(tl.spend), tl.wins, m.Auction.Wins, m.Auction.Bids)
	t.Logf("  %-34s %12d  failed %d, dropped %d", "notices sent", m.Auction.NoticesSent, m.Auction.NoticesFailed, m.Auction.NoticesDropped)
	t.Logf("  %-34s %12s  spent %s, victim's lease %s", "SIGKILL of one instance at", since(killedAt), fmtInt(spentAtKill), fmtInt(strandedAtKill))
	t.Logf("  %-34s %12s  (spend waited at %s, %s)", "victim's lease reclaimed at", since(reclaimedAt), fmtInt(plateau), pct(plateau, daily))
	t.Logf("  %-34s %12s", "budget exhausted at", since(exhaustedAt))
	t.Logf("  %-34s %12d  (%d errors: %v; no-bids %v)", "bid requests", m.Requests, m.Errors, m.ErrorKinds, m.NoBidReasons)

	if killedAt.IsZero() {
		t.Fatal("never spent 30% of the budget, so no instance was killed")
	}
	if spent > daily {
		t.Fatalf("overspend: %d micros settled against a daily budget of %d", spent, daily)
	}
	if late != 0 {
		t.Errorf("%d micros settled late (after their reservation was released)", late)
	}
	if spent != tl.spend || l["tspent"] != tl.spend {
		t.Errorf("ledger spend %d (total %d) != %d the exchange charged through delivered notices", spent, l["tspent"], tl.spend)
	}
	if tl.failed != 0 || tl.rejected != 0 {
		t.Errorf("%d notices failed on every instance, %d unreadable", tl.failed, tl.rejected)
	}
	// LeaseTTL + Grace (30s + 12m by default) after the last heartbeat, on
	// the 60× clock: 12.5 s, less at most a heartbeat (5 s, 83 ms real).
	switch wait := reclaimedAt.Sub(killedAt); {
	case reclaimedAt.IsZero():
		t.Errorf("the killed instance's lease was never reclaimed")
	case wait < 12*time.Second:
		t.Errorf("the killed instance's lease was reclaimed %s after the kill, before LeaseTTL + Grace (12.5 s at %d×)", wait, speed)
	}
	if spent < daily*98/100 {
		t.Fatalf("only %d of %d micros spent (%s), want at least 98%%", spent, daily, pct(spent, daily))
	}
}
