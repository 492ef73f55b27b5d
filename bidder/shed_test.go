package bidder

import (
	"math"
	"math/rand/v2"
	"runtime/metrics"
	"testing"
	"time"
)

func TestShedderShare(t *testing.T) {
	s := newShedder(ShedConfig{TargetLag: 2 * time.Millisecond}) // the default is 10ms
	f := func(lag time.Duration, want float64) {
		t.Helper()
		s.observe(lag)
		if got := s.Share(); got < want-1e-9 || got > want+1e-9 {
			t.Fatalf("after lag %s share = %.3f, want %.3f", lag, got, want)
		}
	}
	f(0, 0)                                        // idle: nothing shed
	f(2*time.Millisecond, 0)                       // at the target: nothing shed
	f(3*time.Millisecond, 0)                       // one late sample: a blip, not a queue
	f(0, 0)                                        // back in time
	f(3*time.Millisecond, 0)                       // late again...
	f(3*time.Millisecond, shedStepUp)              // ...twice in a row: up one step
	f(50*time.Millisecond, 2*shedStepUp)           // still lagging
	f(time.Millisecond, 2*shedStepUp-shedStepDown) // recovering: down slowly
	for range 100 {
		s.observe(time.Second)
	}
	if got := s.Share(); got != shedMax {
		t.Fatalf("share under sustained overload = %.3f, want the cap %.2f", got, shedMax)
	}
	for range 100 {
		s.observe(0)
	}
	if got := s.Share(); got != 0 {
		t.Fatalf("share after recovery = %.3f, want 0", got)
	}
}

func TestShedDraw(t *testing.T) {
	s := newShedder(ShedConfig{})
	rng := rand.New(rand.NewPCG(1, 2))
	s.share.Store(0) // math.Float64bits(0)
	for i := uint64(0); i < 1000; i++ {
		if s.shed(rng.Uint64()) {
			t.Fatal("shed with share 0")
		}
	}
	for range 6 {
		s.observe(time.Second) // the first sample is taken for a blip: share 0.5
	}
	n := 0
	for i := uint64(0); i < 100000; i++ {
		if s.shed(rng.Uint64()) {
			n++
		}
	}
	if n < 48000 || n > 52000 {
		t.Fatalf("shed %d of 100000 at share 0.5", n)
	}
	var off *shedder
	if off.enabled() || newShedder(ShedConfig{TargetLag: -1}).enabled() {
		t.Fatal("a nil or negative-target shedder is enabled")
	}
}

// TestShedRequest: a shed request is answered 204 "overload" without its body
// being decoded, so even a malformed one costs no decode.
func TestShedRequest(t *testing.T) {
	s := demoServer(t)
	for range 100 {
		s.shed.observe(time.Second)
	}
	overload := 0
	for range 200 {
		status, reason, _ := do(s, `{not json`)
		switch {
		case status == 204 && reason == ReasonOverload.String():
			overload++
		case status == 400:
		default:
			t.Fatalf("status %d reason %q", status, reason)
		}
	}
	if overload < 180 {
		t.Fatalf("%d of 200 requests shed at share %.2f", overload, s.shed.Share())
	}
	for range 100 {
		s.shed.observe(0)
	}
	if status, _, _ := do(s, `{not json`); status != 400 {
		t.Fatalf("after recovery a malformed request gets %d, want 400", status)
	}
}

func TestQuantileSince(t *testing.T) {
	ms := func(v float64) float64 { return v / 1000 }
	h := &metrics.Float64Histogram{
		Buckets: []float64{0, ms(1), ms(2), ms(5), ms(10), math.Inf(1)},
		Counts:  []uint64{50, 30, 10, 5, 5},
	}
	f := func(prev []uint64, q float64, want time.Duration, wantOK bool) {
		t.Helper()
		got, ok := quantileSince(h, prev, q)
		if got != want || ok != wantOK {
			t.Fatalf("quantile %.2f since %v = %v %v, want %v %v", q, prev, got, ok, want, wantOK)
		}
	}
	f(nil, 0.5, time.Millisecond, true)                          // 50 of 100 waits under 1ms
	f(nil, 0.9, 5*time.Millisecond, true)                        // the 90th wait is in 2-5ms
	f(nil, 0.99, 10*time.Millisecond, true)                      // the last bucket is open: its lower bound
	f([]uint64{45, 25, 5, 0, 0}, 0.9, 10*time.Millisecond, true) // since prev, waits spread evenly
	f([]uint64{45, 30, 10, 5, 5}, 0.9, 0, false)                 // five new waits are too few to judge
}

func TestBusyShare(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name                string
		cpu, wall, interval time.Duration
		procs               int
		want                float64
	}{
		{"on time, fully busy", 5 * ms, 5 * ms, 5 * ms, 1, 1},
		{"on time, half busy", 2500 * time.Microsecond, 5 * ms, 5 * ms, 1, 0.5},
		{"on time, one of two processors", 5 * ms, 5 * ms, 5 * ms, 2, 0.5},
		// Starved by the OS: ran 4ms of 5, waited 10ms for the core.
		{"starved while busy", 4 * ms, 15 * ms, 5 * ms, 1, 14.0 / 15},
		{"starved, busy throughout", 5 * ms, 15 * ms, 5 * ms, 1, 1},
		// Idle when the whole machine paused for 200ms: not overloaded.
		{"idle through a pause", 0, 205 * ms, 5 * ms, 1, 0},
		{"lightly used through a pause", ms, 205 * ms, 5 * ms, 1, 1.0 / 205},
		{"no time", 0, 0, 5 * ms, 1, 0},
	} {
		got := busyShare(c.cpu, c.wall, c.interval, c.procs)
		if math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: busyShare = %.4f, want %.4f", c.name, got, c.want)
		}
	}
}
