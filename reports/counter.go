package reports

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Metric slots of an entry. Main entries use all but mCount; no-bid and loss
// entries use only mCount.
const (
	mRequests = iota // requests seen
	mBids            // bids sent
	mBidCPM          // Σ bid CPM of bids, micros
	mWins            // wins
	mLate            // wins whose notice settled late
	mClearCPM        // Σ clearing CPM of wins, micros
	mSpend           // Σ clearing price per impression of wins, micros
	mImps            // billing notices
	mClicks          // clicks
	mCount           // no-bids of a reason, or losses of a code
	numMetrics
)

// metricNames are the Redis field suffixes of the metric slots.
var metricNames = [numMetrics]string{"q", "b", "bc", "w", "wl", "wc", "s", "i", "k", ""}

// Kinds of entries.
const (
	kindMain uint8 = iota
	kindNoBid
	kindLoss
)

// key is one combination of dimensions. Its strings are owned by the Counter
// (cloned on insert), so keys may be handed to the flush as they are.
type key struct {
	campaign, variant, exchange, publisher, country string
	reason                                          string // interned no-bid reason
	hour                                            int64
	loss                                            int32 // loss reason code
	phase, device, format, kind                     uint8
}

type entry struct {
	c    [numMetrics]int64
	idle uint8 // flushes in a row with nothing counted
}

// lkey is a landscape key: campaign, phase and hour.
type lkey struct {
	campaign string
	hour     int64
	phase    uint8
}

type lentry struct {
	b    [numBuckets][2]int64 // bids, wins
	idle uint8
}

// evictAfter is how many empty flushes an entry survives; keeping recent keys
// makes the steady state allocation-free.
const evictAfter = 5

const numShards = 32

type shard struct {
	mu   sync.Mutex
	m    map[key]*entry
	land map[lkey]*lentry
	_    [64]byte // keep neighbouring shards' mutexes off one cache line
}

// Counter aggregates report counts in memory and flushes them to Redis in the
// background; its counting methods are safe for concurrent use, take a few
// hundred nanoseconds and do not allocate once their keys exist.
type Counter struct {
	cfg         Config
	rdb         *storage.Redis
	log         *zap.Logger
	seed        maphash.Seed
	instance    string
	shards      [numShards]shard
	keyLimit    int // per shard
	chunkFields int
	markerID    string // names this counter's flush markers: instance.incarnation

	reasons  atomic.Pointer[[]string]
	reasonMu sync.Mutex

	flushMu sync.Mutex
	seq     uint64
	pending *batch

	stop chan struct{}
	done chan struct{}

	m counterMetrics
}

type counterMetrics struct {
	flushOK  prometheus.Counter
	flushErr prometheus.Counter
	duration prometheus.Histogram
	keys     prometheus.Gauge
	folded   prometheus.Counter
	pending  prometheus.Gauge
	foldedN  atomic.Int64
}

// NewCounter returns a Counter writing to r, with metrics registered on reg
// (nil for none). cfg should be valid (Config.Validate); an invalid Instance
// is replaced by a random one. Each Counter flushes under markers of its own
// (instance name plus a random incarnation), so a restarted instance never
// mistakes its flushes for those of its previous life.
func NewCounter(r *storage.Redis, cfg Config, reg prometheus.Registerer, log *zap.Logger) *Counter {
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	c := &Counter{cfg: cfg, rdb: r, log: log, seed: maphash.MakeSeed(), instance: cfg.Instance}
	if !instanceRe.MatchString(c.instance) {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.instance = hex.EncodeToString(b[:])
	}
	var inc [6]byte
	_, _ = rand.Read(inc[:])
	c.markerID = c.instance + "." + hex.EncodeToString(inc[:])
	c.keyLimit = max(cfg.MaxKeys/numShards, 1)
	c.chunkFields = defaultChunkFields
	for i := range c.shards {
		c.shards[i].m = make(map[key]*entry)
		c.shards[i].land = make(map[lkey]*lentry)
	}
	c.reasons.Store(&[]string{})
	flushes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kairos_reports_flushes_total",
		Help: "Flushes of report counts to Redis, by result (ok, error)."}, []string{"result"})
	c.m = counterMetrics{
		flushOK:  flushes.WithLabelValues("ok"),
		flushErr: flushes.WithLabelValues("error"),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kairos_reports_flush_seconds",
			Help: "Time to write one flush of report counts to Redis.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 7)}),
		keys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kairos_reports_keys",
			Help: "Dimension combinations held in memory by the report counter."}),
		folded: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_reports_folded_total",
			Help: "New dimension combinations filed under (other) because the counter held too many keys."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kairos_reports_pending_fields",
			Help: "Report counts that failed to reach Redis and wait for the next flush."}),
	}
	if reg != nil {
		reg.MustRegister(flushes, c.m.duration, c.m.keys, c.m.folded, c.m.pending)
	}
	return c
}

