package bandit

import (
	"testing"

	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

// benchBandit returns a bandit whose snapshot holds a campaign with three
// headline variants of mature counts.
func benchBandit(b *testing.B) *Bandit {
	rdb := storagetest.Open(b, false)
	bd := newTestBandit(b, rdb, Config{Seed: 1}, pacing.NewManualClock(t0))
	bd.Choose("", "trail-runner", "headline", segments.PhaseIntent, 3)
	for i, crid := range []string{"cr.h0", "cr.h1", "cr.h2"} {
		for range 20000 {
			bd.Impression("trail-runner", crid, segments.PhaseIntent)
		}
		for range 200 * (i + 1) {
			bd.Click("trail-runner", crid, segments.PhaseIntent, "")
		}
	}
	mustSync(b, bd)
	return bd
}

func BenchmarkChoose(b *testing.B) {
	bd := benchBandit(b)
	b.ReportAllocs()
	for b.Loop() {
		bd.Choose("u-1", "trail-runner", "headline", segments.PhaseIntent, 3)
	}
}

func BenchmarkChooseParallel(b *testing.B) {
	bd := benchBandit(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bd.Choose("u-1", "trail-runner", "headline", segments.PhaseIntent, 3)
		}
	})
}

func BenchmarkImpression(b *testing.B) {
	bd := benchBandit(b)
	b.ReportAllocs()
	for b.Loop() {
		bd.Impression("trail-runner", "cr.h1m0C0", segments.PhaseIntent)
	}
}
