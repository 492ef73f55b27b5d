package consent

import (
	"strings"
	"testing"
)

// TestEncoders checks the test encoders against published examples.
func TestEncoders(t *testing.T) {
	// GPP consent string specification, header examples 1 and 2.
	if got := gppString(gppSection{2, "x"}); got != "DBABM~x" {
		t.Errorf("header for [2] = %q, want DBABM~x", got)
	}
	if got := gppString(gppSection{2, "x"}, gppSection{6, "1YNN"}); got != "DBACNY~x~1YNN" {
		t.Errorf("header for [2 6] = %q, want DBACNY~x~1YNN", got)
	}
	// The usnat section of the widely published example
	// "DBABLA~BVQqAAAAAgA.QA" (padded to whole bytes there): notices given,
	// no opt-outs (2 = did not opt out), MSPA not covered, GPC false.
	gpc := false
	sec := usSectionString(7, []uint64{1, 1, 1, 1, 0, 0, 2, 2, 2,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // SensitiveDataProcessing (2 bits × 12)
		0, 0, // KnownChildSensitiveDataConsents (2 bits × 2)
		0,       // PersonalDataConsents
		2, 0, 0, // MspaCoveredTransaction, MspaOptOutOptionMode, MspaServiceProviderMode
	}, &gpc)
	core, sub, _ := strings.Cut(sec.body, ".")
	if core != "BVQqAAAAAg" || sub != "Q" {
		t.Errorf("usnat section = %q, want BVQqAAAAAg.Q (BVQqAAAAAgA.QA without byte padding)", sec.body)
	}
}
