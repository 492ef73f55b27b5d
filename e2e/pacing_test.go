package e2e

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/bench"
)

// TestEvenPacingThreeHours: the first three simulated hours of a day at 240×
// (45 real seconds) on two instances; see evenDay. It runs with -short, in
// place of the whole day, which covers it.
func TestEvenPacingThreeHours(t *testing.T) {
	if !testing.Short() {
		t.Skip("TestEvenPacingCompressedDay simulates the whole day; this is its -short variant")
	}
	evenDay(t, 3*time.Hour, 240)
}

// TestEvenPacingCompressedDay: a whole simulated day at 480× (three real
// minutes) on two instances; see evenDay. Skipped with -short.
func TestEvenPacingCompressedDay(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 24 hours in three real minutes")
	}
	evenDay(t, 24*time.Hour, 480)
}

// evenCampaign is one campaign of evenDay.
type evenCampaign struct {
	id, daily, cpm string
	perHour        int64 // micros: daily / 24
}

// evenDay runs two instances on a pacing clock speed times faster than real
// time with two even-paced campaigns under uniform traffic, every bid
// winning at its price (first price):
//
//   - even-e2e: 48.00 USD a day at 1.00 CPM, 2,000 impressions an hour, with
//     traffic twice what it needs;
//   - even-small: 6.00 USD a day at 0.50 CPM, 500 impressions an hour (less
//     than one per instance and 5 s controller tick), bidding where even-e2e
//     does not.
//
// From the simulated midnight on, each simulated hour of the window must
// spend within ±10% of its plan (daily/24) for each campaign, by the
// win-rate report grouped by hour, and the report must agree with what the
// exchange charged for the bids of that hour. No day's ledger may show more
// than the daily budget spent, and a whole day must spend at least 98% of
// it.
//
// Traffic starts four real seconds before the simulated midnight, so that
// the campaigns are already bidding when the day begins. The pacing
// durations that would otherwise shrink with the clock to tens of real
// milliseconds (lease TTL, idle return, reservation window, notice TTL) are
// set so that a busy machine stalling a process for a fraction of a second
// does not cost it its leases. Such a stall still costs the hour it falls in
// a second's worth of simulated time without bids (eight minutes at 480×),
// made up after it, possibly in the next hour: hence the moderate speeds.
func evenDay(t *testing.T, window time.Duration, speed int) {
	// Requests per real second: twice even-e2e's 2,000 wins per simulated hour.
	rate := 2.0 * 2000 * float64(speed) / 3600
	camps := []evenCampaign{
		{id: "even-e2e", daily: "48.00", cpm: "1.00", perHour: 2_000_000},
		{id: "even-small", daily: "6.00", cpm: "0.50", perHour: 250_000},
	}
	now := time.Now()
	midnight := now.UTC().Truncate(24 * time.Hour).Add(48 * time.Hour) // a day ahead of the real clock
	realMidnight := now.Add(4 * time.Second)
	c := newCluster(t, append(clockEnv(float64(speed), midnight, realMidnight),
		"KAIROS_PACING_LEASE_TTL=10m", "KAIROS_PACING_IDLE_RETURN=10m",
		"KAIROS_PACING_RESERVE_WINDOW=1h", "KAIROS_PACING_NOTICE_TTL=24h")...)
	a := c.start("a")
	for _, ec := range camps {
		a.apply(campaignYAML(ec.id, "even", ec.daily, "1000.00", ec.cpm))
	}
	b := c.start("b")
	for _, n := range []*node{a, b} {
		for _, ec := range camps {
			deadline := time.Now().Add(3 * time.Second)
			for _, ok := n.pacing(ec.id); !ok; _, ok = n.pacing(ec.id) {
				if time.Now().After(deadline) {
					t.Fatalf("%s does not know campaign %s", n.name, ec.id)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	lead := time.Until(realMidnight)
	if lead < 500*time.Millisecond {
		t.Fatalf("the instances took too long to start: traffic would begin %s before the simulated midnight", lead)
	}

	tl := newTally()
	m := attack(t, c, bench.AttackConfig{Label: "even-day", Targets: []string{a.bid, b.bid}, Rate: rate,
		Duration: lead + window/time.Duration(speed), Workers: 16, Timeout: 2 * time.Second, NoticeDrain: 10 * time.Second,
		Auction: bench.AuctionConfig{Mode: bench.FirstPrice, CompetitionMean: 1e-6}, Seed: 2},
		simpleCorpus(2000, 60000), tl, context.Background())

	// Reports are flushed every second: wait until they hold every delivered win.
	hours := int(window / time.Hour)
	from, to := midnight, midnight.Add(window)
	type cell struct {
		campaign string
		hour     int64
	}
	var got map[cell]reportRow
	deadline := time.Now().Add(10 * time.Second)
	for {
		rep := a.winrate(from, to, "campaign,hour")
		got = map[cell]reportRow{}
		var wins int64
		for _, r := range rep.Rows {
			h, err := time.Parse(time.RFC3339, r.Dims["hour"])
			if err != nil {
				t.Fatalf("report hour %q: %v", r.Dims["hour"], err)
			}
			// Requests carry no campaign: they are the row of campaign "".
			got[cell{r.Dims["campaign"], h.Unix() / 3600}] = r
			wins += r.Wins
		}
		if wins == winsIn(tl, from, to) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Even pacing follows the traffic it observes, and a busy machine
	// stalling the load generator (its lag is logged below) thins the
	// traffic of an hour: each hour's plan is daily/24 weighted by the
	// hour's requests against the window's average.
	var requests int64
	for h := range hours {
		requests += got[cell{"", midnight.Unix()/3600 + int64(h)}].Requests
	}
	mean := float64(requests) / float64(hours)
	t.Logf("even pacing, %s simulated in %s (clock %d×), 2 instances, uniform traffic %.0f req/s, first price",
		window, window/time.Duration(speed), speed, rate)
	t.Logf("  plan: daily/24 × the hour's requests / their mean (deviation from daily/24 in brackets)")
	t.Logf("  %-5s %16s %20s %17s %20s %17s", "", "requests", camps[0].id+" spend", "vs plan", camps[1].id+" spend", "vs plan")
	bad := map[string][]int{}
	total := map[string]int64{}
	for h := range hours {
		hour := midnight.Unix()/3600 + int64(h)
		weight := float64(got[cell{"", hour}].Requests) / mean
		line := fmt.Sprintf("  %02d:00 %8d (%+5.1f%%)", h, got[cell{"", hour}].Requests, 100*(weight-1))
		var exchange int64
		for _, ec := range camps {
			spend := int64(got[cell{ec.id, hour}].Spend)
			total[ec.id] += spend
			exchange += spend
			plan := weight * float64(ec.perHour)
			dev := (float64(spend) - plan) / plan * 100
			line += fmt.Sprintf(" %20s %+6.1f%% (%+5.1f%%)", fmtInt(spend), dev, float64(spend-ec.perHour)/float64(ec.perHour)*100)
			if math.Abs(dev) > 10 {
				bad[ec.id] = append(bad[ec.id], h)
			}
		}
		t.Log(line)
		if exchange != tl.byHour[hour] {
			t.Errorf("hour %02d: report spend %d != %d the exchange charged for bids of that hour", h, exchange, tl.byHour[hour])
		}
	}
	day := midnight.Format(time.DateOnly)
	for _, ec := range camps {
		l := c.ledger(ec.id)
		plan, daily, spent := ec.perHour*int64(hours), 24*ec.perHour, l["d:"+day+":spent"]
		t.Logf("  %s: window %s of plan %s (%s); ledger %s: spent %s (%s of the daily budget), late %s", ec.id,
			fmtInt(total[ec.id]), fmtInt(plan), pct(total[ec.id], plan), day, fmtInt(spent), pct(spent, daily),
			fmtInt(l["d:"+day+":late"]))
		if spent > daily {
			t.Errorf("%s overspent day %s: %d > %d", ec.id, day, spent, daily)
		}
		if window == 24*time.Hour && spent < daily*98/100 {
			t.Errorf("%s spent %s of its daily budget on day %s, want at least 98%%", ec.id, pct(spent, daily), day)
		}
		if len(bad[ec.id]) > 0 {
			t.Errorf("%s: %d of %d hours spent outside ±10%% of the plan: %v", ec.id, len(bad[ec.id]), hours, bad[ec.id])
		}
	}
	t.Logf("  requests %d (%.0f/s, load generator lag up to %s), errors %d %v, no-bids %v, notices failed %d dropped %d",
		m.Requests, m.Summary().Rate, m.SchedLagMax.Round(time.Millisecond), m.Errors, m.ErrorKinds, m.NoBidReasons,
		m.Auction.NoticesFailed, m.Auction.NoticesDropped)
}

// winsIn counts the delivered wins of bids made in the hours [from, to).
func winsIn(tl *tally, from, to time.Time) int64 {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var n int64
	for h := from.Unix() / 3600; h < to.Unix()/3600; h++ {
		n += tl.winsHour[h]
	}
	return n
}
