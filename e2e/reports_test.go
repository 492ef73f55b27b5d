package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/bench"
)

// TestReportsExactness: two instances bid on the generator's varied traffic
// (sites and apps, banners, native and video, deals, GDPR with and without
// consent, known and unknown users; imps made non-secure for the http notice
// URLs) for the perf campaigns; a second-price exchange awards some bids and
// sends loss notices for the others, every notice to a random live instance.
// Midway one instance is stopped gracefully (SIGTERM, exit 0) and started
// again under load; at the end both stop gracefully. The win-rate report, read
// from a fresh instance, then holds exactly what the exchange saw: as many
// requests as it got answers, as many bids, wins, losses and impressions as it
// counted, and the sum of the clearing prices it reported as spend. Nothing
// is counted twice (notices are retried elsewhere on failure, and every bid
// has a nurl and a burl), nothing is lost (the final flushes on stop).
func TestReportsExactness(t *testing.T) {
	c := newCluster(t, "KAIROS_TCF_VENDOR_ID=1000")
	from := time.Now().UTC().Truncate(time.Hour)
	a, b := c.start("a"), c.start("b")
	yaml, err := os.ReadFile(filepath.Join(moduleRoot, "bench", "perf-campaigns.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a.apply(string(yaml))
	const users = 2000
	var profiles bytes.Buffer
	if err := bench.WriteProfiles(&profiles, users, 7); err != nil {
		t.Fatal(err)
	}
	if status, body := a.adminDo("POST", "/v1/segments/import", profiles.String()); status != 200 {
		t.Fatalf("import profiles: %d %s", status, body)
	}
	g, err := bench.NewGenerator(bench.GeneratorConfig{Seed: 7, KnownShare: 0.6, KnownUsers: users})
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := g.Generate(3000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range corpus {
		// Kairos refuses http tracking URLs on secure imps; the generator
		// makes every imp secure.
		corpus[i].Body = bytes.ReplaceAll(corpus[i].Body, []byte(`"secure":1`), []byte(`"secure":0`))
	}
	for _, n := range []*node{a, b} {
		deadline := time.Now().Add(3 * time.Second)
		for _, ok := n.pacing("perf-trail-runner"); !ok; _, ok = n.pacing("perf-trail-runner") {
			if time.Now().After(deadline) {
				t.Fatalf("%s does not know the perf campaigns", n.name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	tl := newTally()
	var m *bench.Metrics
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m = attack(t, c, bench.AttackConfig{Label: "reports", Targets: []string{a.bid, b.bid}, Rate: 200,
			Duration: 9 * time.Second, Workers: 16, Timeout: 5 * time.Second, NoticeDrain: 10 * time.Second,
			Auction: bench.AuctionConfig{Mode: bench.SecondPrice, CompetitionMean: 2.0}, Seed: 3}, corpus, tl, context.Background())
	}()
	time.Sleep(3 * time.Second)
	code, took := b.stop(15 * time.Second)
	if code != 0 {
		t.Errorf("b exited %d after SIGTERM", code)
	}
	down := time.Now()
	b.restart()
	t.Logf("b: SIGTERM under load, exit %d after %s, serving again %s later", code, took.Round(time.Millisecond), time.Since(down).Round(time.Millisecond))
	wg.Wait()
	for _, n := range []*node{a, b} {
		if code, took := n.stop(15 * time.Second); code != 0 {
			t.Errorf("%s exited %d after SIGTERM (%s)", n.name, code, took)
		}
	}
	reader := c.start("reader")
	rep := reader.winrate(from, time.Now().Add(time.Hour), "campaign")
	got := rep.Totals

	bills := tl.count("bill")
	t.Logf("reports vs exchange, 2 instances (one restarted under load), second price")
	t.Logf("  %-12s %10s %10s", "", "report", "exchange")
	t.Logf("  %-12s %10d %10d", "requests", got.Requests, m.Responses)
	t.Logf("  %-12s %10d %10d", "no-bids", got.NoBids, m.NoBids)
	t.Logf("  %-12s %10d %10d", "bids", got.Bids, m.Auction.Bids)
	t.Logf("  %-12s %10d %10d  (awarded %d)", "wins", got.Wins, tl.wins, m.Auction.Wins)
	t.Logf("  %-12s %10d %10d  (decided %d)", "losses", got.Losses, tl.losses, m.Auction.Losses)
	t.Logf("  %-12s %10d %10d", "impressions", got.Impressions, bills)
	t.Logf("  %-12s %10s %10s  (bench's rounded SpendMicros %s)", "spend", fmtInt(int64(got.Spend)), fmtInt(tl.spend), fmtInt(m.Auction.SpendMicros))
	t.Logf("  late wins %d; transport errors %d %v (requests to b while it was down); notices sent %d, failed %d, dropped %d; rows %d",
		got.LateWins, m.Errors, m.ErrorKinds, m.Auction.NoticesSent, m.Auction.NoticesFailed, m.Auction.NoticesDropped, len(rep.Rows))

	if m.Auction.Wins == 0 || m.Auction.Losses == 0 {
		t.Fatalf("the exchange should award some bids and refuse others: %d wins, %d losses", m.Auction.Wins, m.Auction.Losses)
	}
	if tl.failed != 0 || tl.rejected != 0 || m.Auction.NoticesDropped != 0 || m.Auction.NoticesSkipped != 0 {
		t.Fatalf("notices not delivered: %d failed, %d unreadable, %d dropped, %d skipped",
			tl.failed, tl.rejected, m.Auction.NoticesDropped, m.Auction.NoticesSkipped)
	}
	f := func(what string, report, exchange int64) {
		t.Helper()
		if report != exchange {
			t.Errorf("%s: report %d, exchange %d", what, report, exchange)
		}
	}
	f("requests", got.Requests, int64(m.Responses))
	f("no-bids", got.NoBids, int64(m.NoBids))
	f("bids", got.Bids, int64(m.Auction.Bids))
	f("wins", got.Wins, tl.wins)
	f("wins awarded", got.Wins, int64(m.Auction.Wins))
	f("losses", got.Losses, tl.losses)
	f("losses decided", got.Losses, int64(m.Auction.Losses))
	f("impressions", got.Impressions, bills)
	f("spend (micros)", int64(got.Spend), tl.spend)
	f("late wins", got.LateWins, 0)
}
