package bandit

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kairos-rtb/kairos/creatives"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Clock tells the time for click windows, idleness and key expiry; pacing's
// clocks satisfy it.
type Clock interface {
	Now() time.Time
}

// Deps are a Bandit's collaborators.
type Deps struct {
	// Redis holds the shared counts; required.
	Redis *storage.Redis
	// Clock: nil means the system clock.
	Clock Clock
	// Log receives background sync failures (at most one line a minute); nil = none.
	Log *zap.Logger
	// Registerer receives the bandit's metrics; nil = none.
	Registerer prometheus.Registerer
}

// Bandit chooses creative part variants by Thompson sampling and learns from
// impressions, clicks and purchases. It is safe for concurrent use.
type Bandit struct {
	cfg   Config
	rdb   *storage.Redis
	clock Clock
	log   *zap.Logger

	snap  atomic.Pointer[snapshot]
	blank *armSet // a part without data: every variant at the prior
	rngs  sync.Pool

	seedMu sync.Mutex
	seeds  *rand.Rand

	missMu  sync.Mutex
	missing map[string]struct{}
	wake    chan struct{}

	shards [numShards]shard

	// Owned by Sync.
	syncMu  sync.Mutex
	tracked map[string]time.Time // campaign → when Choose last asked for it
	retry   *batch

	syncErrors prometheus.Counter
	campaigns  prometheus.Gauge

	stop chan struct{}
	done chan struct{}
}

var _ creatives.Chooser = (*Bandit)(nil)

