package segments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

func TestSchema(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	now := time.Now()
	s.now = fixedClock(now)
	p := Profile{User: "u-1", Phase: PhaseIntent, Interests: []string{"running"}, Product: Product{"sku-1", "Trail Runner 2", "89.00"}, Purchased: []string{"sku-9"}}
	if err := s.Put(ctx, p, time.Hour); err != nil {
		t.Fatal(err)
	}
	pk := r.Keys.Prefix + "{u:u-1}:p"
	if typ := r.Client.Type(ctx, pk).Val(); typ != "string" {
		t.Fatalf("%s is a %q, want a string", pk, typ)
	}
	if ttl := r.Client.PTTL(ctx, pk).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("TTL of %s = %s, want ~1h", pk, ttl)
	}
	got, err := s.Get(ctx, "u-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != PhaseIntent || got.Product != p.Product || !got.HasPurchased("sku-9") || got.Interests[0] != "running" ||
		got.Since.UnixMilli() != now.UnixMilli() {
		t.Errorf("Get = %+v", got)
	}
	if _, err := s.Get(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nobody) = %v, want ErrNotFound", err)
	}

	// Frequency counters: one field per campaign for the current bucket.
	fk := r.Keys.Prefix + "{u:u-1}:fc"
	day := 24 * time.Hour
	at := time.Unix(1_800_000_000, 0)
	for i, want := range []int{1, 2} {
		n, err := s.IncrFrequency(ctx, "u-1", "camp-a", day, at)
		if err != nil || n != want {
			t.Fatalf("IncrFrequency #%d = %d, %v; want %d", i, n, err, want)
		}
	}
	if _, err := s.IncrFrequency(ctx, "u-1", "camp-b", time.Hour, at); err != nil {
		t.Fatal(err)
	}
	bucket := at.Unix() / 86400
	want := map[string]string{fmt.Sprintf("camp-a:%d", bucket): "2", fmt.Sprintf("camp-b:%d", at.Unix()/3600): "1"}
	if got := r.Client.HGetAll(ctx, fk).Val(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("HGETALL %s = %v, want %v", fk, got, want)
	}
	if ttl := r.Client.PTTL(ctx, fk).Val(); ttl <= 23*time.Hour || ttl > day {
		t.Errorf("TTL of %s = %s, want the largest window (24h)", fk, ttl)
	}
	// The next day's bucket replaces camp-a's old one.
	if n, _ := s.IncrFrequency(ctx, "u-1", "camp-a", day, at.Add(day)); n != 1 {
		t.Errorf("count in a new bucket = %d, want 1", n)
	}
	if got := r.Client.HGetAll(ctx, fk).Val(); len(got) != 2 || got[fmt.Sprintf("camp-a:%d", bucket+1)] != "1" {
		t.Errorf("after rollover HGETALL = %v", got)
	}
	if _, err := s.IncrFrequency(ctx, "u-1", "bad:id", day, at); !errors.Is(err, ErrInvalid) {
		t.Errorf("IncrFrequency with a colon in the campaign id: %v", err)
	}

	// The lookup sees profile and counters in one answer.
	l := startLookup(t, r, Config{CacheSize: -1}, prometheus.NewRegistry())
	l.now = fixedClock(now)
	var res Result
	if err := l.Get(ctx, "u-1", &res); err != nil {
		t.Fatal(err)
	}
	if !res.Found || res.Profile.Phase != PhaseIntent || res.Count("camp-a", day, at.Add(day)) != 1 ||
		res.Count("camp-b", time.Hour, at) != 1 || res.Count("camp-b", time.Hour, at.Add(time.Hour)) != 0 || res.Count("camp-c", day, at) != 0 {
		t.Errorf("lookup = %+v fc %+v", res.Profile, res.fc)
	}

	if err := s.Delete(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	if n := r.Client.Exists(ctx, pk, fk).Val(); n != 0 {
		t.Errorf("%d keys left after Delete", n)
	}
	if err := s.Delete(ctx, "u-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}

// TestBatching runs many concurrent lookups and checks that they share round
// trips and each gets its own answer.
func TestBatching(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	const users = 64
	for i := range users {
		if err := s.Put(ctx, Profile{User: fmt.Sprint("u-", i), Phase: Phase(1 + i%4), Product: Product{ID: fmt.Sprint("sku-", i)}}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	l := startLookup(t, r, Config{CacheSize: -1, MaxInFlight: 2, MaxBatch: 64}, reg)
	const perUser = 200
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprint("u-", i)
			var res Result
			for range perUser {
				c, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := l.Get(c, user, &res)
				cancel()
				if err != nil {
					failures.Add(1)
					continue
				}
				if !res.Found || res.Profile.Product.ID != fmt.Sprint("sku-", i) || res.Profile.Phase != Phase(1+i%4) {
					t.Errorf("user %s got %+v", user, res.Profile)
					return
				}
			}
		}()
	}
	wg.Wait()
	lookups := users * perUser
	trips := histCount(t, reg, "kairos_segments_batch_size")
	t.Logf("%d lookups in %d round trips (%.3f per lookup), %d failed", lookups, trips, float64(trips)/float64(lookups), failures.Load())
	if failures.Load() > 0 {
		t.Errorf("%d lookups failed", failures.Load())
	}
	if trips == 0 || trips > uint64(lookups/4) {
		t.Errorf("%d round trips for %d concurrent lookups: not batched", trips, lookups)
	}
}

// TestInvalidation checks that a change made through one Store reaches the
// caches of two Lookups on the same Redis.
func TestInvalidation(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	invalidated := make(chan string, 100)
	var ls [2]*Lookup
	for i := range ls {
		ls[i] = NewLookup(r, Config{CacheTTL: time.Hour, NegativeTTL: time.Hour}, prometheus.NewRegistry(), nil)
		ls[i].onInvalidate = func(p string) { invalidated <- p }
		if err := ls[i].Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer ls[i].Stop()
	}
	get := func(l *Lookup) *Result {
		t.Helper()
		var res Result
		if err := l.Get(ctx, "u-1", &res); err != nil {
			t.Fatal(err)
		}
		return &res
	}
	// waitBoth waits for both instances to receive an invalidation of u-1.
	waitBoth := func() {
		t.Helper()
		for range 2 {
			select {
			case p := <-invalidated:
				if p != "u-1" {
					t.Fatalf("invalidation of %q", p)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no invalidation message")
			}
		}
	}
	for _, l := range ls {
		if res := get(l); res.Found {
			t.Fatal("found before Put")
		}
		if res := get(l); !res.Cached {
			t.Fatal("negative answer not cached")
		}
	}
	if err := s.Put(ctx, Profile{User: "u-1", Phase: PhaseAwareness}, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitBoth()
	for _, l := range ls {
		if res := get(l); !res.Found || res.Cached || res.Profile.Phase != PhaseAwareness {
			t.Fatalf("after Put: %+v cached=%v", res.Profile, res.Cached)
		}
		if res := get(l); !res.Cached {
			t.Fatal("profile not cached")
		}
	}
	if err := s.Apply(ctx, Event{Type: EventAddToCart, User: "u-1", Product: Product{ID: "sku-1"}}); err != nil {
		t.Fatal(err)
	}
	waitBoth()
	for _, l := range ls {
		if res := get(l); res.Profile.Phase != PhaseIntent || res.Profile.Product.ID != "sku-1" {
			t.Fatalf("after add_to_cart: %+v", res.Profile)
		}
	}
	now := time.Now()
	if _, err := s.IncrFrequency(ctx, "u-1", "camp", time.Hour, now); err != nil {
		t.Fatal(err)
	}
	waitBoth()
	for _, l := range ls {
		if res := get(l); res.Count("camp", time.Hour, now) != 1 {
			t.Fatalf("after IncrFrequency: count %d", res.Count("camp", time.Hour, now))
		}
	}
	if err := s.Delete(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	waitBoth()
	for _, l := range ls {
		if res := get(l); res.Found || res.Count("camp", time.Hour, now) != 0 {
			t.Fatal("found after Delete")
		}
	}
}

func TestCacheBounded(t *testing.T) {
	c := newCache(cacheShards * 4)
	for i := range 10000 {
		u := fmt.Sprint("u-", i)
		c.put(u, c.generation(u), &entry{expires: int64(i)}, 0)
	}
	if n := c.len(); n > cacheShards*4 {
		t.Errorf("cache holds %d entries, limit %d", n, cacheShards*4)
	}
	// An answer fetched before an invalidation is not stored after it.
	gen := c.generation("x")
	c.invalidate("x")
	c.put("x", gen, &entry{expires: 1 << 62}, 0)
	if c.get("x", 0) != nil {
		t.Error("stale answer cached after an invalidation")
	}
}

// proxy forwards TCP to a Redis and can hold all traffic, like a paused or
// partitioned Redis, without disturbing anyone else using that Redis.
type proxy struct {
	ln   net.Listener
	gate sync.RWMutex // write-locked while paused
	wg   sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	var conns sync.Map
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns.Store(c, up)
			p.wg.Add(2)
			go p.pipe(up, c)
			go p.pipe(c, up)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, v any) bool { k.(net.Conn).Close(); v.(net.Conn).Close(); return true })
		p.wg.Wait()
	})
	return p
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate.RLock()
			_, werr := dst.Write(buf[:n])
			p.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			return
		}
	}
}

