//go:build !race

package reports

import "testing"

// TestCountingAllocs pins the counting methods at zero allocations once their
// keys exist.
func TestCountingAllocs(t *testing.T) {
	c := NewCounter(nil, Config{}, nil, nil)
	ds := benchDims(c)
	i := 0
	f := func(name string, fn func(d *Dims)) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, func() { fn(&ds[i&63]); i++ }); n != 0 {
			t.Fatalf("%s allocates %.1f times per call", name, n)
		}
	}
	f("Request", func(d *Dims) { c.Request(d) })
	f("Bid", func(d *Dims) { c.Bid(d, 2_500_000) })
	f("NoBid", func(d *Dims) { c.NoBid(d, "no_campaign") })
	f("Win", func(d *Dims) { c.Win(d, 2_500_000, 1_900_000, true) })
	f("Impression", func(d *Dims) { c.Impression(d) })
	f("Loss", func(d *Dims) { c.Loss(d, 102) })
	f("Click", func(d *Dims) { c.Click(d) })
}
