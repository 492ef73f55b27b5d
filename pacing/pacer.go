package pacing

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// CampaignSource supplies the current compiled campaign snapshot;
// campaigns.Watcher implements it.
type CampaignSource interface {
	Index() *campaigns.Index
}

// Reason says why Reserve refused; ReasonNone means it reserved.
type Reason uint8

// The reasons Reserve can refuse.
const (
	// ReasonNone: reserved.
	ReasonNone Reason = iota
	// ReasonBudget: the local lease is too small for the price; a refill has
	// been asked for (the budget may also be spent for today).
	ReasonBudget
	// ReasonNoLease: this instance holds no lease confirmed by a recent
	// heartbeat (first bid of a campaign, or Redis unreachable); one has been
	// asked for.
	ReasonNoLease
	// ReasonLedgerLost: the campaign's ledger vanished from Redis; an operator
	// must restore it (see ErrLedgerLost).
	ReasonLedgerLost
	// ReasonPrice: the price is below one micro per impression.
	ReasonPrice
	// ReasonStopped: the Pacer is stopping.
	ReasonStopped
)

var reasonNames = [...]string{"", "budget", "no_lease", "ledger_lost", "price", "stopped"}

// String names the reason for logs and metrics.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Deps are the Pacer's collaborators.
type Deps struct {
	// Redis holds the ledger; Keys gives its key prefix.
	Redis redis.UniversalClient
	Keys  storage.Keys
	// Campaigns supplies the active campaigns.
	Campaigns CampaignSource
	// Clock tells the time; nil means SystemClock.
	Clock Clock
	// Log receives ledger errors and warnings; nil means no logging.
	Log *zap.Logger
	// Registerer receives the pacing metrics; nil means none.
	Registerer prometheus.Registerer
}

// Pacer spends campaign budgets from local leases on the bid path and keeps
// those leases, the expiry of reservations and each campaign's participation
// rate up to date in the background. One Pacer runs per bidder instance; the
// instances share budgets through the Ledger.
type Pacer struct {
	cfg      Config
	ledger   *Ledger
	camps    CampaignSource
	clock    Clock
	log      *zap.Logger
	instance string
	curve    *trafficCurve

	mu     sync.Mutex // serialises additions to states
	states atomic.Pointer[map[string]*campState]

	kick    chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	started atomic.Bool
	stopped atomic.Bool

	tickMu   sync.Mutex // serialises Tick
	lastWarn atomic.Int64
}

// campState is one campaign's pacing state in this instance.
type campState struct {
	id            string
	comp          atomic.Pointer[campaigns.Compiled]
	lease         atomic.Pointer[dayLease]
	threshold     atomic.Uint64 // participation × 2^64; MaxUint64 = always
	lost          atomic.Bool
	refill        atomic.Bool
	reservedSince atomic.Int64 // micros reserved since the last rate sample
	outstanding   atomic.Int64 // micros reserved and not yet released here
	lastDemand    atomic.Int64 // Unix ms of the last reservation or refill request
	fig           atomic.Pointer[Figures]
	plan          atomic.Int64 // planned spend so far today, micros

	mu       sync.Mutex // guards q, head, seq, lastEnd, sweeping
	q        []entry
	head     int
	seq      uint64
	lastEnd  int64
	sweeping uint64 // entries up to this seq belong to the sweep

	rollMu  sync.Mutex // guards holder, gen, retired, lease swaps
	holder  string
	gen     int
	retired []*dayLease

	slowMu     sync.Mutex // guards expectInit (maintain and Tick)
	expectInit string

	// Used only by the maintain goroutine.
	rate        float64 // reserved micros per clock second
	lastSample  int64
	lastBeat    int64
	lastGrant   int64 // size and time of the last lease granted
	lastGrantAt int64
	scratch     []entry

	// Used only by Tick.
	ctl ctlState
}

