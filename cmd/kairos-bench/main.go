// Command kairos-bench drives load at a Kairos bidder and simulates the exchange
// around it; see package bench for the library it wraps.
//
//	kairos-bench attack   -target 127.0.0.1:8080 -rate 2000 -duration 30s -output kairos.json
//	kairos-bench report   kairos.json
//	kairos-bench compare  baseline.json kairos.json
//	kairos-bench baseline -listen 127.0.0.1:8090
//	kairos-bench profiles -n 100000 -seed 1 -o profiles.jsonl
//	kairos-bench corpus   -n 1000 -seed 1 -o corpus/
//
// Every flag can also be set from the environment as KAIROS_BENCH_<FLAG>, with
// dashes as underscores (KAIROS_BENCH_TARGET, KAIROS_BENCH_KNOWN_SHARE).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kairos-rtb/kairos/bench"
)

const usage = `kairos-bench: load generator and exchange simulator for Kairos.

Usage: kairos-bench <command> [flags] [args]

Commands:
  attack    send bid requests open loop at -rate, or closed loop (-rate 0) at maximum throughput
  report    print a results file (several files are merged)
  compare   compare two results files: B against A, with ratios
  baseline  serve the decode-only baseline bidder (the speed reference)
  profiles  write synthetic purpose-phase profiles as JSON lines for import
  corpus    write a generated request corpus to a folder, one JSON file per request
  drill-load   a failure drill's steady load, one line per time window (bench/drill.sh)
  drill-table  a failure drill's table: one row per fault, with its checks

Run 'kairos-bench <command> -h' for the command's flags.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "kairos-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) error{
		"attack": attackCmd, "report": reportCmd, "compare": compareCmd,
		"baseline": baselineCmd, "profiles": profilesCmd, "corpus": corpusCmd,
		"drill-load": drillLoadCmd, "drill-table": drillTableCmd,
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd(args[1:], stdout, stderr)
}

// newFlags returns a flag set whose -h prints summary, then the flags.
func newFlags(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags (environment KAIROS_BENCH_<FLAG> also works):\n", summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, then fills flags not given on the command line from
// KAIROS_BENCH_* environment variables.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "KAIROS_BENCH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	return err
}

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

// String returns the values comma-separated.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set appends the comma-separated values of v.
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// corpusFlags are the flags that choose or generate a corpus.
type corpusFlags struct {
	source     string
	n          int
	seed       uint64
	knownShare float64
	knownUsers int
	profiles   string
}

func (c *corpusFlags) register(fs *flag.FlagSet, withSource bool) {
	if withSource {
		fs.StringVar(&c.source, "corpus", "gen", "`gen` to generate requests, or a folder of *.json requests to replay")
	}
	fs.IntVar(&c.n, "n", 10000, "number of requests to generate")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the generated corpus and the auction")
	fs.Float64Var(&c.knownShare, "known-share", 0.3, "share of requests whose user is a known profile")
	fs.IntVar(&c.knownUsers, "known-users", 100000, "draw known users from the synthetic ids u-1..u-N that 'profiles -n N' writes")
	fs.StringVar(&c.profiles, "profiles", "", "draw known users from this profile `file` (JSON lines) instead of -known-users")
}

func (c *corpusFlags) corpus() (bench.Corpus, error) {
	if c.source != "" && c.source != "gen" {
		return bench.Replay(c.source)
	}
	cfg := bench.GeneratorConfig{Seed: c.seed, KnownShare: c.knownShare, KnownUsers: c.knownUsers}
	if c.profiles != "" {
		f, err := os.Open(c.profiles)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if cfg.KnownIDs, err = bench.ReadProfileIDs(f); err != nil {
			return nil, fmt.Errorf("%s: %w", c.profiles, err)
		}
	}
	g, err := bench.NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	return g.Generate(c.n)
}

func attackCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("attack", "kairos-bench attack: send bid requests and measure the answers.\n\n"+
		"With -rate > 0 requests go out open loop on a fixed schedule and latency is measured from each\n"+
		"request's scheduled time (no coordinated omission); -rate 0 runs closed loop with -workers\n"+
		"requests in flight to find the maximum throughput.", stderr)
	var (
		targets   listFlag
		cf        corpusFlags
		cfg       bench.AttackConfig
		auction   string
		dayFlag   string
		dayStart  string
		debug     bool
		output    string
		noticeCnc int
		anyHost   bool
	)
	fs.Var(&targets, "target", "bid endpoint `host:port` or URL; repeat or comma-separate for round robin (default 127.0.0.1:8080)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests per second, open loop (peak rate with -day-compress); 0 = closed loop at maximum throughput")
	fs.IntVar(&cfg.Workers, "workers", 64, "closed loop: requests in flight; open loop: initial worker pool; either way the connections per target unless -max-conns")
	fs.IntVar(&cfg.MaxWorkers, "max-workers", 10000, "open loop: most workers (requests scheduled and not answered)")
	fs.IntVar(&cfg.MaxConnsPerTarget, "max-conns", 0, "keep-alive connections per target; 0 = -workers (in open loop, requests beyond them wait for a connection, and the wait counts in their latency)")
	fs.DurationVar(&cfg.ConnWait, "conn-wait", 0, "longest wait of a due request for a free connection before it is dropped unsent (not-sent); 0 = -timeout, negative = no wait")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to attack")
	fs.Uint64Var(&cfg.MaxRequests, "requests", 0, "stop after this many requests (0 = no limit)")
	fs.DurationVar(&cfg.Timeout, "timeout", time.Second, "timeout of each request")
	cf.register(fs, true)
	fs.StringVar(&auction, "auction", "first", "exchange auction: `first`, second or none (none fires no notices)")
	fs.Float64Var(&cfg.Auction.CompetitionMean, "competition-mean", 1.5, "mean CPM of the best competing bid (lognormal)")
	fs.Float64Var(&cfg.Auction.CompetitionSpread, "competition-spread", 0.6, "sigma of the competing bid's lognormal")
	fs.Float64Var(&cfg.Auction.Floor, "exchange-floor", 0, "exchange reserve CPM on top of the imps' floors")
	fs.IntVar(&noticeCnc, "notice-concurrency", 32, "notices in flight at most")
	fs.BoolVar(&anyHost, "notice-any-host", false, "send notices to any host, not only loopback and the targets")
	fs.StringVar(&dayFlag, "day-compress", "", "run a time-compressed day, `SIM=REAL` (e.g. 24h=10m): rate follows a daily curve, X-Kairos-Sim-Time is sent")
	fs.StringVar(&dayStart, "day-start", "", "simulated start time, RFC3339 (default: midnight UTC today)")
	fs.BoolVar(&debug, "debug", true, "send X-Kairos-Debug: 1 and count no-bid reasons")
	fs.StringVar(&cfg.Label, "label", "", "name of this run in reports")
	fs.StringVar(&output, "output", "", "write the results JSON to this `file` (- for stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("attack: unexpected arguments %q", fs.Args())
	}
	if len(targets) == 0 {
		targets = listFlag{"127.0.0.1:8080"}
	}
	cfg.Targets = targets
	cfg.Seed = cf.seed
	cfg.NoDebugHeader = !debug
	cfg.Notices = bench.NoticeConfig{Concurrency: noticeCnc, AnyHost: anyHost}
	var err error
	if cfg.Auction.Mode, err = bench.ParseAuctionMode(auction); err != nil {
		return err
	}
	if dayFlag != "" {
		if cfg.Day, err = bench.ParseDayCompress(dayFlag); err != nil {
			return err
		}
		if dayStart != "" {
			if cfg.Day.Start, err = time.Parse(time.RFC3339, dayStart); err != nil {
				return fmt.Errorf("-day-start: %w", err)
			}
		}
	}
	corpus, err := cf.corpus()
	if err != nil {
		return err
	}
	attacker, err := bench.NewAttacker(cfg)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stderr, "attacking %v with %d requests (%s loop) for %v…\n", cfg.Targets, len(corpus), loopName(cfg.Rate), cfg.Duration)
	m, err := attacker.Attack(ctx, corpus)
	if err != nil {
		return err
	}
	if err := writeResults(m, output, stdout); err != nil {
		return err
	}
	if output == "-" {
		return m.WriteText(stderr)
	}
	return m.WriteText(stdout)
}

func loopName(rate float64) string {
	if rate > 0 {
		return "open"
	}
	return "closed"
}

func writeResults(m *bench.Metrics, path string, stdout io.Writer) error {
	switch path {
	case "":
		return nil
	case "-":
		return m.WriteJSON(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := m.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", "kairos-bench report [-get FIGURE | -json] FILE...: print results; several files are merged\n"+
		"(counts add up, latency histograms merge).", stderr)
	get := fs.String("get", "", "print only this figure: throughput, rate, bid_rate, error_rate, late_rate, requests, p50_ms, p90_ms, p99_ms, p999_ms, max_ms, service_p50_ms, service_p99_ms, wins, spend_micros")
	asJSON := fs.Bool("json", false, "print the (merged) results as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("report: no results file")
	}
	var m *bench.Metrics
	for _, path := range fs.Args() {
		r, err := bench.ReadMetrics(path)
		if err != nil {
			return err
		}
		if m == nil {
			m = r
		} else {
			m.Merge(r)
		}
	}
	switch {
	case *get != "":
		v, err := m.Get(*get)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, strconv.FormatFloat(v, 'f', -1, 64))
		return err
	case *asJSON:
		return m.WriteJSON(stdout)
	}
	return m.WriteText(stdout)
}

func compareCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", "kairos-bench compare A.json B.json: a Markdown table of B against A with ratios B/A\n"+
		"(e.g. A = the baseline, B = Kairos).", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("compare: want two results files")
	}
	a, err := bench.ReadMetrics(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := bench.ReadMetrics(fs.Arg(1))
	if err != nil {
		return err
	}
	return bench.Compare(stdout, a, b)
}

func baselineCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("baseline", "kairos-bench baseline: serve POST /openrtb2/bid by decoding the body into an OpenRTB\n"+
		"BidRequest and answering 204 — the speed reference Kairos is measured against. GET /healthz answers 200.", stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "listen `address`")
	maxBody := fs.Int("max-body", 1<<20, "largest request body in bytes (larger gets 413)")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until SIGINT or SIGTERM)")
	noDecode := fs.Bool("no-decode", false, "answer 204 without decoding: a null server that measures the load generator's own ceiling")
	work := fs.Duration("work", 0, "busy CPU work per decoded request, e.g. 25us: shows the kernel's share per request growing with server work")
	if err := parse(fs, args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	b := bench.NewBaseline(bench.BaselineConfig{MaxBodySize: *maxBody, NoDecode: *noDecode, Work: *work})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	fmt.Fprintf(stderr, "baseline listening on %s\n", ln.Addr())
	select {
	case err = <-served:
		return err
	case <-ctx.Done():
	}
	if err := b.Shutdown(); err != nil {
		return err
	}
	decoded, malformed := b.Counts()
	fmt.Fprintf(stderr, "baseline stopped: %d requests decoded, %d malformed\n", decoded, malformed)
	return <-served
}

func profilesCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("profiles", "kairos-bench profiles: write N synthetic profiles (users u-1..u-N, phases spread over\n"+
		"awareness, consideration, intent, purchased) as JSON lines for 'kairosctl segments import'.", stderr)
	n := fs.Int("n", 100000, "number of profiles")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("o", "-", "output `file` (- for stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "-" {
		return bench.WriteProfiles(stdout, *n, *seed)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := bench.WriteProfiles(f, *n, *seed); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func corpusCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("corpus", "kairos-bench corpus: generate requests and write them to a folder as NNNNNN.json,\n"+
		"for 'attack -corpus DIR' or for other tools.", stderr)
	var cf corpusFlags
	cf.register(fs, false)
	out := fs.String("o", "", "output `folder`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("corpus: -o is required")
	}
	c, err := cf.corpus()
	if err != nil {
		return err
	}
	if err := c.WriteDir(*out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d requests to %s\n", len(c), *out)
	return nil
}
