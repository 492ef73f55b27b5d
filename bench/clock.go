package bench

import "time"

// Clock tells the time and waits; it is injected so that schedules can be tested
// without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep pauses the caller for at least d.
	Sleep(d time.Duration)
}

// SystemClock is the Clock backed by package time. The Go runtime may wake a
// sleeper up to about a millisecond late; the open-loop scheduler then sends
// every request that fell due at once, still timed from its scheduled moment,
// and the lag shows in Metrics.SchedLagMax and in the gap between latency and
// service time. (Spinning instead of sleeping was tried and starves the
// network poller when the attacker has one core.)
type SystemClock struct{}

var _ Clock = SystemClock{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep calls time.Sleep.
func (SystemClock) Sleep(d time.Duration) { time.Sleep(d) }
