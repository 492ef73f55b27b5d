package bench

import (
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when slept on, so schedules are checked exactly.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept += d
}

func (c *fakeClock) advance(d time.Duration) { c.Sleep(d) }

func TestConstantPacerDue(t *testing.T) {
	f := func(rate float64, n uint64, want time.Duration) {
		t.Helper()
		if got := (ConstantPacer{PerSecond: rate}).Due(n); got != want {
			t.Errorf("rate %v: Due(%d) = %v, want %v", rate, n, got, want)
		}
	}
	f(1000, 0, 0)
	f(1000, 1, time.Millisecond)
	f(1000, 2500, 2500*time.Millisecond)
	f(3, 1, 333333333*time.Nanosecond)
	f(0.5, 3, 6*time.Second)
}

type emitted struct {
	n        uint64
	due, now time.Time
}

func TestScheduleSendsOnSchedule(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	var got []emitted
	schedule(clock, ConstantPacer{PerSecond: 1000}, start, 50*time.Millisecond, 0,
		func() bool { return false },
		func(n uint64, due time.Time) bool {
			got = append(got, emitted{n, due, clock.Now()})
			return true
		})
	if len(got) != 50 {
		t.Fatalf("emitted %d requests in 50ms at 1000/s, want 50", len(got))
	}
	for i, e := range got {
		want := start.Add(time.Duration(i) * time.Millisecond)
		if e.n != uint64(i) || !e.due.Equal(want) {
			t.Errorf("request %d: n %d due %v, want n %d due %v", i, e.n, e.due.Sub(start), i, want.Sub(start))
		}
		if !e.now.Equal(e.due) {
			t.Errorf("request %d emitted at %v, due %v", i, e.now.Sub(start), e.due.Sub(start))
		}
	}
	if clock.slept != 49*time.Millisecond {
		t.Errorf("slept %v, want 49ms", clock.slept)
	}
}

// A slow emit (a blocked worker pool, a slow server) must not shift the
// schedule: the requests that fell due meanwhile go out at once, still stamped
// with their own due times, so their latency includes the delay.
func TestScheduleKeepsDueTimesWhenBehind(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	var got []emitted
	schedule(clock, ConstantPacer{PerSecond: 100}, start, 0, 10,
		func() bool { return false },
		func(n uint64, due time.Time) bool {
			got = append(got, emitted{n, due, clock.Now()})
			if n == 2 {
				clock.advance(45 * time.Millisecond) // stuck until 65ms
			}
			return true
		})
	if len(got) != 10 {
		t.Fatalf("emitted %d, want 10", len(got))
	}
	for i, e := range got {
		if want := start.Add(time.Duration(i) * 10 * time.Millisecond); !e.due.Equal(want) {
			t.Errorf("request %d due at %v, want %v", i, e.due.Sub(start), want.Sub(start))
		}
	}
	// Requests 3..6 were due at 30..60ms and go out at 65ms, without sleeping.
	for i := 3; i <= 6; i++ {
		if at := got[i].now.Sub(start); at != 65*time.Millisecond {
			t.Errorf("request %d emitted at %v, want 65ms", i, at)
		}
	}
	if at := got[7].now.Sub(start); at != 70*time.Millisecond {
		t.Errorf("request 7 emitted at %v, want 70ms", at)
	}
}

