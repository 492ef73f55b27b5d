package consent

import (
	"fmt"
	"testing"
)

const kairosVendor = 42

// consentAll gives every purpose and Kairos's vendor consent and LI.
var consentAll = tcString{
	purposes:   []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	liPurposes: []int{2, 7, 8, 9, 10, 11},
	vendors:    []uint16{1, 7, kairosVendor, 755},
	liVendors:  []uint16{7, kairosVendor},
}

func gdprReq(tc string) string {
	return fmt.Sprintf(`{"id":"1","regs":{"gdpr":1},"user":{"id":"u","consent":%q}}`, tc)
}

func TestDecideTCF(t *testing.T) {
	base := Config{VendorID: kairosVendor}
	li := Config{VendorID: kairosVendor, AllowLegitimateInterest: true}
	f := func(name string, cfg Config, js string, want Decision) {
		t.Helper()
		d := newDecider(t, cfg)
		if got := d.Decide(bidRequest(t, js)); got != want {
			t.Errorf("%s: Decide = %+v, want %+v", name, got, want)
		}
	}
	personal := Decision{Personal: true, Contextual: true, Reason: ReasonOK}
	contextual := func(r Reason) Decision { return Decision{Contextual: true, Reason: r} }
	noBid := func(r Reason) Decision { return Decision{Reason: r} }

	f("consent given", base, gdprReq(consentAll.encode()), personal)
	f("consent given, range-encoded vendors", base, gdprReq(tcString{
		purposes: []int{1, 2, 3, 4}, vendors: []uint16{3, kairosVendor, 900}, rangeEncoding: true,
	}.encode()), personal)
	f("only the required purposes", base, gdprReq(tcString{
		purposes: []int{1, 2, 3, 4}, vendors: []uint16{kairosVendor}}.encode()), personal)
	f("purpose 3 missing", base, gdprReq(tcString{
		purposes: []int{1, 2, 4}, vendors: []uint16{kairosVendor}}.encode()), contextual(ReasonGDPRPurpose))
	f("purpose 1 missing", base, gdprReq(tcString{
		purposes: []int{2, 3, 4}, vendors: []uint16{kairosVendor}}.encode()), contextual(ReasonGDPRPurpose))
	f("purposes 2 and 4 missing: no basis for a bid at all", base, gdprReq(tcString{
		purposes: []int{1, 3}, vendors: []uint16{kairosVendor}}.encode()), noBid(ReasonGDPRPurpose))
	f("rejected everything", base, gdprReq(tcString{}.encode()), noBid(ReasonGDPRPurpose))
	f("vendor missing", base, gdprReq(tcString{
		purposes: []int{1, 2, 3, 4}, vendors: []uint16{1, 7, 755}}.encode()), noBid(ReasonGDPRVendor))
	f("vendor beyond MaxVendorId", base, gdprReq(tcString{
		purposes: []int{1, 2, 3, 4}, vendors: []uint16{1, 7}}.encode()), noBid(ReasonGDPRVendor))
	f("vendor id not configured", Config{}, gdprReq(consentAll.encode()), noBid(ReasonGDPRVendor))

	// Legitimate interest: only for purposes 2 and 7-11, and only when allowed.
	liOnly2 := tcString{purposes: []int{1, 3, 4}, liPurposes: []int{2}, vendors: []uint16{kairosVendor},
		liVendors: []uint16{kairosVendor}}
	f("purpose 2 by legitimate interest", li, gdprReq(liOnly2.encode()), personal)
	f("purpose 2 by legitimate interest, LI not allowed", base, gdprReq(liOnly2.encode()),
		noBid(ReasonGDPRPurpose))
	f("purpose 2 LI without vendor LI", li, gdprReq(tcString{purposes: []int{1, 3, 4},
		liPurposes: []int{2}, vendors: []uint16{kairosVendor}}.encode()), noBid(ReasonGDPRVendor))
	f("purposes 3 and 4 cannot rest on LI", li, gdprReq(tcString{purposes: []int{1, 2},
		liPurposes: []int{2, 3, 4}, vendors: []uint16{kairosVendor}, liVendors: []uint16{kairosVendor}}.encode()),
		contextual(ReasonGDPRPurpose))
	f("purpose 7 by LI when configured", Config{VendorID: kairosVendor, AllowLegitimateInterest: true,
		Purposes: []int{1, 3, 4, 7}}, gdprReq(tcString{purposes: []int{1, 2, 3, 4}, liPurposes: []int{7},
		vendors: []uint16{kairosVendor}, liVendors: []uint16{kairosVendor}}.encode()), personal)

	// Publisher restrictions.
	restricted := func(rs ...restriction) string {
		tc := consentAll
		tc.restrictions = rs
		return gdprReq(tc.encode())
	}
	f("purpose 4 not allowed for Kairos", base, restricted(restriction{4, restrictNotAllowed,
		[]uint16{3, kairosVendor}}), contextual(ReasonGDPRPublisherRestriction))
	f("purpose 4 not allowed for another vendor", base, restricted(restriction{4, restrictNotAllowed,
		[]uint16{3, 755}}), personal)
	f("purpose 3 requires LI, which TCF forbids for it", li, restricted(restriction{3, restrictRequireLI,
		[]uint16{kairosVendor}}), contextual(ReasonGDPRPublisherRestriction))
	f("purpose 3 requires consent, which Kairos has", base, restricted(restriction{3, restrictRequireConsent,
		[]uint16{kairosVendor}}), personal)
	f("purpose 2 not allowed: no bid", base, restricted(restriction{2, restrictNotAllowed,
		[]uint16{kairosVendor}}), noBid(ReasonGDPRPublisherRestriction))
	f("purpose 2 requires consent, Kairos has only LI", li, gdprReq(tcString{purposes: []int{1, 3, 4},
		liPurposes: []int{2}, vendors: []uint16{kairosVendor}, liVendors: []uint16{kairosVendor},
		restrictions: []restriction{{2, restrictRequireConsent, []uint16{kairosVendor}}}}.encode()),
		noBid(ReasonGDPRPublisherRestriction))

	// Purpose one treatment.
	p1t := gdprReq(tcString{purposes: []int{2, 3, 4}, vendors: []uint16{kairosVendor},
		purposeOneTreatment: true}.encode())
	f("purpose one treatment, not honoured", base, p1t, contextual(ReasonGDPRPurpose))
	f("purpose one treatment, honoured", Config{VendorID: kairosVendor, AllowPurposeOneTreatment: true},
		p1t, personal)

	// Malformed strings count as no consent.
	for _, tc := range []string{"CPX", "garbage", "C" + "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
		"BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA",                 // TCF v1
		consentAll.encode()[:30],                              // truncated
		"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA\\u0041", // escaped in JSON
	} {
		f("malformed "+tc, base, gdprReq(tc), noBid(ReasonGDPRMalformed))
	}
	f("malformed, contextual allowed", Config{VendorID: kairosVendor, ContextualWithoutLegalBasis: true},
		gdprReq("garbage"), contextual(ReasonGDPRMalformed))

	// Where the signals come from.
	tc := consentAll.encode()
	f("no consent string", base, `{"id":"1","regs":{"gdpr":1},"user":{"id":"u"}}`, noBid(ReasonGDPRNoConsent))
	f("no user", base, `{"id":"1","regs":{"gdpr":1}}`, noBid(ReasonGDPRNoConsent))
	f("no user, contextual allowed", Config{VendorID: kairosVendor, ContextualWithoutLegalBasis: true},
		`{"id":"1","regs":{"gdpr":1}}`, contextual(ReasonGDPRNoConsent))
	f("2.5 ext fields", base, `{"id":"1","regs":{"ext":{"gdpr":1}},"user":{"ext":{"consent":"`+tc+`"}}}`, personal)
	f("2.5 gdpr as a string", base, `{"id":"1","regs":{"ext":{"gdpr":"1"}},"user":{"ext":{"consent":"bad"}}}`,
		noBid(ReasonGDPRMalformed))
	f("2.6 gdpr=0 wins over ext", base, `{"id":"1","regs":{"gdpr":0,"ext":{"gdpr":1}},"user":{"consent":"bad"}}`, personal)
	f("gdpr=0 ignores a bad string", base, `{"id":"1","regs":{"gdpr":0},"user":{"consent":"bad"}}`, personal)
	f("gdpr unknown", base, `{"id":"1","user":{"consent":"bad"}}`, personal)
	f("gdpr unknown, assumed", Config{VendorID: kairosVendor, AssumeGDPR: true},
		`{"id":"1","user":{"consent":"bad"}}`, noBid(ReasonGDPRMalformed))
	f("consent from the GPP TCF section", base,
		`{"id":"1","regs":{"gdpr":1,"gpp":"`+gppString(gppSection{2, tc})+`","gpp_sid":[2]}}`, personal)
	f("GPP TCF section applies GDPR", base,
		`{"id":"1","regs":{"gpp":"`+gppString(gppSection{2, tcString{}.encode()})+`","gpp_sid":[2]}}`,
		noBid(ReasonGDPRPurpose))
	f("user.consent wins over the GPP section", base,
		`{"id":"1","regs":{"gdpr":1,"gpp":"`+gppString(gppSection{2, tcString{}.encode()})+`","gpp_sid":[2]},"user":{"consent":"`+tc+`"}}`,
		personal)
	f("consent string with further segments", base, gdprReq(tc+".IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw"), personal)
}

