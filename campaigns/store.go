package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// ErrNotFound is returned for a campaign id that is not stored.
var ErrNotFound = errors.New("campaign not found")

// ErrStale is returned when an update names a version that is no longer current.
var ErrStale = errors.New("campaign changed since that version")

// Store keeps campaigns in Redis: a hash of id → JSON (key Keys.Campaigns), a
// revision counter that moves on every change, and a pub/sub channel that
// announces changes to every instance.
type Store struct {
	rdb  redis.UniversalClient
	keys storage.Keys
}

// NewStore returns a Store on r.
func NewStore(r *storage.Redis) *Store {
	return &Store{rdb: r.Client, keys: r.Keys}
}

// putScript writes campaigns atomically: each ARGV triple is id, expected version
// (-1 = any), JSON without version. It refuses the whole batch when any expected
// version is stale, bumps each version and the revision, and returns the new
// versions. Versions live in their own hash so the JSON is stored untouched.
var putScript = redis.NewScript(`
local n = #ARGV / 3
for i = 0, n - 1 do
  local id, want = ARGV[i*3+1], tonumber(ARGV[i*3+2])
  local v = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  if want >= 0 and want ~= v then return redis.error_reply('STALE ' .. id .. ' is at version ' .. v) end
end
local out = {}
for i = 0, n - 1 do
  redis.call('HSET', KEYS[1], ARGV[i*3+1], ARGV[i*3+3])
  out[i+1] = redis.call('HINCRBY', KEYS[2], ARGV[i*3+1], 1)
end
redis.call('INCR', KEYS[3])
return out
`)

// Put stores cs atomically. expect gives, per campaign id, the version the caller
// last read (an update from an older version is refused with ErrStale); ids not in
// expect are written whatever their version. It returns the new versions.
func (s *Store) Put(ctx context.Context, cs []Campaign, expect map[string]int64) ([]int64, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 3*len(cs))
	for i := range cs {
		c := cs[i]
		c.Version = 0
		b, err := json.Marshal(&c)
		if err != nil {
			return nil, fmt.Errorf("encode campaign %q: %w", c.ID, err)
		}
		want, ok := expect[c.ID]
		if !ok {
			want = -1
		}
		args = append(args, c.ID, want, string(b))
	}
	keys := []string{s.keys.Campaigns(), s.keys.CampaignVersions(), s.keys.CampaignsRev()}
	res, err := putScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		if msg := err.Error(); len(msg) > 6 && msg[:6] == "STALE " {
			return nil, fmt.Errorf("%w: %s", ErrStale, msg[6:])
		}
		return nil, fmt.Errorf("store campaigns: %w", err)
	}
	s.announce(ctx)
	return res, nil
}

// Delete removes a campaign.
func (s *Store) Delete(ctx context.Context, id string) error {
	pipe := s.rdb.TxPipeline()
	del := pipe.HDel(ctx, s.keys.Campaigns(), id)
	pipe.HDel(ctx, s.keys.CampaignVersions(), id)
	pipe.Incr(ctx, s.keys.CampaignsRev())
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("delete campaign %q: %w", id, err)
	}
	if del.Val() == 0 {
		return ErrNotFound
	}
	s.announce(ctx)
	return nil
}

// announce tells every instance to resync; a lost message is covered by the
// periodic resync, so its error is not fatal.
func (s *Store) announce(ctx context.Context) {
	s.rdb.Publish(ctx, s.keys.CampaignsChannel(), "changed")
}

// Get returns one stored campaign.
func (s *Store) Get(ctx context.Context, id string) (Campaign, error) {
	var c Campaign
	pipe := s.rdb.Pipeline()
	body := pipe.HGet(ctx, s.keys.Campaigns(), id)
	ver := pipe.HGet(ctx, s.keys.CampaignVersions(), id)
	if _, err := pipe.Exec(ctx); errors.Is(err, redis.Nil) {
		return c, ErrNotFound
	} else if err != nil {
		return c, fmt.Errorf("get campaign %q: %w", id, err)
	}
	if err := json.Unmarshal([]byte(body.Val()), &c); err != nil {
		return c, fmt.Errorf("decode campaign %q: %w", id, err)
	}
	c.Version, _ = ver.Int64()
	return c, nil
}

