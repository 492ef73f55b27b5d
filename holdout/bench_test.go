package holdout

import (
	"testing"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

func BenchmarkAssign(b *testing.B) {
	h := newTestHoldout(b, storagetest.Open(b, false), Config{Share: 0.1}, pacing.NewManualClock(t0))
	b.ReportAllocs()
	for b.Loop() {
		h.Assign("0f8e1c2a-5d7b-4c3e-9a6f-1b2c3d4e5f60", "trail-runner-autumn")
	}
}

// BenchmarkRecord records eligible bids of 1024 users, most of them already
// recorded this hour (only counted as bids).
func BenchmarkRecord(b *testing.B) {
	h := newTestHoldout(b, storagetest.Open(b, false), Config{Share: 0.1}, pacing.NewManualClock(t0))
	users := testUsers(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u := users[i%len(users)]
		h.Record(h.Assign(u, "trail-runner-autumn"), "trail-runner-autumn", u, 2*money.Unit, t0)
		i++
	}
}
