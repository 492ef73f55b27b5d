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

// BenchmarkEscHTMLURL escapes a signed click URL of the length Kairos builds
// (two '&' per parameter pair to escape, the rest plain).
func BenchmarkEscHTMLURL(b *testing.B) {
	u := "https://bid.example.com/v1/click?b=0f3a9c1d2e4b5a6c7d8e9f00&c=perf-trail-runner&cr=pt-banner-300x250&v=3.1.2" +
		"&u=https%3A%2F%2Fshop.example.com%2Ftrail%3Futm_source%3Dkairos&x=exch1&p=${AUCTION_PRICE}&t=1796170568&s=Zm9vYmFyYmF6cXV4cXV1eA"
	b.ReportAllocs()
	b.SetBytes(int64(len(u)))
	dst := make([]byte, 0, 1024)
	for b.Loop() {
		dst = escHTMLURL(dst[:0], u)
	}
}

// BenchmarkEscHTML escapes a headline with a product name.
func BenchmarkEscHTML(b *testing.B) {
	s := "Still thinking about the Trailblazer GTX 3 running shoe? Free returns for 30 days, and 10% off today"
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	dst := make([]byte, 0, 1024)
	for b.Loop() {
		dst = escHTML(dst[:0], s)
	}
}
