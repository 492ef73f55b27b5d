package segments

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	f := func(c Config, wantKey string) {
		t.Helper()
		err := c.Validate()
		switch {
		case wantKey == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		case wantKey != "" && (err == nil || !strings.HasPrefix(err.Error(), wantKey+":")):
			t.Errorf("Validate(%+v) = %v, want an error naming %s", c, err, wantKey)
		}
	}
	f(Config{}, "")
	f(Config{CacheSize: -1, CacheTTL: 2 * time.Second, MaxBatch: 256, Decay: Decay{Awareness: 365 * 24 * time.Hour}}, "")
	f(Config{CacheTTL: -time.Second}, "KAIROS_PROFILE_CACHE_TTL")
	f(Config{Decay: Decay{Intent: -1}}, "KAIROS_SEGMENTS_DECAY_INTENT")
	f(Config{MaxBatch: 1 << 20}, "KAIROS_SEGMENTS_MAX_BATCH")
	f(Config{MaxInFlight: -1}, "KAIROS_SEGMENTS_MAX_IN_FLIGHT")
	f(Config{DefaultTTL: time.Millisecond}, "KAIROS_SEGMENTS_DEFAULT_TTL")

	d := Config{}.withDefaults()
	if d.CacheSize != 100000 || d.CacheTTL != 10*time.Second || d.NegativeTTL != 10*time.Second || d.MaxQueue != d.MaxBatch*d.MaxInFlight ||
		d.DefaultTTL != 720*time.Hour || d.Decay.Intent != 7*24*time.Hour {
		t.Errorf("defaults = %+v", d)
	}
}
