package creatives

import (
	"testing"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/segments"
)

type benchCase struct {
	name string
	a    *Assembler
	c    *campaigns.Compiled
	cr   *campaigns.CompiledCreative
	p    *segments.Profile
	imp  *Imp
}

func benchCases(tb testing.TB) []benchCase {
	fx := newFixture(tb)
	a := NewAssembler(Config{}, nil)
	a.PrepareIndex(fx.ix)
	c, cr := fx.creative(tb, "trail-runner-test", "tr-main")
	_, vcr := fx.creative(tb, "trail-runner-test", "tr-video")
	intent := profiles()[3].p
	return []benchCase{
		{"Banner", a, c, cr, intent, bannerImp(300, 250)},
		{"Native", a, c, cr, intent, nativeImp(tb, goldenNativeRequest)},
		{"Video", a, c, vcr, intent, videoImp()},
	}
}

func benchAssemble(b *testing.B, i int) {
	bc := benchCases(b)[i]
	buf := make([]byte, 0, 8<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, _, err := bc.a.Assemble(buf[:0], bc.c, bc.cr, bc.p, bc.imp)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAssembleBanner(b *testing.B) { benchAssemble(b, 0) }
func BenchmarkAssembleNative(b *testing.B) { benchAssemble(b, 1) }
func BenchmarkAssembleVideo(b *testing.B)  { benchAssemble(b, 2) }

// BenchmarkNativeRequest measures parsing one native request, done once per
// impression.
func BenchmarkNativeRequest(b *testing.B) {
	var imp Imp
	req := []byte(goldenNativeRequest)
	b.ReportAllocs()
	for b.Loop() {
		if err := imp.SetNativeRequest(req); err != nil {
			b.Fatal(err)
		}
	}
}