// TestDecidePublishedVectors decides go-gdpr's published test strings.
func TestDecidePublishedVectors(t *testing.T) {
	f := func(cfg Config, tc string, want Decision) {
		t.Helper()
		if got := newDecider(t, cfg).Decide(bidRequest(t, gdprReq(tc))); got != want {
			t.Errorf("%+v %s: Decide = %+v, want %+v", cfg, tc, got, want)
		}
	}
	// Consent for purposes 6 and 23, LI transparency for all, vendors 1-10
	// with consent and LI, "purpose 7 requires consent" for vendor 32.
	const v1 = "COwAdDhOwAdDhN4ABAENAPCgAAQAAv___wAAAFP_AAp_4AI6ACACAA"
	f(Config{VendorID: 5}, v1, Decision{Reason: ReasonGDPRPurpose})
	f(Config{VendorID: 5, AllowLegitimateInterest: true}, v1,
		Decision{Contextual: true, Reason: ReasonGDPRPurpose}) // purpose 2 by LI; 1, 3, 4 need consent
	f(Config{VendorID: 5, AllowLegitimateInterest: true, Purposes: []int{6, 7}}, v1,
		Decision{Personal: true, Contextual: true})
	f(Config{VendorID: 11, AllowLegitimateInterest: true, Purposes: []int{6, 7}}, v1,
		Decision{Reason: ReasonGDPRVendor})
	// Nothing consented, many restrictions ("purpose 1 not allowed" for 32).
	const v2 = "COxPe2TOxPe2TALABAENAPCgAAAAAAAAAAAAAFAAAAoAAA4IACACAIABgACAFA4ADACAAIygAGADwAQBIAIAIB0AEAEBSACACAA"
	f(Config{VendorID: 32}, v2, Decision{Reason: ReasonGDPRPurpose})
	// The GPP specification's example TC string: nothing consented.
	f(Config{VendorID: 5}, "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA", Decision{Reason: ReasonGDPRPurpose})
}