// New returns a Bandit with an empty snapshot; Start begins the background
// sync, or call Sync yourself.
func New(cfg Config, d Deps) (*Bandit, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Redis == nil {
		return nil, errors.New("bandit: Redis is required")
	}
	cfg = cfg.withDefaults()
	if d.Clock == nil {
		d.Clock = pacing.SystemClock{}
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	b := &Bandit{
		cfg:     cfg,
		rdb:     d.Redis,
		clock:   d.Clock,
		log:     d.Log,
		seeds:   rand.New(rand.NewPCG(seed, 0x6b616972)),
		missing: make(map[string]struct{}),
		wake:    make(chan struct{}, 1),
		tracked: make(map[string]time.Time),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_bandit_sync_errors_total",
			Help: "Bandit syncs with Redis that failed in part or whole."}),
		campaigns: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kairos_bandit_campaigns",
			Help: "Campaigns whose variant posteriors this instance reads back."}),
	}
	b.rngs.New = func() any { return b.newRand() }
	blank := cfg.newArmSet(nil)
	b.blank = &blank
	b.snap.Store(&snapshot{campaigns: map[string]*campaignArms{}})
	for i := range b.shards {
		b.shards[i].counts = make(map[armRef]*counts)
	}
	if d.Registerer != nil {
		for _, c := range []prometheus.Collector{b.syncErrors, b.campaigns} {
			if err := d.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// newRand returns a generator seeded from the Bandit's seed sequence.
func (b *Bandit) newRand() *rand.Rand {
	b.seedMu.Lock()
	s1, s2 := b.seeds.Uint64(), b.seeds.Uint64()
	b.seedMu.Unlock()
	return rand.New(rand.NewPCG(s1, s2))
}

// Choose returns which of n variants of a campaign's creative part to show to
// a user in a phase. It implements creatives.Chooser: it neither blocks nor
// allocates (except on the first call for a campaign, which registers it).
// The user is not used: the choice is a fresh draw every time.
func (b *Bandit) Choose(_, campaignID, part string, phase segments.Phase, n int) int {
	if n <= 1 {
		return 0
	}
	r := b.rngs.Get().(*rand.Rand)
	i := b.ChooseRand(r, campaignID, part, phase, n)
	b.rngs.Put(r)
	return i
}

// ChooseRand is Choose with the caller's generator, for reproducible runs.
func (b *Bandit) ChooseRand(r *rand.Rand, campaignID, part string, phase segments.Phase, n int) int {
	if n <= 1 {
		return 0
	}
	set := b.blank
	if ca := b.snap.Load().campaigns[campaignID]; ca != nil {
		if !ca.used.Load() {
			ca.used.Store(true)
		}
		if s := ca.parts[partKey{part: part, phase: phase}]; s != nil {
			set = s
		}
	} else {
		b.register(campaignID)
	}
	if b.cfg.Explore > 0 && r.Float64() < b.cfg.Explore {
		return r.IntN(n)
	}
	return b.thompson(r, set, n)
}

// thompson draws each of n variants' posterior value and returns the index of
// the highest draw; variants beyond the set's data are drawn from the prior.
func (b *Bandit) thompson(r *rand.Rand, set *armSet, n int) int {
	best, top := 0, -1.0
	for i := 0; i < n; i++ {
		a := &set.prior
		if i < len(set.arms) {
			a = &set.arms[i]
		}
		s := a.click.sample(r)
		if set.purchases {
			s += b.cfg.PurchaseWeight * a.purchase.sample(r)
		}
		if s > top {
			best, top = i, s
		}
	}
	return best
}

// register asks the background loop to read a campaign it does not know yet.
func (b *Bandit) register(campaignID string) {
	b.missMu.Lock()
	_, ok := b.missing[campaignID]
	if !ok {
		b.missing[strings.Clone(campaignID)] = struct{}{}
	}
	b.missMu.Unlock()
	if !ok {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// snapshot is the immutable state Choose reads.
type snapshot struct {
	campaigns map[string]*campaignArms
}

// campaignArms holds one campaign's posteriors.
type campaignArms struct {
	used  atomic.Bool // Choose asked for the campaign since the snapshot was made
	parts map[partKey]*armSet
}

type partKey struct {
	part  string
	phase segments.Phase
}

// armSet is the posteriors of one part's variants in one phase.
type armSet struct {
	prior     arm // a variant without data
	arms      []arm
	purchases bool // purchases were reported for the part: sample them too
}

// arm is one variant's posteriors.
type arm struct {
	click, purchase betaDist
}

// counts are a variant's impressions, clicks and purchases.
type counts struct {
	imps, clicks, purchases int64
}

func (c *counts) plus(o counts) {
	c.imps += o.imps
	c.clicks += o.clicks
	c.purchases += o.purchases
}

// newArmSet computes the posteriors of a part's variants from their counts.
// The prior is the part's pooled rate, shrunk towards PriorCTR by
// PriorClicks pseudo-clicks, worth PriorClicks pseudo-events per variant.
func (c *Config) newArmSet(vs []counts) armSet {
	var imps, clicks, purchases float64
	for _, v := range vs {
		imps += float64(max(v.imps, v.clicks))
		clicks += float64(v.clicks)
		purchases += float64(v.purchases)
	}
	k := c.PriorClicks
	ctr := (clicks + k) / (imps + k/c.PriorCTR)
	set := armSet{arms: make([]arm, len(vs)), purchases: purchases > 0}
	pr := 0.0
	if set.purchases {
		pr = min(purchases/max(imps, 1), 0.5)
	}
	post := func(n, x, rate float64) betaDist {
		x = min(x, n)
		return newBeta(k+x, k/rate-k+n-x)
	}
	set.prior.click = post(0, 0, ctr)
	if set.purchases {
		set.prior.purchase = post(0, 0, pr)
	}
	for i, v := range vs {
		n := float64(max(v.imps, v.clicks))
		set.arms[i].click = post(n, float64(v.clicks), ctr)
		if set.purchases {
			set.arms[i].purchase = post(n, float64(v.purchases), pr)
		}
	}
	return set
}

// phaseNamesInOrder are the phases in journey order, for sorting reports.
var phaseNamesInOrder = segments.PhaseNames()
