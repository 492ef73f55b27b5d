package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// process is a Kairos server running as its own OS process.
type process struct {
	cmd         *exec.Cmd
	bid, admin  string
	alive       bool
	description string
}

func buildKairos(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kairos")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build kairos: %v\n%s", err, out)
	}
	return bin
}

func startProcess(t *testing.T, bin string, env []string) *process {
	t.Helper()
	p := &process{bid: freeAddr(t), admin: freeAddr(t), alive: true}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(), append(env, "KAIROS_LISTEN="+p.bid, "KAIROS_ADMIN_LISTEN="+p.admin,
		"KAIROS_PUBLIC_URL=http://"+p.bid)...)
	p.cmd.Stderr = nil
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.alive {
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + p.bid + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("kairos process did not become healthy")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoOverspendAcrossProcesses: three Kairos processes share one small
// budget on one real Redis; every bid wins (first price) and its win notice
// goes to a random live instance; one instance is killed (SIGKILL) midway.
// The settled spend never exceeds the daily budget and, once the dead
// instance's lease has been reclaimed, at least 98% of it is spent. Pacing
// time runs 60× faster (KAIROS_CLOCK_SPEED) so the reclaim, due LeaseTTL +
// Grace after the last heartbeat, comes within seconds.
func TestNoOverspendAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes for up to a minute")
	}
	redisURL, rdb := realRedisClient(t)
	bin := buildKairos(t)
	env := []string{"KAIROS_REDIS_URL=" + redisURL, "KAIROS_REDIS_PREFIX=" + rdb.Keys.Prefix,
		"KAIROS_ADMIN_TOKEN=" + testToken, "KAIROS_NOTICE_SECRET=e2e-notice-secret-0123456789abcdef",
		"KAIROS_CLOCK_SPEED=60", "KAIROS_LOG_LEVEL=error"}
	procs := []*process{startProcess(t, bin, env), startProcess(t, bin, env), startProcess(t, bin, env)}
	const daily = 2_000_000 // micros: 2.00 USD = 500 impressions at 4.00 CPM
	campaign := strings.NewReplacer("id: e2e-campaign", "id: budget-e2e",
		"budget: {daily: 100, total: 1000, currency: USD}", "budget: {daily: 2.00, total: 10.00, currency: USD}",
		"bid: {base_cpm: 2.00, max_cpm: 4.00}", "bid: {base_cpm: 4.00, max_cpm: 4.00}",
		"frequency_cap: {impressions: 3, window: 1h}\n", "").Replace(e2eCampaign)
	in := &instance{admin: procs[0].admin}
	if status, body := adminDo(t, in, "POST", "/v1/campaigns", campaign); status/100 != 2 {
		t.Fatalf("apply: %d %s", status, body)
	}
	live := func() []*process {
		var out []*process
		for _, p := range procs {
			if p.alive {
				out = append(out, p)
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var bids, wins, noBudget int
	var spent int64 // micros the exchange charged, as acknowledged by Kairos
	start := time.Now()
	killedAt := time.Time{}
	for time.Since(start) < 60*time.Second {
		ps := live()
		p := ps[rng.IntN(len(ps))]
		got := bid(t, &instance{bid: p.bid}, e2eRequest(fmt.Sprintf("u%d", rng.IntN(1000))))
		if got.campaign() != "budget-e2e" {
			if got.reason == "pacing" {
				noBudget++
				if spent >= daily*98/100 && noBudget > 200 {
					break
				}
			}
			continue
		}
		noBudget = 0
		bids++
		n, _ := url.Parse(strings.ReplaceAll(got.resp.SeatBid[0].Bid[0].NURL, "${AUCTION_PRICE}", "4.00"))
		n.Host = ps[rng.IntN(len(ps))].bid // any instance settles any bid
		resp, err := http.Get(n.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			wins++
			spent += 4_000 // 4.00 CPM = 0.004 per impression
		}
		if wins == 150 && killedAt.IsZero() {
			victim := procs[2]
			victim.cmd.Process.Kill() // SIGKILL: no graceful return of its lease
			victim.cmd.Wait()
			victim.alive = false
			killedAt = time.Now()
		}
	}
	ledger, err := rdb.Client.HGetAll(context.Background(), rdb.Keys.Prefix+"{b:budget-e2e}:ledger").Result()
	if err != nil {
		t.Fatal(err)
	}
	var tspent int64
	fmt.Sscan(ledger["tspent"], &tspent)
	t.Logf("bids %d, wins %d, exchange spend %d micros, ledger spend %s, late %s, budget %d; killed after %s, ran %s",
		bids, wins, spent, ledger["tspent"], ledger["tlate"], daily, killedAt.Sub(start).Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond))
	if killedAt.IsZero() {
		t.Fatal("never reached 150 wins to kill an instance")
	}
	if tspent != spent {
		t.Errorf("ledger spend %d != spend the exchange charged %d", tspent, spent)
	}
	if tspent > daily {
		t.Fatalf("overspend: %d micros settled against a daily budget of %d", tspent, daily)
	}
	if tspent < daily*98/100 {
		t.Fatalf("only %d of %d micros spent (want ≥ 98%%)", tspent, daily)
	}
}

// TestEvenPacingCompressedDay: one simulated day (KAIROS_CLOCK_SPEED=720, so
// 24 hours take two real minutes) of uniform traffic, three times what the
// budget needs; every bid wins. With even pacing each simulated hour spends
// within ±10% of its plan (daily / 24).
func TestEvenPacingCompressedDay(t *testing.T) {
	if os.Getenv("KAIROS_E2E_DAY") == "" {
		t.Skip("set KAIROS_E2E_DAY=1: simulates a whole day in two minutes (the e2e package runs the same check with two instances)")
	}
	speed := time.Duration(720)
	if v := os.Getenv("KAIROS_E2E_DAY_SPEED"); v != "" {
		fmt.Sscan(v, &speed)
	}
	redisURL, rdb := realRedisClient(t)
	bin := buildKairos(t)
	simStart := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	realStart := time.Now().Add(3 * time.Second) // the day starts once the process is up
	env := []string{"KAIROS_REDIS_URL=" + redisURL, "KAIROS_REDIS_PREFIX=" + rdb.Keys.Prefix,
		"KAIROS_ADMIN_TOKEN=" + testToken, "KAIROS_NOTICE_SECRET=e2e-notice-secret-0123456789abcdef",
		fmt.Sprintf("KAIROS_CLOCK_SPEED=%d", int(speed)), "KAIROS_CLOCK_START=" + simStart.Format(time.RFC3339Nano),
		"KAIROS_CLOCK_REAL_START=" + realStart.Format(time.RFC3339Nano), "KAIROS_LOG_LEVEL=error"}
	p := startProcess(t, bin, env)
	const daily = 24_000_000 // 24.00 USD = 6,000 impressions at 4.00 CPM: 250 an hour
	campaign := strings.NewReplacer("id: e2e-campaign", "id: even-e2e", "pacing: asap", "pacing: even",
		"budget: {daily: 100, total: 1000, currency: USD}", "budget: {daily: 24.00, total: 100.00, currency: USD}",
		"bid: {base_cpm: 2.00, max_cpm: 4.00}", "bid: {base_cpm: 4.00, max_cpm: 4.00}",
		"frequency_cap: {impressions: 3, window: 1h}\n", "").Replace(e2eCampaign)
	if status, body := adminDo(t, &instance{admin: p.admin}, "POST", "/v1/campaigns", campaign); status/100 != 2 {
		t.Fatalf("apply: %d %s", status, body)
	}
	time.Sleep(time.Until(realStart))
	// 750 requests per simulated hour (three times the 250 the plan needs),
	// evenly spaced in real time.
	every := time.Hour / speed / 750
	hours := 24
	if v := os.Getenv("KAIROS_E2E_DAY_HOURS"); v != "" {
		fmt.Sscan(v, &hours)
	}
	end := realStart.Add(time.Duration(hours) * time.Hour / speed)
	var perHour [24]int64
	tick := time.NewTicker(every)
	defer tick.Stop()
	rng := rand.New(rand.NewPCG(3, 4))
	for now := range tick.C {
		if now.After(end) {
			break
		}
		got := bid(t, &instance{bid: p.bid}, e2eRequest(fmt.Sprintf("u%d", rng.IntN(100000))))
		if got.campaign() != "even-e2e" {
			continue
		}
		n, _ := url.Parse(strings.ReplaceAll(got.resp.SeatBid[0].Bid[0].NURL, "${AUCTION_PRICE}", "4.00"))
		var bidTime int64
		fmt.Sscan(n.Query().Get("t"), &bidTime) // simulated bid time, signed into the URL
		resp, err := http.Get(n.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := (bidTime - simStart.Unix()) / 3600; resp.StatusCode/100 == 2 && h >= 0 && h < 24 {
			perHour[h] += 4_000
		}
	}
	plan := int64(daily / 24)
	var total int64
	bad := 0
	for h, s := range perHour[:hours] {
		total += s
		dev := float64(s-plan) / float64(plan) * 100
		t.Logf("hour %02d: spent %7d micros, plan %d (%+.1f%%)", h, s, plan, dev)
		if dev < -10 || dev > 10 {
			bad++
		}
	}
	t.Logf("total %d of %d micros", total, daily)
	if total > daily {
		t.Fatalf("overspend: %d > %d", total, daily)
	}
	if bad > 0 {
		t.Fatalf("%d of 24 hours spent outside ±10%% of plan", bad)
	}
}
