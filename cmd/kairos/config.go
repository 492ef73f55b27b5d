package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/reports"
	"github.com/kairos-rtb/kairos/segments"
)

// config is everything the kairos binary can be told, from flags with
// KAIROS_* environment overrides (the environment wins over defaults, a flag
// given on the command line wins over both).
type config struct {
	Listen         string
	AdminListen    string
	RedisURL       string
	RedisPrefix    string
	AdminToken     string
	PublicURL      string
	NoticeSecret   string
	CampaignsFile  string
	Seat           string
	DefaultTmax    time.Duration
	MaxTmax        time.Duration
	NetworkReserve time.Duration
	MaxBodyBytes   int
	CurrencyRates  string
	Resync         time.Duration
	// Segments holds the profile store, lookup and cache settings
	// (KAIROS_PROFILE_CACHE_*, KAIROS_SEGMENTS_*).
	Segments segments.Config
	// Reports holds the counting and flushing settings (KAIROS_REPORTS_*).
	Reports        reports.Config
	LogLevel       string
	ShutdownWait   time.Duration
	LookupTimeout  time.Duration
	ShedTargetLag  time.Duration
	VendorID       int
	IPBlocklists   string
	BlockedDomains string
	BlockedApps    string
	BlockedPubs    string
	SellerAllow    string
	AllowNoIPUA    bool
	ClockSpeed     float64
	ClockStart     time.Time // simulated time at ClockReal (tests)
	ClockReal      time.Time
	// Pacing durations in clock time; 0 = the pacing package's default.
	PacingReserveWindow time.Duration
	PacingNoticeTTL     time.Duration
	PacingLeaseTTL      time.Duration
	PacingHeartbeat     time.Duration
	PacingGrace         time.Duration
	PacingIdleReturn    time.Duration
	PacingInstances     int // expected instances sharing the budgets
	// Learning (issue 10): the creative bandit, the holdout and bid shading.
	Bandit            bool
	BanditExplore     float64
	HoldoutShare      float64
	Shading           bool
	ShadingMaxWinLoss float64
	// ready, if set (tests), is called with the listen addresses once serving.
	ready func(bidAddr, adminAddr string)
}

