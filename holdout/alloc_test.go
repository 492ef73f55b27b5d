//go:build !race

package holdout

import (
	"testing"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

// TestHotPathDoesNotAllocate pins Assign and Record at zero allocations once
// the buffers have grown: for bids of users already recorded this hour and
// for new entries after a Sync.
func TestHotPathDoesNotAllocate(t *testing.T) {
	h := newTestHoldout(t, storagetest.Open(t, false), Config{Share: 0.2}, pacing.NewManualClock(t0))
	users := testUsers(200)
	record := func() {
		for _, u := range users {
			h.Record(h.Assign(u, "camp"), "camp", u, money.Unit, t0)
		}
	}
	record()
	mustSync(t, h)
	if a := testing.AllocsPerRun(1, record); a != 0 {
		t.Errorf("recording %d new entries allocates %.1f times", len(users), a)
	}
	if a := testing.AllocsPerRun(100, record); a != 0 {
		t.Errorf("recording %d bids of recorded users allocates %.1f times", len(users), a)
	}
	if a := testing.AllocsPerRun(100, func() { h.Assign("user-1", "camp") }); a != 0 {
		t.Errorf("Assign allocates %.1f times", a)
	}
}
