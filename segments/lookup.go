package segments

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// fcCount is one frequency counter: impressions of a campaign in one window bucket.
type fcCount struct {
	campaign string
	bucket   int64
	n        int64
}

// Result is the answer to one lookup. Reuse one Result per request (Reset it,
// or let Get do so): it keeps its buffers, so a warm Result costs no allocation.
// Everything in it is valid until the next Reset or Get; copy to keep.
type Result struct {
	// Profile is the user's profile when Found; its phase has decay applied as of
	// the lookup.
	Profile Profile
	// Found reports whether the user has a profile. Frequency counters are
	// available (via Count) whether or not a profile was found.
	Found bool
	// Cached reports whether the answer came from the local cache.
	Cached bool

	fc        []fcCount
	interests []string
	purchased []string
	rec       record
}

// Reset clears r for reuse, keeping its buffers.
func (r *Result) Reset() {
	r.Profile = Profile{}
	r.Found = false
	r.Cached = false
	clear(r.fc)
	r.fc = r.fc[:0]
	clear(r.interests)
	r.interests = r.interests[:0]
	clear(r.purchased)
	r.purchased = r.purchased[:0]
	r.rec.reset()
}

// Count returns the impressions recorded for campaignID in the frequency window
// containing now (windows are fixed buckets of unix time / window, as written
// by Store.IncrFrequency). It does not allocate.
func (r *Result) Count(campaignID string, window time.Duration, now time.Time) int {
	b := now.Unix() / windowSeconds(window)
	for i := range r.fc {
		if c := &r.fc[i]; c.bucket == b && c.campaign == campaignID {
			return int(c.n)
		}
	}
	return 0
}

func windowSeconds(w time.Duration) int64 {
	return max(int64(w/time.Second), 1)
}

// fill copies e into r.
func (r *Result) fill(e *entry, user string, d *Decay, now time.Time) {
	r.Found = e.found
	r.fc = append(r.fc[:0], e.fc...)
	if !e.found {
		return
	}
	e.rec.fill(&r.Profile, user, d, now)
	r.interests = append(r.interests[:0], e.rec.interests...)
	r.purchased = append(r.purchased[:0], e.rec.purchased...)
	r.Profile.Interests = r.interests
	r.Profile.Purchased = r.purchased
}

// appendCounts parses HGETALL field/value pairs into dst, skipping malformed ones.
func appendCounts(dst []fcCount, m map[string]string) []fcCount {
	for k, v := range m {
		i := strings.LastIndexByte(k, ':')
		if i <= 0 {
			continue
		}
		b, err1 := strconv.ParseInt(k[i+1:], 10, 64)
		n, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		dst = append(dst, fcCount{campaign: k[:i], bucket: b, n: n})
	}
	return dst
}

// Request states; a request is owned by whoever moves it out of pending.
const (
	statePending int32 = iota
	stateAbandoned
	stateDone
)

// request is one lookup waiting for Redis. It is pooled: Get owns it until it is
// queued; then the batcher and Get race to move it out of pending — Get to
// abandon it on its deadline, the worker to complete it — and the loser of the
// race releases it. A refresh (refresh != nil) has no one waiting: it stays
// pending and whoever completes it stores its answer and releases it.
type request struct {
	key   []byte // "<p key><fc key>"
	pkey  string // aliases key
	fckey string // aliases key
	state atomic.Int32
	done  chan struct{}
	timer *time.Timer
	gen   uint64

	// Set for a refresh: the entry it refreshes, its user (a copy of the
	// caller's string) and when it was asked for (unix ns), where the new
	// entry's TTL starts.
	refresh *entry
	user    string
	at      int64

	// Set by the worker before done.
	val   string
	found bool
	fc    map[string]string
	err   error
}

// worker runs one pipeline at a time; there are MaxInFlight of them.
type worker struct {
	run    chan struct{}
	batch  []*request
	gets   []*redis.StringCmd
	fcs    []*redis.MapStringStringCmd
	groups []*nodeGroup // a batch split by cluster node
}