func TestDecideUS(t *testing.T) {
	d := newDecider(t, Config{VendorID: kairosVendor})
	f := func(name, js string, want Decision) {
		t.Helper()
		if got := d.Decide(bidRequest(t, js)); got != want {
			t.Errorf("%s: Decide(%s) = %+v, want %+v", name, js, got, want)
		}
	}
	personal := Decision{Personal: true, Contextual: true}
	contextual := func(r Reason) Decision { return Decision{Contextual: true, Reason: r} }
	gppReq := func(sids string, secs ...gppSection) string {
		if sids == "" {
			return `{"id":"1","regs":{"gpp":"` + gppString(secs...) + `"}}`
		}
		return `{"id":"1","regs":{"gpp":"` + gppString(secs...) + `","gpp_sid":` + sids + `}}`
	}
	yes, no := true, false
	// usnat fields after the version: six notices, then sale, sharing,
	// targeted advertising opt-outs (1 = opted out, 2 = did not).
	usnat := func(sale, share, targeted uint64, gpc *bool) gppSection {
		return usSectionString(7, []uint64{1, 1, 1, 1, 0, 0, sale, share, targeted,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, gpc)
	}
	f("published usnat, no opt-out", `{"id":"1","regs":{"gpp":"DBABLA~BVQqAAAAAgA.QA","gpp_sid":[7]}}`, personal)
	f("usnat no opt-out", gppReq("[7]", usnat(2, 2, 2, nil)), personal)
	f("usnat not applicable", gppReq("[7]", usnat(0, 0, 0, nil)), personal)
	f("usnat sale opt-out", gppReq("[7]", usnat(1, 2, 2, nil)), contextual(ReasonGPPOptOut))
	f("usnat sharing opt-out", gppReq("[7]", usnat(2, 1, 2, nil)), contextual(ReasonGPPOptOut))
	f("usnat targeted-ads opt-out", gppReq("[7]", usnat(2, 2, 1, nil)), contextual(ReasonGPPOptOut))
	f("usnat GPC", gppReq("[7]", usnat(2, 2, 2, &yes)), contextual(ReasonGPPOptOut))
	f("usnat GPC false", gppReq("[7]", usnat(2, 2, 2, &no)), personal)
	f("usnat opt-out, section not applicable", gppReq("[8]", usnat(1, 1, 1, nil)), personal)
	f("usnat opt-out, no gpp_sid: all sections apply", gppReq("", usnat(1, 2, 2, nil)), contextual(ReasonGPPOptOut))
	// usca: SaleOptOutNotice, SharingOptOutNotice, SensitiveDataLimitUseNotice, SaleOptOut, SharingOptOut.
	f("usca sharing opt-out", gppReq("[8]", usSectionString(8, []uint64{1, 1, 0, 2, 1}, nil)), contextual(ReasonGPPOptOut))
	f("usca no opt-out", gppReq("[8]", usSectionString(8, []uint64{1, 1, 0, 2, 2}, nil)), personal)
	// usva, usco, usct, ...: three notices, SaleOptOut, TargetedAdvertisingOptOut.
	for _, id := range []int{9, 10, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23} {
		f(fmt.Sprint("state ", id, " targeted-ads opt-out"),
			gppReq(fmt.Sprintf("[%d]", id), usSectionString(id, []uint64{1, 1, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0}, nil)),
			contextual(ReasonGPPOptOut))
		f(fmt.Sprint("state ", id, " sale opt-out"),
			gppReq(fmt.Sprintf("[%d]", id), usSectionString(id, []uint64{1, 1, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0}, nil)),
			contextual(ReasonGPPOptOut))
		f(fmt.Sprint("state ", id, " no opt-out"),
			gppReq(fmt.Sprintf("[%d]", id), usSectionString(id, []uint64{1, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0}, nil)),
			personal)
	}
	// usut, usia: four notices, SaleOptOut, TargetedAdvertisingOptOut.
	for _, id := range []int{11, 18} {
		f(fmt.Sprint("state ", id, " sale opt-out"),
			gppReq(fmt.Sprintf("[%d]", id), usSectionString(id, []uint64{1, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0}, nil)),
			contextual(ReasonGPPOptOut))
		f(fmt.Sprint("state ", id, " no opt-out"),
			gppReq(fmt.Sprintf("[%d]", id), usSectionString(id, []uint64{1, 1, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0}, nil)),
			personal)
	}
	f("state section opt-out among others", gppReq("[2,6,7,8]", gppSection{2, consentAll.encode()},
		gppSection{6, "1YNN"}, usnat(2, 2, 2, nil), usSectionString(8, []uint64{1, 1, 0, 1, 2}, nil)),
		contextual(ReasonGPPOptOut))
	f("uspv1 section opt-out", gppReq("[6]", gppSection{6, "1YYN"}), contextual(ReasonGPPOptOut))
	f("uspv1 section, GPP spec example 2", `{"id":"1","regs":{"gpp":"DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN","gpp_sid":[6]}}`, personal)
	f("2.5 ext gpp", `{"id":"1","regs":{"ext":{"gpp":"`+gppString(usnat(1, 2, 2, nil))+`","gpp_sid":[7]}}}`,
		contextual(ReasonGPPOptOut))
	f("2.5 ext gpp, other sid", `{"id":"1","regs":{"ext":{"gpp":"`+gppString(usnat(1, 2, 2, nil))+`","gpp_sid":[8, 300]}}}`,
		personal)
	// Malformed GPP.
	f("bad header", `{"id":"1","regs":{"gpp":"XXXX~1YNN"}}`, contextual(ReasonGPPMalformed))
	f("missing section", `{"id":"1","regs":{"gpp":"DBACNY~1YNN"}}`, contextual(ReasonGPPMalformed))
	f("truncated usnat", gppReq("[7]", gppSection{7, "BVQ"}), contextual(ReasonGPPMalformed))
	f("bad base64", gppReq("[7]", gppSection{7, "BV*qAAAAAgA"}), contextual(ReasonGPPMalformed))
	f("bad section not applicable", gppReq("[8]", gppSection{7, "B"}), personal)
	// us_privacy, GPP's predecessor.
	f("us_privacy opt-out", `{"id":"1","regs":{"us_privacy":"1YYN"}}`, contextual(ReasonUSPrivacyOptOut))
	f("us_privacy no opt-out", `{"id":"1","regs":{"us_privacy":"1YNN"}}`, personal)
	f("us_privacy n/a", `{"id":"1","regs":{"us_privacy":"1---"}}`, personal)
	f("us_privacy 2.5", `{"id":"1","regs":{"ext":{"us_privacy":"1NYN"}}}`, contextual(ReasonUSPrivacyOptOut))
	f("us_privacy malformed is no signal", `{"id":"1","regs":{"us_privacy":"YYYY"}}`, personal)
	f("us_privacy opt-out beats GPP", `{"id":"1","regs":{"us_privacy":"1YYN","gpp":"`+gppString(usnat(2, 2, 2, nil))+`","gpp_sid":[7]}}`,
		contextual(ReasonUSPrivacyOptOut))
	// COPPA, LMT, DNT.
	f("coppa", `{"id":"1","regs":{"coppa":1}}`, contextual(ReasonCOPPA))
	f("coppa before gpp", `{"id":"1","regs":{"coppa":1,"us_privacy":"1YYN"}}`, contextual(ReasonCOPPA))
	f("lmt", `{"id":"1","device":{"ifa":"x","lmt":1}}`, contextual(ReasonLMT))
	f("lmt=0", `{"id":"1","device":{"ifa":"x","lmt":0}}`, personal)
	f("dnt", `{"id":"1","device":{"dnt":1}}`, contextual(ReasonDNT))
	f("nothing", `{"id":"1"}`, personal)
}

func TestConfigValidate(t *testing.T) {
	f := func(cfg Config, wantErr string) {
		t.Helper()
		err := cfg.Validate()
		if (err == nil) != (wantErr == "") || (err != nil && err.Error() != wantErr) {
			t.Errorf("Validate(%+v) = %v, want %q", cfg, err, wantErr)
		}
	}
	f(Config{}, "")
	f(Config{VendorID: 1, Purposes: []int{1, 2, 11}, CacheSize: 16}, "")
	f(Config{Purposes: []int{0}}, "consent: purposes: 0 is not a TCF v2.2 purpose (1-11)")
	f(Config{Purposes: []int{12}}, "consent: purposes: 12 is not a TCF v2.2 purpose (1-11)")
	f(Config{Purposes: []int{3, 3}}, "consent: purposes: 3 listed twice")
	f(Config{CacheSize: 1000}, "consent: cache_size: 1000 is not a power of two from 16 to 1048576")
	f(Config{CacheSize: 8}, "consent: cache_size: 8 is not a power of two from 16 to 1048576")
}

func TestReasonString(t *testing.T) {
	if got := Reason(200).String(); got != "unknown" {
		t.Errorf("Reason(200) = %q", got)
	}
	if names := Reasons(); len(names) != int(numReasons)-1 || names[0] != "coppa" {
		t.Errorf("Reasons() = %v", names)
	}
}
