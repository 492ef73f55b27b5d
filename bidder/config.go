package bidder

import (
	"fmt"
	"net/url"
	"time"

	"github.com/kairos-rtb/kairos/money"
)

// Config tunes the exchange-facing bidder. Zero values mean the defaults below.
type Config struct {
	// MaxBodyBytes bounds a request body, compressed or not (default 256 KiB);
	// larger requests get 413.
	MaxBodyBytes int
	// DefaultTmax is the auction deadline when a request has no tmax (default 100ms).
	DefaultTmax time.Duration
	// MaxTmax caps any request's tmax (default 1s).
	MaxTmax time.Duration
	// NetworkReserve is subtracted from tmax for the way back to the exchange
	// (default 15ms).
	NetworkReserve time.Duration
	// LookupTimeout caps the wait for the profile lookup within the deadline
	// (default 20ms): a slow Redis costs the profile, not the latency.
	LookupTimeout time.Duration
	// Seat is Kairos's seat id in bid responses and wseat/bseat checks (default "kairos").
	Seat string
	// Rates converts floors and prices between currencies (default money.DefaultRates).
	Rates string
	// PublicURL is the base of notice and click URLs (default http://<listen>).
	PublicURL string
	// Shed tunes overload shedding.
	Shed ShedConfig
}

func (c *Config) setDefaults() {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 256 << 10
	}
	if c.DefaultTmax == 0 {
		c.DefaultTmax = 100 * time.Millisecond
	}
	if c.MaxTmax == 0 {
		c.MaxTmax = time.Second
	}
	if c.NetworkReserve == 0 {
		c.NetworkReserve = 15 * time.Millisecond
	}
	if c.Seat == "" {
		c.Seat = "kairos"
	}
	if c.LookupTimeout == 0 {
		c.LookupTimeout = 20 * time.Millisecond
	}
	if c.Rates == "" {
		c.Rates = money.DefaultRates
	}
	c.Shed.setDefaults()
}

// Validate checks the configuration, naming the offending setting.
func (c *Config) Validate() error {
	c.setDefaults()
	switch {
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("KAIROS_MAX_BODY_BYTES: %d is too small (at least 1024)", c.MaxBodyBytes)
	case c.DefaultTmax <= 0 || c.DefaultTmax > c.MaxTmax:
		return fmt.Errorf("KAIROS_DEFAULT_TMAX: %s must be positive and at most KAIROS_MAX_TMAX %s", c.DefaultTmax, c.MaxTmax)
	case c.LookupTimeout < 0:
		return fmt.Errorf("KAIROS_LOOKUP_TIMEOUT: %s must not be negative", c.LookupTimeout)
	case c.Shed.Interval < 0:
		return fmt.Errorf("KAIROS_SHED_INTERVAL: %s must be positive", c.Shed.Interval)
	case c.NetworkReserve < 0 || c.NetworkReserve >= c.DefaultTmax:
		return fmt.Errorf("KAIROS_NETWORK_RESERVE: %s must be below KAIROS_DEFAULT_TMAX %s", c.NetworkReserve, c.DefaultTmax)
	}
	if _, err := money.ParseRates(c.Rates); err != nil {
		return fmt.Errorf("KAIROS_CURRENCY_RATES: %w", err)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("KAIROS_PUBLIC_URL: want an absolute http(s) URL, got %q", c.PublicURL)
		}
	}
	return nil
}

// Deadline returns how long Kairos may take for a request with the given tmax
// (milliseconds; 0 = absent): min(tmax or default, max) minus the network reserve.
func (c *Config) Deadline(tmaxMS int64) time.Duration {
	d := c.DefaultTmax
	if tmaxMS > 0 {
		d = time.Duration(tmaxMS) * time.Millisecond
	}
	if d > c.MaxTmax {
		d = c.MaxTmax
	}
	d -= c.NetworkReserve
	if d < 0 {
		d = 0
	}
	return d
}