// parseConfig reads flags from args and overrides from getenv.
func parseConfig(args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("kairos", flag.ContinueOnError)
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" ("+env+")")
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) error {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration such as 100ms", env, v)
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage+" ("+env+")")
		return nil
	}
	num := func(p *int, name, env string, def int, usage string) error {
		if v := getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a whole number", env, v)
			}
			def = n
		}
		fs.IntVar(p, name, def, usage+" ("+env+")")
		return nil
	}
	flt := func(p *float64, name, env string, def float64, usage string) error {
		if v := getenv(env); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", env, v)
			}
			def = f
		}
		fs.Float64Var(p, name, def, usage+" ("+env+")")
		return nil
	}
	onOff := func(p *bool, name, env string, def bool, usage string) error {
		switch v := strings.ToLower(getenv(env)); v {
		case "":
		case "on", "true", "1":
			def = true
		case "off", "false", "0":
			def = false
		default:
			return fmt.Errorf("%s: %q: want on or off", env, v)
		}
		fs.BoolVar(p, name, def, usage+" ("+env+": on or off)")
		return nil
	}
	str(&c.Listen, "listen", "KAIROS_LISTEN", "127.0.0.1:8080", "exchange-facing listen address")
	str(&c.AdminListen, "admin-listen", "KAIROS_ADMIN_LISTEN", "127.0.0.1:8081", "admin listen address")
	str(&c.RedisURL, "redis-url", "KAIROS_REDIS_URL", "", "Redis URL: redis://, rediss://, or a cluster with several addr= parameters; empty = embedded in-memory Redis with demo data")
	str(&c.RedisPrefix, "redis-prefix", "KAIROS_REDIS_PREFIX", "kairos:", "prefix of every Redis key")
	str(&c.AdminToken, "admin-token", "KAIROS_ADMIN_TOKEN", "", "admin API token, or name:token pairs separated by commas; required with a real Redis")
	str(&c.PublicURL, "public-url", "KAIROS_PUBLIC_URL", "", "public base URL for notice and click URLs (default http://<listen>)")
	str(&c.NoticeSecret, "notice-secret", "KAIROS_NOTICE_SECRET", "", "key that signs notice URLs; required with a real Redis")
	str(&c.CampaignsFile, "campaigns", "KAIROS_CAMPAIGNS", "", "campaign YAML file to validate and store at start")
	str(&c.Seat, "seat", "KAIROS_SEAT", "kairos", "seat id in bid responses")
	str(&c.CurrencyRates, "currency-rates", "KAIROS_CURRENCY_RATES", "", "static currency rates, base first: USD=1,EUR=1.08,…")
	str(&c.IPBlocklists, "ip-blocklist", "KAIROS_IP_BLOCKLIST", "", "comma-separated files of blocked IPs and CIDRs (IPv4/IPv6), reloaded when they change and on SIGHUP")
	str(&c.BlockedDomains, "blocked-domains", "KAIROS_BLOCKED_DOMAINS", "", "comma-separated site domains never bid on")
	str(&c.BlockedApps, "blocked-apps", "KAIROS_BLOCKED_APPS", "", "comma-separated app bundles never bid on")
	str(&c.BlockedPubs, "blocked-publishers", "KAIROS_BLOCKED_PUBLISHERS", "", "comma-separated publisher ids never bid on")
	str(&c.SellerAllow, "seller-allowlist", "KAIROS_SELLER_ALLOWLIST", "", "comma-separated supply-chain sellers (asi or asi:sid) for campaigns that require allowed sellers")
	str(&c.LogLevel, "log-level", "KAIROS_LOG_LEVEL", "info", "debug, info, warn or error")
	sd := segments.Defaults() // the profile flags show the package's defaults
	rd := reports.Defaults()  // and so do the report flags
	for _, err := range []error{
		dur(&c.DefaultTmax, "default-tmax", "KAIROS_DEFAULT_TMAX", 100*time.Millisecond, "deadline for requests without tmax"),
		dur(&c.MaxTmax, "max-tmax", "KAIROS_MAX_TMAX", time.Second, "upper bound on any request's tmax"),
		dur(&c.NetworkReserve, "network-reserve", "KAIROS_NETWORK_RESERVE", 15*time.Millisecond, "time kept back from tmax for the network"),
		dur(&c.LookupTimeout, "lookup-timeout", "KAIROS_LOOKUP_TIMEOUT", 20*time.Millisecond, "longest wait for a profile lookup within the deadline"),
		dur(&c.ShedTargetLag, "shed-target-lag", "KAIROS_SHED_TARGET_LAG", 5*time.Millisecond, "90th percentile of goroutine scheduling latency above which bid requests are shed with fast no-bids, as when the CPU is saturated (negative: never shed)"),
		dur(&c.Resync, "campaign-resync", "KAIROS_CAMPAIGN_RESYNC", 5*time.Second, "full campaign reload period (changes arrive at once by pub/sub)"),
		dur(&c.Segments.CacheTTL, "profile-cache-ttl", "KAIROS_PROFILE_CACHE_TTL", sd.CacheTTL, "how long a looked-up profile and its frequency counts are served from the process's cache; changes made through Kairos invalidate it on every instance at once"),
		dur(&c.Segments.NegativeTTL, "profile-negative-ttl", "KAIROS_PROFILE_NEGATIVE_TTL", sd.NegativeTTL, "how long a user without a profile is cached as such (also invalidated by changes)"),
		dur(&c.Segments.RedisTimeout, "segments-redis-timeout", "KAIROS_SEGMENTS_REDIS_TIMEOUT", sd.RedisTimeout, "bound on one lookup pipeline, so a stuck Redis frees its slots"),
		dur(&c.Segments.DefaultTTL, "segments-default-ttl", "KAIROS_SEGMENTS_DEFAULT_TTL", sd.DefaultTTL, "profile lifetime when an import line or put names none; events extend a profile to it"),
		dur(&c.Segments.Decay.Intent, "segments-decay-intent", "KAIROS_SEGMENTS_DECAY_INTENT", sd.Decay.Intent, "intent falls back to consideration after this long without add_to_cart or checkout"),
		dur(&c.Segments.Decay.Consideration, "segments-decay-consideration", "KAIROS_SEGMENTS_DECAY_CONSIDERATION", sd.Decay.Consideration, "consideration falls back to awareness after this long without a product view or stronger signal"),
		dur(&c.Segments.Decay.Purchased, "segments-decay-purchased", "KAIROS_SEGMENTS_DECAY_PURCHASED", sd.Decay.Purchased, "purchased falls back after this long"),
		dur(&c.Segments.Decay.Awareness, "segments-decay-awareness", "KAIROS_SEGMENTS_DECAY_AWARENESS", sd.Decay.Awareness, "awareness falls back to unknown after this long without any signal; 0 = never (the profile's TTL ends it)"),
		dur(&c.ShutdownWait, "shutdown-wait", "KAIROS_SHUTDOWN_WAIT", 10*time.Second, "how long a graceful stop waits for in-flight requests"),
		// Pacing durations run on the pacing clock, so a time-compressed test
		// (KAIROS_CLOCK_SPEED) shortens them in real time unless it sets them.
		dur(&c.PacingReserveWindow, "pacing-reserve-window", "KAIROS_PACING_RESERVE_WINDOW", 0, "how long a bid's reservation waits for its notice; 0 = 10m"),
		dur(&c.PacingNoticeTTL, "pacing-notice-ttl", "KAIROS_PACING_NOTICE_TTL", 0, "how long notice URLs stay valid; 0 = 6h"),
		dur(&c.PacingLeaseTTL, "pacing-lease-ttl", "KAIROS_PACING_LEASE_TTL", 0, "how long a budget lease lives without a heartbeat; 0 = 30s"),
		dur(&c.PacingHeartbeat, "pacing-heartbeat", "KAIROS_PACING_HEARTBEAT", 0, "how often leases are extended; 0 = lease TTL / 6"),
		dur(&c.PacingGrace, "pacing-grace", "KAIROS_PACING_GRACE", 0, "how long after its expiry a dead instance's lease is reclaimed; 0 = reserve window + 2m"),
		dur(&c.PacingIdleReturn, "pacing-idle-return", "KAIROS_PACING_IDLE_RETURN", 0, "how long a campaign may go without bids before its unused lease goes back; 0 = 30s"),
		num(&c.PacingInstances, "pacing-expected-instances", "KAIROS_PACING_EXPECTED_INSTANCES", pacing.DefaultExpectedInstances, "instances expected to share the budgets: a lease is at most the unleased rest of today's budget / (2 x this), so a small budget is not stranded in one instance"),
		num(&c.MaxBodyBytes, "max-body-bytes", "KAIROS_MAX_BODY_BYTES", 256<<10, "largest bid request body, after decompression"),
		num(&c.VendorID, "tcf-vendor-id", "KAIROS_TCF_VENDOR_ID", 0, "Kairos's IAB TCF vendor id; 0 = none, so GDPR requests get no bid"),
		num(&c.Segments.CacheSize, "profile-cache-size", "KAIROS_PROFILE_CACHE_SIZE", sd.CacheSize, "profiles cached in process; negative = no cache"),
		num(&c.Segments.MaxBatch, "segments-max-batch", "KAIROS_SEGMENTS_MAX_BATCH", sd.MaxBatch, "most profile lookups in one Redis pipeline"),
		num(&c.Segments.MaxInFlight, "segments-max-in-flight", "KAIROS_SEGMENTS_MAX_IN_FLIGHT", sd.MaxInFlight, "most lookup pipelines in flight at once"),
		num(&c.Segments.MaxQueue, "segments-max-queue", "KAIROS_SEGMENTS_MAX_QUEUE", 0, "most lookups waiting for a pipeline, beyond which a bid is decided without its profile; 0 = max batch x max in flight"),
		dur(&c.Reports.FlushInterval, "reports-flush", "KAIROS_REPORTS_FLUSH", rd.FlushInterval, "how often the counts behind reports go to Redis (summed across instances there)"),
		dur(&c.Reports.FlushTimeout, "reports-flush-timeout", "KAIROS_REPORTS_FLUSH_TIMEOUT", rd.FlushTimeout, "bound on one report flush; a failed flush keeps its counts for the next"),
		dur(&c.Reports.TTL, "reports-ttl", "KAIROS_REPORTS_TTL", rd.TTL, "how long an hour of report counts is kept in Redis; also the longest report range"),
		num(&c.Reports.MaxKeys, "reports-max-keys", "KAIROS_REPORTS_MAX_KEYS", rd.MaxKeys, "distinct report rows held in memory between flushes; beyond it new publishers and variants count as (other)"),
		num(&c.Segments.ImportChunk, "segments-import-chunk", "KAIROS_SEGMENTS_IMPORT_CHUNK", sd.ImportChunk, "profiles per import pipeline"),
		onOff(&c.Bandit, "bandit", "KAIROS_BANDIT", true, "choose creative variants by Thompson sampling on clicks and purchases; off = a stable hash per user (the bandit still counts)"),
		flt(&c.BanditExplore, "bandit-explore", "KAIROS_BANDIT_EXPLORE", 0.05, "share of creative choices made uniformly at random, 0 to below 1"),
		flt(&c.HoldoutShare, "holdout-share", "KAIROS_HOLDOUT_SHARE", 0, "share of each campaign's users held out (ghost bids) to measure lift, 0 to 0.5; a campaign's holdout.share overrides it"),
		onOff(&c.Shading, "shading", "KAIROS_SHADING", false, "shade first-price bids from the win rates learnt (campaigns may set shading: off)"),
		flt(&c.ShadingMaxWinLoss, "shading-max-win-loss", "KAIROS_SHADING_MAX_WIN_LOSS", 0.1, "largest share of wins shading may give up for a lower price, above 0 up to 1"),
	} {
		if err != nil {
			return nil, err
		}
	}
	speed := 1.0
	if v := getenv("KAIROS_CLOCK_SPEED"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("KAIROS_CLOCK_SPEED: %q is not a positive number", v)
		}
		speed = f
	}
	for _, v := range []struct {
		env string
		dst *time.Time
	}{{"KAIROS_CLOCK_START", &c.ClockStart}, {"KAIROS_CLOCK_REAL_START", &c.ClockReal}} {
		if s := getenv(v.env); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not an RFC 3339 time", v.env, s)
			}
			*v.dst = t
		}
	}
	fs.Float64Var(&c.ClockSpeed, "clock-speed", speed, "simulated time speed for time-compressed tests; 1 = real time (KAIROS_CLOCK_SPEED)")
	allowNo := getenv("KAIROS_ALLOW_MISSING_IP_UA") == "1" || getenv("KAIROS_ALLOW_MISSING_IP_UA") == "true"
	fs.BoolVar(&c.AllowNoIPUA, "allow-missing-ip-ua", allowNo, "let web requests without IP or user agent through screening (KAIROS_ALLOW_MISSING_IP_UA)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.VendorID < 0 || c.VendorID > 65535 {
		return nil, fmt.Errorf("KAIROS_TCF_VENDOR_ID: %d is not a vendor id (0-65535)", c.VendorID)
	}
	switch { // negated, so that NaN fails too
	case !(c.BanditExplore >= 0 && c.BanditExplore < 1):
		return nil, fmt.Errorf("KAIROS_BANDIT_EXPLORE: %g: want 0 (none) to below 1", c.BanditExplore)
	case !(c.HoldoutShare >= 0 && c.HoldoutShare <= campaigns.MaxHoldoutShare):
		return nil, fmt.Errorf("KAIROS_HOLDOUT_SHARE: %g: want 0 (none) to %g", c.HoldoutShare, campaigns.MaxHoldoutShare)
	case !(c.ShadingMaxWinLoss > 0 && c.ShadingMaxWinLoss <= 1):
		return nil, fmt.Errorf("KAIROS_SHADING_MAX_WIN_LOSS: %g: want above 0 up to 1 (KAIROS_SHADING=off bids unshaded)", c.ShadingMaxWinLoss)
	}
	if c.PacingInstances < 1 || c.PacingInstances > 10000 {
		return nil, fmt.Errorf("KAIROS_PACING_EXPECTED_INSTANCES: %d: want 1 to 10000", c.PacingInstances)
	}
	if err := c.Segments.Validate(); err != nil {
		return nil, err
	}
	if err := c.Reports.Validate(); err != nil {
		return nil, err
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Listen
	}
	return c, nil
}

// list splits a comma-separated setting, dropping empty items.
func list(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