// Lookup answers profile lookups at bid time: a bounded local cache in front of
// Redis, where concurrent misses are coalesced into pipelines (GET profile +
// HGETALL counters per user, one round trip per batch). Start it before use.
type Lookup struct {
	rdb     redis.UniversalClient // lookups, with the short RedisTimeout where possible
	sub     redis.UniversalClient // pub/sub
	keys    storage.Keys
	channel string
	cfg     Config
	log     *zap.Logger
	now     func() time.Time
	m       *metrics
	cache   *cache // nil when disabled

	queue   chan *request
	idle    chan *worker // workers report back here after each pipeline
	workers []*worker
	pool    sync.Pool

	running  atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	pubsub   *redis.PubSub
	// downUntil maps a cluster node (*redis.Client) whose lookup pipeline
	// failed to when it may be tried again (Unix nanoseconds).
	downUntil sync.Map

	// onInvalidate, if set before Start, sees each invalidation message after
	// it has been applied (tests wait on it).
	onInvalidate func(payload string)
	// onRefresh, if set before Start, is called on the worker with the user
	// of each refresh that Redis answered, before the answer is stored (tests
	// hold a refresh there).
	onRefresh func(user string)
}

// NewLookup returns a Lookup on r. cfg should have passed Validate; invalid
// values fall back to defaults. Metrics are registered on reg (nil: none).
func NewLookup(r *storage.Redis, cfg Config, reg prometheus.Registerer, log *zap.Logger) *Lookup {
	cfg = cfg.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	l := &Lookup{
		rdb:     r.Client,
		sub:     r.Client,
		keys:    r.Keys,
		channel: invalidateChannel(r.Keys),
		cfg:     cfg,
		log:     log,
		now:     time.Now,
		stop:    make(chan struct{}),
	}
	if c, ok := r.Client.(*redis.Client); ok {
		// A stuck Redis must not hold the in-flight slots for the default 3s.
		l.rdb = c.WithTimeout(cfg.RedisTimeout)
	}
	var entries func() float64
	if cfg.CacheSize > 0 {
		l.cache = newCache(cfg.CacheSize)
		entries = func() float64 { return float64(l.cache.len()) }
	}
	l.m = newMetrics(reg, entries)
	l.pool.New = func() any {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return &request{done: make(chan struct{}, 1), timer: t}
	}
	return l
}

// invalidateChannel is the pub/sub channel carrying changed user ids.
func invalidateChannel(k storage.Keys) string { return k.Prefix + "segments:invalidate" }

// Start subscribes to cache invalidations (when the cache is enabled) and
// starts the batcher and its workers. Get fails with ErrUnavailable before
// Start and after Stop.
func (l *Lookup) Start(ctx context.Context) error {
	if l.cache != nil {
		ps := l.sub.Subscribe(ctx, l.channel)
		// Wait for the confirmation so that changes made after Start returns
		// are seen.
		if _, err := ps.Receive(ctx); err != nil {
			ps.Close()
			return fmt.Errorf("subscribe %s: %w", l.channel, err)
		}
		l.pubsub = ps
		ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for m := range ch {
				switch msg := m.(type) {
				case *redis.Message:
					l.invalidate(msg.Payload)
					if l.onInvalidate != nil {
						l.onInvalidate(msg.Payload)
					}
				case *redis.Subscription:
					// The client lost its connection and subscribed again:
					// invalidations published meanwhile are lost, so nothing
					// cached before can be trusted.
					if msg.Kind == "subscribe" {
						l.m.resubscribes.Inc()
						l.cache.flush()
						if l.onInvalidate != nil {
							l.onInvalidate("*")
						}
					}
				}
			}
		}()
	}
	l.queue = make(chan *request, l.cfg.MaxQueue)
	l.idle = make(chan *worker, l.cfg.MaxInFlight)
	for range l.cfg.MaxInFlight {
		w := &worker{run: make(chan struct{}, 1)}
		l.workers = append(l.workers, w)
		l.wg.Add(1)
		go l.work(w)
	}
	l.wg.Add(1)
	go l.batch()
	l.running.Store(true)
	return nil
}

// Stop ends the background goroutines and waits for them. Lookups still queued
// fail with ErrUnavailable.
func (l *Lookup) Stop() {
	l.stopOnce.Do(func() {
		l.running.Store(false)
		close(l.stop)
		if l.pubsub != nil {
			l.pubsub.Close()
		}
		l.wg.Wait()
	})
}

