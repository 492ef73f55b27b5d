package bandit

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/creatives"
	"github.com/kairos-rtb/kairos/segments"
)

func TestParseCrid(t *testing.T) {
	f := func(crid string, want ...pick) {
		t.Helper()
		got := parseCrid(crid)
		if got.n != len(want) {
			t.Fatalf("parseCrid(%q): %d picks %v, want %v", crid, got.n, got.p[:got.n], want)
		}
		for i, w := range want {
			if got.p[i] != w {
				t.Errorf("parseCrid(%q)[%d] = %v, want %v", crid, i, got.p[i], w)
			}
		}
	}
	f("tr-main.h1m0C0", pick{"headline", 1}, pick{"message", 0}, pick{"cta", 0})
	f("tr-main.H12x3g0o2p1", pick{"headline", 12}, pick{"crosssell", 3}, pick{"greeting", 0},
		pick{"offer", 2}, pick{"product", 1})
	f("tr.main.h126", pick{"headline", 126})
	f("tr-main.")
	f("no-dot")
	f("tr-main.z1h2", pick{"headline", 2})
	f("tr-main.h999999c1", pick{"cta", 1})
	f("tr-main.hm1", pick{"message", 1})
}

// contractYAML is a campaign whose parts have several variants per phase and
// by default.
const contractYAML = `
id: contract
name: Contract
advertiser: Acme
adomain: [acme.example]
status: active
flight: {start: 2026-01-01, end: 2030-12-31, timezone: UTC}
budget: {daily: 100, total: 1000, currency: USD}
pacing: asap
bid: {base_cpm: 2.00, max_cpm: 4.00}
targeting: {formats: [banner]}
creatives:
  - id: cr-a
    formats: [banner]
    sizes: [300x250]
    landing_url: https://acme.example/a
    image: https://cdn.acme.example/a.jpg
    parts:
      headline:
        default: ["One", "Two", "Three"]
        intent: ["Buy {product.name}", "Ready?", "Now", "Today"]
      message: {default: ["M1", "M2"], awareness: ["A1", "A2", "A3"]}
      cta: {default: ["Shop", "Go"]}
`

// recordingChooser draws at random and remembers what creatives asked.
type recordingChooser struct {
	r     *rand.Rand
	asked map[string]int // part → index answered
	phase segments.Phase
}

func (c *recordingChooser) Choose(_, _, part string, phase segments.Phase, n int) int {
	i := c.r.IntN(n)
	c.asked[part] = i
	c.phase = phase
	return i
}

// TestCridNamesChoices pins the contract between creatives and the bandit:
// the crid of an assembled creative names, for every part Choose was asked
// about, the part (as Choose got it) and the index Choose answered, and the
// variant's phase is the phase Choose got.
func TestCridNamesChoices(t *testing.T) {
	cs, err := campaigns.Parse("contract.yaml", strings.NewReader(contractYAML))
	if err != nil {
		t.Fatal(err)
	}
	ix := campaigns.Compile(cs, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	c, _ := ix.Get("contract")
	rc := &recordingChooser{r: rand.New(rand.NewPCG(1, 1))}
	a := creatives.NewAssembler(creatives.Config{}, rc)
	imp := &creatives.Imp{Format: campaigns.FormatBanner, W: 300, H: 250, BidID: "b"}
	for _, p := range []*segments.Profile{nil,
		{User: "u-1", Phase: segments.PhaseAwareness},
		{User: "u-2", Phase: segments.PhaseIntent, Product: segments.Product{ID: "sku", Name: "Shoe"}}} {
		for range 20 {
			rc.asked = map[string]int{}
			_, v, err := a.Assemble(nil, c, &c.Creatives[0], p, imp)
			if err != nil {
				t.Fatal(err)
			}
			if v.Phase != rc.phase {
				t.Errorf("variant phase %v, Choose got %v", v.Phase, rc.phase)
			}
			ps := parseCrid(v.String())
			named := map[string]int{}
			for _, pk := range ps.p[:ps.n] {
				named[pk.part] = int(pk.index)
			}
			for part, i := range rc.asked {
				if got, ok := named[part]; !ok || got != i {
					t.Errorf("crid %s: part %s named %d (%v), Choose answered %d", v, part, got, ok, i)
				}
			}
			if len(rc.asked) == 0 {
				t.Fatalf("crid %s: Choose was never asked", v)
			}
		}
	}
}
