package segments

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// testClock is a clock the test moves by hand; safe for concurrent use.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *testClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// refreshRig is a Lookup on a clock the test moves, with its refresh counters
// and invalidations at hand. With hold, every refresh Redis answered waits in
// onRefresh, after sending its user on held, until the test sends on release
// (or the test ends).
type refreshRig struct {
	l           *Lookup
	reg         *prometheus.Registry
	clk         *testClock
	held        chan string
	release     chan struct{}
	done        chan struct{} // closed at the end of the test: lets held refreshes go
	invalidated chan string
}

// newRefreshRig returns the rig, not started: set what else the test needs
// on g.l, then call start.
func newRefreshRig(t *testing.T, r *storage.Redis, cfg Config, hold bool) *refreshRig {
	t.Helper()
	g := &refreshRig{
		reg:         prometheus.NewRegistry(),
		clk:         &testClock{},
		held:        make(chan string, 16),
		release:     make(chan struct{}, 16),
		done:        make(chan struct{}),
		invalidated: make(chan string, 64),
	}
	g.clk.set(time.Now())
	g.l = NewLookup(r, cfg, g.reg, nil)
	g.l.now = g.clk.now
	g.l.onInvalidate = func(p string) {
		select {
		case g.invalidated <- p:
		default: // never hold up the subscriber
		}
	}
	if hold {
		g.l.onRefresh = func(u string) {
			g.held <- u
			select {
			case <-g.release:
			case <-g.done:
			}
		}
	}
	return g
}

func (g *refreshRig) start(t *testing.T) *refreshRig {
	t.Helper()
	if err := g.l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.l.Stop)
	t.Cleanup(func() { close(g.done) }) // first: Stop waits for held refreshes
	return g
}

// get looks user up at the rig's clock, waiting up to 5s for a miss.
func (g *refreshRig) get(t *testing.T, user string) *Result {
	t.Helper()
	var res Result
	if err := g.l.GetUntil(g.clk.now().Add(5*time.Second), user, &res); err != nil {
		t.Fatalf("get %s: %v", user, err)
	}
	return &res
}

// refreshes returns kairos_segments_refreshes_total{result=result}.
func (g *refreshRig) refreshes(t *testing.T, result string) float64 {
	t.Helper()
	return counterValue(t, g.reg, "kairos_segments_refreshes_total", result)
}

// wantRefreshes checks the refresh counters, all of them.
func (g *refreshRig) wantRefreshes(t *testing.T, started, ok, discarded, errs, dropped float64) {
	t.Helper()
	got := [5]float64{}
	for i, r := range []string{"started", "ok", "discarded", "error", "dropped"} {
		got[i] = g.refreshes(t, r)
	}
	if want := [5]float64{started, ok, discarded, errs, dropped}; got != want {
		t.Errorf("refreshes started/ok/discarded/error/dropped = %v, want %v", got, want)
	}
}

