package consent

import (
	"fmt"
	"github.com/kairos-rtb/kairos/extjson"
	"unsafe"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prometheus/client_golang/prometheus"
)

// Decision is what a bid request allows Kairos to do with personal data.
type Decision struct {
	// Personal allows personal data: reading the user's profile, user-keyed
	// frequency counters, and the user id in logs and reports.
	Personal bool
	// Contextual allows a bid without personal data. It is false only under
	// GDPR when Kairos has no legal basis for TCF purpose 2 (select basic
	// ads), unless Config.ContextualWithoutLegalBasis; such a request gets no
	// bid from any campaign. Personal implies Contextual.
	Contextual bool
	// Reason says why Personal is false (ReasonOK when it is true).
	Reason Reason
}

// Outcome labels for the decision counter.
const (
	outcomePersonal = iota
	outcomeContextual
	outcomeNoBid
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"personal", "contextual", "no_bid"}

type metrics struct {
	decisions   [numReasons][numOutcomes]prometheus.Counter
	cacheHits   prometheus.Counter
	cacheMisses prometheus.Counter
}

// Decider decides, once per bid request, whether personal data may be used.
// It is safe for concurrent use.
type Decider struct {
	cfg     Config
	cache   *tcfCache
	metrics metrics
}

// NewDecider returns a Decider for cfg, registering its metrics with reg
// (none when reg is nil).
func NewDecider(cfg Config, reg prometheus.Registerer) (*Decider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d := &Decider{cfg: cfg, cache: newTCFCache(cfg.CacheSize)}
	dec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kairos_consent_decisions_total",
		Help: "Bid requests by consent outcome (personal, contextual, no_bid) and the reason personal data was refused."},
		[]string{"outcome", "reason"})
	for r := Reason(0); r < numReasons; r++ {
		for o := 0; o < numOutcomes; o++ {
			if (r == ReasonOK) != (o == outcomePersonal) {
				continue
			}
			d.metrics.decisions[r][o] = dec.WithLabelValues(outcomeNames[o], r.String())
		}
	}
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kairos_consent_tcf_cache_total",
		Help: "TCF consent string decisions answered from the cache (hit) or decoded (miss)."}, []string{"result"})
	d.metrics.cacheHits = cache.WithLabelValues("hit")
	d.metrics.cacheMisses = cache.WithLabelValues("miss")
	if reg != nil {
		if err := reg.Register(dec); err != nil {
			return nil, fmt.Errorf("consent: register metrics: %w", err)
		}
		if err := reg.Register(cache); err != nil {
			return nil, fmt.Errorf("consent: register metrics: %w", err)
		}
	}
	return d, nil
}

// Decide returns what req allows and counts the outcome. It reads regs (2.6
// fields first, then their OpenRTB 2.5 places in regs.ext), user.consent (or
// user.ext.consent) and device.lmt/dnt, in this order of precedence:
//
//   - regs.coppa=1: ReasonCOPPA.
//   - GDPR (regs.gdpr=1, else regs.ext.gdpr=1, else section 2 in gpp_sid,
//     else Config.AssumeGDPR): the TCF v2 string (user.consent, else
//     user.ext.consent, else the GPP string's TCF section) must give Kairos's
//     vendor a legal basis for every Config.Purposes within the publisher's
//     restrictions; a missing or undecodable string counts as no consent.
//   - GPP (regs.gpp/gpp_sid, else regs.ext.gpp/gpp_sid): an opt-out of sale,
//     sharing or targeted advertising, or GPC, in an applicable US section.
//   - us_privacy (regs.us_privacy, else regs.ext.us_privacy): opted out of
//     sale. Checked as well as GPP: the more private signal wins.
//   - device.lmt=1, then device.dnt=1: decided as contextual.
//
// Decide does not allocate except when it decodes a TCF string not in its
// cache. The Decision refers to nothing in req.
func (d *Decider) Decide(req *openrtb2.BidRequest) Decision {
	dec := d.decide(req)
	o := outcomePersonal
	switch {
	case !dec.Contextual:
		o = outcomeNoBid
	case !dec.Personal:
		o = outcomeContextual
	}
	if c := d.metrics.decisions[dec.Reason][o]; c != nil {
		c.Inc()
	}
	return dec
}