// Revision returns the current campaign revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	n, err := s.rdb.Get(ctx, s.keys.CampaignsRev()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// List returns every stored campaign, sorted by id, and the revision it reflects.
func (s *Store) List(ctx context.Context) ([]Campaign, int64, error) {
	pipe := s.rdb.Pipeline()
	revCmd := pipe.Get(ctx, s.keys.CampaignsRev())
	allCmd := pipe.HGetAll(ctx, s.keys.Campaigns())
	verCmd := pipe.HGetAll(ctx, s.keys.CampaignVersions())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("load campaigns: %w", err)
	}
	rev, _ := revCmd.Int64()
	out := make([]Campaign, 0, len(allCmd.Val()))
	for id, raw := range allCmd.Val() {
		var c Campaign
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return nil, 0, fmt.Errorf("decode campaign %q: %w", id, err)
		}
		c.Version, _ = strconv.ParseInt(verCmd.Val()[id], 10, 64)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, rev, nil
}

// WatcherConfig tunes a Watcher. Zero values mean defaults.
type WatcherConfig struct {
	// Resync is the period of the full reload that covers lost change messages;
	// default 5s.
	Resync time.Duration
}

// Watcher keeps a compiled Index of the stored campaigns current: it reloads on
// every change message and at least every Resync period, and publishes the new
// Index atomically.
type Watcher struct {
	store *Store
	rdb   redis.UniversalClient
	keys  storage.Keys
	cfg   WatcherConfig
	log   *zap.Logger
	now   func() time.Time
	index atomic.Pointer[Index]
	rev   atomic.Int64
	lost  atomic.Bool // the store came back empty

	wg     sync.WaitGroup
	cancel context.CancelFunc
	// OnChange, if set before Start, is called after each new Index is published.
	OnChange func(*Index)
}

// NewWatcher returns a Watcher over store; call Start to load and watch.
func NewWatcher(r *storage.Redis, store *Store, cfg WatcherConfig, log *zap.Logger) *Watcher {
	if cfg.Resync <= 0 {
		cfg.Resync = 5 * time.Second
	}
	w := &Watcher{store: store, rdb: r.Client, keys: r.Keys, cfg: cfg, log: log, now: time.Now}
	w.index.Store(Compile(nil, w.now()))
	w.rev.Store(-1)
	return w
}

// Index returns the current compiled campaigns; never nil.
func (w *Watcher) Index() *Index { return w.index.Load() }

// Start loads the campaigns once (an error here is returned) and then watches
// for changes in the background until Stop.
func (w *Watcher) Start(ctx context.Context) error {
	if err := w.Reload(ctx); err != nil {
		return err
	}
	// On a Redis Cluster the subscription lives on the node of the channel's
	// slot; the client resubscribes by itself when that node fails over, and
	// the periodic resync covers what is announced meanwhile.
	sub := w.rdb.Subscribe(ctx, w.keys.CampaignsChannel())
	// Wait for the confirmation, so that changes made after Start are announced
	// to this instance.
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return fmt.Errorf("subscribe %s: %w", w.keys.CampaignsChannel(), err)
	}
	ctx, w.cancel = context.WithCancel(context.Background())
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer sub.Close()
		t := time.NewTicker(w.cfg.Resync)
		defer t.Stop()
		msgs := sub.Channel()
		for {
			force := false
			select {
			case <-ctx.Done():
				return
			case <-msgs:
				force = true
			case <-t.C:
			}
			if err := w.reload(ctx, force); err != nil && ctx.Err() == nil {
				w.log.Warn("campaign resync failed; keeping the last good set", zap.Error(err))
			}
		}
	}()
	return nil
}

// Reload loads and compiles the stored campaigns now.
func (w *Watcher) Reload(ctx context.Context) error { return w.reload(ctx, true) }

func (w *Watcher) reload(ctx context.Context, force bool) error {
	if !force {
		rev, err := w.store.Revision(ctx)
		if err != nil {
			return err
		}
		if rev == w.rev.Load() {
			return nil
		}
	}
	cs, rev, err := w.store.List(ctx)
	if err != nil {
		return err
	}
	if len(cs) == 0 && rev == 0 && w.rev.Load() > 0 {
		// The revision went back to nothing: Redis lost its data (restarted
		// empty, or flushed), not a deliberate delete, which moves it on.
		// Dropping every campaign would hide the loss; keeping them lets the
		// budget ledger stop their spending and say why (ledger_lost) until
		// an operator applies the campaigns again and restores the ledger.
		if !w.lost.Swap(true) {
			w.log.Error("campaign store is empty at revision 0: Redis lost its data; keeping the last loaded campaigns until they are applied again",
				zap.Int64("last_revision", w.rev.Load()), zap.Int("kept", w.index.Load().Len()))
		}
		return nil
	}
	w.lost.Store(false)
	ix := Compile(cs, w.now())
	w.index.Store(ix)
	w.rev.Store(rev)
	w.log.Info("campaigns loaded", zap.Int("active", ix.Len()), zap.Int("stored", len(cs)), zap.Int64("revision", rev))
	if w.OnChange != nil {
		w.OnChange(ix)
	}
	return nil
}

