//go:build !race

package shading

import (
	"testing"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/segments"
)

// TestHotPathDoesNotAllocate pins the decision and the outcomes of known keys
// at zero allocations.
func TestHotPathDoesNotAllocate(t *testing.T) {
	s, k := trainedShader(t, Config{})
	pooled := Key{Campaign: "c", Phase: segments.PhaseIntent, Publisher: "rare.example"}
	for name, f := range map[string]func(){
		"Price":        func() { s.Price(k, 3*money.Unit, money.Unit/2, true, 42) },
		"Price pooled": func() { s.Price(pooled, 3*money.Unit, money.Unit/2, true, 1<<63) },
		"Price thin":   func() { s.Price(Key{Campaign: "thin"}, 3*money.Unit, 0, true, 0) },
		"Win":          func() { s.Win(k, 2*money.Unit, 2*money.Unit) },
		"Loss":         func() { s.Loss(k, 2*money.Unit, 3*money.Unit, LossHigherBid) },
	} {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s allocates %.1f times per call", name, a)
		}
	}
}