func (d *Decider) decide(req *openrtb2.BidRequest) Decision {
	var (
		coppa bool
		gdpr  int8 = -1 // unknown
		usp   string
		gpp   string
		sids  sidSet
	)
	if regs := req.Regs; regs != nil {
		coppa = regs.COPPA == 1
		if regs.GDPR != nil {
			gdpr = *regs.GDPR
		}
		usp, gpp = regs.USPrivacy, regs.GPP
		if len(regs.GPPSID) > 0 {
			sids.given = true
			for _, id := range regs.GPPSID {
				sids.add(int(id))
			}
		}
		if len(regs.Ext) > 0 {
			// OpenRTB 2.5 places, read only where the 2.6 field is absent.
			m := extjson.Members{B: regs.Ext}
			for {
				k, v, ok := m.Next()
				if !ok {
					break
				}
				switch string(k) {
				case "gdpr":
					if f, ok := extjson.Flag(v); ok && gdpr < 0 {
						gdpr = f
					}
				case "us_privacy":
					if usp == "" {
						usp = stringValue(v)
					}
				case "gpp":
					if gpp == "" {
						gpp = stringValue(v)
					}
				case "gpp_sid":
					if !sids.given {
						sids = sidsFromJSON(v)
					}
				}
			}
		}
	}

	var g gppResult
	if gpp != "" {
		g = parseGPP(gpp, sids)
	}

	dec := Decision{Personal: true, Contextual: true}
	refuse := func(r Reason) {
		if dec.Personal {
			dec.Personal, dec.Reason = false, r
		}
	}
	if coppa {
		refuse(ReasonCOPPA)
	}
	if gdpr == 1 || (gdpr < 0 && (sids.has(sectionTCFEU) || d.cfg.AssumeGDPR)) {
		tc := consentString(req.User)
		if tc == "" {
			tc = g.tcf
		}
		if tc == "" {
			refuse(ReasonGDPRNoConsent)
			dec.Contextual = d.cfg.ContextualWithoutLegalBasis
		} else {
			res := d.tcf(tc)
			if res.personal != ReasonOK {
				refuse(res.personal)
			}
			dec.Contextual = res.contextual
		}
	}
	if g.optOut {
		refuse(ReasonGPPOptOut)
	} else if g.malformed {
		refuse(ReasonGPPMalformed)
	}
	if optOut, _ := uspOptOut(usp); optOut {
		refuse(ReasonUSPrivacyOptOut)
	}
	if dev := req.Device; dev != nil {
		if dev.Lmt != nil && *dev.Lmt == 1 {
			refuse(ReasonLMT)
		}
		if dev.DNT != nil && *dev.DNT == 1 {
			refuse(ReasonDNT)
		}
	}
	if !dec.Contextual {
		dec.Personal = false
	}
	return dec
}

// consentString returns user.consent, else user.ext.consent.
func consentString(u *openrtb2.User) string {
	if u == nil {
		return ""
	}
	if u.Consent != "" {
		return u.Consent
	}
	if len(u.Ext) > 0 {
		return extString(u.Ext, "consent")
	}
	return ""
}

// extString returns the raw contents of the string member key of obj, ""
// when absent or not a string. It points into obj.
func extString(obj []byte, key string) string {
	v, ok := extjson.Field(obj, key)
	if !ok {
		return ""
	}
	return stringValue(v)
}

// stringValue returns the raw contents of a JSON string token, "" for other
// tokens. It points into tok.
func stringValue(tok []byte) string {
	s, ok := extjson.RawString(tok)
	if !ok || len(s) == 0 {
		return ""
	}
	// The request (and so obj) outlives the decision; nothing keeps the
	// string beyond it except the TCF cache, which copies its keys.
	return unsafe.String(&s[0], len(s))
}
