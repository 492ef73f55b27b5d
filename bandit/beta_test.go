package bandit

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBetaMoments checks the sampler's mean and variance against the Beta
// distribution's, for shapes from the prior's to a mature variant's.
func TestBetaMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	f := func(a, b float64) {
		t.Helper()
		d := newBeta(a, b)
		const n = 100_000
		var sum, sq float64
		for range n {
			x := d.sample(r)
			if x < 0 || x > 1 || math.IsNaN(x) {
				t.Fatalf("Beta(%v,%v) drew %v", a, b, x)
			}
			sum += x
			sq += x * x
		}
		mean, v := sum/n, sq/n-(sum/n)*(sum/n)
		wantMean := a / (a + b)
		wantVar := a * b / ((a + b) * (a + b) * (a + b + 1))
		// The sample mean's standard error is √(var/n); allow five of them.
		if math.Abs(mean-wantMean) > 5*math.Sqrt(wantVar/n) {
			t.Errorf("Beta(%v,%v): mean %.6g, want %.6g", a, b, mean, wantMean)
		}
		if math.Abs(v-wantVar) > 0.05*wantVar {
			t.Errorf("Beta(%v,%v): variance %.6g, want %.6g", a, b, v, wantVar)
		}
		if d.mean != wantMean {
			t.Errorf("Beta(%v,%v): mean field %v, want %v", a, b, d.mean, wantMean)
		}
	}
	f(1, 1)
	f(2, 5)
	f(10, 990)
	f(260, 99_750)
	f(5000, 5000)
}
