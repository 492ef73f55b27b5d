//go:build !race

package segments

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestGetUntilHitAllocs pins the bid path's cache hit at zero allocations.
func TestGetUntilHitAllocs(t *testing.T) {
	r := testRedis(t)
	s := NewStore(r, Config{}, nil)
	if err := s.Put(context.Background(), Profile{User: "u-1", Phase: PhaseIntent, Interests: []string{"running"}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	l := startLookup(t, r, Config{CacheTTL: time.Hour}, prometheus.NewRegistry())
	var res Result
	deadline := time.Now().Add(time.Hour)
	if err := l.GetUntil(deadline, "u-1", &res); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := l.GetUntil(deadline, "u-1", &res); err != nil || !res.Cached {
			t.Fatalf("hit: err %v, cached %v", err, res.Cached)
		}
	}); n != 0 {
		t.Errorf("a cache hit allocates %.1f times, want 0", n)
	}
}

// TestGetUntilHitRefreshingAllocs: a hit late in the TTL, while the entry's
// refresh is in flight, allocates no more than any other hit.
func TestGetUntilHitRefreshingAllocs(t *testing.T) {
	r := testRedis(t)
	writeBehind(t, r, Profile{User: "u-1", Phase: PhaseIntent, Interests: []string{"running"}})
	const ttl = time.Hour
	g := newRefreshRig(t, r, Config{CacheTTL: ttl}, true).start(t)
	t0 := g.clk.now()
	g.get(t, "u-1")
	g.clk.set(t0.Add(ttl * 7 / 8))
	g.get(t, "u-1") // starts the refresh, which the rig holds
	g.waitHeld(t)
	var res Result
	deadline := time.Now().Add(time.Hour)
	if n := testing.AllocsPerRun(100, func() {
		if err := g.l.GetUntil(deadline, "u-1", &res); err != nil || !res.Cached {
			t.Fatalf("hit: err %v, cached %v", err, res.Cached)
		}
	}); n != 0 {
		t.Errorf("a hit during a refresh allocates %.1f times, want 0", n)
	}
	g.wantRefreshes(t, 1, 0, 0, 0, 0)
}
