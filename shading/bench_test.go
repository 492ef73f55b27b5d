package shading

import (
	"testing"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/segments"
)

func BenchmarkPrice(b *testing.B) {
	s, k := trainedShader(b, Config{})
	v, floor := 3*money.Unit, money.Unit/2
	b.ReportAllocs()
	var rnd uint64 = 0x9e3779b97f4a7c15
	for b.Loop() {
		rnd = rnd*6364136223846793005 + 1442695040888963407
		s.Price(k, v, floor, true, rnd)
	}
}

// BenchmarkPricePooled is a publisher without a curve of its own: two lookups.
func BenchmarkPricePooled(b *testing.B) {
	s, _ := trainedShader(b, Config{})
	k := Key{Campaign: "c", Phase: segments.PhaseIntent, Publisher: "rare.example"}
	b.ReportAllocs()
	for b.Loop() {
		s.Price(k, 3*money.Unit, money.Unit/2, true, 12345)
	}
}

func BenchmarkWin(b *testing.B) {
	s, k := trainedShader(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		s.Win(k, 2*money.Unit, 2*money.Unit)
	}
}
