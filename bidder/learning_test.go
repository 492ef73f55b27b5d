package bidder

import (
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/demo"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/shading"
)

// fakeHoldout holds out the users in ghosts and records every call.
type fakeHoldout struct {
	ghosts  map[string]bool
	records []string
}

func (f *fakeHoldout) Assign(user, campaignID string) holdout.Group {
	if f.ghosts[user] {
		return holdout.GroupGhost
	}
	return holdout.GroupExposed
}

func (f *fakeHoldout) Record(g holdout.Group, campaignID, user string, price money.Micros, _ time.Time) {
	f.records = append(f.records, strings.Join([]string{map[holdout.Group]string{holdout.GroupGhost: "ghost",
		holdout.GroupExposed: "exposed"}[g], campaignID, user, price.String()}, " "))
}

func TestHoldout(t *testing.T) {
	s := demoServer(t)
	h := &fakeHoldout{ghosts: map[string]bool{"demo-intent": true}}
	s.deps.Holdout = h
	status, reason, _ := do(s, demo.BidRequest("r1", "demo-intent"))
	if status != 204 || reason != "holdout" {
		t.Fatalf("held-out user: %d %q, want 204 holdout", status, reason)
	}
	if len(h.records) == 0 || !strings.HasPrefix(h.records[0], "ghost trail-runner-autumn demo-intent ") {
		t.Fatalf("ghost bid not recorded: %q", h.records)
	}
	h.records = nil
	delete(h.ghosts, "demo-intent")
	if status, _, body := do(s, demo.BidRequest("r2", "demo-intent")); status != 200 {
		t.Fatalf("exposed user: %d %s", status, body)
	}
	if len(h.records) != 1 || !strings.HasPrefix(h.records[0], "exposed trail-runner-autumn demo-intent ") {
		t.Fatalf("exposed bid recorded as %q", h.records)
	}
	// Without consent for personal data (no user id) nobody is held out.
	h.records = nil
	if status, _, _ := do(s, demo.BidRequest("r3", "")); status != 200 || len(h.records) != 0 {
		t.Fatalf("anonymous request: %d, records %q", status, h.records)
	}
}

// fakeShader bids a share of the value, whatever the floor.
type fakeShader struct {
	share float64
	calls int
	first bool
}

func (f *fakeShader) Price(_ shading.Key, value, _ money.Micros, firstPrice bool, _ uint64) money.Micros {
	f.calls++
	f.first = firstPrice
	if !firstPrice {
		return value
	}
	return money.Micros(float64(value) * f.share)
}

func TestShading(t *testing.T) {
	s := demoServer(t)
	unshaded := decodeResponse(t, mustBid(t, s, demo.BidRequest("u", "demo-intent"))).SeatBid[0].Bid[0].Price
	f := func(req string, share, want float64, wantFirst bool) {
		t.Helper()
		sh := &fakeShader{share: share}
		s.deps.Shader = sh
		got := decodeResponse(t, mustBid(t, s, req)).SeatBid[0].Bid[0].Price
		if sh.calls != 1 || sh.first != wantFirst {
			t.Fatalf("shader called %d times, first price %v; want once, %v", sh.calls, sh.first, wantFirst)
		}
		if got < want-1e-9 || got > want+1e-9 {
			t.Fatalf("price %v, want %v (unshaded %v)", got, want, unshaded)
		}
	}
	f(demo.BidRequest("a", "demo-intent"), 0.6, unshaded*0.6, true)
	// Second price: the shader is told and leaves the price alone.
	f(strings.Replace(demo.BidRequest("b", "demo-intent"), `"at":1`, `"at":2`, 1), 0.6, unshaded, false)
	// A shaded price under the floor (0.5) is not bid: the unshaded one is.
	f(demo.BidRequest("c", "demo-intent"), 0.01, unshaded, true)
}

func mustBid(t *testing.T, s *Server, req string) []byte {
	t.Helper()
	status, reason, body := do(s, req)
	if status != 200 {
		t.Fatalf("%d %s", status, reason)
	}
	return body
}
