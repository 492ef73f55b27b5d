package pacing

import (
	"fmt"
	"regexp"
	"time"

	"github.com/kairos-rtb/kairos/money"
)

// Config tunes budgets and pacing. Every duration is in clock time (see Clock);
// the zero value of each field means its default.
type Config struct {
	// Instance names this bidder instance in the ledger's lease fields and in
	// bid ids: 1-24 characters of a-z, 0-9. Default: random. Two live
	// instances must never share a name.
	Instance string
	// ReserveWindow is how long a bid's reservation waits for its win, billing
	// or loss notice before it is released (default 10m). A notice after it
	// still settles, counted as late: see the package documentation.
	ReserveWindow time.Duration
	// NoticeTTL is how long a notice URL stays valid (default 6h). Replays are
	// recognised for this long, at the price of one small Redis key per
	// settled bid for as long.
	NoticeTTL time.Duration
	// LeaseTTL is how long a lease lives without a heartbeat (default 30s).
	LeaseTTL time.Duration
	// Grace is how long after its expiry an abandoned lease is reclaimed by
	// another instance (default ReserveWindow + 2m; at least ReserveWindow +
	// SweepLag, so that every in-window notice of a dead instance's bids still
	// finds its lease).
	Grace time.Duration
	// Heartbeat is how often live leases are extended (default LeaseTTL/6).
	Heartbeat time.Duration
	// SweepInterval is how often refills and expired reservations are handled
	// (default 1s).
	SweepInterval time.Duration
	// SweepLag delays releasing an expired reservation past its window, so a
	// notice racing the window's end settles normally (default 5s).
	SweepLag time.Duration
	// RefillHorizon sizes a lease as this much spend at the campaign's observed
	// reservation rate (default 5s).
	RefillHorizon time.Duration
	// IdleReturn is how long a campaign may go without reservations before
	// this instance returns its unreserved lease (default 6 × RefillHorizon,
	// at least 30s).
	IdleReturn time.Duration
	// MinLease is the smallest lease asked for, in campaign currency micros
	// (default 0: ten impressions at the campaign's max CPM).
	MinLease money.Micros
	// ExpectedInstances caps a lease at the unleased rest of today's budget
	// divided by twice this number, so a small budget is not stranded in one
	// instance (default DefaultExpectedInstances).
	ExpectedInstances int
	// TickInterval is how often the controller adjusts participation (default 5s).
	TickInterval time.Duration
	// MinParticipation is the lowest participation rate (default 0.01).
	MinParticipation float64
	// InitialParticipation is where even and ahead campaigns start before the
	// controller has seen spend (default 0.1): a cautious start that ramps up
	// at most doubling per tick.
	InitialParticipation float64
}

var instanceRe = regexp.MustCompile(`^[a-z0-9]{1,24}$`)

// withDefaults returns c with every zero field set to its default.
// DefaultExpectedInstances is Config.ExpectedInstances when unset.
const DefaultExpectedInstances = 4

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ReserveWindow, 10*time.Minute)
	def(&c.NoticeTTL, 6*time.Hour)
	def(&c.LeaseTTL, 30*time.Second)
	def(&c.SweepLag, 5*time.Second)
	def(&c.Grace, c.ReserveWindow+2*time.Minute)
	def(&c.Heartbeat, c.LeaseTTL/6)
	def(&c.SweepInterval, time.Second)
	def(&c.RefillHorizon, 5*time.Second)
	def(&c.IdleReturn, max(6*c.RefillHorizon, 30*time.Second))
	def(&c.TickInterval, 5*time.Second)
	if c.ExpectedInstances == 0 {
		c.ExpectedInstances = DefaultExpectedInstances
	}
	if c.MinParticipation == 0 {
		c.MinParticipation = 0.01
	}
	if c.InitialParticipation == 0 {
		c.InitialParticipation = 0.1
	}
	return c
}

// Validate checks the configuration, naming the offending setting.
func (c *Config) Validate() error {
	d := c.withDefaults()
	switch {
	case c.Instance != "" && !instanceRe.MatchString(c.Instance):
		return fmt.Errorf("pacing instance %q: want 1-24 characters of a-z and 0-9", c.Instance)
	case d.ReserveWindow < time.Second:
		return fmt.Errorf("pacing reserve window %s: want at least 1s", d.ReserveWindow)
	case d.NoticeTTL < d.ReserveWindow:
		return fmt.Errorf("pacing notice TTL %s: want at least the reserve window %s", d.NoticeTTL, d.ReserveWindow)
	case d.Grace < d.ReserveWindow+d.SweepLag:
		return fmt.Errorf("pacing grace %s: want at least reserve window + sweep lag (%s)", d.Grace, d.ReserveWindow+d.SweepLag)
	case d.Heartbeat <= 0 || d.Heartbeat*2 > d.LeaseTTL:
		return fmt.Errorf("pacing heartbeat %s: want positive and at most half the lease TTL %s", d.Heartbeat, d.LeaseTTL)
	case d.SweepInterval <= 0 || d.SweepLag <= 0 || d.RefillHorizon <= 0 || d.TickInterval <= 0 || d.IdleReturn <= 0:
		return fmt.Errorf("pacing intervals must be positive")
	case d.MinLease < 0:
		return fmt.Errorf("pacing min lease %s: must not be negative", d.MinLease)
	case d.ExpectedInstances < 1:
		return fmt.Errorf("pacing expected instances %d: want at least 1", d.ExpectedInstances)
	case d.MinParticipation <= 0 || d.MinParticipation > 1:
		return fmt.Errorf("pacing min participation %g: want (0, 1]", d.MinParticipation)
	case d.InitialParticipation < d.MinParticipation || d.InitialParticipation > 1:
		return fmt.Errorf("pacing initial participation %g: want [min participation, 1]", d.InitialParticipation)
	}
	return nil
}
