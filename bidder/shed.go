package bidder

import (
	"math"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"time"
)

// Overload shedding. When requests arrive faster than Kairos can decide them,
// the goroutines of their connections queue for a processor and every answer
// drifts past its deadline. The shedder watches that queue through the Go
// runtime's own record of how long runnable goroutines waited to run
// (runtime/metrics /sched/latencies:seconds): while the 90th percentile of
// the waits of the last interval stays above the target, or the process uses
// all of its processors' time, the share of
// requests answered at once with a no-bid (before decoding, the cheapest
// answer there is) grows; when it falls back the share shrinks, so
// throughput settles just below capacity and the requests still decided are
// answered in time. (A ticker measuring its own lateness would not do: a
// goroutine woken by a timer runs next, ahead of the queue.)

// ShedConfig tunes overload shedding. Zero values mean the defaults.
type ShedConfig struct {
	// TargetLag is the 90th percentile of goroutine scheduling latency above
	// which requests are shed (default 5ms; negative disables shedding). Keep
	// it well below the deadline budget.
	TargetLag time.Duration
	// Interval is how often the lag is sampled and the shed share adjusted
	// (default 5ms).
	Interval time.Duration
}

func (c *ShedConfig) setDefaults() {
	if c.TargetLag == 0 {
		c.TargetLag = 5 * time.Millisecond
	}
	if c.Interval == 0 {
		c.Interval = 5 * time.Millisecond
	}
}

// The shed share moves by these steps per sample: up fast when lagging, down
// slowly, so a burst is shed at once and recovery does not oscillate.
const (
	shedStepUp   = 0.10
	shedStepDown = 0.02
	shedMax      = 0.98
)

// shedder keeps the share of requests to shed. Its methods are safe for
// concurrent use; share is read on every request and does not allocate.
type shedder struct {
	cfg   ShedConfig
	share atomic.Uint64 // math.Float64bits of the share in [0, shedMax]
	lag   atomic.Int64  // last sampled lag, nanoseconds, for metrics
	over  int           // consecutive samples above the target; run's goroutine only
}

func newShedder(cfg ShedConfig) *shedder {
	cfg.setDefaults()
	return &shedder{cfg: cfg}
}

// enabled reports whether shedding is on.
func (s *shedder) enabled() bool { return s != nil && s.cfg.TargetLag > 0 }

// Share returns the current share of requests shed.
func (s *shedder) Share() float64 { return math.Float64frombits(s.share.Load()) }

// observe adjusts the share after a sample that saw lag. One late sample may
// be the process losing its core for a moment; two in a row are a queue.
func (s *shedder) observe(lag time.Duration) {
	s.lag.Store(int64(lag))
	p := s.Share()
	if lag > s.cfg.TargetLag {
		if s.over++; s.over >= 2 {
			p = min(p+shedStepUp, shedMax)
		}
	} else {
		s.over = 0
		p = max(p-shedStepDown, 0)
	}
	s.share.Store(math.Float64bits(p))
}

// shed reports whether to shed a request, given a uniform random draw.
func (s *shedder) shed(rnd uint64) bool {
	p := s.Share()
	return p > 0 && float64(rnd>>11)/(1<<53) < p
}

// schedLatencies is the runtime metric of how long runnable goroutines
// waited before running.
const schedLatencies = "/sched/latencies:seconds"

// minWaits is the fewest goroutine waits an interval needs for its
// percentile to count; fewer means an idle process.
const minWaits = 20

// run samples the scheduling latency until stop closes.
func (s *shedder) run(stop <-chan struct{}) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	sample := []metrics.Sample{{Name: schedLatencies}}
	var prev []uint64
	var cpu cpuMeter
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
			return // not supported by this runtime: never shed
		}
		h := sample[0].Value.Float64Histogram()
		lag, ok := quantileSince(h, prev, 0.9)
		prev = append(prev[:0], h.Counts...)
		if !ok {
			lag = 0
		}
		// A saturated processor is overload too, even before a queue shows:
		// with a bounded number of connections the queue cannot grow past
		// them, and every request waits behind all of them. That includes
		// time the process wanted to run but the OS ran something else: a
		// core shared with other busy processes shows no queue inside Go,
		// while requests wait unread in the kernel (see cpuMeter.busy).
		if busy := cpu.busy(s.cfg.Interval); busy >= saturated {
			lag = max(lag, s.cfg.TargetLag+1)
		}
		s.observe(lag)
	}
}

// saturated is the share of its processors' time above which the process
// counts as saturated.
const saturated = 0.97

// cpuMeter measures the process's CPU use between calls.
type cpuMeter struct {
	lastCPU  time.Duration
	lastWall time.Time
}

// busy returns the share of GOMAXPROCS processors' time the process used or
// wanted since the previous call (0 on the first), the calls being due every
// interval. A call later than due means the process was runnable and not
// running for that long (starved by the OS, or its processors all busy), so
// the delay counts as wanted time on every processor.
func (m *cpuMeter) busy(interval time.Duration) float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	now := time.Now()
	dc, dw := cpu-m.lastCPU, now.Sub(m.lastWall)
	first := m.lastWall.IsZero()
	m.lastCPU, m.lastWall = cpu, now
	if first {
		return 0
	}
	return busyShare(dc, dw, interval, runtime.GOMAXPROCS(0))
}

// busyShare is the share of procs processors' time over wall that a process
// used (cpu) or waited for: the part of wall beyond the interval at which it
// meant to look again. The wait counts only for a process that was busy while
// it ran (used at least half of the rest): an idle process paused with the
// whole machine is not overloaded.
func busyShare(cpu, wall, interval time.Duration, procs int) float64 {
	if wall <= 0 || procs < 1 {
		return 0
	}
	p := time.Duration(procs)
	stall := max(wall-interval, 0)
	if 2*cpu < (wall-stall)*p {
		stall = 0
	}
	return min(float64(cpu+stall*p)/float64(wall*p), 1)
}

// quantileSince returns the q-quantile of the waits counted in h since the
// counts prev (the upper bound of its bucket), and false when fewer than
// minWaits were counted.
func quantileSince(h *metrics.Float64Histogram, prev []uint64, q float64) (time.Duration, bool) {
	var total uint64
	for i, c := range h.Counts {
		if i < len(prev) {
			c -= prev[i]
		}
		total += c
	}
	if total < minWaits {
		return 0, false
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.Counts {
		if i < len(prev) {
			c -= prev[i]
		}
		if seen += c; seen >= want {
			upper := h.Buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = h.Buckets[i]
			}
			return time.Duration(upper * float64(time.Second)), true
		}
	}
	return 0, false
}
