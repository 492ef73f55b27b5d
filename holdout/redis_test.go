package holdout

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

// TestLiftRecovered runs a study end to end through Redis: users are
// assigned, each eligible bid recorded (ghost bids for the held-out group),
// the groups buy at known rates (a true relative lift of 20%), purchases are
// attributed, and the report's 95% intervals hold the true lifts and exclude
// no lift. TestCoverage checks the intervals over many seeds.
func TestLiftRecovered(t *testing.T) {
	rdb := storagetest.Open(t, false)
	clock := pacing.NewManualClock(t0)
	h := newTestHoldout(t, rdb, Config{Share: 0.25}, clock)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(2026, 10))
	const users, base, lift = 20_000, 0.05, 0.20
	price := 2 * money.Unit
	var bids [3]int64
	type buyer struct {
		user string
		at   time.Time
	}
	var buyers []buyer
	for u := range users {
		user := "u-" + strconv.Itoa(u)
		g := h.Assign(user, "camp")
		last := t0
		for range 1 + r.IntN(3) { // one to three eligible bids over two days
			last = t0.Add(time.Duration(r.IntN(48*3600)) * time.Second)
			h.Record(g, "camp", user, price, last)
			bids[g]++
		}
		rate := base
		if g == GroupExposed {
			rate *= 1 + lift
		}
		if r.Float64() < rate {
			buyers = append(buyers, buyer{user, last.Add(time.Duration(r.IntN(20*24)) * time.Hour)})
		}
		if u%5000 == 0 {
			mustSync(t, h)
		}
	}
	mustSync(t, h)
	for _, b := range buyers {
		if _, err := h.Conversion(ctx, b.user, b.at); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, h)
	rep, err := h.Report(ctx, "camp")
	if err != nil {
		t.Fatal(err)
	}
	e, g := rep.Exposed, rep.Ghost
	t.Logf("exposed %d/%d (%.4f), ghost %d/%d (%.4f); relative lift %.3f [%.3f, %.3f], absolute %.4f [%.4f, %.4f]",
		e.Converters, e.Users, e.ConversionRate.Value, g.Converters, g.Users, g.ConversionRate.Value,
		rep.RelativeLift.Value, rep.RelativeLift.Low, rep.RelativeLift.High,
		rep.AbsoluteLift.Value, rep.AbsoluteLift.Low, rep.AbsoluteLift.High)
	if e.Users+g.Users != users || e.Converters+g.Converters != int64(len(buyers)) {
		t.Errorf("report counts %d users and %d converters, want %d and %d",
			e.Users+g.Users, e.Converters+g.Converters, users, len(buyers))
	}
	if e.Bids != bids[GroupExposed] || g.Bids != bids[GroupGhost] || g.AvgBidCPM != 2 {
		t.Errorf("bids: exposed %d, ghost %d at %.2f; want %d and %d at 2.00", e.Bids, g.Bids, g.AvgBidCPM,
			bids[GroupExposed], bids[GroupGhost])
	}
	if rl := rep.RelativeLift; rl.Low > lift || rl.High < lift || rl.Low <= 0 {
		t.Errorf("relative lift interval [%.3f, %.3f] misses 0.20 or holds 0", rl.Low, rl.High)
	}
	if al, d := rep.AbsoluteLift, base*lift; al.Low > d || al.High < d || al.Low <= 0 {
		t.Errorf("absolute lift interval [%.4f, %.4f] misses %.4f or holds 0", al.Low, al.High, d)
	}
}

// TestConversionAttribution: a purchase converts a user once per campaign,
// however often the event is replayed, only inside the window after the
// user's eligible bids, and in the group the user was first assigned to;
// users without an id are never recorded.
func TestConversionAttribution(t *testing.T) {
	testAttribution(t, storagetest.Open(t, false))
}

// TestCluster runs the attribution check on a Redis Cluster: users and
// campaign counters sit in slots of their own, and the record script must be
// loaded on every master.
func TestCluster(t *testing.T) {
	testAttribution(t, storagetest.OpenCluster(t))
}

func testAttribution(t *testing.T, rdb *storage.Redis) {
	h := newTestHoldout(t, rdb, Config{Share: 0.5, Window: 24 * time.Hour}, pacing.NewManualClock(t0))
	ctx := context.Background()
	h.Record(GroupGhost, "c1", "u-1", money.Unit, t0)
	h.Record(GroupGhost, "c1", "u-1", money.Unit, t0.Add(48*time.Hour))   // the window runs from the last bid
	h.Record(GroupExposed, "c1", "u-1", money.Unit, t0.Add(49*time.Hour)) // the first group stands
	h.Record(GroupExposed, "c2", "u-1", money.Unit, t0)
	h.Record(GroupExposed, "c1", "", money.Unit, t0)
	h.Record(GroupNone, "c1", "u-2", money.Unit, t0)
	mustSync(t, h)
	// UserKey names the user's entries, so that they go with the profile.
	if n := rdb.Client.HLen(ctx, h.UserKey("u-1")).Val(); n != 2 {
		t.Fatalf("UserKey(u-1) holds %d campaigns, want 2", n)
	}
	f := func(user string, at time.Time, want int) {
		t.Helper()
		n, err := h.Conversion(ctx, user, at)
		if err != nil || n != want {
			t.Errorf("conversion of %s at %v: %d campaigns, %v; want %d", user, at.Sub(t0), n, err, want)
		}
	}
	f("u-1", t0.Add(-time.Hour), 0)   // before the first bid
	f("u-1", t0.Add(74*time.Hour), 0) // after c1's window (last bid + 24h) and c2's
	f("u-1", t0.Add(60*time.Hour), 1) // in c1's window only
	f("u-1", t0.Add(61*time.Hour), 0) // converted already
	f("u-2", t0.Add(time.Hour), 0)    // never recorded
	mustSync(t, h)
	rep, err := h.Report(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ghost.Users != 1 || rep.Ghost.Converters != 1 || rep.Exposed.Users != 0 ||
		rep.Ghost.Bids != 2 || rep.Exposed.Bids != 1 {
		t.Errorf("c1: %+v", rep.Lift)
	}
	if rep.RelativeLift != nil {
		t.Errorf("relative lift without exposed users: %+v", rep.RelativeLift)
	}
}
