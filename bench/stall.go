package bench

import (
	"sync"
	"time"
)

// StallMonitor records the load generator's own stalls: stretches in which
// its process did not run (descheduled by the OS, or every processor busy), so
// that an answer which arrived in time but was read late is not blamed on the
// server. A goroutine wakes every tick and counts a wake-up later than
// tick+slack as a stall from the previous wake-up; a stall still in progress
// (the caller running first after one) counts up to the moment asked about.
type StallMonitor struct {
	tick, slack time.Duration

	mu     sync.Mutex
	last   time.Time   // the previous wake-up
	stalls []stallSpan // ring of the most recent stalls
	next   int
	stop   chan struct{}
	done   chan struct{}
}

type stallSpan struct{ from, to time.Time }

// maxStalls bounds the ring: at one stall per tick it spans several seconds,
// longer than any request's timeout.
const maxStalls = 4096

// NewStallMonitor returns a monitor waking every tick; a wake-up more than
// slack late is a stall.
func NewStallMonitor(tick, slack time.Duration) *StallMonitor {
	return &StallMonitor{tick: tick, slack: slack, stalls: make([]stallSpan, 0, maxStalls)}
}

// Start launches the monitor's goroutine.
func (s *StallMonitor) Start() {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.mu.Lock()
	s.last = time.Now()
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.tick)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			s.observe(time.Now())
		}
	}()
}

// Stop ends the monitor's goroutine.
func (s *StallMonitor) Stop() {
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
}

// observe records a wake-up at now.
func (s *StallMonitor) observe(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.last) > s.tick+s.slack {
		sp := stallSpan{from: s.last, to: now}
		if len(s.stalls) < maxStalls {
			s.stalls = append(s.stalls, sp)
		} else {
			s.stalls[s.next] = sp
			s.next = (s.next + 1) % maxStalls
		}
	}
	s.last = now
}

// Within returns how much of [from, to] the generator spent stalled, counting
// a stall in progress at to (no wake-up since more than tick+slack before it).
func (s *StallMonitor) Within(from, to time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total time.Duration
	for _, sp := range s.stalls {
		total += overlap(sp.from, sp.to, from, to)
	}
	if to.Sub(s.last) > s.tick+s.slack {
		total += overlap(s.last, to, from, to)
	}
	return total
}

// overlap is the length of the intersection of [a0, a1] and [b0, b1].
func overlap(a0, a1, b0, b1 time.Time) time.Duration {
	lo, hi := a0, a1
	if b0.After(lo) {
		lo = b0
	}
	if b1.Before(hi) {
		hi = b1
	}
	return max(hi.Sub(lo), 0)
}