// dayLease is this instance's lease of one campaign for one day.
type dayLease struct {
	holder, day    string
	startMs, endMs int64
	balance        atomic.Int64 // unreserved micros
	validUntil     atomic.Int64 // Unix ms until which the ledger keeps the lease
	lowWater       atomic.Int64
	granted        atomic.Bool // the ledger holds a lease field for it
	retired        atomic.Bool
}

// entry is one reservation awaiting its window's end.
type entry struct {
	seq    uint64
	amount int64
	end    int64 // window end, Unix ms
	lease  *dayLease
}

// Reservation is one bid's claim on its campaign's budget, returned by
// Reserve. Fill copies it into the bid's Notice; Cancel returns it when the
// bid is not sent after all.
type Reservation struct {
	st    *campState
	lease *dayLease
	// Seq numbers the reservation within its campaign and holder.
	Seq uint64
	// Amount is the per-impression cost reserved, campaign currency micros.
	Amount money.Micros
	// CPM is the bid price the reservation was made for, campaign currency.
	CPM money.Micros
	// WindowEnd is when the reservation is released without a notice (Unix ms).
	WindowEnd int64
	// Expiry is when its notice URLs stop being accepted (Unix seconds).
	Expiry int64
}

// Fill sets the fields of n that identify the reservation: Holder, Seq,
// CampaignID, Day, Reserved, WindowEnd and Expiry. The caller sets the rest
// (creative, imp, price and currency of the bid response, phase, exchange,
// user key).
func (r *Reservation) Fill(n *Notice) {
	n.Holder, n.Seq = r.lease.holder, r.Seq
	n.CampaignID = r.st.id
	n.Day = r.lease.day
	n.Reserved = r.Amount
	n.WindowEnd = (r.WindowEnd + 999) / 1000
	n.Expiry = r.Expiry
}

// AppendBidID appends the bid's identity "<holder>.<seq in hex>", unique per
// campaign, to dst; it makes a good OpenRTB bid.id.
func (r *Reservation) AppendBidID(dst []byte) []byte {
	return appendBidID(dst, r.lease.holder, r.Seq)
}

// New returns a Pacer; Start begins its background work.
func New(cfg Config, deps Deps) (*Pacer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Redis == nil || deps.Campaigns == nil {
		return nil, errors.New("pacing: Redis and Campaigns are required")
	}
	cfg = cfg.withDefaults()
	if cfg.Instance == "" {
		cfg.Instance = randomInstance()
	}
	p := &Pacer{cfg: cfg, ledger: NewLedger(deps.Redis, deps.Keys), camps: deps.Campaigns,
		clock: deps.Clock, log: deps.Log, instance: cfg.Instance, curve: newTrafficCurve(),
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	if p.clock == nil {
		p.clock = SystemClock{}
	}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	m := map[string]*campState{}
	p.states.Store(&m)
	if deps.Registerer != nil {
		if err := deps.Registerer.Register(newCollector(p)); err != nil {
			return nil, fmt.Errorf("register pacing metrics: %w", err)
		}
	}
	return p, nil
}

func randomInstance() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [10]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// Instance returns this instance's name in the ledger.
func (p *Pacer) Instance() string { return p.instance }

// Ledger returns the ledger the Pacer leases from, for the notice handlers.
func (p *Pacer) Ledger() *Ledger { return p.ledger }

// Config returns the effective configuration, defaults filled in.
func (p *Pacer) Config() Config { return p.cfg }

// Start launches the background loops: lease refill, heartbeat and expiry
// (every SweepInterval, or at once when Reserve asks for a refill), the
// participation controller (every TickInterval) and the check for restored
// ledgers (every SweepInterval).
func (p *Pacer) Start(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("pacing: already started")
	}
	// Lease for every active campaign before the first bid asks, so that a
	// fresh instance bids from its first request.
	now := p.clock.Now()
	p.Warm(now)
	p.maintain(ctx, now)
	p.wg.Add(3)
	go p.loop(realInterval(p.clock, p.cfg.SweepInterval), p.kick, p.maintain)
	go p.loop(realInterval(p.clock, p.cfg.TickInterval), nil, p.Tick)
	go p.loop(realInterval(p.clock, p.cfg.SweepInterval), nil, p.checkRestored)
	return nil
}

