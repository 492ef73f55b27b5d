package segments

import (
	"errors"
	"fmt"
	"time"
)

// ErrTimeout is returned by Lookup.Get when the profile did not arrive before the
// context's deadline; the caller decides without the profile.
var ErrTimeout = errors.New("segments: lookup timed out")

// ErrUnavailable is returned when Redis failed or the Lookup is not running.
var ErrUnavailable = errors.New("segments: redis unavailable")

// ErrOverloaded is returned by Lookup.Get when too many lookups are already
// waiting for Redis; it fails at once instead of queueing behind a stuck Redis.
var ErrOverloaded = errors.New("segments: too many lookups in flight")

// ErrNotFound is returned by Store.Get and Store.Delete for a user without a profile.
var ErrNotFound = errors.New("segments: profile not found")

// ErrInvalid is matched (errors.Is) by every error about malformed input: a bad
// profile, event or import stream.
var ErrInvalid = errors.New("segments: invalid input")

// FieldError is malformed input, naming the offending field.
type FieldError struct {
	// Field is the JSON name of the offending field, e.g. "product.id".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns "field: reason".
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalid) true for a FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Decay says after how much inactivity a phase falls back to the one below it.
// The decay is applied when a profile is read, from the recorded event times, so
// no background job rewrites profiles.
type Decay struct {
	// Intent: intent → consideration after this long without an add_to_cart or
	// checkout (KAIROS_SEGMENTS_DECAY_INTENT); default 7 days.
	Intent time.Duration
	// Consideration: consideration → awareness after this long without a product
	// view or stronger signal (KAIROS_SEGMENTS_DECAY_CONSIDERATION); default 30 days.
	Consideration time.Duration
	// Purchased: purchased → awareness (or consideration, if the user has been
	// browsing since) after this long (KAIROS_SEGMENTS_DECAY_PURCHASED); default 90 days.
	Purchased time.Duration
	// Awareness: awareness → unknown after this long without any signal
	// (KAIROS_SEGMENTS_DECAY_AWARENESS); 0 = never (the profile's TTL ends it).
	Awareness time.Duration
}

// Config tunes the profile store, lookup and cache. Zero values mean defaults;
// the Redis key prefix comes from storage.Keys.
type Config struct {
	// CacheSize is the number of profiles the in-process cache holds
	// (KAIROS_PROFILE_CACHE_SIZE); 0 = 100000, negative disables the cache.
	CacheSize int
	// CacheTTL is how long a cached profile and its frequency counters are served
	// without asking Redis (KAIROS_PROFILE_CACHE_TTL); default 10s. Changes made
	// through Kairos (imports, puts, events, frequency counts on notices)
	// invalidate entries on every instance at once, and a lookup that
	// (re)subscribes to the invalidation channel after a lost connection empties
	// its cache, since messages sent meanwhile are lost; the TTL bounds
	// staleness only for changes written to Redis behind Kairos's back.
	CacheTTL time.Duration
	// NegativeTTL is how long a "no such profile" answer is cached
	// (KAIROS_PROFILE_NEGATIVE_TTL); default 10s, invalidated like CacheTTL.
	NegativeTTL time.Duration
	// MaxBatch is the most lookups sent to Redis in one pipeline
	// (KAIROS_SEGMENTS_MAX_BATCH); default 128.
	MaxBatch int
	// MaxInFlight is the most pipelines in flight at once
	// (KAIROS_SEGMENTS_MAX_IN_FLIGHT); default 4.
	MaxInFlight int
	// MaxQueue is the most lookups waiting for a pipeline; beyond it Get fails
	// with ErrOverloaded (KAIROS_SEGMENTS_MAX_QUEUE); default MaxBatch*MaxInFlight.
	MaxQueue int
	// Timeout bounds a lookup whose context has no deadline; default 50ms.
	// (The bid path always passes one: KAIROS_LOOKUP_TIMEOUT within tmax.)
	Timeout time.Duration
	// RedisTimeout bounds a lookup pipeline, so a stuck Redis (or, on a
	// cluster, a stuck node) frees the in-flight slots quickly
	// (KAIROS_SEGMENTS_REDIS_TIMEOUT); default 250ms. On a cluster, a node
	// whose pipeline times out is then skipped for a second: its users are
	// decided without their profiles instead of holding up everyone else's.
	RedisTimeout time.Duration
	// DefaultTTL is a profile's lifetime when an import line or Put names none, and
	// the lifetime events extend a profile to (KAIROS_SEGMENTS_DEFAULT_TTL); default 720h.
	DefaultTTL time.Duration
	// ImportChunk is the number of profiles per import pipeline
	// (KAIROS_SEGMENTS_IMPORT_CHUNK); default 1000.
	ImportChunk int
	// Decay sets how phases fall back with inactivity.
	Decay Decay
}

