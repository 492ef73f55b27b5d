package bench

import (
	"context"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"
)

// TestExchangeRoutedRetriesElsewhere: a notice whose first attempt goes to a
// dead address is retried at the route's next pick, and Observe sees the URL
// that was answered with the price substituted.
func TestExchangeRoutedRetriesElsewhere(t *testing.T) {
	var got atomic.Int64
	live := serve(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.QueryArgs().Peek("price")) == "2" {
			got.Add(1)
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	})
	dead := listen(t)
	deadAddr := dead.Addr().String()
	dead.Close()

	ex, err := NewExchange(AuctionConfig{Mode: FirstPrice, CompetitionMean: 1e-9}, NoticeConfig{Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	var mu sync.Mutex
	var observed []string
	ex.StartRouted(NoticeRouting{
		Attempts: 3,
		Backoff:  time.Millisecond,
		Route: func(u string) string {
			pu, _ := url.Parse(u)
			pu.Host = live
			if calls.Add(1) == 1 {
				pu.Host = deadAddr
			}
			return pu.String()
		},
		Observe: func(u string, ok bool) {
			mu.Lock()
			defer mu.Unlock()
			if ok {
				observed = append(observed, u)
			}
		},
	})
	req := &Request{Imps: []Imp{{ID: "1"}}}
	resp := &openrtb2.BidResponse{ID: "r1", SeatBid: []openrtb2.SeatBid{{Bid: []openrtb2.Bid{{
		ID: "b1", ImpID: "1", Price: 2, NURL: "http://" + deadAddr + "/notice/win?b=1&price=${AUCTION_PRICE}",
	}}}}}
	var s AuctionStats
	ex.Settle(rand.New(rand.NewPCG(1, 2)), req, resp, false, "", &s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ex.Stop(ctx)
	ex.Counts(&s)
	if s.Wins != 1 || s.NoticesSent != 1 || s.NoticesFailed != 0 || got.Load() != 1 || calls.Load() != 2 {
		t.Fatalf("wins %d sent %d failed %d received %d routes %d", s.Wins, s.NoticesSent, s.NoticesFailed, got.Load(), calls.Load())
	}
	if len(observed) != 1 || observed[0] != "http://"+live+"/notice/win?b=1&price=2" {
		t.Fatalf("observed %q", observed)
	}
}
