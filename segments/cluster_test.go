package segments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// TestClusterLookups on a real Redis Cluster: an import spreads profiles over
// every master, batched lookups (one pipeline split per node) find each of
// them, and invalidations published from pipelines and from the frequency
// script reach the caches of two instances.
func TestClusterLookups(t *testing.T) {
	r := storagetest.OpenCluster(t)
	ctx := context.Background()
	s := NewStore(r, Config{ImportChunk: 64}, nil)
	const users = 300
	var lines []string
	for i := range users {
		lines = append(lines, fmt.Sprintf(`{"user":"c-%d","phase":"intent","interests":["i%d"]}`, i, i))
	}
	res, err := s.Import(ctx, strings.NewReader(strings.Join(lines, "\n")))
	if err != nil || res.Imported != users {
		t.Fatalf("import: %+v %v", res, err)
	}
	storagetest.CheckSpread(t, r, r.Keys.Prefix+"{u:*}:p")

	invalidated := make(chan string, 100)
	var ls [2]*Lookup
	for i := range ls {
		ri := r
		if i == 1 { // the second instance has its own connections
			if ri, err = storage.Open(ctx, storage.Config{URL: storagetest.ClusterURL(t), Prefix: r.Keys.Prefix}); err != nil {
				t.Fatal(err)
			}
			defer ri.Close()
		}
		// This test checks what the lookups find, not how fast: a generous
		// Timeout keeps a busy -race run from failing on the first
		// connections to every node.
		ls[i] = NewLookup(ri, Config{CacheTTL: time.Hour, NegativeTTL: time.Hour, Timeout: 5 * time.Second, RedisTimeout: 5 * time.Second}, prometheus.NewRegistry(), nil)
		ls[i].onInvalidate = func(p string) { invalidated <- p }
		if err := ls[i].Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer ls[i].Stop()
	}
	errs := make(chan error, users)
	for i := range users {
		go func() {
			var res Result
			err := ls[i%2].Get(ctx, fmt.Sprintf("c-%d", i), &res)
			if err == nil && (!res.Found || res.Profile.Phase != PhaseIntent || res.Profile.Interests[0] != fmt.Sprintf("i%d", i)) {
				err = fmt.Errorf("c-%d: found %v, %+v", i, res.Found, res.Profile)
			}
			errs <- err
		}()
	}
	for range users {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	waitBoth := func(what string) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for got := 0; got < 2; {
			select {
			case p := <-invalidated:
				if p == "c-1" { // others are the import's
					got++
				}
			case <-timeout:
				t.Fatalf("%s: no invalidation message", what)
			}
		}
	}
	now := time.Now()
	for _, l := range ls { // cache c-1 everywhere
		var res Result
		if err := l.Get(ctx, "c-1", &res); err != nil || res.Count("camp", time.Hour, now) != 0 {
			t.Fatalf("get c-1: %v, count %d", err, res.Count("camp", time.Hour, now))
		}
	}
	if err := s.Put(ctx, Profile{User: "c-1", Phase: PhaseAwareness}, time.Hour); err != nil {
		t.Fatal(err)
	}
	waitBoth("put")
	if _, err := s.IncrFrequency(ctx, "c-1", "camp", time.Hour, now); err != nil {
		t.Fatal(err)
	}
	waitBoth("frequency script")
	for _, l := range ls {
		var res Result
		if err := l.Get(ctx, "c-1", &res); err != nil || res.Profile.Phase != PhaseAwareness || res.Count("camp", time.Hour, now) != 1 {
			t.Fatalf("after put and count: %v %+v count %d", err, res.Profile, res.Count("camp", time.Hour, now))
		}
	}
}

// TestClusterNodeStall pauses one master (CLIENT PAUSE) for 1.5s under
// lookups of users on every node: no Get may outlast its deadline, and once
// the node answers again lookups must succeed again within a second. How
// many lookups of users on the healthy nodes succeed during the stall is
// logged, not checked: today almost none do, because pipelines to the
// stalled node hold every in-flight slot (see the note in the README's
// cluster section).
func TestClusterNodeStall(t *testing.T) {
	r := storagetest.OpenCluster(t)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	const users = 60
	for i := range users {
		if err := s.Put(ctx, Profile{User: fmt.Sprintf("s-%d", i), Phase: PhaseIntent}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	cc := r.Client.(*redis.ClusterClient)
	node, err := cc.MasterForKey(ctx, r.Keys.User("s-0", "p"))
	if err != nil {
		t.Fatal(err)
	}
	onStalled := map[int]bool{}
	for i := range users {
		n, err := cc.MasterForKey(ctx, r.Keys.User(fmt.Sprintf("s-%d", i), "p"))
		if err != nil {
			t.Fatal(err)
		}
		onStalled[i] = n.Options().Addr == node.Options().Addr
	}
	l := startLookup(t, r, Config{CacheSize: -1, MaxInFlight: 4, RedisTimeout: 100 * time.Millisecond}, prometheus.NewRegistry())

	const deadline, slack = 20 * time.Millisecond, 30 * time.Millisecond
	var phase atomic.Int32 // 0 before, 1 during the stall, 2 after
	type tally struct{ ok, failed, late atomic.Int64 }
	var healthy [3]tally
	stop := make(chan struct{})
	done := make(chan struct{})
	var firstOKAfter atomic.Int64
	go func() {
		defer close(done)
		var res Result
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := i % users
			start := time.Now()
			c, cancel := context.WithTimeout(ctx, deadline)
			err := l.Get(c, fmt.Sprintf("s-%d", u), &res)
			cancel()
			p := phase.Load()
			if time.Since(start) > deadline+slack {
				healthy[p].late.Add(1)
			}
			if onStalled[u] {
				continue
			}
			if err == nil {
				healthy[p].ok.Add(1)
				if p == 2 {
					firstOKAfter.CompareAndSwap(0, time.Now().UnixNano())
				}
			} else if errors.Is(err, ErrTimeout) || errors.Is(err, ErrOverloaded) || errors.Is(err, ErrUnavailable) {
				healthy[p].failed.Add(1)
			} else {
				t.Errorf("unexpected error %v", err)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	phase.Store(1)
	if err := node.Do(ctx, "CLIENT", "PAUSE", 1500, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	resumed := time.Now()
	phase.Store(2)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-done
	for p, name := range []string{"before", "during", "after"} {
		h := &healthy[p]
		t.Logf("%s the stall: lookups of users on healthy nodes ok %d, failed %d; late answers %d",
			name, h.ok.Load(), h.failed.Load(), h.late.Load())
		if h.late.Load() > 0 {
			t.Errorf("%s the stall: %d lookups outlasted their %v deadline", name, h.late.Load(), deadline)
		}
	}
	// Users on the healthy nodes keep their profiles while one node stalls: the
	// batch is split per node and the stalled node is skipped after its first
	// timed-out pipeline.
	if d := &healthy[1]; d.failed.Load()*10 > d.ok.Load()+d.failed.Load() {
		t.Errorf("during the stall %d of %d lookups of users on healthy nodes failed, want under 10%%",
			d.failed.Load(), d.ok.Load()+d.failed.Load())
	}
	if firstOKAfter.Load() == 0 {
		t.Fatal("no lookup succeeded after the node answered again")
	}
	if d := time.Unix(0, firstOKAfter.Load()).Sub(resumed); d > time.Second {
		t.Errorf("lookups recovered %v after the node answered again, want within 1s", d)
	} else {
		t.Logf("lookups recovered %v after the node answered again", d)
	}
}