// invalidate handles one invalidation message: user ids separated by newlines,
// or "*" for everything.
func (l *Lookup) invalidate(payload string) {
	l.m.invalidations.Inc()
	if payload == "*" {
		l.cache.flush()
		return
	}
	for payload != "" {
		u, rest, _ := strings.Cut(payload, "\n")
		if u != "" {
			l.cache.invalidate(u)
		}
		payload = rest
	}
}

// Forget drops user from this instance's cache at once; other instances learn
// of changes through the invalidation channel.
func (l *Lookup) Forget(user string) {
	if l.cache != nil {
		l.cache.invalidate(user)
	}
}

// Get looks user up and fills res. It returns nil whether or not a profile
// exists (see res.Found); ErrTimeout when ctx ends first (or, without a
// deadline, after Config.Timeout); ErrOverloaded when too many lookups are
// waiting; ErrUnavailable (wrapping the cause) when Redis fails. On error res
// is reset and the caller decides without the profile. A cache hit does not
// allocate, except the one hit per entry that starts its refresh (see
// refreshAhead), which never waits for it.
func (l *Lookup) Get(ctx context.Context, user string, res *Result) error {
	deadline, _ := ctx.Deadline()
	return l.get(ctx.Done(), deadline, user, res)
}

// GetUntil is Get bounded by a deadline instead of a context, for the bid
// path: a cache hit arms no timer and allocates nothing, and a miss waits on
// the lookup's pooled timer. A zero deadline means Config.Timeout.
func (l *Lookup) GetUntil(deadline time.Time, user string, res *Result) error {
	return l.get(nil, deadline, user, res)
}

// get looks user up, giving up when done closes or deadline passes (zero:
// after Config.Timeout).
func (l *Lookup) get(done <-chan struct{}, deadline time.Time, user string, res *Result) error {
	now := l.now()
	res.Reset()
	if user == "" {
		return nil
	}
	if l.cache != nil {
		ns := now.UnixNano()
		if e := l.cache.get(user, ns); e != nil {
			res.fill(e, user, &l.cfg.Decay, now)
			res.Cached = true
			l.m.hit.Inc()
			l.m.latency.Observe(l.now().Sub(now).Seconds())
			// Load before the CAS: hits on a hot entry while its refresh is in
			// flight only read the flag's cache line.
			if ns >= e.refreshAt && !e.refreshing.Load() && e.refreshing.CompareAndSwap(false, true) {
				l.refresh(user, e, ns)
			}
			return nil
		}
	}
	err := l.fetch(done, deadline, user, res, now)
	switch {
	case err == nil:
		l.m.miss.Inc()
	case errors.Is(err, ErrTimeout):
		l.m.timeout.Inc()
	case errors.Is(err, ErrOverloaded):
		l.m.overloaded.Inc()
	default:
		l.m.errors.Inc()
	}
	if err != nil {
		res.Reset()
	}
	l.m.latency.Observe(l.now().Sub(now).Seconds())
	return err
}

func (l *Lookup) fetch(done <-chan struct{}, deadline time.Time, user string, res *Result, now time.Time) error {
	if !l.running.Load() {
		return ErrUnavailable
	}
	wait := l.cfg.Timeout
	if !deadline.IsZero() {
		wait = deadline.Sub(now)
	}
	if wait <= 0 || isClosed(done) {
		return ErrTimeout
	}
	r := l.request(user)
	if l.cache != nil {
		r.gen = l.cache.generation(user)
	}
	select {
	case l.queue <- r:
	default:
		l.release(r)
		return ErrOverloaded
	}

	// The timer is the request's own and is stopped before the request is
	// released (or handed to the worker that releases it), so a late fire
	// cannot reach the next user of the request.
	r.timer.Reset(wait)
	select {
	case <-r.done:
		r.timer.Stop()
	case <-done:
		r.timer.Stop()
		if r.state.CompareAndSwap(statePending, stateAbandoned) {
			return ErrTimeout
		}
		<-r.done // completed meanwhile; its signal is on the way
	case <-r.timer.C:
		if r.state.CompareAndSwap(statePending, stateAbandoned) {
			return ErrTimeout
		}
		<-r.done
	}
	defer l.release(r)
	if r.err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, r.err)
	}
	if l.cache == nil {
		res.Found = r.found
		res.fc = appendCounts(res.fc[:0], r.fc)
		if r.found {
			if err := decodeRecord(r.val, &res.rec); err != nil {
				return fmt.Errorf("decode profile of %q: %w", user, err)
			}
			res.rec.fill(&res.Profile, user, &l.cfg.Decay, now)
		}
		return nil
	}
	e, err := l.newEntry(r, now.UnixNano())
	if err != nil {
		return fmt.Errorf("decode profile of %q: %w", user, err)
	}
	l.cache.put(user, r.gen, e, now.UnixNano())
	res.fill(e, user, &l.cfg.Decay, now)
	return nil
}

