package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/bench"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/kairos-rtb/kairos/storage/storagetest"
)

// Shared by every instance of every test.
const (
	adminToken   = "e2e-admin-token-0123456789"
	noticeSecret = "e2e-notice-secret-0123456789abcdef"
)

var (
	// kairosBin is the kairos binary TestMain built.
	kairosBin string
	// moduleRoot is the directory of go.mod.
	moduleRoot string
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

// runTests builds the kairos binary once (without -race: the processes under
// test run as they do in production) and runs the tests.
func runTests(m *testing.M) int {
	// These tests run whole Kairos processes under load for over a minute and
	// are sensitive to a busy machine; they run when asked (.ci/run does).
	if os.Getenv("KAIROS_E2E") == "" {
		fmt.Println("e2e: skipped; set KAIROS_E2E=1 to run the end-to-end simulations")
		return m.Run()
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 || string(bytes.TrimSpace(gomod)) == os.DevNull {
		fmt.Fprintf(os.Stderr, "e2e: cannot find the module root (go env GOMOD: %q, %v)\n", gomod, err)
		return 1
	}
	moduleRoot = filepath.Dir(string(bytes.TrimSpace(gomod)))
	dir, err := os.MkdirTemp("", "kairos-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kairosBin = filepath.Join(dir, "kairos")
	build := exec.Command("go", "build", "-o", kairosBin, "./cmd/kairos")
	build.Dir = moduleRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/kairos: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// cluster is a set of Kairos processes sharing one Redis key prefix, one
// admin token and one notice secret.
type cluster struct {
	t   *testing.T
	rdb *storage.Redis
	env []string

	mu    sync.Mutex
	nodes []*node
	rng   *rand.Rand
}

// node is one Kairos process. Its ports stay the same across restarts, so the
// notice URLs of its earlier bids keep naming it.
type node struct {
	c          *cluster
	name       string
	bid, admin string // host:port
	logPath    string

	up     atomic.Bool // serving, and not about to stop: receives routed notices
	cmd    *exec.Cmd
	exited chan struct{}
}

// newCluster opens the real Redis under a fresh prefix (its keys are deleted
// when the test ends) and prepares the environment every instance shares;
// extra holds further KAIROS_*=value settings.
func newCluster(t *testing.T, extra ...string) *cluster {
	if os.Getenv("KAIROS_E2E") == "" {
		t.Skip("end-to-end simulation: set KAIROS_E2E=1 (.ci/run does)")
	}
	t.Helper()
	rdb := storagetest.Open(t, true)
	redisURL := os.Getenv("KAIROS_TEST_REDIS")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379"
	}
	env := []string{
		"KAIROS_REDIS_URL=" + redisURL, "KAIROS_REDIS_PREFIX=" + rdb.Keys.Prefix,
		"KAIROS_ADMIN_TOKEN=" + adminToken, "KAIROS_NOTICE_SECRET=" + noticeSecret,
		"KAIROS_LOG_LEVEL=warn", "KAIROS_CAMPAIGN_RESYNC=2s",
		// The simulations count exact bids and spend on a machine that other
		// work keeps busy; overload shedding is drilled by bench/drill.sh.
		"KAIROS_SHED_TARGET_LAG=-1ms",
	}
	return &cluster{t: t, rdb: rdb, env: append(env, extra...), rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))}
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start launches a new instance and waits until it serves.
func (c *cluster) start(name string) *node {
	c.t.Helper()
	n := &node{c: c, name: name, bid: freeAddr(c.t), admin: freeAddr(c.t),
		logPath: filepath.Join(c.t.TempDir(), name+".log")}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	c.t.Cleanup(func() {
		if n.running() {
			n.signal(syscall.SIGTERM)
			select {
			case <-n.exited:
			case <-time.After(15 * time.Second):
				n.signal(syscall.SIGKILL)
				<-n.exited
			}
		}
		if c.t.Failed() {
			c.t.Logf("--- last lines of %s's log:\n%s", n.name, tail(n.logPath, 15))
		}
	})
	n.launch()
	return n
}

// launch starts the process on the node's ports and waits for /healthz on both
// listeners.
func (n *node) launch() {
	t := n.c.t
	t.Helper()
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(kairosBin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KAIROS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, n.c.env...)
	cmd.Env = append(cmd.Env, "KAIROS_LISTEN="+n.bid, "KAIROS_ADMIN_LISTEN="+n.admin, "KAIROS_PUBLIC_URL=http://"+n.bid)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should the test binary die without its cleanups, take the process along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", n.name, err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited = cmd, exited
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for _, u := range []string{"http://" + n.bid + "/healthz", "http://" + n.admin + "/healthz"} {
		for !httpOK(u) {
			select {
			case <-exited:
				t.Fatalf("%s exited at start (%v):\n%s", n.name, cmd.ProcessState, tail(n.logPath, 20))
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not serve within 20s:\n%s", n.name, tail(n.logPath, 20))
			}
		}
	}
	n.up.Store(true)
}

func httpOK(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (n *node) running() bool {
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

func (n *node) signal(sig syscall.Signal) {
	_ = n.cmd.Process.Signal(sig)
}

// stop sends SIGTERM and waits up to limit for the process to end; it returns
// the exit code and how long the process took.
func (n *node) stop(limit time.Duration) (code int, took time.Duration) {
	n.c.t.Helper()
	start := n.term()
	return n.wait(start, limit)
}

// term marks the node down for notices and sends SIGTERM; it returns when.
func (n *node) term() time.Time {
	n.up.Store(false)
	start := time.Now()
	n.signal(syscall.SIGTERM)
	return start
}

// wait waits up to limit for the process to end after a signal sent at since,
// and returns its exit code and how long it took.
func (n *node) wait(since time.Time, limit time.Duration) (code int, took time.Duration) {
	n.c.t.Helper()
	select {
	case <-n.exited:
	case <-time.After(limit - time.Since(since)):
		n.signal(syscall.SIGKILL)
		<-n.exited
		n.c.t.Fatalf("%s did not stop within %s of SIGTERM:\n%s", n.name, limit, tail(n.logPath, 20))
	}
	return n.cmd.ProcessState.ExitCode(), time.Since(since)
}

// kill ends the process with SIGKILL: nothing is flushed or given back.
func (n *node) kill() {
	n.up.Store(false)
	n.signal(syscall.SIGKILL)
	<-n.exited
}

// restart starts a stopped node again on the same ports.
func (n *node) restart() {
	n.c.t.Helper()
	if n.running() {
		n.c.t.Fatalf("restart %s: still running", n.name)
	}
	n.launch()
}

// route sends a notice URL to a random instance that is up, as an exchange in
// front of a load balancer would; any instance settles any instance's bid.
func (c *cluster) route(u string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var up []*node
	for _, n := range c.nodes {
		if n.up.Load() {
			up = append(up, n)
		}
	}
	if len(up) == 0 {
		return u
	}
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	pu.Host = up[c.rng.IntN(len(up))].bid
	return pu.String()
}

// routing is the notice routing of every test: a random live instance,
// retried elsewhere on failure (notices are idempotent), observed by tl.
func (c *cluster) routing(tl *tally) bench.NoticeRouting {
	return bench.NoticeRouting{Route: c.route, Attempts: 6, Backoff: 100 * time.Millisecond, Observe: tl.observe}
}

// tally adds up what the simulated exchange told Kairos through notices that
// were answered 2xx: each bid once, however many of its notices got through.
type tally struct {
	mu       sync.Mutex
	won      map[string]bool
	lost     map[string]bool
	kinds    map[string]map[string]bool // notice kind → bids with such a notice delivered
	wins     int64
	losses   int64
	spend    int64           // micros: Σ clearing per impression, campaign currency
	byHour   map[int64]int64 // spend by the bid's hour (unix seconds / 3600, Kairos's clock)
	winsHour map[int64]int64 // wins by the bid's hour
	failed   int64           // notices that failed every attempt
	rejected int64           // notices answered 2xx whose URL we could not read
}

func newTally() *tally {
	return &tally{won: map[string]bool{}, lost: map[string]bool{}, kinds: map[string]map[string]bool{},
		byHour: map[int64]int64{}, winsHour: map[int64]int64{}}
}

func (tl *tally) observe(u string, ok bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if !ok {
		tl.failed++
		return
	}
	pu, err := url.Parse(u)
	if err != nil {
		tl.rejected++
		return
	}
	q := pu.Query()
	key := q.Get("c") + "/" + q.Get("b")
	kind := strings.TrimPrefix(pu.Path, "/notice/")
	if tl.kinds[kind] == nil {
		tl.kinds[kind] = map[string]bool{}
	}
	tl.kinds[kind][key] = true
	switch kind {
	case "win", "bill", "imp":
		if tl.won[key] {
			return
		}
		r, err1 := strconv.ParseInt(q.Get("r"), 10, 64)
		p, err2 := strconv.ParseInt(q.Get("p"), 10, 64)
		clearing, err3 := money.Parse(q.Get("price"))
		hour, err4 := strconv.ParseInt(q.Get("t"), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || p <= 0 {
			tl.rejected++
			return
		}
		tl.won[key] = true
		tl.wins++
		// The cost of one impression in the campaign currency: the clearing CPM
		// converted at the bid's own rate (reservation r per impression for a
		// bid of p CPM), rounded down to a micro, as README's notice section
		// documents. r ≤ a few 10^4 and clearing ≤ p ≤ 10^8, so no overflow.
		cost := r * min(int64(clearing), p) / p
		tl.spend += cost
		tl.byHour[hour/3600] += cost
		tl.winsHour[hour/3600]++
	case "loss":
		if !tl.lost[key] {
			tl.lost[key] = true
			tl.losses++
		}
	}
}

// count returns how many bids had a notice of kind delivered.
func (tl *tally) count(kind string) int64 {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return int64(len(tl.kinds[kind]))
}

// adminDo calls n's admin API with the token.
func (n *node) adminDo(method, path, body string) (int, []byte) {
	n.c.t.Helper()
	req, err := http.NewRequest(method, "http://"+n.admin+path, strings.NewReader(body))
	if err != nil {
		n.c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.c.t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// apply stores campaigns (YAML) through n's admin API.
func (n *node) apply(yaml string) {
	n.c.t.Helper()
	if status, body := n.adminDo("POST", "/v1/campaigns", yaml); status/100 != 2 {
		n.c.t.Fatalf("apply campaigns: %d %s", status, body)
	}
}

// pacingState is the part of GET /v1/pacing/<id> the tests read.
type pacingState struct {
	Day           string       `json:"day"`
	Daily         money.Micros `json:"daily"`
	SpentToday    money.Micros `json:"spent_today"`
	Reserved      money.Micros `json:"reserved"`
	LateToday     money.Micros `json:"late_today"`
	Participation float64      `json:"participation"`
}

// pacing returns n's view of a campaign's pacing, ok false while n does not
// know the campaign.
func (n *node) pacing(id string) (pacingState, bool) {
	n.c.t.Helper()
	var st pacingState
	status, body := n.adminDo("GET", "/v1/pacing/"+id, "")
	if status != http.StatusOK {
		return st, false
	}
	if err := json.Unmarshal(body, &st); err != nil {
		n.c.t.Fatalf("pacing %s: %v: %s", id, err, body)
	}
	return st, true
}

// reportRow is one row of the win-rate report.
type reportRow struct {
	Dims        map[string]string `json:"dims"`
	Requests    int64             `json:"requests"`
	NoBids      int64             `json:"no_bids"`
	Bids        int64             `json:"bids"`
	Wins        int64             `json:"wins"`
	LateWins    int64             `json:"late_wins"`
	Losses      int64             `json:"losses"`
	Impressions int64             `json:"impressions"`
	Spend       money.Micros      `json:"spend"`
}

type report struct {
	Rows   []reportRow `json:"rows"`
	Totals reportRow   `json:"totals"`
}

// winrate reads GET /v1/reports/winrate for [from, to) grouped by by.
func (n *node) winrate(from, to time.Time, by string) report {
	n.c.t.Helper()
	q := url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)},
		"by": {by}, "format": {"json"}}
	status, body := n.adminDo("GET", "/v1/reports/winrate?"+q.Encode(), "")
	if status != http.StatusOK {
		n.c.t.Fatalf("winrate report: %d %s", status, body)
	}
	var r report
	if err := json.Unmarshal(body, &r); err != nil {
		n.c.t.Fatalf("winrate report: %v: %s", err, body)
	}
	return r
}

// ledger reads a campaign's ledger hash: init, tspent, d:<day>:spent, … (micros).
func (c *cluster) ledger(campaign string) map[string]int64 {
	c.t.Helper()
	m, err := c.rdb.Client.HGetAll(context.Background(), c.rdb.Keys.Prefix+"{b:"+campaign+"}:ledger").Result()
	if err != nil {
		c.t.Fatal(err)
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// leases reads a campaign's lease amounts by "<day>|<holder>" (micros).
func (c *cluster) leases(campaign string) map[string]int64 {
	c.t.Helper()
	m, err := c.rdb.Client.HGetAll(context.Background(), c.rdb.Keys.Prefix+"{b:"+campaign+"}:leases").Result()
	if err != nil {
		c.t.Fatal(err)
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		amount, _, _ := strings.Cut(v, "|")
		n, _ := strconv.ParseInt(amount, 10, 64)
		out[k] = n
	}
	return out
}

// campaignYAML is a banner campaign for New Zealand traffic (simpleCorpus).
func campaignYAML(id, pacing string, daily, total, cpm string) string {
	return fmt.Sprintf(`id: %s
name: e2e %s
advertiser: Test
adomain: [test.example]
status: active
flight: {start: 2026-01-01, end: 2030-12-31, timezone: UTC}
budget: {daily: %s, total: %s, currency: USD}
pacing: %s
bid: {base_cpm: %s, max_cpm: %s}
targeting: {countries: [NZL], formats: [banner], sizes: [300x250]}
creatives:
  - id: %s-c
    formats: [banner]
    sizes: [300x250]
    landing_url: https://test.example/
    parts: {headline: {default: ["Hello"]}}
`, id, id, daily, total, pacing, cpm, cpm, id)
}

// simpleCorpus returns n requests every campaignYAML campaign bids on: one
// non-secure 300x250 banner (the instances' notice URLs are http), a New
// Zealand desktop, a user without a profile. tmax is in milliseconds.
func simpleCorpus(n int, tmax int) bench.Corpus {
	c := make(bench.Corpus, n)
	for i := range c {
		body := fmt.Sprintf(`{"id":"%016x","tmax":%d,"cur":["USD"],`+
			`"imp":[{"id":"1","banner":{"w":300,"h":250},"secure":0}],`+
			`"site":{"domain":"news.example","page":"http://news.example/p/%d"},`+
			`"device":{"ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",`+
			`"ip":"203.0.113.%d","devicetype":2,"geo":{"country":"NZL"}},"user":{"buyeruid":"e2e-u%d"}}`,
			i, tmax, i, 1+i%250, i)
		c[i] = bench.Request{Name: fmt.Sprintf("simple-%d", i), Body: []byte(body),
			TMax: time.Duration(tmax) * time.Millisecond, IDOffset: len(`{"id":"`), Imps: []bench.Imp{{ID: "1"}}}
	}
	return c
}

// clockEnv runs every instance on one simulated clock: sim at real, speed
// times faster than real time.
func clockEnv(speed float64, sim, real time.Time) []string {
	return []string{
		"KAIROS_CLOCK_SPEED=" + strconv.FormatFloat(speed, 'f', -1, 64),
		"KAIROS_CLOCK_START=" + sim.UTC().Format(time.RFC3339Nano),
		"KAIROS_CLOCK_REAL_START=" + real.UTC().Format(time.RFC3339Nano),
	}
}

// probeBid sends one request of simpleCorpus to n until campaign bids on it
// (at most limit), releases the bid with a loss notice and returns the lease
// holder that bid (from the bid id "<campaign>.<holder>.<seq>") and the
// budget day it was booked to.
func probeBid(t *testing.T, n *node, campaign string, limit time.Duration) (holder, day string) {
	t.Helper()
	body := simpleCorpus(1, 1000)[0].Body
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Post("http://"+n.bid+"/openrtb2/bid", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("probe %s: %v", n.name, err)
		}
		var br struct {
			SeatBid []struct {
				Bid []struct {
					ID   string `json:"id"`
					CID  string `json:"cid"`
					LURL string `json:"lurl"`
				} `json:"bid"`
			} `json:"seatbid"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&br)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && len(br.SeatBid) > 0 && len(br.SeatBid[0].Bid) > 0 && br.SeatBid[0].Bid[0].CID == campaign {
			b := br.SeatBid[0].Bid[0]
			lr, err := http.Get(strings.ReplaceAll(b.LURL, "${AUCTION_LOSS}", "102"))
			if err != nil {
				t.Fatalf("probe loss notice: %v", err)
			}
			lr.Body.Close()
			h, _, _ := strings.Cut(strings.TrimPrefix(b.ID, campaign+"."), ".")
			lu, err := url.Parse(b.LURL)
			if err != nil {
				t.Fatalf("probe loss URL: %v", err)
			}
			return h, lu.Query().Get("d")
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not bid for %s within %s (last answer %d)", n.name, campaign, limit, resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// attack runs an open-loop attack with the cluster's notice routing; stop
// ends it early.
func attack(t *testing.T, c *cluster, cfg bench.AttackConfig, corpus bench.Corpus, tl *tally, stop context.Context) *bench.Metrics {
	t.Helper()
	a, err := bench.NewAttacker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.AttackRouted(stop, corpus, c.routing(tl))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pct formats a/b as a percentage.
func pct(a, b int64) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(a)/float64(b), 'f', 1, 64) + "%"
}

// fmtInt formats v with thousands separators.
func fmtInt(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