// Instance returns the name this counter writes its flush markers under.
func (c *Counter) Instance() string { return c.instance }

// Start flushes every FlushInterval in a goroutine owned by the Counter until
// Stop or until ctx ends.
func (c *Counter) Start(ctx context.Context) {
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go c.loop(ctx)
}

func (c *Counter) loop(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, c.cfg.FlushTimeout)
			if err := c.Flush(fctx); err != nil {
				c.log.Warn("report counts not flushed; will retry", zap.Error(err))
			}
			cancel()
		}
	}
}

// Stop ends the flush loop and flushes what is left, waiting until ctx ends.
// Call it after the listeners that count have stopped: counts made after Stop
// are not flushed. An error means counts did not reach Redis and are lost.
func (c *Counter) Stop(ctx context.Context) error {
	if c.stop != nil {
		close(c.stop)
		<-c.done
		c.stop = nil
	}
	return c.Flush(ctx)
}

// shard picks the shard of d. The choice only spreads lock contention: a
// combination counted in two shards is summed at the flush.
func (c *Counter) shard(d *Dims) *shard {
	h := maphash.String(c.seed, d.Publisher) ^ maphash.String(c.seed, d.Campaign) ^ uint64(d.Hour)*0x9e3779b97f4a7c15
	return &c.shards[h%numShards]
}

func mainKey(d *Dims) key {
	k := key{campaign: d.Campaign, variant: d.Variant, exchange: d.Exchange, publisher: d.Publisher,
		country: d.Country, hour: d.Hour, phase: d.Phase, device: d.Device, format: d.Format}
	if int(k.phase) >= len(phaseNames) {
		k.phase = 0
	}
	if int(k.device) >= len(deviceNames) {
		k.device = 0
	}
	if int(k.format) >= len(formatNames) {
		k.format = 0
	}
	return k
}

// get returns the entry of k, inserting it if new. s.mu is held.
func (c *Counter) get(s *shard, k *key) *entry {
	if e, ok := s.m[*k]; ok {
		return e
	}
	return c.insert(s, k)
}

func (c *Counter) insert(s *shard, k *key) *entry {
	n := key{campaign: canon(k.campaign, maxDimLen), variant: canon(k.variant, maxDimLen),
		exchange: canon(k.exchange, maxDimLen), publisher: canon(k.publisher, maxDimLen),
		country: canon(k.country, maxCountryLen), reason: k.reason, hour: k.hour, loss: k.loss,
		phase: k.phase, device: k.device, format: k.format, kind: k.kind}
	if len(s.m) >= c.keyLimit {
		n.publisher, n.variant = other, other
		c.m.foldedN.Add(1)
	}
	if e, ok := s.m[n]; ok {
		return e
	}
	e := &entry{}
	s.m[n] = e
	return e
}

