package holdout

import (
	"fmt"
	"time"
)

// Config configures a Holdout. Zero values mean the defaults.
type Config struct {
	// Share is the share of each campaign's eligible users held out, in [0, 0.5];
	// default 0: no holdout (Assign answers GroupNone and nothing is recorded).
	Share float64
	// Salt makes the assignment; change it to draw new groups. Default
	// "kairos-holdout".
	Salt string
	// Window is how long after a user's last eligible bid a purchase counts
	// as a conversion; default 720h (30 days).
	Window time.Duration
	// Interval is how often recorded bids go to Redis; default 1s.
	Interval time.Duration
	// MaxPending bounds the events waiting for the next Sync; default 65536.
	MaxPending int
	// TTL is how long a campaign's counters stay after their last change;
	// default 4320h (180 days).
	TTL time.Duration
}

// Validate reports the first invalid setting by name.
func (c *Config) Validate() error {
	switch {
	case c.Share < 0 || c.Share > 0.5:
		return fmt.Errorf("holdout share %v: want 0 to 0.5", c.Share)
	case c.Window < 0:
		return fmt.Errorf("holdout window %v: must not be negative", c.Window)
	case c.Interval < 0:
		return fmt.Errorf("holdout interval %v: must not be negative", c.Interval)
	case c.MaxPending < 0:
		return fmt.Errorf("holdout max_pending %d: must not be negative", c.MaxPending)
	case c.TTL < 0:
		return fmt.Errorf("holdout ttl %v: must not be negative", c.TTL)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Salt == "" {
		c.Salt = "kairos-holdout"
	}
	if c.Window == 0 {
		c.Window = 30 * 24 * time.Hour
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = 65536
	}
	if c.TTL == 0 {
		c.TTL = 180 * 24 * time.Hour
	}
	return c
}
