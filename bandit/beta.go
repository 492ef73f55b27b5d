package bandit

import (
	"math"
	"math/rand/v2"
)

// gammaDist is a Gamma(shape, 1) distribution with shape >= 1, prepared for
// Marsaglia and Tsang's method: d = shape − 1/3, c = 1/√(9d).
type gammaDist struct{ d, c float64 }

func newGamma(shape float64) gammaDist {
	// Shapes below 1 need a different method; priors of at least one
	// pseudo-event keep every shape at 1 or more, the clamp only guards.
	shape = max(shape, 1)
	d := shape - 1.0/3
	return gammaDist{d: d, c: 1 / math.Sqrt(9*d)}
}

// sample draws from the distribution: about 1.02 normal and uniform draws per
// sample, a logarithm only in the rare slow path.
func (g gammaDist) sample(r *rand.Rand) float64 {
	for {
		x := r.NormFloat64()
		v := 1 + g.c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		x2 := x * x
		if u < 1-0.0331*x2*x2 || math.Log(u) < 0.5*x2+g.d*(1-v+math.Log(v)) {
			return g.d * v
		}
	}
}

// betaDist is a Beta(a, b) distribution, drawn as X/(X+Y) with X ~ Gamma(a)
// and Y ~ Gamma(b).
type betaDist struct {
	a, b gammaDist
	mean float64
}

func newBeta(a, b float64) betaDist {
	return betaDist{a: newGamma(a), b: newGamma(b), mean: a / (a + b)}
}

func (d *betaDist) sample(r *rand.Rand) float64 {
	x := d.a.sample(r)
	return x / (x + d.b.sample(r))
}
