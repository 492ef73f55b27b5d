package bandit

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

// secondClient opens another connection pool to the same Redis (node or
// cluster) and prefix, as a second Kairos instance would have.
func secondClient(t *testing.T, rdb *storage.Redis) *storage.Redis {
	t.Helper()
	var c redis.UniversalClient
	switch cl := rdb.Client.(type) {
	case *redis.ClusterClient:
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Options().Addrs})
	case *redis.Client:
		c = redis.NewClient(&redis.Options{Addr: cl.Options().Addr})
	default:
		t.Fatalf("unknown client %T", rdb.Client)
	}
	t.Cleanup(func() { c.Close() })
	return &storage.Redis{Client: c, Keys: rdb.Keys, Cluster: rdb.Cluster}
}

// TestPosteriorsSharedAcrossInstances: what one instance learns reaches
// another through Redis at their next syncs, and both instances' counts add up.
func TestPosteriorsSharedAcrossInstances(t *testing.T) {
	testShared(t, storagetest.Open(t, true))
}

// TestCluster runs the sharing and purchase checks on a Redis Cluster:
// campaigns and users sit in slots of their own.
func TestCluster(t *testing.T) {
	rdb := storagetest.OpenCluster(t)
	t.Run("shared", func(t *testing.T) { testShared(t, rdb) })
	t.Run("purchase", func(t *testing.T) { testPurchase(t, rdb) })
}

func testShared(t *testing.T, rdb *storage.Redis) {
	clock := pacing.NewManualClock(t0)
	a := newTestBandit(t, rdb, Config{Seed: 1}, clock)
	b := newTestBandit(t, secondClient(t, rdb), Config{Seed: 2}, clock)
	r := rand.New(rand.NewPCG(3, 3))
	const camp, part = "trail-runner", "headline"
	ph := segments.PhaseIntent

	// B knows nothing yet: its choices are even.
	var before [3]int
	for range 3000 {
		before[b.ChooseRand(r, camp, part, ph, 3)]++
	}
	for i, n := range before {
		if n < 800 {
			t.Fatalf("before any data variant %d got %d of 3000 choices (%v)", i, n, before)
		}
	}

	// A alone sees that variant 2 is clicked five times as often.
	for i := range 3 {
		crid := []string{"cr.h0", "cr.h1", "cr.h2"}[i]
		for range 5000 {
			a.Impression(camp, crid, ph)
		}
		for range []int{50, 50, 250}[i] {
			a.Click(camp, crid, ph, "")
		}
	}
	b.Impression(camp, "cr.h2", ph) // B's own count adds to A's
	mustSync(t, a)
	mustSync(t, b) // B registered the campaign when it chose: it reads it back now

	var after [3]int
	for range 3000 {
		after[b.ChooseRand(r, camp, part, ph, 3)]++
	}
	if after[2] < 2700 {
		t.Errorf("after A's data B chose variant 2 %d of 3000 times (%v), want at least 90%%", after[2], after)
	}
	rep, err := a.Report(context.Background(), camp)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		imps, clicks int64
	}{{5000, 50}, {5000, 50}, {5001, 250}}
	if len(rep.Variants) != 3 {
		t.Fatalf("report has %d variants: %+v", len(rep.Variants), rep)
	}
	for i, v := range rep.Variants {
		if v.Phase != "intent" || v.Part != part || v.Variant != i || v.Impressions != want[i].imps || v.Clicks != want[i].clicks {
			t.Errorf("variant %d: %+v, want %d impressions and %d clicks", i, v, want[i].imps, want[i].clicks)
		}
	}
	if p := rep.Variants[2].ProbBest; p < 0.99 {
		t.Errorf("variant 2's probability of being best is %.3f", p)
	}
	if s := rep.Variants[2].Share; s < 0.3333 || s > 0.3334 {
		t.Errorf("variant 2's share is %v, want 5001/15001", s)
	}
}

// TestPurchaseCreditsLastClick: a purchase credits the variants of the user's
// last click within the window, once however often the event is replayed,
// and a purchase without a recent click credits nothing.
func TestPurchaseCreditsLastClick(t *testing.T) {
	testPurchase(t, storagetest.Open(t, true))
}

func testPurchase(t *testing.T, rdb *storage.Redis) {
	clock := pacing.NewManualClock(t0)
	a := newTestBandit(t, rdb, Config{Seed: 1, ClickWindow: 24 * time.Hour}, clock)
	b := newTestBandit(t, secondClient(t, rdb), Config{Seed: 2, ClickWindow: 24 * time.Hour}, clock)
	ctx := context.Background()
	ph := segments.PhaseConsideration
	a.Impression("c1", "cr.h1m0", ph)
	a.Click("c1", "cr.h1m0", ph, "u-1")
	a.Click("c2", "cr.h0", ph, "u-2")
	mustSync(t, a)
	// UserKey names the user's last clicks, so that they go with the profile.
	if n := rdb.Client.HLen(ctx, a.UserKey("u-1")).Val(); n != 1 {
		t.Fatalf("UserKey(u-1) holds %d clicks, want 1", n)
	}

	at := t0.Add(2 * time.Hour)
	for i, want := range []int{1, 0} { // the replayed event credits nothing more
		n, err := b.Purchase(ctx, "u-1", at)
		if err != nil || n != want {
			t.Fatalf("purchase %d: %d credited, %v; want %d", i, n, err, want)
		}
	}
	if n, err := b.Purchase(ctx, "u-2", t0.Add(25*time.Hour)); err != nil || n != 0 {
		t.Errorf("purchase after the window: %d credited, %v", n, err)
	}
	if n, err := b.Purchase(ctx, "u-3", at); err != nil || n != 0 {
		t.Errorf("purchase without a click: %d credited, %v", n, err)
	}
	mustSync(t, b)
	rep, err := a.Report(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, v := range rep.Variants {
		if v.Purchases != 0 {
			got[v.Part+string(rune('0'+v.Variant))] = v.Purchases
		}
	}
	if got["headline1"] != 1 || got["message0"] != 1 || len(got) != 2 {
		t.Errorf("purchases by variant %v, want headline1 and message0 once each", got)
	}
}
