package consent

import (
	"hash/maphash"
	"strings"
	"sync/atomic"

	"github.com/prebid/go-gdpr/api"
	"github.com/prebid/go-gdpr/consentconstants"
	tcf2 "github.com/prebid/go-gdpr/vendorconsent/tcf2"
)

// tcfResult is what a TC string means for Kairos under one Config.
type tcfResult struct {
	personal   Reason // ReasonOK when personalised bidding is allowed
	contextual bool   // a legal basis for purpose 2 (select basic ads)
}

// tcfConsent is the part of go-gdpr's TCF v2 decoding Kairos reads; the
// value tcf2.Parse returns implements it.
type tcfConsent interface {
	api.VendorConsents
	PurposeLITransparency(consentconstants.Purpose) bool
	PurposeOneTreatment() bool
	VendorLegitInterest(uint16) bool
	CheckPubRestriction(purposeID, restrictType uint8, vendor uint16) bool
}

// TCF v2 publisher restriction types.
const (
	restrictNotAllowed     = 0
	restrictRequireConsent = 1
	restrictRequireLI      = 2
)

// The first 13 base64 characters of a TC string's core segment hold the
// version (1 character) and the Created and LastUpdated timestamps (6
// characters, 36 bits, each). CMPs stamp every user's string with its own
// times, so the cache keys on the rest: strings that differ only in their
// timestamps mean the same for Kairos and share one entry.
const (
	tcfStampEnd   = 13
	maxCachedCore = 4096 // longer strings are decided without the cache
)

// tcfCache remembers what recent TC strings mean. It is direct-mapped and
// lock-free: a slot holds one immutable entry, replaced whole on a miss.
type tcfCache struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Pointer[tcfEntry]
}

type tcfEntry struct {
	key string // the core segment without its timestamps
	res tcfResult
}

func newTCFCache(size int) *tcfCache {
	return &tcfCache{seed: maphash.MakeSeed(), mask: uint64(size - 1),
		slots: make([]atomic.Pointer[tcfEntry], size)}
}

func (c *tcfCache) get(key string) (tcfResult, bool) {
	e := c.slots[maphash.String(c.seed, key)&c.mask].Load()
	if e != nil && e.key == key {
		return e.res, true
	}
	return tcfResult{}, false
}

func (c *tcfCache) put(key string, res tcfResult) {
	c.slots[maphash.String(c.seed, key)&c.mask].Store(&tcfEntry{key: strings.Clone(key), res: res})
}

// tcf decides a TC string (raw base64url, possibly with further segments
// after a '.'), answering from the cache when it can.
func (d *Decider) tcf(s string) tcfResult {
	core := s
	if i := strings.IndexByte(core, '.'); i >= 0 {
		core = core[:i]
	}
	// A v2 string starts with 'C' (version 2 in 6 bits); anything else, TCF
	// v1 included, counts as malformed.
	if len(core) <= tcfStampEnd || core[0] != 'C' {
		return d.malformedTCF()
	}
	// The cache key leaves the timestamps out, so check here that they are
	// base64url: a string with garbage in them is malformed, whatever an
	// entry for the same key says.
	for i := 1; i < tcfStampEnd; i++ {
		if b64(core[i]) < 0 {
			return d.malformedTCF()
		}
	}
	key := core[tcfStampEnd:]
	cacheable := len(key) <= maxCachedCore
	if cacheable {
		if res, ok := d.cache.get(key); ok {
			d.metrics.cacheHits.Inc()
			return res
		}
	}
	d.metrics.cacheMisses.Inc()
	res := d.decodeTCF(core)
	if cacheable {
		d.cache.put(key, res)
	}
	return res
}

func (d *Decider) malformedTCF() tcfResult {
	return tcfResult{personal: ReasonGDPRMalformed, contextual: d.cfg.ContextualWithoutLegalBasis}
}

// decodeTCF parses a core segment with go-gdpr and evaluates it. A panic in
// the parser on hostile input counts as a malformed string.
func (d *Decider) decodeTCF(core string) (res tcfResult) {
	defer func() {
		if recover() != nil {
			res = d.malformedTCF()
		}
	}()
	vc, err := tcf2.ParseString(core)
	if err != nil {
		return d.malformedTCF()
	}
	c, ok := vc.(tcfConsent)
	if !ok || vc.Version() != 2 {
		return d.malformedTCF()
	}
	return d.evalTCF(c)
}

// evalTCF applies the Config to a decoded string: every configured purpose
// needs a legal basis for Kairos's vendor id, and purpose 2 decides whether
// a contextual bid is allowed at all.
func (d *Decider) evalTCF(c tcfConsent) tcfResult {
	res := tcfResult{personal: ReasonOK}
	res.contextual = d.cfg.ContextualWithoutLegalBasis || d.basis(c, 2) == ReasonOK
	for _, p := range d.cfg.Purposes {
		r := d.basis(c, p)
		// Report the most basic failure: the user's purpose choice, then
		// the vendor, then the publisher's restrictions.
		if r != ReasonOK && (res.personal == ReasonOK || r < res.personal) {
			res.personal = r
		}
	}
	if !res.contextual && res.personal == ReasonOK {
		// Not even a contextual bid is allowed, so no personal one either.
		res.personal = d.basis(c, 2)
	}
	return res
}

// basis reports whether Kairos has a legal basis for purpose p: consent
// (purpose consent and vendor consent) or, where TCF v2.2 and the Config
// allow it, legitimate interest (purpose LI transparency and vendor LI), in
// both cases within the publisher's restrictions for Kairos.
func (d *Decider) basis(c tcfConsent, p int) Reason {
	v := d.cfg.VendorID
	if v == 0 {
		return ReasonGDPRVendor
	}
	pp := consentconstants.Purpose(p)
	purposeConsent := c.PurposeAllowed(pp) ||
		(p == 1 && d.cfg.AllowPurposeOneTreatment && c.PurposeOneTreatment())
	li := d.cfg.AllowLegitimateInterest && liPermitted(p)
	purposeLI := li && c.PurposeLITransparency(pp)
	byConsent := purposeConsent && c.VendorConsent(v)
	byLI := purposeLI && c.VendorLegitInterest(v)
	if !byConsent && !byLI {
		if !purposeConsent && !purposeLI {
			return ReasonGDPRPurpose
		}
		return ReasonGDPRVendor
	}
	id := uint8(p)
	switch {
	case c.CheckPubRestriction(id, restrictNotAllowed, v):
		return ReasonGDPRPublisherRestriction
	case c.CheckPubRestriction(id, restrictRequireConsent, v) && !byConsent:
		return ReasonGDPRPublisherRestriction
	case c.CheckPubRestriction(id, restrictRequireLI, v) && !byLI:
		// Also for purposes where LI is not permitted at all: the publisher
		// then allows no legal basis Kairos could use.
		return ReasonGDPRPublisherRestriction
	}
	return ReasonOK
}
