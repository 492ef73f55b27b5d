package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/demo"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

const testToken = "e2e-token-0123456789"

type instance struct {
	bid, admin string
	cancel     context.CancelFunc
	done       chan error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startInstance runs a whole Kairos (run) against the real Redis named by
// KAIROS_TEST_REDIS under prefix.
func startInstance(t *testing.T, redisURL, prefix string, extraEnv map[string]string) *instance {
	t.Helper()
	listen := freeAddr(t)
	env := map[string]string{
		"KAIROS_LISTEN": listen, "KAIROS_ADMIN_LISTEN": freeAddr(t), "KAIROS_REDIS_URL": redisURL,
		"KAIROS_REDIS_PREFIX": prefix, "KAIROS_ADMIN_TOKEN": testToken,
		"KAIROS_NOTICE_SECRET": "e2e-notice-secret-0123456789abcdef", "KAIROS_CAMPAIGN_RESYNC": "2s",
		"KAIROS_LOG_LEVEL": "warn",
		// These tests expect bids on a machine that other work keeps busy;
		// overload shedding has its own tests.
		"KAIROS_SHED_TARGET_LAG": "-1ms",
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{done: make(chan error, 1)}
	ready := make(chan struct{})
	cfg.ready = func(b, a string) { in.bid, in.admin = b, a; close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- run(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-in.done:
		t.Fatalf("instance did not start: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("instance did not start within 15s")
	}
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop stops the instance gracefully, as SIGTERM does, and checks it ends cleanly.
func (in *instance) stop(t *testing.T) {
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("graceful stop took more than 15s")
	}
}

func realRedis(t *testing.T) (url, prefix string) {
	url, r := realRedisClient(t)
	return url, r.Keys.Prefix
}

func realRedisClient(t *testing.T) (string, *storage.Redis) {
	t.Helper()
	r := storagetest.Open(t, true) // cleans the keys of this prefix at the end
	url := os.Getenv("KAIROS_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	return url, r
}

func adminDo(t *testing.T, in *instance, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+in.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type bidAnswer struct {
	status int
	reason string
	resp   struct {
		SeatBid []struct {
			Bid []struct {
				CID   string  `json:"cid"`
				Price float64 `json:"price"`
				NURL  string  `json:"nurl"`
				BURL  string  `json:"burl"`
				LURL  string  `json:"lurl"`
				ADM   string  `json:"adm"`
				CrID  string  `json:"crid"`
			} `json:"bid"`
		} `json:"seatbid"`
	}
}

func bid(t *testing.T, in *instance, body string) bidAnswer {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+in.bid+"/openrtb2/bid", strings.NewReader(body))
	req.Header.Set("X-Kairos-Debug", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a bidAnswer
	a.status, a.reason = resp.StatusCode, resp.Header.Get("X-Kairos-Nobid-Reason")
	if a.status == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&a.resp); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func (a bidAnswer) campaign() string {
	if a.status != 200 || len(a.resp.SeatBid) == 0 || len(a.resp.SeatBid[0].Bid) == 0 {
		return ""
	}
	return a.resp.SeatBid[0].Bid[0].CID
}

const e2eCampaign = `id: e2e-campaign
name: End to end
advertiser: Test
adomain: [test.example]
status: active
flight: {start: 2026-01-01, end: 2030-12-31, timezone: UTC}
budget: {daily: 100, total: 1000, currency: USD}
pacing: asap
bid: {base_cpm: 2.00, max_cpm: 4.00}
targeting: {countries: [NZL]}
frequency_cap: {impressions: 3, window: 1h}
creatives:
  - id: e2e
    formats: [banner]
    sizes: [970x250]
    landing_url: https://test.example/
    parts: {headline: {default: ["Hello {product.name}"]}}
`

func e2eRequest(user string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf(`{"id":"e2e-%s","tmax":500,"imp":[{"id":"1","banner":{"w":970,"h":250}}],`+
		`"site":{"domain":"news.example"},"device":{"ua":"Mozilla/5.0","ip":"203.0.113.20","devicetype":2,"geo":{"country":"NZL"}},`+
		`"user":{"buyeruid":%q}}`, hex.EncodeToString(b[:]), user)
}

// waitFor polls cond on every instance until it holds on all of them and
// returns how long that took.
func waitFor(t *testing.T, limit time.Duration, ins []*instance, cond func(*instance) bool) time.Duration {
	t.Helper()
	start := time.Now()
	pending := append([]*instance(nil), ins...)
	for len(pending) > 0 {
		if time.Since(start) > limit {
			t.Fatalf("not on every instance within %s", limit)
		}
		next := pending[:0]
		for _, in := range pending {
			if !cond(in) {
				next = append(next, in)
			}
		}
		pending = next
		if len(pending) > 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// buildKairosctl builds the CLI, so the test drives Kairos as an operator does.
func buildKairosctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kairosctl")
	out, err := exec.Command("go", "build", "-o", bin, "../kairosctl").CombinedOutput()
	if err != nil {
		t.Fatalf("build kairosctl: %v\n%s", err, out)
	}
	return bin
}

func kairosctl(t *testing.T, bin string, in *instance, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KAIROS_ADMIN_URL=http://"+in.admin, "KAIROS_ADMIN_TOKEN="+testToken)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kairosctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestChangesReachEveryInstance: a campaign applied through kairosctl bids
// on two instances within a second; paused, it stops on both within a second.
func TestChangesReachEveryInstance(t *testing.T) {
	url, prefix := realRedis(t)
	a := startInstance(t, url, prefix, nil)
	b := startInstance(t, url, prefix, nil)
	ins := []*instance{a, b}
	if got := bid(t, a, e2eRequest("nobody")); got.status != 204 {
		t.Fatalf("bid before the campaign exists: %d", got.status)
	}
	ctl := buildKairosctl(t)
	file := filepath.Join(t.TempDir(), "campaign.yaml")
	if err := os.WriteFile(file, []byte(e2eCampaign), 0o600); err != nil {
		t.Fatal(err)
	}
	kairosctl(t, ctl, a, "campaigns", "apply", "-f", file)
	took := waitFor(t, 3*time.Second, ins, func(in *instance) bool {
		return bid(t, in, e2eRequest("nobody")).campaign() == "e2e-campaign"
	})
	t.Logf("applied campaign bid on both instances after %s", took)
	if took > time.Second {
		t.Errorf("applied campaign took %s to bid on both instances, want under 1s", took)
	}
	kairosctl(t, ctl, b, "campaigns", "pause", "e2e-campaign")
	took = waitFor(t, 3*time.Second, ins, func(in *instance) bool {
		got := bid(t, in, e2eRequest("nobody"))
		return got.status == 204 && got.reason == "no_campaign"
	})
	t.Logf("paused campaign stopped on both instances after %s", took)
	if took > time.Second {
		t.Errorf("paused campaign took %s to stop on both instances, want under 1s", took)
	}
}

// TestFrequencyCapEndToEnd: a known user capped at 3 impressions gets no fourth
// bid once three win notices have been counted.
// checkClick follows the click URL in a banner's markup: it must name the
// bid's creative variant (so clicks are credited to the variant shown) and
// redirect to the landing URL.
func checkClick(t *testing.T, adm, crid, landing string) {
	t.Helper()
	_, rest, ok := strings.Cut(adm, "href='")
	if !ok {
		t.Fatalf("no link in the markup: %s", adm)
	}
	href, _, _ := strings.Cut(rest, "'")
	href = html.UnescapeString(href)
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("cr"); got != crid {
		t.Errorf("click URL names creative %q, the bid's crid is %q", got, crid)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != landing {
		t.Errorf("click: %s to %q, want a redirect to %s", resp.Status, resp.Header.Get("Location"), landing)
	}
}

func TestFrequencyCapEndToEnd(t *testing.T) {
	url, rdb := realRedisClient(t)
	in := startInstance(t, url, rdb.Keys.Prefix, nil)
	if status, body := adminDo(t, in, "POST", "/v1/campaigns", e2eCampaign); status/100 != 2 {
		t.Fatalf("apply: %d %s", status, body)
	}
	profile := `{"user":"fc-user","phase":"intent","product":{"id":"sku-7","name":"Thing","price":"9.00"},"ttl":"1h"}`
	if status, body := adminDo(t, in, "POST", "/v1/segments/import", profile); status != 200 {
		t.Fatalf("import: %d %s", status, body)
	}
	waitFor(t, 3*time.Second, []*instance{in}, func(in *instance) bool {
		return bid(t, in, e2eRequest("fc-user")).campaign() == "e2e-campaign"
	})
	for i := 1; i <= 3; i++ {
		got := bid(t, in, e2eRequest("fc-user"))
		if got.campaign() != "e2e-campaign" {
			t.Fatalf("bid %d: %d %s, want a bid", i, got.status, got.reason)
		}
		if i == 1 {
			checkClick(t, got.resp.SeatBid[0].Bid[0].ADM, got.resp.SeatBid[0].Bid[0].CrID, "https://test.example/")
		}
		nurl := strings.ReplaceAll(got.resp.SeatBid[0].Bid[0].NURL, "${AUCTION_PRICE}", "1.50")
		resp, err := http.Get(nurl)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("win notice %d: %s", i, resp.Status)
		}
		// A replayed notice is accepted but counted once.
		resp, _ = http.Get(nurl)
		resp.Body.Close()
	}
	got := bid(t, in, e2eRequest("fc-user"))
	if got.status != 204 || got.reason != "frequency_cap" {
		t.Fatalf("fourth bid: %d %q, want 204 frequency_cap", got.status, got.reason)
	}
	// Another user is not capped.
	if got := bid(t, in, e2eRequest("other-user")); got.campaign() != "e2e-campaign" {
		t.Fatalf("uncapped user: %d %s", got.status, got.reason)
	}
	// Spend: three wins at 1.50 CPM cost 3 × 1500 micros, settled once each
	// despite the replays.
	day := time.Now().UTC().Format(time.DateOnly)
	spent, err := rdb.Client.HGet(context.Background(), rdb.Keys.Prefix+"{b:e2e-campaign}:ledger", "d:"+day+":spent").Int64()
	if err != nil || spent != 4500 {
		t.Fatalf("ledger spent today = %d (%v), want 4500 micros", spent, err)
	}
}

// TestDemoModeBids: with no Redis configured the server seeds its demo data
// and the printed request bids at once.
func TestDemoModeBids(t *testing.T) {
	in := startInstance(t, "", "", map[string]string{"KAIROS_REDIS_URL": "", "KAIROS_ADMIN_TOKEN": "", "KAIROS_NOTICE_SECRET": ""})
	got := bid(t, in, demo.BidRequest("demo-1", "demo-intent"))
	if got.campaign() != "trail-runner-autumn" {
		t.Fatalf("demo intent user: %d %s, want a trail-runner-autumn bid", got.status, got.reason)
	}
	if p := got.resp.SeatBid[0].Bid[0].Price; p != 4.5 {
		t.Fatalf("demo intent price %v, want 2.50 × 1.8 = 4.50", p)
	}
}

// TestNoConsentTouchesNoUserKeys: a request whose user opted out (US privacy)
// still gets a contextual bid, but Kairos reads no key of that user (the
// profile key's idle time keeps growing) and its win notice writes no
// user-keyed counter (the counter key never appears).
func TestNoConsentTouchesNoUserKeys(t *testing.T) {
	url, rdb := realRedisClient(t)
	in := startInstance(t, url, rdb.Keys.Prefix, nil)
	if status, body := adminDo(t, in, "POST", "/v1/campaigns", e2eCampaign); status/100 != 2 {
		t.Fatalf("apply: %d %s", status, body)
	}
	profile := `{"user":"private-user","phase":"intent","product":{"id":"sku-7","name":"Thing","price":"9.00"},"ttl":"1h"}`
	if status, body := adminDo(t, in, "POST", "/v1/segments/import", profile); status != 200 {
		t.Fatalf("import: %d %s", status, body)
	}
	optedOut := func(user string) string {
		return strings.Replace(e2eRequest(user), `"imp":`, `"regs":{"us_privacy":"1YYN"},"imp":`, 1)
	}
	waitFor(t, 3*time.Second, []*instance{in}, func(in *instance) bool {
		return bid(t, in, optedOut("someone")).campaign() == "e2e-campaign"
	})
	ctx := context.Background()
	pkey, fckey := rdb.Keys.User("private-user", "p"), rdb.Keys.User("private-user", "fc")
	idle := func() int64 {
		d, err := rdb.Client.ObjectIdleTime(ctx, pkey).Result()
		if err != nil {
			t.Fatalf("OBJECT IDLETIME %s: %v", pkey, err)
		}
		return int64(d.Seconds())
	}
	// Redis reports idle time in whole seconds: let two of them pass untouched.
	time.Sleep(2100 * time.Millisecond)
	if idle() < 2 {
		t.Fatalf("profile key touched since import (idle %ds)", idle())
	}

	got := bid(t, in, optedOut("private-user"))
	if got.campaign() != "e2e-campaign" || got.resp.SeatBid[0].Bid[0].Price != 2 {
		t.Fatalf("opted-out user: %d %s, want the contextual bid at base CPM 2.00", got.status, got.reason)
	}
	nurl := strings.ReplaceAll(got.resp.SeatBid[0].Bid[0].NURL, "${AUCTION_PRICE}", "1.00")
	if strings.Contains(nurl, "private-user") {
		t.Fatalf("the user id travels in a notice URL without consent: %s", nurl)
	}
	resp, err := http.Get(nurl)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("win notice: %s", resp.Status)
	}
	if n := idle(); n < 2 {
		t.Fatalf("the opted-out request read the user's profile (idle %ds)", n)
	}
	if n, _ := rdb.Client.Exists(ctx, fckey).Result(); n != 0 {
		t.Fatal("the opted-out user's win wrote a user-keyed frequency counter")
	}
	// Control: with consent the same user's profile is read at once.
	if got := bid(t, in, e2eRequest("private-user")); got.campaign() != "e2e-campaign" {
		t.Fatalf("consented request: %d %s", got.status, got.reason)
	}
	if n := idle(); n != 0 {
		t.Fatalf("control: the consented request did not read the profile (idle %ds)", n)
	}
}

// TestPprofIndex: the profile index the README points operators to answers,
// behind the admin token, and so do the profiles it lists.
func TestPprofIndex(t *testing.T) {
	url, prefix := realRedis(t)
	in := startInstance(t, url, prefix, nil)
	if code, body := adminDo(t, in, http.MethodGet, "/debug/pprof/", ""); code != 200 || !strings.Contains(body, "heap") {
		t.Fatalf("/debug/pprof/: %d %.200s", code, body)
	}
	if code, _ := adminDo(t, in, http.MethodGet, "/debug/pprof/heap?debug=1", ""); code != 200 {
		t.Fatalf("/debug/pprof/heap: %d", code)
	}
	resp, err := http.Get("http://" + in.admin + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("/debug/pprof/ without the token: %d, want 401", resp.StatusCode)
	}
}
