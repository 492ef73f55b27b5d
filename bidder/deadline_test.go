package bidder

import (
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/demo"
	"github.com/kairos-rtb/kairos/segments"
)

func TestDeadlineConfig(t *testing.T) {
	c := Config{DefaultTmax: 100 * time.Millisecond, MaxTmax: 300 * time.Millisecond, NetworkReserve: 20 * time.Millisecond}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	f := func(tmax int64, want time.Duration) {
		t.Helper()
		if got := c.Deadline(tmax); got != want {
			t.Fatalf("Deadline(%d) = %s, want %s", tmax, got, want)
		}
	}
	f(0, 80*time.Millisecond)
	f(120, 100*time.Millisecond)
	f(5000, 280*time.Millisecond)
	f(10, 0)
	bad := []Config{{NetworkReserve: time.Second}, {DefaultTmax: 2 * time.Second}, {MaxBodyBytes: 10},
		{Rates: "EUR=2"}, {PublicURL: "ftp://x"}}
	for _, b := range bad {
		if err := b.Validate(); err == nil {
			t.Fatalf("Validate(%+v) accepted", b)
		}
	}
}

// TestSlowProfileLookup: a lookup slower than the deadline is abandoned and the
// request decided contextually, before the deadline.
func TestSlowProfileLookup(t *testing.T) {
	c := parseCampaign(t, baseCampaign, nil)
	prof := &fakeProfiles{delay: time.Second, users: map[string]segments.Profile{"u-1": {Phase: segments.PhaseIntent}}}
	s, err := New(Config{DefaultTmax: 50 * time.Millisecond, NetworkReserve: 10 * time.Millisecond},
		Deps{Campaigns: staticCampaigns{campaigns.Compile([]campaigns.Campaign{c}, time.Now())}, Profiles: prof,
			Now: func() time.Time { return testNow.Add(time.Since(start0)) }})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	status, _, body := do(s, encodeRequest(t, baseRequest()))
	took := time.Since(t0)
	if took > 45*time.Millisecond {
		t.Errorf("answered after %s, deadline was 40ms", took)
	}
	if status != 200 {
		t.Fatalf("want a contextual bid, got %d", status)
	}
	if p := decodeResponse(t, body).SeatBid[0].Bid[0].Price; p != 1.0 {
		t.Fatalf("price %v: want the contextual 1.00", p)
	}
}

var start0 = time.Now()

// TestPastDeadline: work that finishes after the deadline ends as a no-bid.
func TestPastDeadline(t *testing.T) {
	cs, _ := demo.Campaigns()
	now := testNow
	clock := func() time.Time { now = now.Add(100 * time.Millisecond); return now } // tmax is 100ms
	s, err := New(Config{DefaultTmax: 50 * time.Millisecond, NetworkReserve: 10 * time.Millisecond},
		Deps{Campaigns: staticCampaigns{campaigns.Compile(cs, testNow)}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	status, reason, _ := do(s, demo.BidRequest("late", "x"))
	if status != 204 || reason != "deadline" {
		t.Fatalf("got %d %s, want 204 deadline", status, reason)
	}
}