// land returns the landscape entry of d. s.mu is held.
func (c *Counter) land(s *shard, d *Dims) *lentry {
	k := lkey{campaign: d.Campaign, hour: d.Hour, phase: d.Phase}
	if int(k.phase) >= len(phaseNames) {
		k.phase = 0
	}
	if e, ok := s.land[k]; ok {
		return e
	}
	k.campaign = canon(k.campaign, maxDimLen)
	if e, ok := s.land[k]; ok {
		return e
	}
	e := &lentry{}
	s.land[k] = e
	return e
}

// Request counts one bid request (d.Campaign is empty).
func (c *Counter) Request(d *Dims) {
	k := mainKey(d)
	s := c.shard(d)
	s.mu.Lock()
	c.get(s, &k).c[mRequests]++
	s.mu.Unlock()
}

// Bid counts one bid at bidCPM (micros per thousand impressions), also in the
// bid landscape.
func (c *Counter) Bid(d *Dims, bidCPM money.Micros) {
	k := mainKey(d)
	b := bucketOf(bidCPM)
	s := c.shard(d)
	s.mu.Lock()
	e := c.get(s, &k)
	e.c[mBids]++
	e.c[mBidCPM] += int64(bidCPM)
	c.land(s, d).b[b][0]++
	s.mu.Unlock()
}

// NoBid counts one no-bid for reason, one of a small fixed set of names (the
// first 64 distinct names are kept; later ones count as "other").
func (c *Counter) NoBid(d *Dims, reason string) {
	k := mainKey(d)
	k.kind, k.reason = kindNoBid, c.intern(reason)
	s := c.shard(d)
	s.mu.Lock()
	c.get(s, &k).c[mCount]++
	s.mu.Unlock()
}

// Win counts one won bid, called once per bid id. bidCPM and clearingCPM are
// micros per thousand impressions; the spend booked is the clearing price of
// one impression, money.CPMToImpression(clearingCPM). late marks a notice
// that settled after its reservation was released.
func (c *Counter) Win(d *Dims, bidCPM, clearingCPM money.Micros, late bool) {
	k := mainKey(d)
	b := bucketOf(bidCPM)
	s := c.shard(d)
	s.mu.Lock()
	e := c.get(s, &k)
	e.c[mWins]++
	if late {
		e.c[mLate]++
	}
	e.c[mClearCPM] += int64(clearingCPM)
	e.c[mSpend] += int64(money.CPMToImpression(clearingCPM))
	c.land(s, d).b[b][1]++
	s.mu.Unlock()
}

// Impression counts one billing notice, called once per bid id.
func (c *Counter) Impression(d *Dims) {
	k := mainKey(d)
	s := c.shard(d)
	s.mu.Lock()
	c.get(s, &k).c[mImps]++
	s.mu.Unlock()
}

// Loss counts one lost bid with its OpenRTB loss reason code, once per bid id.
func (c *Counter) Loss(d *Dims, reason int) {
	k := mainKey(d)
	k.kind, k.loss = kindLoss, int32(min(max(reason, -1), 1<<20))
	s := c.shard(d)
	s.mu.Lock()
	c.get(s, &k).c[mCount]++
	s.mu.Unlock()
}

// Click counts one click.
func (c *Counter) Click(d *Dims) {
	k := mainKey(d)
	s := c.shard(d)
	s.mu.Lock()
	c.get(s, &k).c[mClicks]++
	s.mu.Unlock()
}

const maxReasons = 64

// intern returns the Counter's own copy of a no-bid reason.
func (c *Counter) intern(reason string) string {
	for _, r := range *c.reasons.Load() {
		if r == reason {
			return r
		}
	}
	c.reasonMu.Lock()
	defer c.reasonMu.Unlock()
	old := *c.reasons.Load()
	for _, r := range old {
		if r == reason {
			return r
		}
	}
	if len(old) >= maxReasons {
		return "other"
	}
	r := canon(reason, 40)
	next := append(old[:len(old):len(old)], r)
	c.reasons.Store(&next)
	return r
}
