package holdout

import (
	"context"
	"fmt"
	"strconv"
)

// Report is the lift report of a campaign, for the reports API
// (GET /v1/reports/lift?campaign=…).
type Report struct {
	// Campaign is the campaign's id.
	Campaign string `json:"campaign"`
	Lift
}

// Report reads a campaign's study from Redis and computes its lift.
func (h *Holdout) Report(ctx context.Context, campaignID string) (Report, error) {
	m, err := h.rdb.Client.HGetAll(ctx, countersKey(h.rdb.Keys.Prefix, campaignID)).Result()
	if err != nil {
		return Report{}, fmt.Errorf("holdout report of %q: %w", campaignID, err)
	}
	var c counters
	for f, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || len(f) < 3 {
			continue
		}
		c.add(f, n)
	}
	return Report{Campaign: campaignID, Lift: Compute(Counts{
		Exposed: GroupCounts{Users: c.users[0], Converters: c.conv[0], Bids: c.bids[0], BidCPM: int64(c.cpm[0])},
		Ghost:   GroupCounts{Users: c.users[1], Converters: c.conv[1], Bids: c.bids[1], BidCPM: int64(c.cpm[1])},
	})}, nil
}
