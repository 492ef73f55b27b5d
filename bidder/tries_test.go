package bidder

import (
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/money"
)

// ghostOf holds the user out of the named campaigns.
type ghostOf map[string]bool

func (g ghostOf) Assign(_, campaignID string) holdout.Group {
	if g[campaignID] {
		return holdout.GroupGhost
	}
	return holdout.GroupExposed
}

func (ghostOf) Record(holdout.Group, string, string, money.Micros, time.Time) {}

// TestPassedOverCandidatesDoNotCount: candidates passed over before assembly
// (held out here; an empty budget lease is the same) do not use up the tries,
// however many outbid the campaign that can bid; only creatives that fail to
// assemble count.
func TestPassedOverCandidatesDoNotCount(t *testing.T) {
	var cs []campaigns.Campaign
	ids := []string{"out-1", "out-2", "out-3", "out-4", "live"}
	for i, id := range ids {
		cs = append(cs, parseCampaign(t, baseCampaign, func(c *campaigns.Campaign) {
			c.ID = id
			c.Bid.BaseCPM = money.Micros(4_000_000 - 500_000*i) // the held-out ones outbid the live one
		}))
	}
	s := newTestServer(t, cs, &fakeProfiles{})
	s.deps.Holdout = ghostOf{"out-1": true, "out-2": true, "out-3": true, "out-4": true}
	status, reason, body := do(s, encodeRequest(t, baseRequest()))
	if status != 200 {
		t.Fatalf("%d %s, want the live campaign's bid", status, reason)
	}
	if got := decodeResponse(t, body).SeatBid[0].Bid[0].CID; got != "live" {
		t.Fatalf("bid from %s, want live", got)
	}
}
