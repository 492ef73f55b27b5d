package bandit

import (
	"fmt"
	"time"
)

// Config configures a Bandit. Zero values mean the defaults.
type Config struct {
	// Explore is the share of choices made uniformly at random, so that every
	// variant of a part keeps at least Explore/n of its impressions; default
	// 0.05, negative for none.
	Explore float64
	// PriorCTR is the click rate assumed for a part without data; default 0.01.
	PriorCTR float64
	// PriorClicks is the weight of each variant's prior, in pseudo-clicks at
	// the part's pooled click rate; default 10 (at least 1).
	PriorClicks float64
	// PurchaseWeight is what one purchase is worth in clicks, once a part has
	// purchases; default 10.
	PurchaseWeight float64
	// Interval is how often local counts go to Redis and posteriors come
	// back; default 1s.
	Interval time.Duration
	// ClickWindow is how long after a click a purchase credits the clicked
	// variants; default 168h.
	ClickWindow time.Duration
	// TTL is how long a campaign's counts stay in Redis after their last
	// change; default 2160h (90 days).
	TTL time.Duration
	// Idle is how long a campaign that Choose no longer asks for is still read
	// back; default 10m.
	Idle time.Duration
	// Seed seeds the generators behind Choose; 0 means a random seed.
	Seed uint64
}

// Validate reports the first invalid setting by name.
func (c *Config) Validate() error {
	switch {
	case c.Explore >= 1:
		return fmt.Errorf("bandit explore %v: want less than 1", c.Explore)
	case c.PriorCTR < 0 || c.PriorCTR >= 1:
		return fmt.Errorf("bandit prior_ctr %v: want 0 < ctr < 1", c.PriorCTR)
	case c.PriorClicks != 0 && c.PriorClicks < 1:
		return fmt.Errorf("bandit prior_clicks %v: want at least 1", c.PriorClicks)
	case c.PurchaseWeight < 0:
		return fmt.Errorf("bandit purchase_weight %v: want 0 or more", c.PurchaseWeight)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", c.Interval}, {"click_window", c.ClickWindow}, {"ttl", c.TTL}, {"idle", c.Idle}} {
		if d.v < 0 {
			return fmt.Errorf("bandit %s %v: must not be negative", d.name, d.v)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Explore == 0 {
		c.Explore = 0.05
	}
	if c.Explore < 0 {
		c.Explore = 0
	}
	if c.PriorCTR == 0 {
		c.PriorCTR = 0.01
	}
	if c.PriorClicks == 0 {
		c.PriorClicks = 10
	}
	if c.PurchaseWeight == 0 {
		c.PurchaseWeight = 10
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.ClickWindow == 0 {
		c.ClickWindow = 7 * 24 * time.Hour
	}
	if c.TTL == 0 {
		c.TTL = 90 * 24 * time.Hour
	}
	if c.Idle == 0 {
		c.Idle = 10 * time.Minute
	}
	return c
}