// Stop ends the background watch and waits for it.
func (w *Watcher) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
}

// maxAudit bounds the audit list kept in Redis.
const maxAudit = 10_000

// Change is the outcome of applying one campaign.
type Change struct {
	ID      string   `json:"id"`
	Action  string   `json:"action"` // created, updated, unchanged
	Version int64    `json:"version"`
	Changes []string `json:"changes,omitempty"`
}

// Apply validates and stores cs as one atomic change and records an audit
// entry per changed campaign under the token's name. expect maps ids to the
// versions the caller last read (ErrStale when one moved); with dryRun nothing
// is stored and the changes that would be made are returned.
func (s *Store) Apply(ctx context.Context, cs []Campaign, expect map[string]int64, token string, dryRun bool) ([]Change, error) {
	var problems []Problem
	for i := range cs {
		problems = append(problems, cs[i].Validate()...)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	changes := make([]Change, len(cs))
	want := map[string]int64{}
	var toWrite []Campaign
	for i := range cs {
		c := cs[i]
		old, err := s.Get(ctx, c.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			changes[i] = Change{ID: c.ID, Action: "created", Changes: Diff(nil, &c)}
			want[c.ID] = 0
		case err != nil:
			return nil, err
		default:
			d := Diff(&old, &c)
			changes[i] = Change{ID: c.ID, Action: "updated", Version: old.Version, Changes: d}
			if len(d) == 0 {
				changes[i].Action = "unchanged"
			}
			want[c.ID] = old.Version
		}
		if v, ok := expect[c.ID]; ok && v != want[c.ID] {
			return nil, fmt.Errorf("%w: %s is at version %d, not %d", ErrStale, c.ID, want[c.ID], v)
		}
		if changes[i].Action != "unchanged" {
			toWrite = append(toWrite, c)
		}
	}
	if dryRun || len(toWrite) == 0 {
		return changes, nil
	}
	versions, err := s.Put(ctx, toWrite, want)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	pipe := s.rdb.Pipeline()
	j := 0
	for i := range changes {
		if changes[i].Action == "unchanged" {
			continue
		}
		changes[i].Version = versions[j]
		j++
		s.pushAudit(ctx, pipe, AuditEntry{Time: now, Token: token, Action: changes[i].Action,
			Campaign: changes[i].ID, Version: changes[i].Version, Changes: changes[i].Changes})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return changes, fmt.Errorf("campaigns stored, but the audit trail failed: %w", err)
	}
	return changes, nil
}

func (s *Store) pushAudit(ctx context.Context, pipe redis.Pipeliner, e AuditEntry) {
	b, _ := json.Marshal(e)
	pipe.LPush(ctx, s.keys.CampaignsAudit(), b)
	pipe.LTrim(ctx, s.keys.CampaignsAudit(), 0, maxAudit-1)
}

// Remove deletes a campaign and records it in the audit trail.
func (s *Store) Remove(ctx context.Context, id, token string) error {
	old, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Delete(ctx, id); err != nil {
		return err
	}
	pipe := s.rdb.Pipeline()
	s.pushAudit(ctx, pipe, AuditEntry{Time: time.Now().UTC(), Token: token, Action: "deleted",
		Campaign: id, Version: old.Version})
	_, err = pipe.Exec(ctx)
	return err
}

// Audit returns up to limit audit entries, newest first, for one campaign or
// (campaign "") for all.
func (s *Store) Audit(ctx context.Context, campaign string, limit int) ([]AuditEntry, error) {
	raw, err := s.rdb.LRange(ctx, s.keys.CampaignsAudit(), 0, maxAudit-1).Result()
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	out := []AuditEntry{}
	for _, r := range raw {
		var e AuditEntry
		if json.Unmarshal([]byte(r), &e) != nil || (campaign != "" && e.Campaign != campaign) {
			continue
		}
		out = append(out, e)
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}
