package creatives

import (
	"strconv"
	"testing"

	"github.com/kairos-rtb/kairos/segments"
)

func TestHashChooserDeterministic(t *testing.T) {
	var ch HashChooser
	for n := 1; n <= 5; n++ {
		a := ch.Choose("u-1", "camp", "headline", segments.PhaseIntent, n)
		b := ch.Choose("u-1", "camp", "headline", segments.PhaseAwareness, n)
		if a != b || a < 0 || a >= n {
			t.Errorf("n=%d: %d, %d", n, a, b)
		}
	}
	if ch.Choose("", "camp", "headline", 0, 0) != 0 {
		t.Error("n=0 must give 0")
	}
}

// TestHashChooserSpread: over many users each variant gets its share, and the
// parts of one user are chosen independently.
func TestHashChooserSpread(t *testing.T) {
	var ch HashChooser
	const users, n = 6000, 3
	var counts [n]int
	same := 0
	for u := 0; u < users; u++ {
		user := "u-" + strconv.Itoa(u)
		h := ch.Choose(user, "trail-runner-autumn", "headline", 0, n)
		counts[h]++
		if h == ch.Choose(user, "trail-runner-autumn", "cta", 0, n) {
			same++
		}
	}
	for i, c := range counts {
		if c < users/n*85/100 || c > users/n*115/100 {
			t.Errorf("variant %d chosen %d times of %d", i, c, users)
		}
	}
	if same > users/n*115/100 {
		t.Errorf("headline and cta agree for %d of %d users: not independent", same, users)
	}
}

// fixedChooser always answers i, for tests of out-of-range answers.
type fixedChooser int

func (f fixedChooser) Choose(string, string, string, segments.Phase, int) int { return int(f) }

func TestChooserOutOfRange(t *testing.T) {
	fx := newFixture(t)
	c, cr := fx.creative(t, "trail-runner-test", "tr-main")
	p := profiles()[1].p // awareness: two headline variants
	for _, i := range []int{-1, 2, 7, -8} {
		a := NewAssembler(Config{}, fixedChooser(i))
		_, v, err := a.Assemble(nil, c, cr, p, bannerImp(300, 250))
		if err != nil {
			t.Fatal(err)
		}
		if idx, _, _ := v.Pick(PartHeadline); idx < 0 || idx > 1 {
			t.Errorf("chooser %d: headline index %d", i, idx)
		}
	}
}