// waitRefreshes waits until kairos_segments_refreshes_total{result=result}
// reaches want (a refresh ends on a worker, after the call that started it).
func (g *refreshRig) waitRefreshes(t *testing.T, result string, want float64) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); g.refreshes(t, result) < want; {
		if time.Now().After(end) {
			t.Fatalf("refreshes{result=%q} = %v, waited for %v", result, g.refreshes(t, result), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitHeld waits for a refresh to arrive in the hook and returns its user.
func (g *refreshRig) waitHeld(t *testing.T) string {
	t.Helper()
	select {
	case u := <-g.held:
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh reached Redis and came back")
		return ""
	}
}

// waitInvalidated waits for an invalidation of user.
func (g *refreshRig) waitInvalidated(t *testing.T, user string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p := <-g.invalidated:
			if p == user {
				return
			}
		case <-timeout:
			t.Fatalf("no invalidation of %s", user)
		}
	}
}

// writeBehind writes p straight to Redis without publishing an invalidation:
// a change made behind Kairos's back.
func writeBehind(t *testing.T, r *storage.Redis, p Profile) {
	t.Helper()
	var rec record
	if err := fromProfile(&rec, &p, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := r.Client.Set(context.Background(), r.Keys.User(p.User, "p"), appendRecord(nil, &rec), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
}

// heldTTL is the cache TTL of heldRig.
const heldTTL = 8 * time.Second

// heldRig returns a started rig that holds refreshes, with CacheTTL heldTTL,
// on a Redis holding an awareness profile of u-1 (product sku-1) written
// behind Kairos's back, and the rig clock's start.
func heldRig(t *testing.T) (*storage.Redis, *refreshRig, time.Time) {
	t.Helper()
	r := testRedis(t)
	writeBehind(t, r, Profile{User: "u-1", Phase: PhaseAwareness, Product: Product{ID: "sku-1"}})
	g := newRefreshRig(t, r, Config{CacheTTL: heldTTL}, true).start(t)
	return r, g, g.clk.now()
}

// TestRefreshAhead: a hit in the last quarter of the TTL is answered from the
// cache at once and starts one refresh; the refresh picks up a profile and a
// frequency count written behind Kairos's back, and gives the entry a fresh
// TTL.
func TestRefreshAhead(t *testing.T) {
	ctx := context.Background()
	r, g, t0 := heldRig(t)
	const ttl = heldTTL
	if res := g.get(t, "u-1"); res.Cached || !res.Found || res.Profile.Product.ID != "sku-1" {
		t.Fatalf("first lookup: cached %v, found %v, %+v", res.Cached, res.Found, res.Profile)
	}

	writeBehind(t, r, Profile{User: "u-1", Phase: PhaseIntent, Product: Product{ID: "sku-2"}})
	fc := r.Keys.User("u-1", "fc")
	if err := r.Client.HSet(ctx, fc, fmt.Sprintf("camp:%d", t0.Unix()/3600), 3).Err(); err != nil {
		t.Fatal(err)
	}

	g.clk.set(t0.Add(ttl * 3 / 4)) // the first moment of the last quarter
	// The refresh this hit starts cannot finish before the test releases it,
	// so an answer here means the caller did not wait for it.
	res := g.get(t, "u-1")
	if !res.Cached || res.Profile.Product.ID != "sku-1" || res.Count("camp", time.Hour, t0) != 0 {
		t.Fatalf("hit that starts the refresh: cached %v, %+v, count %d; want the old entry",
			res.Cached, res.Profile, res.Count("camp", time.Hour, t0))
	}
	if u := g.waitHeld(t); u != "u-1" {
		t.Fatalf("refresh of %q, want u-1", u)
	}
	// While it is in flight, hits get the old entry and start no other.
	for range 3 {
		if res := g.get(t, "u-1"); !res.Cached || res.Profile.Product.ID != "sku-1" {
			t.Fatalf("hit during the refresh: cached %v, %+v", res.Cached, res.Profile)
		}
	}
	g.wantRefreshes(t, 1, 0, 0, 0, 0)

	g.release <- struct{}{}
	g.waitRefreshes(t, "ok", 1)
	// The new entry lives a TTL from the refresh: past the old expiry it is
	// a hit, with the new values, and not yet due for a refresh.
	g.clk.set(t0.Add(ttl*3/4 + ttl/2))
	res = g.get(t, "u-1")
	if !res.Cached || res.Profile.Product.ID != "sku-2" || res.Profile.Phase != PhaseIntent || res.Count("camp", time.Hour, t0) != 3 {
		t.Fatalf("after the refresh: cached %v, %+v, count %d; want the values written behind Kairos's back",
			res.Cached, res.Profile, res.Count("camp", time.Hour, t0))
	}
	g.wantRefreshes(t, 1, 1, 0, 0, 0)
}

// TestRefreshAheadNotEarly: hits before the last quarter of the TTL, of a
// profile and of "no profile", ask Redis nothing; "no profile" is refreshed
// in the last quarter of NegativeTTL like a profile.
func TestRefreshAheadNotEarly(t *testing.T) {
	r := testRedis(t)
	const ttl, negTTL = 8 * time.Second, 4 * time.Second
	writeBehind(t, r, Profile{User: "u-1", Phase: PhaseIntent})
	g := newRefreshRig(t, r, Config{CacheTTL: ttl, NegativeTTL: negTTL}, false).start(t)
	t0 := g.clk.now()
	for _, u := range []string{"u-1", "nobody"} {
		if res := g.get(t, u); res.Cached {
			t.Fatalf("first lookup of %s cached", u)
		}
	}
	f := func(at time.Duration) {
		t.Helper()
		g.clk.set(t0.Add(at))
		for _, u := range []string{"u-1", "nobody"} {
			if res := g.get(t, u); !res.Cached || res.Found != (u == "u-1") {
				t.Fatalf("%s at %s: cached %v, found %v", u, at, res.Cached, res.Found)
			}
		}
	}
	f(0)
	f(negTTL / 2)
	f(negTTL*3/4 - 1)
	g.wantRefreshes(t, 0, 0, 0, 0, 0)
	if n := histCount(t, g.reg, "kairos_segments_batch_size"); n != 2 {
		t.Errorf("%d Redis round trips, want 2 (the first lookups)", n)
	}

	f(negTTL * 3 / 4) // nobody is due, u-1 (6s) is not
	g.waitRefreshes(t, "ok", 1)
	g.wantRefreshes(t, 1, 1, 0, 0, 0)
}

// TestRefreshAheadInvalidated: a change published while a refresh is in
// flight wins over the refresh's older answer, whether the user's entry is
// gone or a lookup fetched it again meanwhile.
func TestRefreshAheadInvalidated(t *testing.T) {
	for _, refetch := range []bool{false, true} {
		t.Run(fmt.Sprint("refetch=", refetch), func(t *testing.T) {
			ctx := context.Background()
			r, g, t0 := heldRig(t)
			const ttl = heldTTL
			g.get(t, "u-1")
			writeBehind(t, r, Profile{User: "u-1", Phase: PhaseAwareness, Product: Product{ID: "sku-2"}})
			g.clk.set(t0.Add(ttl * 7 / 8))
			if res := g.get(t, "u-1"); !res.Cached || res.Profile.Product.ID != "sku-1" {
				t.Fatalf("hit: cached %v, %+v", res.Cached, res.Profile)
			}
			g.waitHeld(t) // the refresh holds sku-2

			s := NewStore(r, Config{}, nil)
			if err := s.Put(ctx, Profile{User: "u-1", Phase: PhaseIntent, Product: Product{ID: "sku-3"}}, time.Hour); err != nil {
				t.Fatal(err)
			}
			g.waitInvalidated(t, "u-1")
			if refetch {
				if res := g.get(t, "u-1"); res.Cached || res.Profile.Product.ID != "sku-3" {
					t.Fatalf("after the invalidation: cached %v, %+v", res.Cached, res.Profile)
				}
			}
			g.release <- struct{}{}
			g.waitRefreshes(t, "discarded", 1)

			res := g.get(t, "u-1")
			if res.Profile.Product.ID != "sku-3" || res.Cached != refetch {
				t.Fatalf("after the refresh: cached %v, %+v; want sku-3", res.Cached, res.Profile)
			}
			g.wantRefreshes(t, 1, 0, 1, 0, 0)
		})
	}
}

// TestRefreshAheadFailures: a refresh that fails leaves the entry with its
// old expiry, and a later hit refreshes it; a stopped Lookup serves its cache
// but drops refreshes.
func TestRefreshAheadFailures(t *testing.T) {
	r := testRedis(t)
	const ttl = 8 * time.Second
	writeBehind(t, r, Profile{User: "u-1", Phase: PhaseAwareness, Product: Product{ID: "sku-1"}})
	px := newProxy(t, r.Client.(*redis.Client).Options().Addr)
	client := redis.NewClient(&redis.Options{Addr: px.ln.Addr().String(), MaxRetries: -1})
	t.Cleanup(func() { client.Close() }) // after the Lookup's Stop
	g := newRefreshRig(t, &storage.Redis{Client: client, Keys: r.Keys}, Config{CacheTTL: ttl, RedisTimeout: 100 * time.Millisecond}, false)
	// Invalidations come straight from Redis: a stalled subscription must not
	// reconnect, which would empty the cache.
	g.l.sub = r.Client
	g.start(t)
	t0 := g.clk.now()
	g.get(t, "u-1")
	writeBehind(t, r, Profile{User: "u-1", Phase: PhaseAwareness, Product: Product{ID: "sku-2"}})

	g.clk.set(t0.Add(ttl * 3 / 4))
	px.pause()
	if res := g.get(t, "u-1"); !res.Cached || res.Profile.Product.ID != "sku-1" {
		t.Fatalf("hit with Redis stalled: cached %v, %+v", res.Cached, res.Profile)
	}
	g.waitRefreshes(t, "error", 1)
	px.resume()
	g.wantRefreshes(t, 1, 0, 0, 1, 0)

	if res := g.get(t, "u-1"); !res.Cached || res.Profile.Product.ID != "sku-1" {
		t.Fatalf("hit after the failed refresh: cached %v, %+v", res.Cached, res.Profile)
	}
	g.waitRefreshes(t, "ok", 1)
	if res := g.get(t, "u-1"); !res.Cached || res.Profile.Product.ID != "sku-2" {
		t.Fatalf("after the second refresh: cached %v, %+v", res.Cached, res.Profile)
	}
	g.wantRefreshes(t, 2, 1, 0, 1, 0)

	g.l.Stop()
	g.clk.set(t0.Add(ttl*3/4 + ttl*3/4))
	for range 2 { // a dropped refresh may be tried again
		if res := g.get(t, "u-1"); !res.Cached || res.Profile.Product.ID != "sku-2" {
			t.Fatalf("hit after Stop: cached %v, %+v", res.Cached, res.Profile)
		}
	}
	g.wantRefreshes(t, 2, 1, 0, 1, 2)
}

// TestRefreshAheadBounded: refreshes leave half of the lookup queue to
// lookups that bids wait on. The Lookup is not started, so its queue holds
// what the test puts there.
func TestRefreshAheadBounded(t *testing.T) {
	r := testRedis(t)
	reg := prometheus.NewRegistry()
	l := NewLookup(r, Config{MaxQueue: 4}, reg, nil)
	now := time.Now()
	l.now = fixedClock(now)
	l.queue = make(chan *request, 4)
	l.running.Store(true) // without the goroutines: nothing takes from the queue
	e := &entry{expires: now.Add(time.Second).UnixNano(), refreshAt: now.UnixNano()}
	l.cache.put("u-1", l.cache.generation("u-1"), e, now.UnixNano())
	for range 3 {
		l.queue <- &request{}
	}
	var res Result
	if err := l.Get(context.Background(), "u-1", &res); err != nil || !res.Cached {
		t.Fatalf("hit: %v, cached %v", err, res.Cached)
	}
	if n := counterValue(t, reg, "kairos_segments_refreshes_total", "dropped"); n != 1 || e.refreshing.Load() || len(l.queue) != 3 {
		t.Fatalf("queue 3/4 full: dropped %v, refreshing %v, queued %d; want 1, false, 3", n, e.refreshing.Load(), len(l.queue))
	}
	<-l.queue
	if err := l.Get(context.Background(), "u-1", &res); err != nil || !res.Cached {
		t.Fatalf("hit: %v, cached %v", err, res.Cached)
	}
	if n := counterValue(t, reg, "kairos_segments_refreshes_total", "started"); n != 1 || len(l.queue) != 3 {
		t.Fatalf("queue half full: started %v, queued %d; want 1, 3", n, len(l.queue))
	}
	for range 3 {
		if q := <-l.queue; q.refresh == e && q.user == "u-1" {
			return
		}
	}
	t.Error("no refresh of u-1 queued")
}

// BenchmarkLookupGetCacheHitRefreshing measures hits in the last quarter of
// the TTL while the entry's refresh is in flight: they cost what any hit
// does (compare BenchmarkLookupGetCacheHit).
func BenchmarkLookupGetCacheHitRefreshing(b *testing.B) {
	r := testRedis(b)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	if err := s.Put(ctx, Profile{User: "u-1", Phase: PhaseIntent, Interests: []string{"running"}, Product: Product{"sku-1", "Trail Runner 2", "89.00"}, Purchased: []string{"sku-9"}}, time.Hour); err != nil {
		b.Fatal(err)
	}
	clk := &testClock{}
	t0 := time.Now()
	clk.set(t0)
	l := NewLookup(r, Config{CacheTTL: time.Hour}, prometheus.NewRegistry(), nil)
	l.now = clk.now
	held, release := make(chan struct{}, 1), make(chan struct{})
	l.onRefresh = func(string) { held <- struct{}{}; <-release }
	if err := l.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer l.Stop()
	defer close(release)
	var res Result
	if err := l.Get(ctx, "u-1", &res); err != nil {
		b.Fatal(err)
	}
	clk.set(t0.Add(time.Hour * 7 / 8))
	if err := l.Get(ctx, "u-1", &res); err != nil || !res.Cached {
		b.Fatal(err, res.Cached)
	}
	<-held
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Get(ctx, "u-1", &res); err != nil || !res.Cached {
			b.Fatal(err, res.Cached)
		}
	}
}
