// Package consent decides, once per bid request and before any personal
// data is touched, whether Kairos may use personal data for it: read the
// user's profile, keep user-keyed frequency counters, and put the user id in
// logs and reports. It reads COPPA, GDPR with the IAB TCF v2 string (decoded
// with github.com/prebid/go-gdpr), the IAB Global Privacy Platform string's
// US national and state sections, the older US Privacy string, and the
// device's limit-ad-tracking and do-not-track flags.
//
// A Decision is Personal (everything allowed), contextual only (bid without
// personal data; campaigns that require consent skip it), or, under GDPR
// without a legal basis for TCF purpose 2, no bid at all. Every decision is
// counted by outcome and reason in kairos_consent_decisions_total.
//
// # Policy
//
//   - GDPR applies when regs.gdpr (or regs.ext.gdpr) is 1, when gpp_sid
//     lists the TCF EU section (2) and the flag is absent, or by
//     Config.AssumeGDPR. Personalised bidding then needs, for Kairos's vendor
//     id, a legal basis for each of Config.Purposes (1, 3 and 4 by default):
//     consent, or legitimate interest where TCF v2.2 permits it (purposes 2
//     and 7-11 only, and only with Config.AllowLegitimateInterest). Publisher
//     restrictions are honoured: "not allowed" removes the purpose, "require
//     consent" or "require legitimate interest" removes the other basis. A
//     missing, malformed or non-v2 string counts as no consent. TCF policy
//     v2.2 rules are applied to strings of every policy version.
//   - GPP: in every applicable section (all when gpp_sid is absent) of
//     sections 6 (uspv1) and 7-23 (usnat and the state sections), an opt-out
//     of sale, sharing or targeted advertising (value 1), or GPC=1, makes the
//     request contextual; so does a GPP string, or an applicable section 6-23
//     in it, that cannot be decoded. Sensitive-data and known-child fields
//     are not read.
//   - us_privacy: "1?Y?" (opted out of sale) makes the request contextual. It
//     is read even when GPP is present; conflicting signals resolve to the
//     more private one. A malformed US Privacy string is no signal.
//   - device.lmt=1 makes the request contextual, not merely the IFA unusable:
//     LMT (iOS App Tracking Transparency, Android's ad-id opt-out) means the
//     user refused cross-app tracking, which joining a Kairos profile through
//     any id (buyeruid, eids, IFA) would be. device.dnt=1 is honoured the same
//     way for browsers.
//
// # Hot path
//
// Decide does not block. It does not allocate, except on a TCF cache miss:
// go-gdpr's decoding allocates about 1.4 KB. The cache is a fixed-size,
// lock-free, direct-mapped table keyed by the TC string's core segment
// without its two timestamps (which CMPs stamp per user), so users who made
// the same choices on a site share one entry. GPP and US Privacy strings are
// decoded in place on every request without allocating.
package consent
