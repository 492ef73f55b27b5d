package reports

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// TestExactTwoInstancesWithRestart runs a simulated exchange against two
// instances that flush every 10ms while counting; notices reach the other
// instance than the bid; halfway one instance stops gracefully and a new one
// takes its place. The report must equal what the exchange sent and awarded:
// nothing counted twice, nothing lost.
func TestExactTwoInstancesWithRestart(t *testing.T) {
	checkExactTwoInstances(t, storagetest.Open(t, true))
}

func checkExactTwoInstances(t *testing.T, r *storage.Redis) {
	ctx := context.Background()
	cfg := Config{FlushInterval: 10 * time.Millisecond}
	newInstance := func(name string) *Counter {
		c := NewCounter(r, Config{Instance: name, FlushInterval: cfg.FlushInterval}, prometheus.NewRegistry(), zap.NewNop())
		c.Start(ctx)
		return c
	}
	a, b := newInstance("a"), newInstance("b")
	h0 := hourOf(time.Now()) - 5
	auctions := simulate(7, 40000, h0, 6)
	var want tally
	wantBy := map[string]*tally{}
	by := func(d *Dims) *tally {
		k := d.Campaign + "|" + PhaseName(d.Phase) + "|" + d.Exchange
		if wantBy[k] == nil {
			wantBy[k] = &tally{}
		}
		return wantBy[k]
	}
	for i := range auctions {
		a := &auctions[i]
		want.add(a)
		by(&a.req).addRequest(a)
		if a.noBid == "" {
			by(&a.bid).addBid(a)
		}
	}

	feed := func(part []auction, x, y *Counter) {
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(part); i += 4 {
					if i%2 == 0 {
						count(x, y, &part[i])
					} else {
						count(y, x, &part[i])
					}
				}
			}()
		}
		wg.Wait()
	}
	half := len(auctions) / 2
	feed(auctions[:half], a, b)
	if err := a.Stop(ctx); err != nil { // graceful restart of instance a
		t.Fatal(err)
	}
	a2 := newInstance("a")
	feed(auctions[half:], a2, b)
	for _, c := range []*Counter{a2, b} {
		if err := c.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}

	rd := NewReader(r, Config{})
	checkTally(t, totalsOf(t, rd, h0, h0+6), want)

	rows, err := rd.WinRate(ctx, HourTime(h0), HourTime(h0+6), []string{DimCampaign, DimPhase, DimExchange})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(wantBy) {
		t.Fatalf("%d rows, want %d", len(rows), len(wantBy))
	}
	for _, row := range rows {
		k := row.Dims[DimCampaign] + "|" + row.Dims[DimPhase] + "|" + row.Dims[DimExchange]
		w := wantBy[k]
		if w == nil {
			t.Fatalf("unexpected row %v", row.Dims)
		}
		checkTally(t, row, *w)
	}

	land, err := rd.Landscape(ctx, HourTime(h0), HourTime(h0+6), "")
	if err != nil {
		t.Fatal(err)
	}
	var lb, lw int64
	for _, l := range land {
		lb, lw = lb+l.Bids, lw+l.Wins
	}
	if lb != want.bids || lw != want.wins {
		t.Fatalf("landscape bids %d wins %d, want %d %d", lb, lw, want.bids, want.wins)
	}
}
