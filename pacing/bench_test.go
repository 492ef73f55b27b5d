package pacing

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/money"
)

// benchPacer returns a Pacer holding a practically endless lease for "c1".
func benchPacer(b testing.TB) (*Pacer, *campaigns.Compiled) {
	rdb, keys := testRedis(b)
	src := newIndex(t0, testCampaign("c1", "UTC", "asap", 1_000_000*money.Unit, 1_000_000*money.Unit))
	p := testPacer(b, rdb, keys, src, NewManualClock(t0), Config{Instance: "b1"})
	c := src.get(b, "c1")
	p.Reserve(c, money.Unit, t0)
	p.maintain(context.Background(), t0)
	dl := p.lookup("c1").lease.Load()
	dl.balance.Store(math.MaxInt64 / 2)
	dl.validUntil.Store(math.MaxInt64)
	return p, c
}

// drain empties the reservation queue, as the sweep would.
func drain(p *Pacer) {
	st := p.lookup("c1")
	st.mu.Lock()
	clear(st.q)
	st.q, st.head = st.q[:0], 0
	st.mu.Unlock()
}

func BenchmarkReserve(b *testing.B) {
	p, c := benchPacer(b)
	now := t0.Add(time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%(1<<16) == 0 {
			b.StopTimer()
			drain(p)
			b.StartTimer()
		}
		if _, why := p.Reserve(c, 2*money.Unit, now); why != ReasonNone {
			b.Fatal(why)
		}
	}
}

func BenchmarkReserveParallel(b *testing.B) {
	p, c := benchPacer(b)
	now := t0.Add(time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 1; pb.Next(); i++ {
			if i%(1<<14) == 0 {
				drain(p) // as the sweep would; amortised over 16k calls
			}
			if _, why := p.Reserve(c, 2*money.Unit, now); why != ReasonNone {
				b.Fatal(why)
			}
		}
	})
}

func BenchmarkAllow(b *testing.B) {
	p, c := benchPacer(b)
	p.lookup("c1").threshold.Store(threshold(0.5))
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		if p.Allow(c, uint64(i)*0x9e3779b97f4a7c15) {
			n++
		}
	}
	if b.N > 1000 && (n < b.N/3 || n > 2*b.N/3) {
		b.Fatalf("allowed %d of %d at 0.5", n, b.N)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	p, _ := benchPacer(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.ObserveRequest(t0)
	}
}
