package shading

import (
	"fmt"
	"time"
)

// Config configures a Shader. Zero values mean the defaults.
type Config struct {
	// Explore is the share of decisions whose price is moved at random by up to
	// ±Dither; default 0.1, negative for none.
	Explore float64
	// Dither is the largest relative move of an exploring price; default 0.15.
	Dither float64
	// MinObservations is how many (decayed) outcomes a curve needs before it
	// shades; default 300.
	MinObservations float64
	// MinSupport is how many bids at or below a price the curve needs before
	// that price is a candidate; default 30.
	MinSupport float64
	// MaxWinLoss is the largest share of the value's estimated wins that
	// shading may give up; default 0.1, 1 for pure surplus maximisation.
	MaxWinLoss float64
	// HalfLife is how fast old outcomes fade; default 24h.
	HalfLife time.Duration
	// Refresh is how often the curves are re-estimated; default 10s.
	Refresh time.Duration
	// MaxKeys bounds the campaign, phase and publisher combinations learnt;
	// default 10000.
	MaxKeys int
}

// Validate reports the first invalid setting by name.
func (c *Config) Validate() error {
	switch {
	case c.Explore >= 1:
		return fmt.Errorf("shading explore %v: want less than 1", c.Explore)
	case c.Dither < 0 || c.Dither >= 1:
		return fmt.Errorf("shading dither %v: want 0 to 1", c.Dither)
	case c.MinObservations < 0:
		return fmt.Errorf("shading min_observations %v: must not be negative", c.MinObservations)
	case c.MinSupport < 0:
		return fmt.Errorf("shading min_support %v: must not be negative", c.MinSupport)
	case c.MaxWinLoss < 0 || c.MaxWinLoss > 1:
		return fmt.Errorf("shading max_win_loss %v: want 0 to 1", c.MaxWinLoss)
	case c.HalfLife < 0:
		return fmt.Errorf("shading half_life %v: must not be negative", c.HalfLife)
	case c.Refresh < 0:
		return fmt.Errorf("shading refresh %v: must not be negative", c.Refresh)
	case c.MaxKeys < 0:
		return fmt.Errorf("shading max_keys %d: must not be negative", c.MaxKeys)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Explore == 0 {
		c.Explore = 0.1
	}
	if c.Explore < 0 {
		c.Explore = 0
	}
	if c.Dither == 0 {
		c.Dither = 0.15
	}
	if c.MinObservations == 0 {
		c.MinObservations = 300
	}
	if c.MinSupport == 0 {
		c.MinSupport = 30
	}
	if c.MaxWinLoss == 0 {
		c.MaxWinLoss = 0.1
	}
	if c.HalfLife == 0 {
		c.HalfLife = 24 * time.Hour
	}
	if c.Refresh == 0 {
		c.Refresh = 10 * time.Second
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = 10000
	}
	return c
}
