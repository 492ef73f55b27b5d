package pacing

import (
	"sync"
	"time"
)

// Clock tells the time for everything in this package: leases, reservation
// windows, notice expiry, days and the traffic curve. It is injected so that
// tests step it by hand and load tests compress a day into minutes.
type Clock interface {
	// Now returns the current clock time.
	Now() time.Time
	// Speed is how many clock seconds pass per real second (1 for a real
	// clock); background loops divide their clock-time intervals by it.
	Speed() float64
}

// SystemClock is the Clock of the machine.
type SystemClock struct{}

var _ Clock = SystemClock{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Speed returns 1.
func (SystemClock) Speed() float64 { return 1 }

// ScaledClock runs Speed times faster than real time from a chosen start, so
// that a test can drive a day of pacing in a few minutes (KAIROS_CLOCK_SPEED).
// Every instance and the exchange simulator must share the same start and
// speed, since notice expiry and leases are compared across them.
type ScaledClock struct {
	start time.Time
	real0 time.Time
	speed float64
}

var _ Clock = (*ScaledClock)(nil)

// NewScaledClock returns a clock that reads start now and then advances speed
// clock seconds per real second; speed <= 0 means 1.
func NewScaledClock(start time.Time, speed float64) *ScaledClock {
	return NewScaledClockSince(start, time.Now(), speed)
}

// NewScaledClockSince returns a clock that read start at the real time
// realStart; processes given the same three values agree on the time.
func NewScaledClockSince(start, realStart time.Time, speed float64) *ScaledClock {
	if speed <= 0 {
		speed = 1
	}
	return &ScaledClock{start: start, real0: realStart, speed: speed}
}

// Now returns the scaled time.
func (c *ScaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.real0)) * c.speed))
}

// Speed returns the scale factor.
func (c *ScaledClock) Speed() float64 { return c.speed }

// ManualClock is a Clock that moves only when told to, for tests.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ Clock = (*ManualClock)(nil)

// NewManualClock returns a clock stopped at now.
func NewManualClock(now time.Time) *ManualClock { return &ManualClock{now: now} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Speed returns 1.
func (c *ManualClock) Speed() float64 { return 1 }

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Advance moves the clock forward by d and returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// realInterval converts a clock-time interval into the real interval a ticker
// needs, never below a few milliseconds.
func realInterval(c Clock, d time.Duration) time.Duration {
	s := c.Speed()
	if s > 0 && s != 1 {
		d = time.Duration(float64(d) / s)
	}
	return max(d, 5*time.Millisecond)
}

// dayOf returns the calendar day of now in loc ("YYYY-MM-DD") and its bounds
// in Unix milliseconds; days may be 23 or 25 hours long across DST changes.
func dayOf(now time.Time, loc *time.Location) (day string, startMs, endMs int64) {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := now.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	end := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	return start.Format(time.DateOnly), start.UnixMilli(), end.UnixMilli()
}