func (p *proxy) pause()  { p.gate.Lock() }
func (p *proxy) resume() { p.gate.Unlock() }

// TestRedisStall stalls Redis mid-load: every Get must return by its deadline
// (timeouts and overload are fine), nothing may pile up, and lookups must
// recover once Redis answers again.
func TestRedisStall(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	if err := s.Put(ctx, Profile{User: "u-1", Phase: PhaseIntent}, time.Hour); err != nil {
		t.Fatal(err)
	}
	target := r.Client.(*redis.Client).Options().Addr
	px := newProxy(t, target)
	client := redis.NewClient(&redis.Options{Addr: px.ln.Addr().String(), MaxRetries: -1})
	defer client.Close()
	viaProxy := &storage.Redis{Client: client, Keys: r.Keys}

	baseline := runtime.NumGoroutine()
	reg := prometheus.NewRegistry()
	l := NewLookup(viaProxy, Config{CacheSize: -1, MaxInFlight: 2, MaxBatch: 16, MaxQueue: 64, RedisTimeout: 100 * time.Millisecond}, reg, nil)
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}

	const deadline = 20 * time.Millisecond
	// Slack for a noisy 2-core machine under the race detector.
	const slack = 30 * time.Millisecond
	var (
		stop                      atomic.Bool
		wg                        sync.WaitGroup
		ok, timeouts, overloaded  atomic.Int64
		unavailable, late, others atomic.Int64
		worst                     atomic.Int64
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res Result
			for !stop.Load() {
				start := time.Now()
				c, cancel := context.WithTimeout(ctx, deadline)
				err := l.Get(c, "u-1", &res)
				cancel()
				took := time.Since(start)
				if int64(took) > worst.Load() {
					worst.Store(int64(took))
				}
				if took > deadline+slack {
					late.Add(1)
				}
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrTimeout):
					timeouts.Add(1)
				case errors.Is(err, ErrOverloaded):
					overloaded.Add(1)
					time.Sleep(time.Millisecond) // a bidder would answer no-bid here
				case errors.Is(err, ErrUnavailable):
					unavailable.Add(1)
				default:
					others.Add(1)
					t.Errorf("unexpected error %v", err)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // load before the stall
	before := ok.Load()
	px.pause()
	time.Sleep(1500 * time.Millisecond)
	duringOK := ok.Load() - before
	px.resume()
	// Recovery: a lookup must succeed soon after Redis answers again.
	recovered := false
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		var res Result
		c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := l.Get(c, "u-1", &res)
		cancel()
		if err == nil && res.Found && res.Profile.Phase == PhaseIntent {
			recovered = true
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	l.Stop()
	t.Logf("ok %d (during stall %d), timeouts %d, overloaded %d, unavailable %d, late %d, worst %s",
		ok.Load(), duringOK, timeouts.Load(), overloaded.Load(), unavailable.Load(), late.Load(), time.Duration(worst.Load()))
	if before == 0 {
		t.Error("no lookup succeeded before the stall")
	}
	if late.Load() > 0 {
		t.Errorf("%d lookups returned more than %s after their deadline (worst %s)", late.Load(), slack, time.Duration(worst.Load()))
	}
	if timeouts.Load()+overloaded.Load() == 0 {
		t.Error("no lookup timed out during the stall")
	}
	if !recovered {
		t.Error("lookups did not recover after the stall")
	}
	// Everything the Lookup started has ended.
	client.Close()
	for end := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > baseline+2 && time.Now().Before(end); {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > baseline+2 {
		t.Errorf("%d goroutines after Stop, %d before Start", n, baseline)
	}
}

// TestGetUntil: the deadline form of Get answers like Get, gives up on a
// deadline that has passed without asking Redis, and serves hits from the
// cache.
func TestGetUntil(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	if err := s.Put(ctx, Profile{User: "u-1", Phase: PhaseIntent}, time.Hour); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	l := startLookup(t, r, Config{CacheTTL: time.Hour}, reg)
	var res Result
	if err := l.GetUntil(time.Now().Add(-time.Millisecond), "u-1", &res); !errors.Is(err, ErrTimeout) || res.Found {
		t.Fatalf("past deadline: err %v, found %v; want ErrTimeout", err, res.Found)
	}
	if err := l.GetUntil(time.Now().Add(time.Second), "u-1", &res); err != nil || !res.Found || res.Cached || res.Profile.Phase != PhaseIntent {
		t.Fatalf("miss: err %v, %+v", err, res)
	}
	if err := l.GetUntil(time.Time{}, "nobody", &res); err != nil || res.Found {
		t.Fatalf("no deadline, unknown user: err %v, found %v", err, res.Found)
	}
	if err := l.GetUntil(time.Now().Add(time.Second), "u-1", &res); err != nil || !res.Cached {
		t.Fatalf("hit: err %v, cached %v", err, res.Cached)
	}
}

func BenchmarkLookupGetCacheHit(b *testing.B) {
	r := testRedis(b)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	if err := s.Put(ctx, Profile{User: "u-1", Phase: PhaseIntent, Interests: []string{"running"}, Product: Product{"sku-1", "Trail Runner 2", "89.00"}, Purchased: []string{"sku-9"}}, time.Hour); err != nil {
		b.Fatal(err)
	}
	l := startLookup(b, r, Config{CacheTTL: time.Hour}, prometheus.NewRegistry())
	var res Result
	if err := l.Get(ctx, "u-1", &res); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Get(ctx, "u-1", &res); err != nil || !res.Cached {
			b.Fatal(err, res.Cached)
		}
	}
}

// BenchmarkLookupGetRedis measures cache misses against Redis from many
// goroutines: the batching at work. round-trips/op is Redis pipelines per lookup.
func BenchmarkLookupGetRedis(b *testing.B) {
	r := testRedis(b)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	const users = 1000
	names := make([]string, users)
	for i := range users {
		names[i] = fmt.Sprint("u-", i)
		if err := s.Put(ctx, Profile{User: names[i], Phase: PhaseIntent, Product: Product{ID: "sku-1", Name: "Trail Runner 2"}}, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	for _, inFlight := range []int{1, 2, 4} {
		b.Run(fmt.Sprint("inflight=", inFlight), func(b *testing.B) {
			benchGetRedis(b, r, names, Config{CacheSize: -1, MaxInFlight: inFlight})
		})
	}
}

func benchGetRedis(b *testing.B, r *storage.Redis, names []string, cfg Config) {
	ctx := context.Background()
	users := len(names)
	reg := prometheus.NewRegistry()
	l := startLookup(b, r, cfg, reg)
	var errs atomic.Int64
	var seq atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var res Result
		i := int(seq.Add(1)) * 7919
		for pb.Next() {
			i++
			c, cancel := context.WithTimeout(ctx, time.Second)
			if err := l.Get(c, names[i%users], &res); err != nil {
				errs.Add(1)
			}
			cancel()
		}
	})
	b.StopTimer()
	trips := histCount(b, reg, "kairos_segments_batch_size")
	b.ReportMetric(float64(trips)/float64(b.N), "round-trips/op")
	if errs.Load() > 0 {
		b.Fatalf("%d lookups failed", errs.Load())
	}
}

// benchParallelism is goroutines per CPU in BenchmarkLookupGetRedis: a bidder
// has many requests waiting on lookups at once.
var benchParallelism = 16

// TestResubscribeEmptiesCache checks that a Lookup whose invalidation
// connection was lost empties its cache once it has subscribed again:
// invalidations published while it was away never reach it.
func TestResubscribeEmptiesCache(t *testing.T) {
	base := testRedis(t)
	if base.Embedded != nil {
		t.Skip("needs a real Redis to kill the subscriber's connection")
	}
	ctx := context.Background()
	name := fmt.Sprintf("kt-resub-%08x", rand.Uint32())
	r, err := storage.Open(ctx, storage.Config{URL: realRedis + "?client_name=" + name, Prefix: base.Keys.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	reg := prometheus.NewRegistry()
	l := NewLookup(r, Config{CacheTTL: time.Hour, NegativeTTL: time.Hour}, reg, nil)
	invalidated := make(chan string, 10)
	l.onInvalidate = func(p string) { invalidated <- p }
	waitFor := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case p := <-invalidated:
				if p == want {
					return
				}
			case <-timeout:
				t.Fatalf("no invalidation %q", want)
			}
		}
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	s := NewStore(base, Config{}, nil)
	if err := s.Put(ctx, Profile{User: "u-1", Phase: PhaseAwareness}, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor("u-1")
	var res Result
	for _, want := range []bool{false, true} { // fetched, then cached
		if err := l.Get(ctx, "u-1", &res); err != nil || res.Cached != want || res.Profile.Phase != PhaseAwareness {
			t.Fatalf("get: %v, cached %v, phase %v", err, res.Cached, res.Profile.Phase)
		}
	}
	// Kill the subscriber's connection, then change the profile while it is
	// away (a Put publishes an invalidation nobody receives).
	list, err := base.Client.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") || !strings.Contains(line, " cmd=subscribe") {
			continue
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
		if err := base.Client.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("killed %d subscriber connections named %s", killed, name)
	}
	if err := s.Put(ctx, Profile{User: "u-1", Phase: PhaseIntent}, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor("*") // the cache emptied after subscribing again
	if err := l.Get(ctx, "u-1", &res); err != nil || res.Cached || res.Profile.Phase != PhaseIntent {
		t.Fatalf("after resubscribing: %v, cached %v, phase %v", err, res.Cached, res.Profile.Phase)
	}
	if n := counterValue(t, reg, "kairos_segments_resubscribes_total", ""); n != 1 {
		t.Errorf("resubscribes counted %v, want 1", n)
	}
}
