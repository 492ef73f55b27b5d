//go:build !race

package bench

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The attacker's hot loop must not allocate, or at high rates the load
// generator's garbage collector becomes part of the measurement.
func TestWorkerDoDoesNotAllocate(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set(NoBidReasonHeader, "no-campaign")
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	})
	a, err := NewAttacker(AttackConfig{Targets: []string{addr}, Workers: 1, MaxRequests: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := &run{a: a, corpus: generate(t, GeneratorConfig{Seed: 1}, 20), shards: make([]shard, 1)}
	r.shards[0].m = NewMetrics()
	r.start = time.Now()
	w := r.newWorker(0)
	defer w.close()
	var n uint64
	for range 50 { // warm up pools, connection and maps
		n++
		w.do(n, time.Now())
	}
	allocs := testing.AllocsPerRun(500, func() {
		n++
		w.do(n, time.Now())
	})
	if allocs > 0.05 {
		t.Errorf("worker.do allocates %.2f times per request", allocs)
	}
	if m := r.shards[0].m; m.Errors != 0 || m.NoBids != n {
		t.Errorf("errors %d no-bids %d of %d", m.Errors, m.NoBids, n)
	}
}

func TestMetricsAddDoesNotAllocate(t *testing.T) {
	m := NewMetrics()
	r := result(0, 3*time.Millisecond, 204, "no-campaign")
	m.Add(r)
	if allocs := testing.AllocsPerRun(1000, func() { m.Add(r) }); allocs != 0 {
		t.Errorf("Metrics.Add allocates %.2f times", allocs)
	}
}
