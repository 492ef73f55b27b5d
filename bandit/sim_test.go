package bandit

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

// simulation shows a part's variants with known click rates, choosing with the
// bandit and feeding back impressions and clicks by crid, as the notice
// handlers will; the bandit syncs with Redis every batch impressions (about a
// second of traffic).
type simulation struct {
	t      *testing.T
	b      *Bandit
	choose *rand.Rand // the bandit's draws
	world  *rand.Rand // the users' clicks
	ctrs   []float64
	batch  int
	crids  []string
	shown  []int // impressions per variant
}

func newSimulation(t *testing.T, cfg Config, seed uint64, ctrs []float64) *simulation {
	rdb := storagetest.Open(t, false)
	cfg.Seed = seed
	s := &simulation{t: t, b: newTestBandit(t, rdb, cfg, pacing.NewManualClock(t0)),
		choose: rand.New(rand.NewPCG(seed, 1)), world: rand.New(rand.NewPCG(seed, 2)),
		ctrs: ctrs, batch: 1000}
	s.setVariants(ctrs)
	return s
}

func (s *simulation) setVariants(ctrs []float64) {
	s.ctrs = ctrs
	for len(s.crids) < len(ctrs) {
		s.crids = append(s.crids, "tr-main.h"+strconv.Itoa(len(s.crids))+"c0")
		s.shown = append(s.shown, 0)
	}
}

// run shows n impressions and returns how many each variant got.
func (s *simulation) run(n int) []int {
	got := make([]int, len(s.ctrs))
	for i := 0; i < n; i++ {
		if i%s.batch == 0 {
			mustSync(s.t, s.b)
		}
		v := s.b.ChooseRand(s.choose, "trail-runner", "headline", segments.PhaseIntent, len(s.ctrs))
		got[v]++
		s.shown[v]++
		s.b.Impression("trail-runner", s.crids[v], segments.PhaseIntent)
		if s.world.Float64() < s.ctrs[v] {
			s.b.Click("trail-runner", s.crids[v], segments.PhaseIntent, "")
		}
	}
	return got
}

func share(got []int, i int) float64 {
	total := 0
	for _, g := range got {
		total += g
	}
	return float64(got[i]) / float64(total)
}

// TestBestOfThreeVariants is the check: true click rates 1.0%, 1.5%
// and 2.5%; within 200,000 impressions the bandit sends at least 80% of the
// impressions to the best variant. It is measured over the last 20,000 of
// them (the rate the bandit has reached), and the whole run is logged.
func TestBestOfThreeVariants(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		s := newSimulation(t, Config{}, seed, []float64{0.010, 0.015, 0.025})
		s.run(180_000)
		last := s.run(20_000)
		t.Logf("seed %d: best variant's share: %.1f%% of the last 20,000, %.1f%% of all 200,000 (impressions %v)",
			seed, 100*share(last, 2), 100*share(s.shown, 2), s.shown)
		if share(last, 2) < 0.80 {
			t.Errorf("seed %d: best variant got %.1f%% of the last 20,000 impressions, want at least 80%%",
				seed, 100*share(last, 2))
		}
	}
}

// TestNewVariantPrior checks the informative prior: a variant added beside
// two mature ones is tried at once (not starved) and, when it is worse,
// given up within a few thousand impressions (not over-explored); when it is
// better it takes over.
func TestNewVariantPrior(t *testing.T) {
	t.Run("worse", func(t *testing.T) {
		s := newSimulation(t, Config{}, 4, []float64{0.02, 0.02})
		s.run(50_000)
		s.setVariants([]float64{0.02, 0.02, 0.01})
		first := s.run(2_000)
		later := s.run(20_000)
		t.Logf("new, worse variant: %d of the first 2,000 impressions, %d of the next 20,000", first[2], later[2])
		if first[2] < 100 {
			t.Errorf("new variant starved: %d of its first 2,000 impressions", first[2])
		}
		if first[2] > 1000 || share(later, 2) > 0.10 {
			t.Errorf("worse new variant over-explored: %d of 2,000, then %.1f%%", first[2], 100*share(later, 2))
		}
	})
	t.Run("better", func(t *testing.T) {
		s := newSimulation(t, Config{}, 5, []float64{0.015, 0.015})
		s.run(50_000)
		s.setVariants([]float64{0.015, 0.015, 0.025})
		s.run(40_000)
		last := s.run(10_000)
		t.Logf("new, better variant: %.1f%% of impressions 40,000-50,000 after it was added", 100*share(last, 2))
		if share(last, 2) < 0.80 {
			t.Errorf("better new variant got %.1f%% of the impressions 40,000 to 50,000 after it came", 100*share(last, 2))
		}
	})
}
