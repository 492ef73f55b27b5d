package consent

// Reason says why a request may not use personal data. ReasonOK means it may.
type Reason uint8

// The reasons, in the order Decide checks them; the first that applies is
// reported.
const (
	// ReasonOK: personal data may be used.
	ReasonOK Reason = iota
	// ReasonCOPPA: regs.coppa=1, the audience may be children.
	ReasonCOPPA
	// ReasonGDPRNoConsent: GDPR applies and the request carries no TCF string.
	ReasonGDPRNoConsent
	// ReasonGDPRMalformed: GDPR applies and the TCF string cannot be decoded
	// (or is not TCF v2).
	ReasonGDPRMalformed
	// ReasonGDPRPurpose: the user gave no consent (nor, where TCF allows it,
	// legitimate-interest transparency) for a required purpose.
	ReasonGDPRPurpose
	// ReasonGDPRVendor: the purposes are allowed but not for Kairos's vendor id
	// (also when Config.VendorID is not configured).
	ReasonGDPRVendor
	// ReasonGDPRPublisherRestriction: a publisher restriction in the TCF string
	// disallows a required purpose for Kairos, or demands a legal basis it
	// does not have.
	ReasonGDPRPublisherRestriction
	// ReasonGPPOptOut: an applicable US section of the GPP string (national or
	// state) records an opt-out of sale, sharing or targeted advertising, or
	// Global Privacy Control; or its uspv1 section says opted out.
	ReasonGPPOptOut
	// ReasonGPPMalformed: the GPP string or one of its applicable US sections
	// cannot be decoded.
	ReasonGPPMalformed
	// ReasonUSPrivacyOptOut: the US privacy string (regs.us_privacy or
	// regs.ext.us_privacy) says the user opted out of sale.
	ReasonUSPrivacyOptOut
	// ReasonLMT: device.lmt=1, the user limited ad tracking.
	ReasonLMT
	// ReasonDNT: device.dnt=1, the browser sent Do Not Track.
	ReasonDNT
	numReasons
)

var reasonNames = [numReasons]string{"ok", "coppa", "gdpr_no_consent", "gdpr_malformed",
	"gdpr_purpose", "gdpr_vendor", "gdpr_publisher_restriction", "gpp_opt_out", "gpp_malformed",
	"us_privacy_opt_out", "lmt", "dnt"}

// String returns the reason's name as used in metrics and reports.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every reason name except "ok", for reports and dashboards.
func Reasons() []string { return append([]string(nil), reasonNames[1:]...) }
