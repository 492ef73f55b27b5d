package bench

import (
	"testing"
	"time"
)

func TestStallMonitorWithin(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	ms := time.Millisecond
	s := NewStallMonitor(ms, 2*ms)
	s.last = t0
	for i := 1; i <= 10; i++ { // on time
		s.observe(t0.Add(time.Duration(i) * ms))
	}
	s.observe(t0.Add(110 * ms)) // stalled from 10ms to 110ms
	s.observe(t0.Add(111 * ms))
	s.observe(t0.Add(112 * ms))
	for _, c := range []struct {
		name     string
		from, to time.Duration
		want     time.Duration
	}{
		{"before the stall", 0, 10 * ms, 0},
		{"spanning it", 5 * ms, 112 * ms, 100 * ms},
		{"its second half", 60 * ms, 112 * ms, 50 * ms},
		// Nothing observed since 112ms: a stall in progress counts.
		{"in progress", 100 * ms, 150 * ms, 10*ms + 38*ms},
		{"after it, before the slack", 111 * ms, 114 * ms, 0},
	} {
		if got := s.Within(t0.Add(c.from), t0.Add(c.to)); got != c.want {
			t.Errorf("%s: Within = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestStallMonitorRing(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	s := NewStallMonitor(time.Millisecond, time.Millisecond)
	s.last = t0
	now := t0
	for range maxStalls + 10 {
		now = now.Add(5 * time.Millisecond)
		s.observe(now)
	}
	if len(s.stalls) != maxStalls {
		t.Fatalf("kept %d stalls, want the ring's %d", len(s.stalls), maxStalls)
	}
	// The oldest were overwritten: the first 10 spans count nothing.
	if got := s.Within(t0, t0.Add(50*time.Millisecond)); got != 0 {
		t.Errorf("overwritten stalls still count: %v", got)
	}
	if got := s.Within(now.Add(-10*time.Millisecond), now); got != 10*time.Millisecond {
		t.Errorf("recent stalls: %v, want 10ms", got)
	}
}

func TestStallMonitorRuns(t *testing.T) {
	s := NewStallMonitor(time.Millisecond, 50*time.Millisecond)
	s.Start()
	s.mu.Lock()
	started := s.last
	s.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	s.Stop()
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if !last.After(started) {
		t.Fatal("the monitor never woke after Start")
	}
}
