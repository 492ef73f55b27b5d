package consent

import (
	"fmt"
	"math/bits"
)

// Config says what Kairos needs before it may use personal data under the
// IAB TCF v2 (GDPR). The zero value is valid: GDPR requests are then never
// personalised, because no vendor id is configured.
type Config struct {
	// VendorID is Kairos's id in the IAB Global Vendor List. 0 means not
	// registered: every request under GDPR is decided without personal data
	// (ReasonGDPRVendor) and, unless ContextualWithoutLegalBasis is set, not
	// bid on at all.
	VendorID uint16
	// Purposes are the TCF purposes personalised bidding needs (default 1, 3
	// and 4: store/access information on a device, create and use a
	// personalised ads profile). Valid ids are 1 to 11.
	Purposes []int
	// AllowLegitimateInterest accepts legitimate interest (the purpose's LI
	// transparency bit plus Kairos's vendor LI bit) instead of consent for
	// the purposes where TCF v2.2 permits it: 2 and 7 to 11. Purposes 1 and
	// 3 to 6 always need consent, whatever this says.
	AllowLegitimateInterest bool
	// AllowPurposeOneTreatment treats purpose 1 as disclosed-not-required when
	// the string's PurposeOneTreatment bit is set (a publisher in a country
	// where storage and access need no consent). Off by default: purpose 1
	// then needs its consent bit like every other purpose.
	AllowPurposeOneTreatment bool
	// AssumeGDPR applies GDPR to requests that do not say whether it applies
	// (neither regs.gdpr nor regs.ext.gdpr, and no TCF section in gpp_sid).
	AssumeGDPR bool
	// ContextualWithoutLegalBasis lets Kairos bid contextually under GDPR
	// even when the TCF string gives it no legal basis for purpose 2 (select
	// basic ads) or there is no valid string at all. Off by default: such
	// requests get Decision.Contextual=false, no bid at all, as the TCF
	// requires of a vendor that processes the bid request.
	ContextualWithoutLegalBasis bool
	// CacheSize is the number of decoded TCF strings remembered (default
	// 4096, a power of two from 16 to 1<<20).
	CacheSize int
}

// defaultPurposes are the TCF purposes personalised bidding needs.
func defaultPurposes() []int { return []int{1, 3, 4} }

const (
	defaultCacheSize = 4096
	maxPurpose       = 11
)

// Validate reports the first invalid setting, naming its field.
func (c Config) Validate() error {
	seen := 0
	for _, p := range c.Purposes {
		if p < 1 || p > maxPurpose {
			return fmt.Errorf("consent: purposes: %d is not a TCF v2.2 purpose (1-%d)", p, maxPurpose)
		}
		if seen&(1<<p) != 0 {
			return fmt.Errorf("consent: purposes: %d listed twice", p)
		}
		seen |= 1 << p
	}
	if n := c.CacheSize; n != 0 && (n < 16 || n > 1<<20 || bits.OnesCount(uint(n)) != 1) {
		return fmt.Errorf("consent: cache_size: %d is not a power of two from 16 to %d", n, 1<<20)
	}
	return nil
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if len(c.Purposes) == 0 {
		c.Purposes = defaultPurposes()
	} else {
		c.Purposes = append([]int(nil), c.Purposes...)
	}
	if c.CacheSize == 0 {
		c.CacheSize = defaultCacheSize
	}
	return c
}

// liPermitted reports whether TCF v2.2 lets legitimate interest stand in for
// consent for purpose p. Purposes 1 and 3 to 6 are consent-only (1 always; 3
// to 6 since TCF v2.2 removed LI for personalised ads and content).
func liPermitted(p int) bool {
	return p == 2 || (p >= 7 && p <= maxPurpose)
}