// request returns a pooled request for user's keys, pending.
func (l *Lookup) request(user string) *request {
	r := l.pool.Get().(*request)
	r.key = l.keys.AppendUser(r.key[:0], user, "p")
	n := len(r.key)
	r.key = l.keys.AppendUser(r.key, user, "fc")
	// The key strings alias r.key, which does not change until r is released.
	r.pkey = unsafe.String(&r.key[0], n)
	r.fckey = unsafe.String(&r.key[n], len(r.key)-n)
	r.state.Store(statePending)
	return r
}

// refreshAhead sets when an entry is refreshed: a hit in the last
// 1/refreshAhead of its TTL (the last quarter: 2.5s of the default 10s) serves
// the entry and refreshes it in the background. Users hit at least that often
// never wait for Redis, and entries fetched together no longer expire
// together under load. The lead is ten times the default RedisTimeout, so a
// refresh that failed has time for another before the entry expires; a hot
// user costs one Redis read per 3/4 of the TTL instead of one per TTL.
const refreshAhead = 4

// newEntry decodes r's answer into a cache entry whose TTL starts at now
// (unix ns).
func (l *Lookup) newEntry(r *request, now int64) (*entry, error) {
	e := &entry{found: r.found, fc: appendCounts(nil, r.fc)}
	ttl := l.cfg.NegativeTTL
	if r.found {
		if err := decodeRecord(r.val, &e.rec); err != nil {
			return nil, err
		}
		ttl = l.cfg.CacheTTL
	}
	e.expires = now + int64(ttl)
	e.refreshAt = e.expires - int64(ttl/refreshAhead)
	return e, nil
}

// refresh asks Redis again for user, whose live entry e was hit late in its
// TTL, without waiting for the answer: the request joins the batcher's queue
// like a miss and shares its pipeline. It never blocks. When the Lookup is
// not running, or the queue is more than half full (Redis is not keeping up;
// the rest is left to lookups that bids wait on), the refresh is dropped and e
// stays until it expires or a later hit refreshes it.
func (l *Lookup) refresh(user string, e *entry, now int64) {
	if !l.running.Load() || len(l.queue) > cap(l.queue)/2 {
		e.refreshing.Store(false)
		l.m.refreshDropped.Inc()
		return
	}
	r := l.request(user)
	r.refresh, r.at = e, now
	// user may alias the request body; the refresh outlives the request.
	r.user = strings.Clone(user)
	select {
	case l.queue <- r:
		l.m.refreshStarted.Inc()
	default:
		l.release(r)
		e.refreshing.Store(false)
		l.m.refreshDropped.Inc()
	}
}

// refreshed stores the answer to refresh r in place of the entry it refreshes
// and releases r. A failed refresh leaves the entry as it was (with its old
// expiry); an answer for an entry that is gone — invalidated while the
// refresh was in flight, or evicted, or replaced by a miss — is discarded.
// It runs on a worker (or the batcher, when stopping) and does not block.
func (l *Lookup) refreshed(r *request) {
	defer l.release(r)
	old := r.refresh
	err := r.err
	var e *entry
	if err == nil {
		e, err = l.newEntry(r, r.at)
	}
	if err != nil {
		old.refreshing.Store(false)
		l.m.refreshErrors.Inc()
		return
	}
	if l.onRefresh != nil {
		l.onRefresh(r.user)
	}
	if l.cache.replace(r.user, old, e) {
		l.m.refreshOK.Inc()
	} else {
		l.m.refreshDiscarded.Inc()
	}
}

// isClosed reports whether done is closed; a nil channel never is.
func isClosed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// release returns r to the pool.
func (l *Lookup) release(r *request) {
	r.val, r.fc, r.err, r.found = "", nil, nil, false
	r.pkey, r.fckey = "", ""
	r.refresh, r.user, r.at = nil, "", 0
	l.pool.Put(r)
}

// complete hands a finished request to its Get, or releases it if Get gave up.
// A refresh's answer goes to the cache.
func (l *Lookup) complete(r *request) {
	if r.refresh != nil {
		l.refreshed(r)
		return
	}
	if r.state.CompareAndSwap(statePending, stateDone) {
		r.done <- struct{}{}
		return
	}
	l.release(r)
}

// batch is the batcher goroutine. When no pipeline is in flight it sends
// what is queued at once, so a lightly loaded Lookup adds no latency. While one
// is in flight, lookups gather into the next batch, which leaves when that
// pipeline returns, when it is full, or after maxGather at the latest (up to
// MaxInFlight pipelines at once). With every slot busy and a full batch
// waiting it stops taking lookups, the queue fills, and Get fails fast with
// ErrOverloaded.
func (l *Lookup) batch() {
	defer l.wg.Done()
	idle := make([]*worker, 0, len(l.workers))
	idle = append(idle, l.workers...)
	pending := make([]*request, 0, l.cfg.MaxBatch)
	inFlight := 0
	// A batch gathering behind a pipeline in flight leaves after maxGather at
	// the latest, so one slow pipeline (a stalled cluster node) does not hold
	// up the lookups behind it.
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	defer gather.Stop()
	gathering, due := false, false
	defer func() {
		for _, r := range pending {
			l.fail(r)
		}
		for _, w := range l.workers {
			close(w.run)
		}
		l.failQueued()
	}()
	for {
		queue := l.queue
		if len(pending) >= l.cfg.MaxBatch {
			queue = nil
		}
		select {
		case <-l.stop:
			return
		case r := <-queue:
			pending = append(pending, r)
		case w := <-l.idle:
			idle = append(idle, w)
			inFlight--
		case <-gather.C:
			gathering, due = false, true
		}
		if len(pending) > 0 && inFlight > 0 && !gathering && !due {
			gathering = true
			gather.Reset(maxGather)
		}
		if len(pending) == 0 || len(idle) == 0 || (inFlight > 0 && len(pending) < l.cfg.MaxBatch && !due) {
			continue
		}
		if gathering {
			gather.Stop()
			gathering = false
		}
		due = false
		// Take whatever else is already queued, then send.
	drain:
		for len(pending) < l.cfg.MaxBatch {
			select {
			case r := <-l.queue:
				pending = append(pending, r)
			default:
				break drain
			}
		}
		w := idle[len(idle)-1]
		idle = idle[:len(idle)-1]
		b := w.batch[:0]
		for _, r := range pending {
			if r.state.Load() == statePending {
				b = append(b, r)
			} else {
				l.release(r) // its Get gave up while it waited
			}
		}
		clear(pending)
		pending = pending[:0]
		if len(b) == 0 {
			idle = append(idle, w)
			continue
		}
		w.batch = b
		inFlight++
		w.run <- struct{}{}
	}
}

// maxGather is the longest a lookup waits for the pipeline in flight before
// its batch leaves on another in-flight slot. A pipeline normally returns well
// within it, so under load batches still form behind the one in flight.
const maxGather = time.Millisecond

// fail completes r with ErrUnavailable.
func (l *Lookup) fail(r *request) {
	r.err = ErrUnavailable
	l.complete(r)
}

func (l *Lookup) failQueued() {
	for {
		select {
		case r := <-l.queue:
			l.fail(r)
		default:
			return
		}
	}
}

// work runs pipelines for w until the batcher closes w.run.
func (l *Lookup) work(w *worker) {
	defer l.wg.Done()
	for range w.run {
		l.exec(w)
		l.idle <- w
	}
}

// exec sends w's batch in one pipeline and completes its requests.
func (l *Lookup) exec(w *worker) {
	l.m.batchSize.Observe(float64(len(w.batch)))
	if cc, ok := l.rdb.(*redis.ClusterClient); ok {
		l.execCluster(cc, w)
		return
	}
	// Deadlines are the callers' business: each Get stops waiting on its own,
	// and RedisTimeout (set on the single-node client) bounds how long a stuck
	// pipeline holds this worker.
	l.run(context.Background(), l.rdb, w.batch, w)
	clear(w.batch)
	w.batch = w.batch[:0]
}

// nodeBackoff is how long a cluster node whose pipeline failed is skipped.
const nodeBackoff = time.Second

// nodeGroup is the part of a batch whose users live on one cluster node.
type nodeGroup struct {
	node  *redis.Client
	batch []*request
	w     worker // the group's command buffers
}

// execCluster splits w's batch by the node that holds each user's keys (one
// hash tag per user: both keys are on the same node) and runs one pipeline per
// node concurrently, each bounded by RedisTimeout, so a slow node delays only
// its own users. A node whose pipeline failed is skipped for nodeBackoff: its
// users fail at once (decided without their profiles) instead of holding
// every in-flight slot while it is down.
func (l *Lookup) execCluster(cc *redis.ClusterClient, w *worker) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.RedisTimeout)
	defer cancel()
	groups := w.groups[:0]
	for _, r := range w.batch {
		node, err := cc.MasterForKey(ctx, r.pkey)
		if err != nil || l.nodeDown(node) {
			if err == nil {
				err = errNodeBackoff
			}
			r.err = err
			l.complete(r)
			continue
		}
		k := 0
		for k < len(groups) && groups[k].node != node {
			k++
		}
		if k == len(groups) {
			// Reuse the group of an earlier batch where there is one.
			if k < cap(groups) && groups[:k+1][k] != nil {
				groups = groups[:k+1]
			} else {
				groups = append(groups, &nodeGroup{})
			}
			groups[k].node = node
		}
		groups[k].batch = append(groups[k].batch, r)
	}
	var wg sync.WaitGroup
	for i, g := range groups {
		if i == len(groups)-1 {
			l.runGroup(ctx, cc, g)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.runGroup(ctx, cc, g)
		}()
	}
	wg.Wait()
	for _, g := range groups {
		clear(g.batch)
		g.batch, g.node = g.batch[:0], nil
	}
	w.groups = groups[:0]
	clear(w.batch)
	w.batch = w.batch[:0]
}

// errNodeBackoff fails the lookups of a cluster node that failed recently.
var errNodeBackoff = errors.New("cluster node failed recently; skipped")

// runGroup runs one node's pipeline through the cluster client, which
// follows MOVED and ASK redirects. A failure other than a Redis reply (a
// timeout, a refused or broken connection) puts the node in its backoff and
// asks the client to reload the cluster's layout, which a failover changes.
func (l *Lookup) runGroup(ctx context.Context, cc *redis.ClusterClient, g *nodeGroup) {
	err := l.run(ctx, g.node, g.batch, &g.w)
	var reply redis.Error
	if err != nil && !errors.Is(err, redis.Nil) && !errors.As(err, &reply) {
		l.downUntil.Store(g.node, time.Now().Add(nodeBackoff).UnixNano())
		cc.ReloadState(context.Background())
	}
}

// nodeDown reports whether node is in its backoff after a failure.
func (l *Lookup) nodeDown(node *redis.Client) bool {
	v, ok := l.downUntil.Load(node)
	return ok && time.Now().UnixNano() < v.(int64)
}

// run sends batch in one pipeline on rdb, using w's command buffers, completes
// its requests and returns the pipeline's first error.
func (l *Lookup) run(ctx context.Context, rdb redis.Cmdable, batch []*request, w *worker) error {
	pipe := rdb.Pipeline()
	for _, r := range batch {
		w.gets = append(w.gets, pipe.Get(ctx, r.pkey))
		w.fcs = append(w.fcs, pipe.HGetAll(ctx, r.fckey))
	}
	_, err := pipe.Exec(ctx) // errors are read per command below
	for i, r := range batch {
		g, f := w.gets[i], w.fcs[i]
		switch err := g.Err(); err {
		case nil:
			r.val, r.found = g.Val(), true
		case redis.Nil:
		default:
			r.err = err
		}
		if r.err == nil {
			if err := f.Err(); err != nil && err != redis.Nil {
				r.err = err
			} else {
				r.fc = f.Val()
			}
		}
		l.complete(r)
	}
	clear(w.gets)
	clear(w.fcs)
	w.gets, w.fcs = w.gets[:0], w.fcs[:0]
	return err
}
