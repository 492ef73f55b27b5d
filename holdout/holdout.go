package holdout

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Group is the side of a campaign's study a user is on.
type Group uint8

// The groups.
const (
	// GroupNone: not in the study (no user id, or no holdout configured);
	// bid as usual and record nothing.
	GroupNone Group = iota
	// GroupExposed: bid as usual and record the bid.
	GroupExposed
	// GroupGhost: held out; record the bid as a ghost bid and do not send it.
	GroupGhost
)

// String returns "none", "exposed" or "ghost".
func (g Group) String() string {
	switch g {
	case GroupExposed:
		return "exposed"
	case GroupGhost:
		return "ghost"
	}
	return "none"
}

// letter is the group's code in Redis.
func (g Group) letter() byte {
	if g == GroupGhost {
		return 'g'
	}
	return 'e'
}

// Clock tells the time of conversions and key expiry; pacing's clocks
// satisfy it.
type Clock interface {
	Now() time.Time
}

// Deps are a Holdout's collaborators.
type Deps struct {
	// Redis holds the study; required.
	Redis *storage.Redis
	// Clock: nil means the system clock.
	Clock Clock
	// Log receives background sync failures (at most one line a minute); nil = none.
	Log *zap.Logger
	// Registerer receives the holdout's metrics; nil = none.
	Registerer prometheus.Registerer
}

// Holdout assigns users to the exposed and held-out groups of each campaign,
// records eligible bids and attributes conversions. It is safe for
// concurrent use.
type Holdout struct {
	cfg   Config
	rdb   *storage.Redis
	clock Clock
	log   *zap.Logger
	salt  uint64
	share float64

	shards   [numShards]shard
	seen     [seenSlots]atomic.Uint64 // recently recorded user, campaign, group and hour
	shardCap int

	syncMu  sync.Mutex
	seq     uint64
	writer  string // this Holdout's random id, for flush writer tokens
	retry   *flush
	pending map[string]*counters // counter increments not yet applied

	pendMu sync.Mutex
	convs  map[string]*[2]int64 // conversions by campaign and group, for the next Sync

	dropped    prometheus.Counter
	syncErrors prometheus.Counter

	stop chan struct{}
	done chan struct{}
}

// New returns a Holdout; Start begins the background sync, or call Sync.
func New(cfg Config, d Deps) (*Holdout, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Redis == nil {
		return nil, errors.New("holdout: Redis is required")
	}
	cfg = cfg.withDefaults()
	if d.Clock == nil {
		d.Clock = pacing.SystemClock{}
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	h := &Holdout{
		cfg:      cfg,
		rdb:      d.Redis,
		clock:    d.Clock,
		log:      d.Log,
		salt:     fnvString(fnvOffset, cfg.Salt),
		share:    cfg.Share,
		shardCap: max(cfg.MaxPending/numShards, 1),
		writer:   randomID(),
		pending:  make(map[string]*counters),
		convs:    make(map[string]*[2]int64),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_holdout_dropped_total",
			Help: "Eligible bids not recorded because the holdout buffer was full."}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_holdout_sync_errors_total",
			Help: "Holdout syncs with Redis that failed in part or whole."}),
	}
	for i := range h.shards {
		h.shards[i].bids = make(map[string]*[2]bidCount)
	}
	if d.Registerer != nil {
		for _, c := range []prometheus.Collector{h.dropped, h.syncErrors} {
			if err := d.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// Assign returns a user's group in a campaign's study at the configured share.
// It does not allocate.
func (h *Holdout) Assign(user, campaignID string) Group {
	return h.AssignShare(user, campaignID, h.share)
}

// AssignShare is Assign with a campaign's own share (0 to 0.5): a user held out
// at a share stays held out at any larger one.
func (h *Holdout) AssignShare(user, campaignID string, share float64) Group {
	if user == "" || share <= 0 {
		return GroupNone
	}
	if unit(h.hash(user, campaignID)) < share {
		return GroupGhost
	}
	return GroupExposed
}

// hash mixes the salt, the user and the campaign. A running study needs its
// assignment never to change, so the holdout owns this hash rather than
// borrowing one that may (creatives.HashChooser is on its way out).
func (h *Holdout) hash(user, campaignID string) uint64 {
	x := fnvString(h.salt, user)
	x = (x ^ 0xff) * fnvPrime
	x = fnvString(x, campaignID)
	return mix64(x)
}

// unit maps a hash to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) * 0x1p-53 }

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix64 is the SplitMix64 finaliser: FNV's bits alone are not uniform enough
// to compare against a share.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

const (
	numShards = 16
	seenSlots = 1 << 15
)

// shard buffers recorded events until the next Sync.
type shard struct {
	mu      sync.Mutex
	arena   []byte // campaign and user bytes of the entries
	entries []entry
	bids    map[string]*[2]bidCount // campaign → by group (exposed, ghost)
}

// entry is one user's eligible bid, its strings in the shard's arena.
type entry struct {
	off              int
	campLen, userLen int
	group            Group
	unix             int64
}

type bidCount struct {
	n   int64
	cpm money.Micros
}

// Record records that a campaign was the one Kairos would bid for a user in
// group g at price (CPM, micros, in the campaign's currency) at time now: for
// GroupExposed the bid is sent, for GroupGhost it is the ghost bid that is
// not. GroupNone records nothing. Strings may point into a request: they are
// copied.
func (h *Holdout) Record(g Group, campaignID, user string, price money.Micros, now time.Time) {
	if g == GroupNone || user == "" || campaignID == "" {
		return
	}
	x := h.hash(user, campaignID)
	sh := &h.shards[x%numShards]
	unix := now.Unix()
	key := mix64(x^uint64(g)<<56^uint64(unix/3600)) | 1
	slot := &h.seen[key%seenSlots]
	fresh := slot.Load() != key
	if fresh {
		slot.Store(key)
	}
	gi := g - GroupExposed
	sh.mu.Lock()
	bc := sh.bids[campaignID]
	if bc == nil {
		bc = new([2]bidCount)
		sh.bids[strings.Clone(campaignID)] = bc
	}
	bc[gi].n++
	bc[gi].cpm += price
	if fresh {
		if len(sh.entries) < h.shardCap {
			off := len(sh.arena)
			sh.arena = append(append(sh.arena, campaignID...), user...)
			sh.entries = append(sh.entries, entry{off: off, campLen: len(campaignID), userLen: len(user), group: g, unix: unix})
		} else {
			h.dropped.Inc()
			slot.Store(0) // not recorded: let the next bid try again
		}
	}
	sh.mu.Unlock()
}
