package shading

import "github.com/kairos-rtb/kairos/money"

// tally is what one key's outcomes say about the best competing bid C, in
// grid cells; counts are float32 so they can decay.
type tally struct {
	below [numCells + 1]float32 // below[j]: wins saying C is in cells [0, j)
	above [numCells]float32     // above[i]: losses saying C is in cells [i, numCells)
	exact [numCells]float32     // exact[j]: losses whose minimum bid to win is in cell j
	bids  [numCells]float32     // bids[i]: outcomes of bids at grid point i
	total float32
}

func (t *tally) scale(f float32) {
	for i := range t.below {
		t.below[i] *= f
	}
	for i := range numCells {
		t.above[i] *= f
		t.exact[i] *= f
		t.bids[i] *= f
	}
	t.total *= f
}

// estimate runs iters self-consistency (EM) iterations of Turnbull's
// nonparametric maximum likelihood estimate of C's distribution over the
// cells, starting from p (which it updates; all cells positive to start).
func (t *tally) estimate(p *[numCells]float64, iters int) {
	var cum [numCells + 1]float64 // cum[j] = p[0] + … + p[j-1]
	var a [numCells + 1]float64
	var next [numCells]float64
	for range iters {
		cum[0] = 0
		for j := range numCells {
			cum[j+1] = cum[j] + p[j]
		}
		n := 0.0
		// a[m] = Σ_{j>m} below[j]/P(C < cell j): the wins whose interval holds m.
		a[numCells] = 0
		for m := numCells - 1; m >= 0; m-- {
			a[m] = a[m+1]
			if w := float64(t.below[m+1]); w > 0 && cum[m+1] > 0 {
				a[m] += w / cum[m+1]
			}
		}
		// b = Σ_{i<=m} above[i]/P(C >= cell i): the losses whose interval holds m.
		b := 0.0
		for m := range numCells {
			if l := float64(t.above[m]); l > 0 {
				if s := cum[numCells] - cum[m]; s > 0 {
					b += l / s
				}
			}
			next[m] = float64(t.exact[m]) + p[m]*(a[m]+b)
			n += next[m]
		}
		if n <= 0 {
			return
		}
		for m := range numCells {
			p[m] = next[m] / n
		}
	}
}

// curve is what Price reads for one key.
type curve struct {
	win [numCells + 1]float32 // win[k] = P(C < gridPrice[k])
	lo  int                   // lowest cell with enough bids at or below it
}

// newCurve builds a curve from an estimate and the tally's bids.
func newCurve(p *[numCells]float64, t *tally, minSupport float32) *curve {
	c := &curve{lo: numCells}
	s, support := 0.0, float32(0)
	for k := range numCells {
		c.win[k] = float32(s)
		s += p[k]
		support += t.bids[k]
		if c.lo == numCells && support >= minSupport {
			c.lo = k
		}
	}
	c.win[numCells] = float32(s)
	return c
}

// winAt interpolates P(win) at a price between grid points.
func (c *curve) winAt(x money.Micros) float32 {
	k := cellOf(x)
	lo, hi := gridPrice[k], gridPrice[k+1]
	f := float32(min(max(x-lo, 0), hi-lo)) / float32(hi-lo)
	return c.win[k] + (c.win[k+1]-c.win[k])*f
}

// best returns the grid price with the highest expected surplus for value:
// at or above floor, where the curve has support, and winning at least keep
// times as often as value would; value itself when no price beats it.
func (c *curve) best(value, floor money.Micros, keep float32) money.Micros {
	need := keep * c.winAt(value)
	best, top := value, float32(0)
	if floor > 0 && floor < value && cellOf(floor) >= c.lo {
		if w := c.winAt(floor); w >= need {
			best, top = floor, float32(value-floor)*w
		}
	}
	for k := max(c.lo, firstAtOrAbove(floor)); k < numCells && gridPrice[k] < value; k++ {
		w := c.win[k]
		if w < need {
			continue
		}
		if s := float32(value-gridPrice[k]) * w; s > top {
			best, top = gridPrice[k], s
		}
	}
	return best
}
