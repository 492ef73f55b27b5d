package segments

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// realRedis is the Redis integration tests use when it answers.
const realRedis = "redis://127.0.0.1:6379"

// testRedis connects to the local Redis under a key prefix unique to the test
// and deletes the test's keys afterwards. Without a local Redis it falls back
// to the embedded in-memory one.
func testRedis(tb testing.TB) *storage.Redis {
	tb.Helper()
	name := strings.NewReplacer("/", "-", " ", "_").Replace(tb.Name())
	prefix := fmt.Sprintf("kt:%s:%08x:", name, rand.Uint32())
	ctx := context.Background()
	r, err := storage.Open(ctx, storage.Config{URL: realRedis, Prefix: prefix})
	if err != nil {
		tb.Logf("no Redis at %s (%v); using the embedded in-memory Redis", realRedis, err)
		if r, err = storage.Open(ctx, storage.Config{Prefix: prefix}); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		var cursor uint64
		for {
			keys, next, err := r.Client.Scan(ctx, cursor, prefix+"*", 1000).Result()
			if err != nil {
				tb.Errorf("clean up %s*: %v", prefix, err)
				break
			}
			if len(keys) > 0 {
				r.Client.Del(ctx, keys...)
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		r.Close()
	})
	return r
}

// startLookup starts a Lookup on r and stops it at the end of the test.
func startLookup(tb testing.TB, r *storage.Redis, cfg Config, reg prometheus.Registerer) *Lookup {
	tb.Helper()
	l := NewLookup(r, cfg, reg, nil)
	if err := l.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(l.Stop)
	return l
}

// histCount returns the sample count of the named histogram in reg.
func histCount(tb testing.TB, reg *prometheus.Registry, name string) uint64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}

// counterValue returns the named counter with label result=result.
func counterValue(tb testing.TB, reg *prometheus.Registry, name, result string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if result == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "result" && lp.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// fixedClock returns a clock stuck at t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }
