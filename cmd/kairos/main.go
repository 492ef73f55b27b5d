// Command kairos is the Kairos real-time bidder: it serves OpenRTB bid requests
// on KAIROS_LISTEN and the admin API on KAIROS_ADMIN_LISTEN. Without
// KAIROS_REDIS_URL it runs on an embedded in-memory Redis seeded with demo
// campaigns and profiles.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/kairos-rtb/kairos/admin"
	"github.com/kairos-rtb/kairos/bidder"
	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/consent"
	"github.com/kairos-rtb/kairos/creatives"
	"github.com/kairos-rtb/kairos/demo"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/quality"
	"github.com/kairos-rtb/kairos/reports"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"github.com/valyala/fasthttp/pprofhandler"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kairos:", err)
		os.Exit(2)
	}
	if os.Getenv("GOGC") == "" {
		// The bid path allocates a few KB per request over a live heap that is
		// mostly the profile cache; at Go's default of 100 the collector runs
		// several times a second and its mark phase competes with requests on
		// the same core. 400 trades memory (about 5x the live heap) for 4x fewer
		// cycles; GOGC and GOMEMLIMIT override it as usual.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "kairos:", err)
		os.Exit(1)
	}
}

// run wires Kairos together, serves until ctx ends, and stops in reverse order.
func run(ctx context.Context, cfg *config) error {
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do if stderr is gone
	storage.UseLogger(log)

	rdb, err := storage.Open(ctx, storage.Config{URL: cfg.RedisURL, Prefix: cfg.RedisPrefix})
	if err != nil {
		return err
	}
	defer rdb.Close()
	demoMode := rdb.Embedded != nil
	if demoMode {
		if cfg.AdminToken == "" {
			cfg.AdminToken = randomHex(16)
		}
		if cfg.NoticeSecret == "" {
			cfg.NoticeSecret = randomHex(32)
		}
		log.Info("redis: embedded in-memory redis, seeding demo campaigns and profiles", zap.String("addr", rdb.Embedded.Addr()))
	} else {
		if cfg.AdminToken == "" {
			return errors.New("KAIROS_ADMIN_TOKEN is required with a real Redis (KAIROS_REDIS_URL)")
		}
		if cfg.NoticeSecret == "" {
			return errors.New("KAIROS_NOTICE_SECRET is required with a real Redis (KAIROS_REDIS_URL)")
		}
		log.Info("redis: using configured redis; seeding nothing", zap.String("url", rdb.Describe(cfg.RedisURL)), zap.Bool("cluster", rdb.Cluster))
	}
	tokens, err := admin.ParseTokens(cfg.AdminToken)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store := campaigns.NewStore(rdb)
	profiles := segments.NewStore(rdb, cfg.Segments, log)
	if demoMode {
		if err := seedDemo(ctx, store, profiles); err != nil {
			return err
		}
	}
	if cfg.CampaignsFile != "" {
		if err := applyFile(ctx, store, cfg.CampaignsFile); err != nil {
			return err
		}
		log.Info("campaign file stored", zap.String("file", cfg.CampaignsFile))
	}

	watcher := campaigns.NewWatcher(rdb, store, campaigns.WatcherConfig{Resync: cfg.Resync}, log)

	lookup := segments.NewLookup(rdb, cfg.Segments, reg, log)
	if err := lookup.Start(ctx); err != nil {
		return fmt.Errorf("start profile lookup: %w", err)
	}
	defer lookup.Stop()

	clock := pacing.Clock(pacing.SystemClock{})
	if cfg.ClockSpeed != 1 || !cfg.ClockStart.IsZero() {
		// Simulated time for time-compressed tests: KAIROS_CLOCK_START is the
		// simulated time at KAIROS_CLOCK_REAL_START (default: now), so several
		// processes given the same values agree on the time.
		start, real := cfg.ClockStart, cfg.ClockReal
		if real.IsZero() {
			real = time.Now()
		}
		if start.IsZero() {
			start = real
		}
		clock = pacing.NewScaledClockSince(start, real, cfg.ClockSpeed)
		log.Warn("simulated clock: time runs faster than real time (tests only)", zap.Float64("speed", cfg.ClockSpeed))
	}
	pcfg := pacing.Config{ReserveWindow: cfg.PacingReserveWindow, NoticeTTL: cfg.PacingNoticeTTL,
		LeaseTTL: cfg.PacingLeaseTTL, Heartbeat: cfg.PacingHeartbeat, Grace: cfg.PacingGrace,
		IdleReturn: cfg.PacingIdleReturn, ExpectedInstances: cfg.PacingInstances}
	if demoMode {
		pcfg.InitialParticipation = 1 // the printed curl must bid at once
	}
	pacer, err := pacing.New(pcfg, pacing.Deps{Redis: rdb.Client, Keys: rdb.Keys, Campaigns: watcher,
		Clock: clock, Log: log, Registerer: reg})
	if err != nil {
		return err
	}
	learn, err := newLearning(cfg, rdb, clock, log, reg)
	if err != nil {
		return err
	}
	learn.Start()
	defer func() { // after the listeners and notices, which feed it
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
		defer cancel()
		if err := learn.Stop(sctx); err != nil {
			log.Error("learning: final sync failed; these counts are lost", zap.Error(err))
		}
	}()
	profiles.SetHook(learn) // purchases reach the holdout and the bandit; deletes take their user keys
	var chooser creatives.Chooser = creatives.HashChooser{}
	if cfg.Bandit {
		chooser = learn.bandit
	}
	assembler := creatives.NewAssembler(creatives.Config{}, chooser)
	watcher.OnChange = func(ix *campaigns.Index) {
		assembler.PrepareIndex(ix) // compile creative templates off the bid path
		pacer.Warm(clock.Now())
	}
	if err := watcher.Start(ctx); err != nil {
		return fmt.Errorf("load campaigns: %w", err)
	}
	defer watcher.Stop()
	if err := pacer.Start(ctx); err != nil {
		return fmt.Errorf("start pacing: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
		defer cancel()
		if err := pacer.Stop(sctx); err != nil {
			log.Warn("pacing stop: leases not returned; they come back after their expiry", zap.Error(err))
		}
	}()
	signer, err := pacing.NewSigner([]byte(cfg.NoticeSecret))
	if err != nil {
		return fmt.Errorf("KAIROS_NOTICE_SECRET: %w", err)
	}
	reportsCfg := cfg.Reports
	reportsCfg.Clock = clock // counts are filed under the business clock's hours
	counter := reports.NewCounter(rdb, reportsCfg, reg, log)
	counter.Start(ctx)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
		defer cancel()
		if err := counter.Stop(sctx); err != nil {
			log.Error("reports: final flush failed; these counts are lost", zap.Error(err))
		}
	}()
	notices, err := pacing.NewNotices(pacing.NoticesConfig{Grace: pacer.Config().Grace}, pacing.NoticesDeps{
		Signer: signer, Ledger: pacer.Ledger(), Campaigns: watcher, Clock: clock, Frequency: frequency{profiles, lookup},
		Recorder: recorder{counter, learn}, Log: log, Registerer: reg})
	if err != nil {
		return err
	}
	notices.Start()
	defer notices.Stop(context.Background())

	decider, err := consent.NewDecider(consent.Config{VendorID: uint16(cfg.VendorID)}, reg)
	if err != nil {
		return err
	}
	screener, err := quality.NewScreener(quality.Config{IPBlocklistFiles: list(cfg.IPBlocklists),
		BlockedDomains: list(cfg.BlockedDomains), BlockedApps: list(cfg.BlockedApps),
		BlockedPublishers: list(cfg.BlockedPubs), SellerAllowList: list(cfg.SellerAllow),
		AllowMissingIPOrUA: cfg.AllowNoIPUA}, reg, log)
	if err != nil {
		return err
	}
	screenCtx, stopScreen := context.WithCancel(context.Background())
	defer stopScreen()
	go screener.Run(screenCtx, 30*time.Second) // reloads blocklist files when they change
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-screenCtx.Done():
				return
			case <-hup:
				if err := screener.Reload(); err != nil {
					log.Error("blocklist reload refused; keeping the previous lists", zap.Error(err))
				} else {
					log.Info("blocklists reloaded")
				}
			}
		}
	}()
	if cfg.VendorID == 0 {
		log.Warn("KAIROS_TCF_VENDOR_ID is not set: requests under GDPR get no bids")
	}

	deps := bidder.Deps{Campaigns: watcher, Profiles: lookup, Pacer: pacer, Signer: signer, Assembler: assembler, Reports: counter,
		Consent: decider, Screener: screener,
		Metrics: bidder.NewMetrics(reg), Log: log, Clock: clock.Now}
	learn.deps(&deps, watcher, cfg.HoldoutShare)
	bid, err := bidder.New(bidder.Config{
		MaxBodyBytes: cfg.MaxBodyBytes, DefaultTmax: cfg.DefaultTmax, MaxTmax: cfg.MaxTmax,
		NetworkReserve: cfg.NetworkReserve, LookupTimeout: cfg.LookupTimeout, Seat: cfg.Seat, Rates: cfg.CurrencyRates, PublicURL: cfg.PublicURL,
		Shed: bidder.ShedConfig{TargetLag: cfg.ShedTargetLag},
	}, deps)
	if err != nil {
		return err
	}
	bid.Route("/notice/", notices.Handler)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kairos_shed_share",
		Help: "Share of bid requests answered at once with a no-bid because Kairos is overloaded."}, bid.ShedShare))
	if !strings.HasPrefix(cfg.PublicURL, "https://") && !demoMode {
		log.Warn("KAIROS_PUBLIC_URL is not https: secure impressions (imp.secure=1) get no bids", zap.String("public_url", cfg.PublicURL))
	}
	adm := admin.New(tokens, pinger{rdb}, reg, log)
	campAPI := campaigns.NewAPI(store, pacingStates{pacer}, admin.TokenNameKey)
	adm.Handle("/v1/pacing", pacer.ServeAdmin)
	adm.Handle("/v1/pacing/", pacer.ServeAdmin)
	adm.Handle("/v1/campaigns", campAPI.Campaigns)
	adm.Handle("/v1/campaigns/", campAPI.Campaigns)
	adm.Handle("/v1/audit", campAPI.Audit)
	adm.Handle("/debug/pprof/", pprofHandler) // profiles for operators, behind the token
	repAPI := reports.NewAPI(reports.NewReader(rdb, cfg.Reports))
	adm.Handle("/v1/reports/winrate", repAPI.WinRate)
	adm.Handle("/v1/reports/landscape", repAPI.Landscape)
	adm.Handle("/v1/reports/nobids", repAPI.NoBids)
	learnAPI := reports.NewLearningAPI(learn.bandit, learn.holdout)
	adm.Handle("/v1/reports/variants", learnAPI.Variants)
	adm.Handle("/v1/reports/lift", learnAPI.Lift)
	dash := reports.NewDashboard(reports.NewReader(rdb, cfg.Reports), adm.Check, dashboardPacing{pacer})
	for _, p := range dash.Paths() {
		adm.HandlePublic(p, dash.Serve)
	}
	segAPI := segments.NewHandlers(profiles)
	adm.Handle("/v1/segments/import", segAPI.Import)
	adm.Handle("/v1/segments/", segAPI.Profile)
	adm.Handle("/v1/events", segAPI.Events)

	if err := adm.Start(cfg.AdminListen); err != nil {
		return err
	}
	if err := bid.Start(cfg.Listen); err != nil {
		adm.Stop(context.Background())
		return err
	}
	log.Info("kairos ready", zap.String("listen", bid.Addr()), zap.String("admin", adm.Addr()),
		zap.Int("campaigns", watcher.Index().Len()), zap.Bool("demo", demoMode))
	if demoMode {
		printDemo(bid.Addr(), adm.Addr(), cfg.AdminToken)
	}
	if cfg.ready != nil {
		cfg.ready(bid.Addr(), adm.Addr())
	}

	<-ctx.Done()
	log.Info("stopping: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	if err := bid.Stop(sctx); err != nil {
		log.Warn("bid listener stop", zap.Error(err))
	}
	if err := adm.Stop(sctx); err != nil {
		log.Warn("admin listener stop", zap.Error(err))
	}
	log.Info("stopped")
	return nil
}

// frequency adapts the profile store to the pacing package's counter. Besides
// the store's invalidation message to every instance, it forgets the user's
// cached counters here at once, so this instance never bids past a cap it has
// just counted.
type frequency struct {
	s *segments.Store
	l *segments.Lookup
}

func (f frequency) IncrFrequency(ctx context.Context, user, campaignID string, window time.Duration, now time.Time) error {
	_, err := f.s.IncrFrequency(ctx, user, campaignID, window, now)
	f.l.Forget(user)
	return err
}

// recorder files notice events with the report counter under the bid's
// dimensions, carried in the signed notice URL, and passes them on to the
// learning components.
type recorder struct {
	c *reports.Counter
	l *learning
}

func dimsOf(n *pacing.Notice) reports.Dims {
	return reports.Dims{Campaign: n.CampaignID, Variant: n.CreativeID, Exchange: n.Exchange,
		Publisher: n.Publisher, Country: n.Country, Phase: n.Phase, Device: n.Device, Format: n.Format,
		Hour: n.BidTime / 3600}
}

func (r recorder) Win(n *pacing.Notice, clearing money.Micros, late bool) {
	d := dimsOf(n)
	// n.Reserved and clearing are per impression in the campaign currency.
	r.c.Win(&d, money.ImpressionToCPM(n.Reserved), money.ImpressionToCPM(clearing), late)
	r.l.win(n, clearing)
}

func (r recorder) Impression(n *pacing.Notice) {
	d := dimsOf(n)
	r.c.Impression(&d)
}

func (r recorder) Loss(n *pacing.Notice, reason int, minToWin money.Micros) {
	d := dimsOf(n)
	r.c.Loss(&d, reason)
	r.l.loss(n, reason, minToWin)
}

func (r recorder) Click(n *pacing.Notice) {
	d := dimsOf(n)
	r.c.Click(&d)
	r.l.click(n)
}

// dashboardPacing gives the dashboard each campaign's spend against plan.
type dashboardPacing struct{ p *pacing.Pacer }

func (d dashboardPacing) PacingStates() []reports.PacingState {
	var out []reports.PacingState
	for _, st := range d.p.States() {
		out = append(out, reports.PacingState{Campaign: st.ID, Daily: st.Daily, SpentToday: st.SpentToday,
			Planned: st.PlannedToday, Participation: st.Participation})
	}
	return out
}

// pacingStates serves a campaign's pacing state to the campaign API.
type pacingStates struct{ p *pacing.Pacer }

func (p pacingStates) PacingState(id string) (any, bool) { return p.p.State(id) }

type pinger struct{ r *storage.Redis }

func (p pinger) Ping(ctx context.Context) error { return p.r.Client.Ping(ctx).Err() }

func applyFile(ctx context.Context, store *campaigns.Store, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("campaign file: %w", err)
	}
	defer f.Close()
	cs, err := campaigns.Parse(path, f)
	if err != nil {
		return fmt.Errorf("campaign file rejected, nothing stored:\n%w", err)
	}
	_, err = store.Put(ctx, cs, nil)
	return err
}

func seedDemo(ctx context.Context, store *campaigns.Store, profiles *segments.Store) error {
	cs, err := demo.Campaigns()
	if err != nil {
		return fmt.Errorf("demo campaigns: %w", err)
	}
	if _, err := store.Put(ctx, cs, nil); err != nil {
		return fmt.Errorf("seed demo campaigns: %w", err)
	}
	res, err := profiles.Import(ctx, demo.Profiles())
	if err != nil {
		return fmt.Errorf("seed demo profiles: %w", err)
	}
	if res.Rejected > 0 {
		return fmt.Errorf("seed demo profiles: %d rejected: %v", res.Rejected, res.Errors)
	}
	return nil
}

func printDemo(addr, adminAddr, token string) {
	fmt.Fprintf(os.Stderr, `
Kairos is running in demo mode (embedded in-memory Redis, demo campaigns and profiles).

Send it a bid request for a demo user in the intent phase:

  %s

Try the other demo users: demo-awareness, demo-consideration, demo-purchased, or any
unknown id for a contextual bid. Admin API on http://%s with
  export KAIROS_ADMIN_URL=http://%s KAIROS_ADMIN_TOKEN=%s

`, demo.Curl(addr, "demo-intent"), adminAddr, adminAddr, token)
}

func newLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("KAIROS_LOG_LEVEL: %w", err)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil
	return zc.Build()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pprofIndex lists the profiles: fasthttp's pprof handler answers 404 for
// /debug/pprof/ itself (a trailing slash), the page the README points to.
var pprofIndex = fasthttpadaptor.NewFastHTTPHandlerFunc(pprof.Index)

// pprofHandler serves the Go profiles under /debug/pprof/, index included.
func pprofHandler(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/debug/pprof/" {
		pprofIndex(ctx)
		return
	}
	pprofhandler.PprofHandler(ctx)
}
