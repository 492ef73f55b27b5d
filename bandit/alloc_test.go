//go:build !race

package bandit

import (
	"testing"

	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

// TestChooseDoesNotAllocate pins the bid-path call at zero allocations, for a
// known campaign with data, a known campaign's part without data, and the
// feedback of a variant already counted.
func TestChooseDoesNotAllocate(t *testing.T) {
	rdb := storagetest.Open(t, false)
	bd := newTestBandit(t, rdb, Config{Seed: 1}, pacing.NewManualClock(t0))
	bd.Choose("", "c", "headline", segments.PhaseIntent, 3)
	bd.Impression("c", "cr.h1", segments.PhaseIntent)
	bd.Click("c", "cr.h1", segments.PhaseIntent, "")
	mustSync(t, bd)
	bd.Impression("c", "cr.h1m0", segments.PhaseIntent)
	for name, f := range map[string]func(){
		"Choose":         func() { bd.Choose("u", "c", "headline", segments.PhaseIntent, 3) },
		"Choose no data": func() { bd.Choose("u", "c", "cta", segments.PhaseAwareness, 4) },
		"Impression":     func() { bd.Impression("c", "cr.h1m0", segments.PhaseIntent) },
	} {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s allocates %.1f times per call", name, a)
		}
	}
}
