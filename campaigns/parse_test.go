package campaigns

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseDemo(t *testing.T) {
	f, err := os.Open("../demo/campaigns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs, err := Parse("campaigns.yaml", f)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || cs[0].ID != "trail-runner-autumn" {
		t.Fatalf("got %d campaigns, first %q", len(cs), cs[0].ID)
	}
	if cs[0].Budget.Daily != 500_000_000 || cs[0].Bid.BaseCPM != 2_500_000 {
		t.Fatalf("money parsed wrong: %+v %+v", cs[0].Budget, cs[0].Bid)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	const bad = `id: Bad_ID
name: x
advertiser: y
adomain: [a.example]
status: running
colour: blue
flight: {start: 2026-12-31, end: 2026-01-01, timezone: Mars/Base}
budget: {daily: -5, total: abc, currency: USD}
pacing: even
bid: {base_cpm: 3, max_cpm: 2}
targeting: {countries: [de], sizes: [300by250]}
frequency_cap: {impressions: 3, window: 24h}
creatives:
  - id: c1
    formats: [banner]
    sizes: [300x250]
    landing_url: ftp://x
    parts: {headline: {default: ["hi"]}}
`
	_, err := Parse("bad.yaml", strings.NewReader(bad))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want ValidationError, got %v", err)
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{
		`bad.yaml:6: campaign "Bad_ID": colour: unknown key "colour"`,
		`amount "abc"`,
		`300by250`,
		`id: "Bad_ID" must be`,
		`status: "running"`,
		`flight.timezone: unknown time zone`,
		`budget.daily: must be positive`,
		`bad.yaml:10: campaign "Bad_ID": bid.max_cpm: 2.00 is below bid.base_cpm 3.00`,
		`bad.yaml:11: campaign "Bad_ID": targeting.countries[0]`,
		`creatives[0].landing_url`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse("x.yaml", strings.NewReader("id: [unclosed\n"))
	if err == nil || !strings.Contains(err.Error(), "x.yaml") {
		t.Fatalf("want error naming the file, got %v", err)
	}
}

// TestProblemLinesAcrossDocuments: a problem in the second document names its
// line in the file, not in the document.
func TestProblemLinesAcrossDocuments(t *testing.T) {
	demo, err := os.ReadFile("../demo/campaigns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(demo), "\n")
	bad := string(demo) + "---\n" + strings.Replace(strings.SplitN(string(demo), "---\n", 2)[0],
		"id: trail-runner-autumn", "id: second", 1)
	bad = strings.Replace(bad, "max_cpm: 8.00", "max_cpm: 1.00", 2)
	_, err = Parse("two.yaml", strings.NewReader(bad))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("want two max_cpm problems, got %v", err)
	}
	first, second := ve.Problems[0], ve.Problems[1]
	if first.Field != "bid.max_cpm" || second.Campaign != "second" || second.Line != first.Line+lines+1 {
		t.Fatalf("lines: first %d, second %d (file has %d lines before the second document)", first.Line, second.Line, lines+1)
	}
}

// TestParseLearningKeys: holdout.share and shading are read and validated.
func TestParseLearningKeys(t *testing.T) {
	demo, err := os.ReadFile("../demo/campaigns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(string(demo), "---\n", 2)[0]
	f := func(extra string, wantErr string) *Campaign {
		t.Helper()
		cs, err := Parse("c.yaml", strings.NewReader(first+extra))
		if wantErr == "" {
			if err != nil {
				t.Fatalf("%q: %v", extra, err)
			}
			return &cs[0]
		}
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%q: error %v, want %q", extra, err, wantErr)
		}
		return nil
	}
	c := f("", "")
	if c.Holdout != nil || c.ShadingOff() || c.HoldoutShare(0.2) != 0.2 {
		t.Fatalf("defaults: holdout %v, shading %q", c.Holdout, c.Shading)
	}
	c = f("holdout: {share: 0.1}\nshading: off\n", "")
	if c.HoldoutShare(0.2) != 0.1 || !c.ShadingOff() {
		t.Fatalf("set: holdout %v, shading %q", c.Holdout, c.Shading)
	}
	if c = f("holdout: {share: 0}\nshading: on\n", ""); c.HoldoutShare(0.2) != 0 || c.ShadingOff() {
		t.Fatalf("holdout off, shading on: holdout %v, shading %q", c.Holdout, c.Shading)
	}
	f("holdout: {share: 0.6}\n", "holdout.share: 0.6: want a share between 0 and 0.5")
	f("holdout: {share: -0.1}\n", "holdout.share")
	f("holdout: {shares: 0.1}\n", `unknown key "shares"`)
	f("shading: sometimes\n", `shading: "sometimes": want one of on, off`)
}
