package quality

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Verdict is the result of screening one request.
type Verdict struct {
	// OK: the request passed; otherwise it must not be bid on.
	OK bool
	// Reason says why it failed (ReasonOK when it passed).
	Reason Reason
}

// Supply-chain statuses for the schain counter.
const (
	schainComplete = iota
	schainIncomplete
	schainMissing
	numSChain
)

type metrics struct {
	screened          [numReasons]prometheus.Counter
	schain            [numSChain]prometheus.Counter
	sellersNotAllowed prometheus.Counter
	ranges            *prometheus.GaugeVec
	reloads           [2]prometheus.Counter // ok, error
}

// Screener screens bid requests for invalid traffic before any lookup. Its
// configured lists are fixed; the IP blocklist files are re-read by Reload
// and swapped in atomically. It is safe for concurrent use.
type Screener struct {
	cfg         Config
	log         *zap.Logger
	ua          *uaMatcher
	domains     nameSet
	apps        nameSet
	publishers  nameSet
	sellers     nameSet
	ips         atomic.Pointer[ipSet]
	reloadMu    sync.Mutex // one Reload at a time
	loadedFiles []fileStamp
	metrics     metrics
}

// fileStamp identifies a version of a blocklist file, for Run.
type fileStamp struct {
	size int64
	mod  time.Time
}

// NewScreener builds a Screener for cfg, registers its metrics with reg
// (none when reg is nil) and loads the IP blocklists. log receives reload
// reports (zap.NewNop when nil).
func NewScreener(cfg Config, reg prometheus.Registerer, log *zap.Logger) (*Screener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	patterns := cfg.UABotPatterns
	if len(patterns) == 0 {
		patterns = DefaultBotPatterns()
	}
	cfg.IPBlocklistFiles = append([]string(nil), cfg.IPBlocklistFiles...)
	s := &Screener{
		cfg:        cfg,
		log:        log,
		ua:         newUAMatcher(patterns),
		domains:    newNameSet(cfg.BlockedDomains, true),
		apps:       newNameSet(cfg.BlockedApps, true),
		publishers: newNameSet(cfg.BlockedPublishers, false),
		sellers:    newSellerSet(cfg.SellerAllowList),
	}
	s.ips.Store(&ipSet{})
	if err := s.newMetrics(reg); err != nil {
		return nil, err
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func newSellerSet(entries []string) nameSet {
	if len(entries) == 0 {
		return nil
	}
	s := make(nameSet, len(entries))
	for _, e := range entries {
		asi, sid, hasSID := strings.Cut(e, ":")
		k := strings.ToLower(asi)
		if hasSID {
			k += ":" + sid
		}
		s[k] = struct{}{}
	}
	return s
}

func (s *Screener) newMetrics(reg prometheus.Registerer) error {
	m := &s.metrics
	screened := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kairos_screen_requests_total",
		Help: "Bid requests screened for traffic quality, by verdict (ok or the reason they were blocked)."},
		[]string{"verdict"})
	for r := Reason(0); r < numReasons; r++ {
		m.screened[r] = screened.WithLabelValues(r.String())
	}
	schain := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kairos_schain_requests_total",
		Help: "Bid requests by supply chain status (complete, incomplete, missing)."}, []string{"status"})
	for i, name := range [numSChain]string{"complete", "incomplete", "missing"} {
		m.schain[i] = schain.WithLabelValues(name)
	}
	m.sellersNotAllowed = prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_schain_sellers_not_allowed_total",
		Help: "Bid requests whose supply chain names a seller not on the allow list (or has none while the list is set)."})
	m.ranges = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kairos_ip_blocklist_ranges",
		Help: "Merged address ranges in the IP blocklist, by family."}, []string{"family"})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kairos_ip_blocklist_reloads_total",
		Help: "IP blocklist reloads, by result (ok, error: the previous list was kept)."}, []string{"result"})
	m.reloads[0], m.reloads[1] = reloads.WithLabelValues("ok"), reloads.WithLabelValues("error")
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{screened, schain, m.sellersNotAllowed, m.ranges, reloads} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("quality: register metrics: %w", err)
		}
	}
	return nil
}

// Reload re-reads the IP blocklist files and swaps the new list in. When a
// file cannot be read or has bad lines, nothing changes and the error (a
// *ListError for bad lines, naming file and line) says why.
func (s *Screener) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	set, stamps, err := loadFiles(s.cfg.IPBlocklistFiles)
	if err != nil {
		s.metrics.reloads[1].Inc()
		return err
	}
	s.ips.Store(set)
	s.loadedFiles = stamps
	s.metrics.reloads[0].Inc()
	s.metrics.ranges.WithLabelValues("ipv4").Set(float64(set.len4()))
	s.metrics.ranges.WithLabelValues("ipv6").Set(float64(set.len6()))
	if len(s.cfg.IPBlocklistFiles) > 0 {
		s.log.Info("IP blocklist loaded", zap.Int("files", len(s.cfg.IPBlocklistFiles)),
			zap.Int("ipv4_ranges", set.len4()), zap.Int("ipv6_ranges", set.len6()))
	}
	return nil
}