func (p *Pacer) loop(every time.Duration, kick <-chan struct{}, f func(context.Context, time.Time)) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		case <-kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		f(ctx, p.clock.Now())
		cancel()
	}
}

// Stop ends the background loops and returns every lease's unreserved
// balance to the ledger. Outstanding reservations stay on their leases: their
// notices may still come, and the leases are reclaimed after LeaseTTL + Grace.
func (p *Pacer) Stop(ctx context.Context) error {
	if !p.stopped.CompareAndSwap(false, true) {
		return nil
	}
	if p.started.Load() {
		close(p.done)
		p.wg.Wait()
	}
	now := p.clock.Now()
	var errs []error
	for _, st := range *p.states.Load() {
		p.sweep(ctx, st, now.UnixMilli())
		st.rollMu.Lock()
		ls := append([]*dayLease{st.lease.Load()}, st.retired...)
		st.rollMu.Unlock()
		for _, dl := range ls {
			if err := p.giveBack(ctx, st, dl); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// giveBack returns a lease's unreserved balance to the ledger.
func (p *Pacer) giveBack(ctx context.Context, st *campState, dl *dayLease) error {
	if dl == nil {
		return nil
	}
	amt := dl.balance.Swap(0)
	if amt <= 0 || !dl.granted.Load() {
		return nil
	}
	if _, err := p.ledger.unlease(ctx, st.id, dl.holder, dl.day, money.Micros(amt)); err != nil {
		dl.balance.Add(amt)
		return err
	}
	return nil
}

func (p *Pacer) lookup(id string) *campState {
	return (*p.states.Load())[id]
}

func (p *Pacer) stateFor(c *campaigns.Compiled) *campState {
	st := p.lookup(c.ID)
	if st == nil {
		st = p.addState(c)
	}
	if st.comp.Load() != c {
		st.comp.Store(c)
	}
	return st
}

func (p *Pacer) addState(c *campaigns.Compiled) *campState {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.states.Load()
	if st := old[c.ID]; st != nil {
		return st
	}
	st := &campState{id: c.ID, holder: p.instance}
	st.comp.Store(c)
	st.threshold.Store(threshold(p.initialParticipation(c)))
	m := make(map[string]*campState, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[c.ID] = st
	p.states.Store(&m)
	return st
}

func (p *Pacer) initialParticipation(c *campaigns.Compiled) float64 {
	if c.Pacing == "asap" {
		return 1
	}
	return p.cfg.InitialParticipation
}

func threshold(rate float64) uint64 {
	if rate >= 1 {
		return math.MaxUint64
	}
	return uint64(rate * (1 << 64))
}

// Allow reports whether campaign c takes part in this auction at its current
// participation rate; rnd is a uniformly random number from the caller's
// seeded source. It neither locks nor allocates.
func (p *Pacer) Allow(c *campaigns.Compiled, rnd uint64) bool {
	st := p.lookup(c.ID)
	if st == nil {
		return c.Pacing == "asap" || rnd < threshold(p.cfg.InitialParticipation)
	}
	if st.lost.Load() {
		return false
	}
	t := st.threshold.Load()
	return t == math.MaxUint64 || rnd < t
}

// ObserveRequest counts one bid request at now towards the traffic curve that
// even and ahead pacing follow. It neither locks nor allocates.
func (p *Pacer) ObserveRequest(now time.Time) { p.curve.observe(now) }

func (p *Pacer) wantRefill(st *campState, nowMs int64) {
	if st.lastDemand.Load() != nowMs {
		st.lastDemand.Store(nowMs)
	}
	if st.refill.CompareAndSwap(false, true) {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// Reserve takes the cost of one impression at cpm (campaign currency, CPM)
// from campaign c's local lease for a bid made at now. It neither allocates
// nor touches Redis; it holds a per-campaign mutex for a few instructions to
// queue the reservation for expiry. When the lease runs low it asks the
// background loop for more.
func (p *Pacer) Reserve(c *campaigns.Compiled, cpm money.Micros, now time.Time) (Reservation, Reason) {
	amt := int64(money.CPMToImpression(cpm))
	if amt <= 0 {
		return Reservation{}, ReasonPrice
	}
	if p.stopped.Load() {
		return Reservation{}, ReasonStopped
	}
	st := p.stateFor(c)
	if st.lost.Load() {
		return Reservation{}, ReasonLedgerLost
	}
	nowMs := now.UnixMilli()
	dl := st.lease.Load()
	if dl == nil || nowMs >= dl.endMs {
		dl = p.roll(st, c, now)
	}
	if nowMs >= dl.validUntil.Load() {
		p.wantRefill(st, nowMs)
		return Reservation{}, ReasonNoLease
	}
	for {
		b := dl.balance.Load()
		if b < amt {
			p.wantRefill(st, nowMs)
			return Reservation{}, ReasonBudget
		}
		if dl.balance.CompareAndSwap(b, b-amt) {
			if b-amt < dl.lowWater.Load() {
				p.wantRefill(st, nowMs)
			}
			break
		}
	}
	st.reservedSince.Add(amt)
	st.outstanding.Add(amt)
	if st.lastDemand.Load() != nowMs {
		st.lastDemand.Store(nowMs)
	}
	st.mu.Lock()
	st.seq++
	seq := st.seq
	end := max(nowMs+p.cfg.ReserveWindow.Milliseconds(), st.lastEnd)
	st.lastEnd = end
	st.q = append(st.q, entry{seq: seq, amount: amt, end: end, lease: dl})
	st.mu.Unlock()
	return Reservation{st: st, lease: dl, Seq: seq, Amount: money.Micros(amt), CPM: cpm, WindowEnd: end,
		Expiry: now.Add(p.cfg.NoticeTTL).Unix()}, ReasonNone
}

// Cancel returns a reservation whose bid was not sent (deadline passed,
// encoding failed) to the local lease at once. It reports whether it did; a
// reservation already expiring is left to the sweep.
func (p *Pacer) Cancel(r *Reservation) bool {
	st := r.st
	if st == nil {
		return false
	}
	st.mu.Lock()
	if st.head >= len(st.q) || r.Seq <= st.sweeping {
		st.mu.Unlock()
		return false
	}
	first := st.q[st.head].seq
	if r.Seq < first || r.Seq-first >= uint64(len(st.q)-st.head) {
		st.mu.Unlock()
		return false
	}
	e := &st.q[st.head+int(r.Seq-first)]
	amt := e.amount
	e.amount = 0
	st.mu.Unlock()
	if amt == 0 {
		return false
	}
	r.lease.balance.Add(amt)
	st.outstanding.Add(-amt)
	return true
}

// Warm marks every active campaign as wanted, so that the background loop
// leases budget for campaigns that have not bid yet (at start, and when
// campaigns change) instead of letting their first bid request go without.
func (p *Pacer) Warm(now time.Time) {
	idx := p.camps.Index()
	if idx == nil {
		return
	}
	nowMs := now.UnixMilli()
	for _, c := range idx.Campaigns() {
		if !c.InFlight(now) {
			continue
		}
		st := p.stateFor(c)
		if dl := st.lease.Load(); dl == nil || nowMs >= dl.endMs {
			p.roll(st, c, now)
		}
		p.wantRefill(st, nowMs)
	}
}

// roll starts a new day's lease for st; yesterday's is retired and its
// unreserved balance returned by the background loop.
func (p *Pacer) roll(st *campState, c *campaigns.Compiled, now time.Time) *dayLease {
	st.rollMu.Lock()
	defer st.rollMu.Unlock()
	nowMs := now.UnixMilli()
	dl := st.lease.Load()
	if dl != nil && nowMs < dl.endMs {
		return dl
	}
	day, start, end := dayOf(now, c.Loc)
	nl := &dayLease{holder: st.holder, day: day, startMs: start, endMs: end}
	st.lease.Store(nl)
	if dl != nil {
		dl.retired.Store(true)
		st.retired = append(st.retired, dl)
	}
	p.wantRefill(st, nowMs)
	return nl
}

// maintain refills, heartbeats and returns leases and releases expired
// reservations for every campaign; the background loop runs it every
// SweepInterval and on demand, tests call it with a chosen now.
func (p *Pacer) maintain(ctx context.Context, now time.Time) {
	idx := p.camps.Index()
	states := *p.states.Load()
	var gone []string
	for id, st := range states {
		var c *campaigns.Compiled
		if idx != nil {
			c, _ = idx.Get(id)
		}
		if c != nil && st.comp.Load() != c {
			st.comp.Store(c)
		}
		if p.maintainOne(ctx, st, c, now) {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		p.mu.Lock()
		old := *p.states.Load()
		m := make(map[string]*campState, len(old))
		for k, v := range old {
			m[k] = v
		}
		for _, id := range gone {
			delete(m, id)
		}
		p.states.Store(&m)
		p.mu.Unlock()
	}
}

// maintainOne does the background work for one campaign; c is nil when the
// campaign is no longer active. It reports whether the state can be dropped.
func (p *Pacer) maintainOne(ctx context.Context, st *campState, c *campaigns.Compiled, now time.Time) bool {
	nowMs := now.UnixMilli()
	cfg := &p.cfg

	st.rollMu.Lock()
	retired := st.retired[:len(st.retired):len(st.retired)]
	keep := st.retired[:0:0]
	for _, r := range st.retired {
		if r.endMs+(cfg.ReserveWindow+cfg.Grace).Milliseconds() > nowMs {
			keep = append(keep, r)
		}
	}
	st.retired = keep
	st.rollMu.Unlock()
	for _, r := range retired {
		if err := p.giveBack(ctx, st, r); err != nil {
			p.warn("return retired lease", st.id, err)
		}
	}

	p.sweep(ctx, st, nowMs)

	dl := st.lease.Load()
	if c == nil || st.lost.Load() {
		if c == nil && dl != nil {
			if err := p.giveBack(ctx, st, dl); err != nil {
				p.warn("return lease of inactive campaign", st.id, err)
			}
		}
		if c == nil {
			st.mu.Lock()
			empty := st.head >= len(st.q)
			st.mu.Unlock()
			return empty && len(keep) == 0 && (dl == nil || dl.balance.Load() == 0)
		}
		return false
	}
	if dl == nil {
		return false
	}

	// Lease size follows the observed reservation rate.
	if dt := nowMs - st.lastSample; st.lastSample == 0 || dt >= 250 {
		if st.lastSample != 0 {
			sample := float64(st.reservedSince.Swap(0)) * 1000 / float64(dt)
			if st.rate == 0 {
				st.rate = sample
			} else {
				st.rate = 0.7*st.rate + 0.3*sample
			}
		} else {
			st.reservedSince.Store(0)
		}
		st.lastSample = nowMs
	}
	oneImp := max(int64(money.CPMToImpression(c.Bid.MaxCPM)), 1)
	minLease := int64(cfg.MinLease)
	if minLease == 0 {
		minLease = 10 * oneImp
	}
	target := max(int64(st.rate*cfg.RefillHorizon.Seconds()), minLease)
	if nowMs-st.lastGrantAt < cfg.RefillHorizon.Milliseconds()/2 {
		// The last lease went in less than half the horizon: the rate is
		// climbing faster than it is sampled, so double.
		target = max(target, 2*st.lastGrant)
	}
	remaining := int64(c.Budget.Daily)
	if f := st.fig.Load(); f != nil && f.Day == dl.day {
		remaining -= int64(f.SpentToday + f.LeasedToday)
	}
	target = min(target, max(remaining/int64(2*cfg.ExpectedInstances), oneImp))
	low := max(target/2, oneImp)
	dl.lowWater.Store(low)

	bal := dl.balance.Load()
	idle := nowMs-st.lastDemand.Load() > cfg.IdleReturn.Milliseconds()
	if idle && bal > 0 {
		if err := p.giveBack(ctx, st, dl); err != nil {
			p.warn("return idle lease", st.id, err)
		}
		bal = dl.balance.Load()
	}
	if idle && bal == 0 && st.outstanding.Load() == 0 && len(keep) == 0 {
		// Nothing left to keep alive: stop heartbeating the empty lease; the
		// next demand leases afresh.
		dl.granted.Store(false)
	}
	var want int64
	refill := st.refill.Swap(false)
	if bal < low && !idle && c.InFlight(now) && nowMs < dl.endMs {
		want = target - bal
	}
	beat := nowMs-st.lastBeat >= cfg.Heartbeat.Milliseconds() &&
		(dl.granted.Load() || st.outstanding.Load() > 0 || len(keep) > 0)
	if want <= 0 && !beat && !(refill && nowMs >= dl.validUntil.Load()) {
		return false
	}

	st.slowMu.Lock()
	expect := st.expectInit
	st.slowMu.Unlock()
	a := leaseArgs{campaign: st.id, holder: dl.holder, day: dl.day, want: money.Micros(want),
		daily: c.Budget.Daily, total: c.Budget.Total, now: now, ttl: cfg.LeaseTTL, grace: cfg.Grace,
		expectInit: expect, had: dl.granted.Load()}
	res, err := p.ledger.lease(ctx, &a)
	switch {
	case errors.Is(err, ErrLedgerLost):
		p.noticeInit(st.id, st, expect, res.fig.Init)
	case errors.Is(err, errReclaimed):
		p.rotate(st, dl)
		p.log.Warn("pacing: lease reclaimed after missed heartbeats; continuing under a new holder",
			zap.String("campaign", st.id), zap.String("holder", dl.holder))
	case err != nil:
		p.warn("lease", st.id, err)
	default:
		if res.grant > 0 {
			dl.granted.Store(true)
			dl.balance.Add(int64(res.grant))
			st.lastGrant, st.lastGrantAt = int64(res.grant), nowMs
		}
		dl.validUntil.Store(nowMs + cfg.LeaseTTL.Milliseconds())
		st.lastBeat = nowMs
		st.slowMu.Lock()
		st.expectInit = res.fig.Init
		st.slowMu.Unlock()
		if old := st.fig.Load(); old != nil && old.Day == res.fig.Day {
			res.fig.LateToday, res.fig.LateTotal = old.LateToday, old.LateTotal
		}
		if !st.lost.Load() { // a lost ledger keeps its last view (see Restore)
			st.fig.Store(&res.fig)
		}
	}
	return false
}

// rotate replaces a reclaimed lease by an empty one under a new holder name,
// so that notices of bids made from the reclaimed lease (which went back to
// the budget with it) cannot take anything off the new one.
func (p *Pacer) rotate(st *campState, dl *dayLease) {
	st.rollMu.Lock()
	defer st.rollMu.Unlock()
	if st.lease.Load() != dl {
		return
	}
	st.gen++
	st.holder = fmt.Sprintf("%s-%d", p.instance, st.gen)
	nl := &dayLease{holder: st.holder, day: dl.day, startMs: dl.startMs, endMs: dl.endMs}
	dl.balance.Store(0)
	dl.granted.Store(false)
	dl.retired.Store(true)
	st.lease.Store(nl)
	st.refill.Store(true)
}

// releaseChunk bounds the bids released by one script call.
const releaseChunk = 512

// sweep releases the reservations whose window (plus SweepLag) has ended.
func (p *Pacer) sweep(ctx context.Context, st *campState, nowMs int64) {
	lag := p.cfg.SweepLag.Milliseconds()
	st.mu.Lock()
	n := 0
	for st.head+n < len(st.q) && n < 8*releaseChunk && st.q[st.head+n].end+lag <= nowMs {
		n++
	}
	if n == 0 {
		st.mu.Unlock()
		return
	}
	st.scratch = append(st.scratch[:0], st.q[st.head:st.head+n]...)
	st.sweeping = st.scratch[n-1].seq
	st.mu.Unlock()

	tooOld := nowMs - p.cfg.Grace.Milliseconds()
	done := 0
	b := releaseBatch{campaign: st.id}
	for done < n {
		// A run shares one lease (holder and day) and fits one script call.
		run := 1
		for done+run < n && run < releaseChunk && st.scratch[done+run].lease == st.scratch[done].lease {
			run++
		}
		dl := st.scratch[done].lease
		b.holder, b.day, b.seqs, b.amounts, b.maxSeq = dl.holder, dl.day, b.seqs[:0], b.amounts[:0], 0
		for _, e := range st.scratch[done : done+run] {
			// Entries far past their window are dropped without a release: their
			// loss markers may be gone, and a double release could overspend.
			// What stays on the lease goes back when the lease does.
			if e.amount > 0 && e.end > tooOld {
				b.seqs = append(b.seqs, e.seq)
				b.amounts = append(b.amounts, money.Micros(e.amount))
				b.maxSeq = e.seq
			}
		}
		if len(b.seqs) > 0 && dl.granted.Load() {
			if _, err := p.ledger.release(ctx, &b); err != nil {
				p.warn("release expired reservations", st.id, err)
				break
			}
		}
		done += run
	}

	st.mu.Lock()
	var sum int64
	for _, e := range st.q[st.head : st.head+done] {
		sum += e.amount
	}
	st.head += done
	if st.head >= len(st.q) {
		clear(st.q)
		st.q, st.head = st.q[:0], 0
	} else if st.head > 64 && 2*st.head >= len(st.q) {
		k := copy(st.q, st.q[st.head:])
		clear(st.q[k:])
		st.q, st.head = st.q[:k], 0
	}
	st.mu.Unlock()
	clear(st.scratch)
	st.outstanding.Add(-sum)
}

// ClearLost lets a campaign whose ledger was lost bid again, adopting the
// ledger as it now stands in Redis (restore it first with Ledger.Restore).
func (p *Pacer) ClearLost(campaignID string) bool {
	st := p.lookup(campaignID)
	if st == nil || !st.lost.Load() {
		return false
	}
	p.resume(st)
	return true
}

// resume lets st bid on the ledger as it now stands in Redis: it forgets the
// incarnation it leased from and retires its lease (a restore counted the
// lease as spent), so the next lease adopts the ledger afresh. It reports
// whether the campaign was lost.
func (p *Pacer) resume(st *campState) bool {
	st.slowMu.Lock()
	st.expectInit = ""
	st.slowMu.Unlock()
	if dl := st.lease.Load(); dl != nil {
		p.rotate(st, dl)
	}
	return st.lost.Swap(false)
}

// warn logs a background error at most once a real second.
func (p *Pacer) warn(what, campaign string, err error) {
	now := time.Now().Unix()
	if last := p.lastWarn.Load(); last != now && p.lastWarn.CompareAndSwap(last, now) {
		p.log.Warn("pacing: "+what, zap.String("campaign", campaign), zap.Error(err))
	}
}
