//go:build !race

package segments

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestZeroAllocs pins the hot-path functions at zero allocations.
func TestZeroAllocs(t *testing.T) {
	f := func(name string, fn func()) {
		t.Helper()
		fn() // warm up buffers
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s: %.1f allocations per run, want 0", name, n)
		}
	}
	eidReq := bidRequest(t, `{"id":"1","device":{"ifa":"i","lmt":1},"user":{"eids":[{"source":"a","uids":[{"id":"e"}]}]}}`)
	f("ResolveUser", func() { ResolveUser(eidReq) })

	line := []byte(`{"user":"u-1","phase":"intent","interests":["running-shoes","tr\u00e4il"],"product":{"id":"sku-1","name":"Trail Runner 2","price":"89.00"},"purchased":["sku-9","sku-2"],"ttl":"720h"}`)
	var d lineDecoder
	var out []byte
	f("import line", func() {
		if err := d.decode(line, t0, time.Hour); err != nil {
			t.Fatal(err)
		}
		out = appendRecord(out[:0], &d.rec)
	})
	val := string(out)
	var rec record
	var p Profile
	f("decodeRecord", func() {
		if err := decodeRecord(val, &rec); err != nil {
			t.Fatal(err)
		}
		rec.fill(&p, "u-1", &decay, t0)
	})

	r := testRedis(t)
	ctx := context.Background()
	if err := NewStore(r, Config{}, nil).Put(ctx, Profile{User: "u-1", Phase: PhaseIntent, Interests: []string{"a", "b"}, Purchased: []string{"c"}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	l := startLookup(t, r, Config{CacheTTL: time.Hour}, prometheus.NewRegistry())
	var res Result
	if err := l.Get(ctx, "u-1", &res); err != nil {
		t.Fatal(err)
	}
	f("Lookup.Get cache hit", func() {
		if err := l.Get(ctx, "u-1", &res); err != nil || !res.Cached {
			t.Fatal(err, res.Cached)
		}
		_ = res.Count("camp", time.Hour, t0)
	})
}
