package reports

import (
	"testing"

	"github.com/kairos-rtb/kairos/money"
)

// benchDims returns varied dimensions whose keys are already in c, as in the
// steady state of a bidder.
func benchDims(c *Counter) []Dims {
	var ds []Dims
	for i := 0; i < 64; i++ {
		d := Dims{Campaign: simCampaigns[i%3], Variant: "trai-v" + string(rune('1'+i%3)), Exchange: simExchanges[i%3],
			Publisher: simPublishers[i%4], Country: simCountries[i%3], Phase: uint8(i % 5), Device: uint8(1 + i%3),
			Format: uint8(1 + i%2), Hour: 493_000}
		ds = append(ds, d)
		c.Request(&d)
		c.NoBid(&d, "no_campaign")
		c.Bid(&d, money.Unit)
		c.Win(&d, money.Unit, money.Unit/2, false)
		c.Impression(&d)
		c.Loss(&d, 102)
		c.Click(&d)
	}
	return ds
}

func benchCount(b *testing.B, fn func(c *Counter, d *Dims)) {
	c := NewCounter(nil, Config{}, nil, nil)
	ds := benchDims(c)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fn(c, &ds[i&63])
	}
}

func BenchmarkRequest(b *testing.B) {
	benchCount(b, func(c *Counter, d *Dims) { c.Request(d) })
}

func BenchmarkBid(b *testing.B) {
	benchCount(b, func(c *Counter, d *Dims) { c.Bid(d, 2_500_000) })
}

func BenchmarkNoBid(b *testing.B) {
	benchCount(b, func(c *Counter, d *Dims) { c.NoBid(d, "no_campaign") })
}

func BenchmarkWin(b *testing.B) {
	benchCount(b, func(c *Counter, d *Dims) { c.Win(d, 2_500_000, 1_900_000, false) })
}

func BenchmarkLoss(b *testing.B) {
	benchCount(b, func(c *Counter, d *Dims) { c.Loss(d, 102) })
}

// BenchmarkBidParallel counts from every P at once, as bidder goroutines do.
func BenchmarkBidParallel(b *testing.B) {
	c := NewCounter(nil, Config{}, nil, nil)
	ds := benchDims(c)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Request(&ds[i&63])
			c.Bid(&ds[i&63], 2_500_000)
			i++
		}
	})
}

// BenchmarkRequestBid is what one bid request costs: the request and a bid.
func BenchmarkRequestBid(b *testing.B) {
	benchCount(b, func(c *Counter, d *Dims) { c.Request(d); c.Bid(d, 2_500_000) })
}