// Validate checks the configuration, naming the offending setting.
func (c *Config) Validate() error {
	durs := []struct {
		key string
		d   time.Duration
	}{
		{"KAIROS_PROFILE_CACHE_TTL", c.CacheTTL},
		{"KAIROS_PROFILE_NEGATIVE_TTL", c.NegativeTTL},
		{"segments Config.Timeout", c.Timeout},
		{"KAIROS_SEGMENTS_REDIS_TIMEOUT", c.RedisTimeout},
		{"KAIROS_SEGMENTS_DEFAULT_TTL", c.DefaultTTL},
		{"KAIROS_SEGMENTS_DECAY_INTENT", c.Decay.Intent},
		{"KAIROS_SEGMENTS_DECAY_CONSIDERATION", c.Decay.Consideration},
		{"KAIROS_SEGMENTS_DECAY_PURCHASED", c.Decay.Purchased},
		{"KAIROS_SEGMENTS_DECAY_AWARENESS", c.Decay.Awareness},
	}
	for _, d := range durs {
		if d.d < 0 {
			return fmt.Errorf("%s: must not be negative, got %s", d.key, d.d)
		}
	}
	ints := []struct {
		key    string
		n, max int
	}{
		{"KAIROS_SEGMENTS_MAX_BATCH", c.MaxBatch, 10000},
		{"KAIROS_SEGMENTS_MAX_IN_FLIGHT", c.MaxInFlight, 1024},
		{"KAIROS_SEGMENTS_MAX_QUEUE", c.MaxQueue, 1 << 20},
		{"KAIROS_SEGMENTS_IMPORT_CHUNK", c.ImportChunk, 100000},
	}
	for _, n := range ints {
		if n.n < 0 || n.n > n.max {
			return fmt.Errorf("%s: want 0 (default) to %d, got %d", n.key, n.max, n.n)
		}
	}
	if c.DefaultTTL > 0 && c.DefaultTTL < time.Second {
		return fmt.Errorf("KAIROS_SEGMENTS_DEFAULT_TTL: want at least 1s, got %s", c.DefaultTTL)
	}
	return nil
}

// Defaults returns the configuration with every default filled in, for
// callers that show or start from them (cmd/kairos's flags).
func Defaults() Config { return Config{}.withDefaults() }

// withDefaults returns c with zero (or invalid) values replaced by defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.CacheSize == 0 {
		c.CacheSize = 100000
	}
	def(&c.CacheTTL, 10*time.Second)
	def(&c.NegativeTTL, 10*time.Second)
	def(&c.Timeout, 50*time.Millisecond)
	def(&c.RedisTimeout, 250*time.Millisecond)
	def(&c.DefaultTTL, 720*time.Hour)
	def(&c.Decay.Intent, 7*24*time.Hour)
	def(&c.Decay.Consideration, 30*24*time.Hour)
	def(&c.Decay.Purchased, 90*24*time.Hour)
	if c.Decay.Awareness < 0 {
		c.Decay.Awareness = 0
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 128
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 4
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = c.MaxBatch * c.MaxInFlight
	}
	if c.ImportChunk <= 0 {
		c.ImportChunk = 1000
	}
	return c
}
