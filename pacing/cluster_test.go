package pacing

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

// TestClusterLeasesAcrossSlots runs three instances' pacers on a real Redis
// Cluster over campaigns whose ledgers sit on every master: the lease,
// settle, loss and sweep scripts each touch one campaign's slot, the figures
// of all campaigns come back from one pipeline split per node, and no
// campaign ever holds more than its budget in spend plus leases. A campaign
// whose keys vanish stops spending (ledger lost) until restored.
func TestClusterLeasesAcrossSlots(t *testing.T) {
	r := storagetest.OpenCluster(t)
	clk := NewManualClock(t0)
	daily := 2 * money.Unit
	var cs []campaigns.Campaign
	for i := range 12 {
		cs = append(cs, testCampaign("c"+strconv.Itoa(i), "UTC", "asap", daily, 10*daily))
	}
	src := newIndex(t0, cs...)
	cfg := Config{ReserveWindow: 20 * time.Second, SweepLag: time.Second, Grace: 30 * time.Second, ExpectedInstances: 3}
	ps := make([]*Pacer, 3)
	for i := range ps {
		cfg.Instance = string(rune('a' + i))
		ps[i] = testPacer(t, r.Client, r.Keys, src, clk, cfg)
	}
	l := ps[0].Ledger()
	day, _, _ := dayOf(t0, time.UTC)
	qs := make([]FigureQuery, len(cs))
	for i := range cs {
		qs[i] = FigureQuery{CampaignID: cs[i].ID, Day: day}
	}
	ctx := context.Background()
	now := t0
	check := func(step int) []Figures {
		t.Helper()
		fs, err := l.Figures(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range fs {
			if f.SpentToday+f.LeasedToday > daily || f.LateToday != 0 {
				t.Fatalf("step %d, %s: spent %s + leased %s exceeds %s (late %s)", step, qs[i].CampaignID,
					f.SpentToday, f.LeasedToday, daily, f.LateToday)
			}
		}
		return fs
	}
	for step := range 30 {
		var wg sync.WaitGroup
		for i, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(step), uint64(i)))
				for b := range 60 {
					c := src.get(t, cs[b%len(cs)].ID)
					res, why := p.Reserve(c, money.Micros(1+rnd.IntN(8))*money.Unit, now)
					if why != ReasonNone {
						continue
					}
					var n Notice
					res.Fill(&n)
					s := Settlement{CampaignID: n.CampaignID, Holder: n.Holder, Seq: n.Seq, Day: n.Day, Reserved: n.Reserved,
						Clearing: n.Reserved * 3 / 4, WindowEnd: time.Unix(n.WindowEnd, 0), Expiry: time.Unix(n.Expiry, 0)}
					var err error
					switch rnd.IntN(3) {
					case 0:
						_, err = l.Settle(ctx, &s, now)
					case 1:
						_, err = l.Loss(ctx, &s, now, cfg.Grace)
					} // else silent: the owner's sweep releases it
					if err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		for _, p := range ps {
			p.maintain(ctx, now)
		}
		check(step)
		now = now.Add(time.Second)
	}
	storagetest.CheckSpread(t, r, r.Keys.Prefix+"{b:*}:ledger")

	// Every window passes, the sweeps release, the instances stop: nothing
	// stays leased, and every campaign spent something.
	now = now.Add(25 * time.Second)
	clk.Set(now)
	for _, p := range ps {
		p.maintain(ctx, now)
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range check(-1) {
		if f.LeasedToday != 0 || f.SpentToday == 0 {
			t.Errorf("%s after stop: spent %s, leased %s; want some spend and nothing leased", qs[i].CampaignID, f.SpentToday, f.LeasedToday)
		}
	}

	// One campaign's ledger vanishes (its node restarted empty): an instance
	// that leased before stops spending on it, the others carry on.
	p := testPacer(t, r.Client, r.Keys, src, clk, Config{Instance: "d"})
	c0, c1 := src.get(t, "c0"), src.get(t, "c1")
	for _, c := range []*campaigns.Compiled{c0, c1} {
		p.Reserve(c, money.Unit, now) // asks for a lease
	}
	p.maintain(ctx, now)
	if err := r.Client.Del(ctx, l.keys("c0")...).Err(); err != nil {
		t.Fatal(err)
	}
	for range 6 { // the loss shows at the next heartbeat (5s)
		now = now.Add(time.Second)
		for _, c := range []*campaigns.Compiled{c0, c1} {
			if res, why := p.Reserve(c, money.Unit, now); why == ReasonNone {
				p.Cancel(&res)
			}
		}
		p.maintain(ctx, now)
	}
	if _, why := p.Reserve(c0, money.Unit, now); why != ReasonLedgerLost {
		t.Fatalf("reserve on the lost ledger: %v, want ledger_lost", why)
	}
	if _, why := p.Reserve(c1, money.Unit, now); why != ReasonNone {
		t.Fatalf("reserve on an intact ledger: %v, want none", why)
	}
}