func loadFiles(files []string) (*ipSet, []fileStamp, error) {
	var b ipSetBuilder
	var bad ListError
	stamps := make([]fileStamp, 0, len(files))
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, fmt.Errorf("quality: IP blocklist: %w", err)
		}
		var st fileStamp
		if fi, err := f.Stat(); err == nil {
			st = fileStamp{size: fi.Size(), mod: fi.ModTime()}
		}
		err = parseList(f, name, &b, &bad)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("quality: IP blocklist %s: %w", name, err)
		}
		stamps = append(stamps, st)
	}
	if len(bad.Lines) > 0 {
		return nil, nil, fmt.Errorf("quality: %w", &bad)
	}
	return b.build(), stamps, nil
}

// Run reloads the IP blocklists whenever one of the files changes (size or
// modification time, checked every interval), until ctx is done. Failed
// reloads are logged and the previous list is kept. It blocks; run it in a
// goroutine owned by the caller. It returns at once when no files are
// configured.
func (s *Screener) Run(ctx context.Context, interval time.Duration) {
	if len(s.cfg.IPBlocklistFiles) == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.changed() {
			continue
		}
		if err := s.Reload(); err != nil {
			s.log.Warn("IP blocklist not reloaded", zap.Error(err))
			s.reloadMu.Lock()
			s.loadedFiles = s.stamps() // do not retry until the files change again
			s.reloadMu.Unlock()
		}
	}
}

func (s *Screener) stamps() []fileStamp {
	out := make([]fileStamp, len(s.cfg.IPBlocklistFiles))
	for i, name := range s.cfg.IPBlocklistFiles {
		if fi, err := os.Stat(name); err == nil {
			out[i] = fileStamp{size: fi.Size(), mod: fi.ModTime()}
		}
	}
	return out
}

func (s *Screener) changed() bool {
	now := s.stamps()
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if len(now) != len(s.loadedFiles) {
		return true
	}
	for i := range now {
		if now[i] != s.loadedFiles[i] {
			return true
		}
	}
	return false
}

// Screen checks req for invalid traffic and counts the verdict. The checks,
// in order: blocked domain (site.domain, the site.page host, app.domain,
// dooh.domain, publisher domains; subdomains included), app bundle and
// publisher id; for web (site) requests, a missing or unparsable IP or a
// missing user agent (unless
// Config.AllowMissingIPOrUA); device.ip and device.ipv6 against the
// blocklist; device.ua and device.sua browser brands against the bot
// patterns. It does not allocate or block.
func (s *Screener) Screen(req *openrtb2.BidRequest) Verdict {
	r := s.screen(req)
	s.metrics.screened[r].Inc()
	return Verdict{OK: r == ReasonOK, Reason: r}
}

func (s *Screener) screen(req *openrtb2.BidRequest) Reason {
	var pubs [3]*openrtb2.Publisher
	if site := req.Site; site != nil {
		pubs[0] = site.Publisher
		if s.domains.blocksDomain(site.Domain) || s.domains.blocksDomain(pageHost(site.Page)) {
			return ReasonDomainBlocked
		}
	}
	if app := req.App; app != nil {
		pubs[1] = app.Publisher
		if s.domains.blocksDomain(app.Domain) {
			return ReasonDomainBlocked
		}
		if s.apps.hasFold(app.Bundle) {
			return ReasonAppBlocked
		}
	}
	if d := req.DOOH; d != nil {
		pubs[2] = d.Publisher
		if s.domains.blocksDomain(d.Domain) {
			return ReasonDomainBlocked
		}
	}
	for _, p := range pubs {
		if p == nil {
			continue
		}
		if p.ID != "" && s.publishers.has(p.ID) {
			return ReasonPublisherBlocked
		}
		if s.domains.blocksDomain(p.Domain) {
			return ReasonDomainBlocked
		}
	}

	dev := req.Device
	var ip, ipv6, ua string
	var sua *openrtb2.UserAgent
	if dev != nil {
		ip, ipv6, ua, sua = dev.IP, dev.IPv6, dev.UA, dev.SUA
	}
	var addrs [2]netip.Addr
	valid := 0
	for i, a := range [2]string{ip, ipv6} {
		if a == "" {
			continue
		}
		if addr, err := netip.ParseAddr(a); err == nil {
			addrs[i] = addr
			valid++
		}
	}
	if req.Site != nil && !s.cfg.AllowMissingIPOrUA {
		if valid == 0 { // absent or not an address
			return ReasonMissingIP
		}
		if ua == "" && (sua == nil || len(sua.Browsers) == 0) {
			return ReasonMissingUA
		}
	}
	ips := s.ips.Load()
	for _, a := range addrs {
		if a.IsValid() && ips.contains(a) {
			return ReasonIPBlocked
		}
	}
	if s.ua.find(ua) {
		return ReasonUABot
	}
	if sua != nil {
		for i := range sua.Browsers {
			if s.ua.find(sua.Browsers[i].Brand) {
				return ReasonUABot
			}
		}
	}
	return ReasonOK
}
