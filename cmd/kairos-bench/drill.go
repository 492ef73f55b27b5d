package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kairos-rtb/kairos/bench"
)

// drillLoadCmd drives a drill's steady load in short windows and writes one
// JSON line per window, so that a fault's effect can be read off over time.
func drillLoadCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("drill-load", "kairos-bench drill-load: the steady load of a failure drill (bench/drill.sh): open loop at\n"+
		"-rate, in windows of -window, one JSON line per window (requests, bids, late, errors, 5xx,\n"+
		"no-bid reasons). Before each window the live targets are read from -targets-file, one per line.", stderr)
	var (
		cf          corpusFlags
		cfg         bench.AttackConfig
		every       time.Duration
		targetsFile string
		output      string
		insecure    bool
	)
	cf.register(fs, false)
	fs.Float64Var(&cfg.Rate, "rate", 300, "requests per second")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "how long to run")
	fs.DurationVar(&every, "window", 500*time.Millisecond, "window length")
	fs.StringVar(&targetsFile, "targets-file", "", "`file` of live bid endpoints, one host:port per line (required)")
	fs.StringVar(&output, "output", "-", "timeline `file` (- for stdout)")
	fs.IntVar(&cfg.MaxConnsPerTarget, "max-conns", 64, "keep-alive connections per instance")
	fs.DurationVar(&cfg.ConnWait, "conn-wait", -1, "longest wait of a due request for a free connection before it is dropped unsent; negative = none, as an exchange that does not queue callouts")
	fs.BoolVar(&insecure, "insecure", true, "send impressions as secure=0, so that bids with http notice URLs are allowed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if targetsFile == "" {
		return errors.New("drill-load: -targets-file is required")
	}
	readTargets := func() []string {
		b, err := os.ReadFile(targetsFile)
		if err != nil {
			return nil
		}
		return strings.Fields(string(b))
	}
	cfg.Targets = readTargets()
	cfg.Seed = cf.seed
	cfg.Timeout = 500 * time.Millisecond
	cfg.NoticeDrain = 2 * time.Second
	// A first-price exchange that sends win and loss notices, as attack's defaults.
	cfg.Auction = bench.AuctionConfig{Mode: bench.FirstPrice, CompetitionMean: 1.5, CompetitionSpread: 0.6}
	corpus, err := cf.corpus()
	if err != nil {
		return err
	}
	if insecure { // same length: the id offsets stay valid
		for i := range corpus {
			corpus[i].Body = bytes.ReplaceAll(corpus[i].Body, []byte(`"secure":1`), []byte(`"secure":0`))
		}
	}
	out := stdout
	if output != "-" {
		f, err := os.Create(output)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	enc := json.NewEncoder(out)
	return bench.RunWindows(ctx, cfg, corpus, every, cfg.Duration, readTargets, func(w bench.Window) error {
		return enc.Encode(&w)
	})
}

// drillTableCmd prints the drill's table from the timeline and the event log.
func drillTableCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("drill-table", "kairos-bench drill-table -timeline FILE -events FILE: one row per fault of a failure drill\n"+
		"(bench/drill.sh); exits 1 when a row fails its checks (no late answer, no 5xx, spend within\n"+
		"budget, bidding back within 5s).", stderr)
	timeline := fs.String("timeline", "", "drill-load's timeline `file`")
	events := fs.String("events", "", "the drill's event log `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	ws, err := bench.ReadWindows(*timeline)
	if err != nil {
		return err
	}
	f, err := os.Open(*events)
	if err != nil {
		return err
	}
	defer f.Close()
	evs, err := bench.ReadDrillEvents(f)
	if err != nil {
		return fmt.Errorf("%s: %w", *events, err)
	}
	rows, err := bench.DrillTable(ws, evs, bench.ReadWindows)
	if err != nil {
		return err
	}
	if err := bench.WriteDrillTable(stdout, rows); err != nil {
		return err
	}
	for i := range rows {
		if !rows[i].Pass() {
			return fmt.Errorf("drill: %s failed its checks", rows[i].Fault)
		}
	}
	return nil
}
