package reports

import (
	"fmt"
	"regexp"
	"time"
)

// Clock tells the time for the Reader's default ranges and the dashboard;
// pacing.SystemClock and pacing.ScaledClock satisfy it.
type Clock interface {
	// Now returns the current clock time.
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config tunes counting and reading. The zero value of each field means its
// default.
type Config struct {
	// Instance names this process in the flush markers (1-24 of a-z, 0-9);
	// default random. Two live counters must never share a name.
	Instance string
	// FlushInterval is how often counts go to Redis (default 1s).
	FlushInterval time.Duration
	// FlushTimeout bounds one flush's Redis round trip (default 5s).
	FlushTimeout time.Duration
	// TTL is how long an hour of counts is kept in Redis after its last
	// write (default 40 days); it also caps a query's range.
	TTL time.Duration
	// MaxKeys bounds the distinct dimension combinations held in memory
	// between flushes (default 200000). Beyond it, new combinations are filed
	// under publisher and variant "(other)".
	MaxKeys int
	// Clock is the time source (default the system clock).
	Clock Clock
}

var instanceRe = regexp.MustCompile(`^[a-z0-9]{1,24}$`)

// Validate checks the configuration, naming the offending setting.
func (c *Config) Validate() error {
	switch {
	case c.Instance != "" && !instanceRe.MatchString(c.Instance):
		return fmt.Errorf("KAIROS_INSTANCE %q: want 1-24 characters of a-z, 0-9", c.Instance)
	case c.FlushInterval < 0 || (c.FlushInterval > 0 && c.FlushInterval < 10*time.Millisecond):
		return fmt.Errorf("KAIROS_REPORTS_FLUSH %v: want at least 10ms", c.FlushInterval)
	case c.FlushTimeout < 0:
		return fmt.Errorf("KAIROS_REPORTS_FLUSH_TIMEOUT %v: must not be negative", c.FlushTimeout)
	case c.TTL < 0 || (c.TTL > 0 && c.TTL < time.Hour):
		return fmt.Errorf("KAIROS_REPORTS_TTL %v: want at least 1h", c.TTL)
	case c.MaxKeys < 0:
		return fmt.Errorf("KAIROS_REPORTS_MAX_KEYS %d: must not be negative", c.MaxKeys)
	}
	return nil
}

// Defaults returns the configuration with every default filled in, for flag
// defaults and documentation.
func Defaults() Config { return Config{}.withDefaults() }

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.FlushInterval == 0 {
		c.FlushInterval = time.Second
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 5 * time.Second
	}
	if c.TTL == 0 {
		c.TTL = 40 * 24 * time.Hour
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = 200_000
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c
}