func TestScheduleStops(t *testing.T) {
	clock := newFakeClock()
	count := 0
	schedule(clock, ConstantPacer{PerSecond: 10}, clock.Now(), time.Hour, 0,
		func() bool { return count >= 7 },
		func(uint64, time.Time) bool { count++; return true })
	if count != 7 {
		t.Errorf("stopped after %d, want 7", count)
	}
	count = 0
	schedule(clock, ConstantPacer{PerSecond: 10}, clock.Now(), time.Hour, 0,
		func() bool { return false },
		func(uint64, time.Time) bool { count++; return count < 3 })
	if count != 3 {
		t.Errorf("emit refused after %d, want 3", count)
	}
	// A low rate still notices a stop within one bounded sleep.
	clock = newFakeClock()
	start := clock.Now()
	stopAt := start.Add(250 * time.Millisecond)
	schedule(clock, ConstantPacer{PerSecond: 0.01}, start, 0, 0,
		func() bool { return !clock.Now().Before(stopAt) },
		func(uint64, time.Time) bool { return true })
	if d := clock.Now().Sub(start); d > 250*time.Millisecond+maxSleep {
		t.Errorf("stop noticed after %v", d)
	}
}

func TestParseDayCompress(t *testing.T) {
	f := func(in string, sim, real time.Duration, wantErr bool) {
		t.Helper()
		d, err := ParseDayCompress(in)
		if (err != nil) != wantErr {
			t.Fatalf("ParseDayCompress(%q) error %v, want error %v", in, err, wantErr)
		}
		if err == nil && (d.Sim != sim || d.Real != real) {
			t.Errorf("ParseDayCompress(%q) = %v=%v, want %v=%v", in, d.Sim, d.Real, sim, real)
		}
	}
	f("24h=10m", 24*time.Hour, 10*time.Minute, false)
	f("1h=30s", time.Hour, 30*time.Second, false)
	f("24h", 0, 0, true)
	f("24h=0s", 0, 0, true)
	f("x=10m", 0, 0, true)
}

func TestDayPacerFollowsCurve(t *testing.T) {
	// One simulated hour per real second.
	day := Day{Sim: 24 * time.Hour, Real: 24 * time.Second, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	p, err := NewDayPacer(1000, day)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 24)
	prev := time.Duration(-1)
	for n := uint64(0); ; n++ {
		d := p.Due(n)
		if d < prev {
			t.Fatalf("Due(%d) = %v before Due(%d) = %v", n, d, n-1, prev)
		}
		prev = d
		if d >= 24*time.Second {
			break
		}
		counts[int(d/time.Second)]++
	}
	// Hour 20 is the peak (1.0), hour 3 the trough (0.25).
	if counts[20] < 950 || counts[20] > 1010 {
		t.Errorf("requests in simulated hour 20 = %d, want about 1000", counts[20])
	}
	if counts[3] < 230 || counts[3] > 280 {
		t.Errorf("requests in simulated hour 3 = %d, want about 250", counts[3])
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	if math.Abs(float64(total)-p.PerDay()) > 2 {
		t.Errorf("requests in one day = %d, PerDay = %v", total, p.PerDay())
	}
	// The second day repeats the first.
	per := uint64(p.PerDay())
	if d1, d2 := p.Due(100), p.Due(100+per); d2-d1 < 24*time.Second-10*time.Millisecond || d2-d1 > 24*time.Second+10*time.Millisecond {
		t.Errorf("Due(100+perDay) - Due(100) = %v, want 24s", d2-d1)
	}
	if r := p.Rate(20 * time.Second); math.Abs(r-1000) > 10 {
		t.Errorf("Rate at hour 20 = %v, want about 1000", r)
	}
}

func TestDaySimTime(t *testing.T) {
	day := Day{Sim: 24 * time.Hour, Real: 10 * time.Minute}
	start := time.Date(2026, 3, 1, 15, 4, 5, 0, time.UTC)
	f := func(offset time.Duration, want string) {
		t.Helper()
		if got := day.SimTime(start, offset).Format(time.RFC3339); got != want {
			t.Errorf("SimTime(+%v) = %s, want %s", offset, got, want)
		}
	}
	f(0, "2026-03-01T00:00:00Z")
	f(5*time.Minute, "2026-03-01T12:00:00Z")
	f(10*time.Minute, "2026-03-02T00:00:00Z")
	day.Start = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	f(25*time.Second, "2026-06-01T07:00:00Z")
}
