package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
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
// version is stale, bumps the revision and returns the new versions.
var putScript = redis.NewScript(`
local n = #ARGV / 3
local cur = {}
for i = 0, n - 1 do
  local id, want = ARGV[i*3+1], tonumber(ARGV[i*3+2])
  local old = redis.call('HGET', KEYS[1], id)
  local v = 0
  if old then v = tonumber(cjson.decode(old)['version'] or 0) end
  if want >= 0 and want ~= v then return redis.error_reply('STALE ' .. id .. ' ' .. v) end
  cur[i] = v
end
local out = {}
for i = 0, n - 1 do
  local c = cjson.decode(ARGV[i*3+3])
  c['version'] = cur[i] + 1
  redis.call('HSET', KEYS[1], ARGV[i*3+1], cjson.encode(c))
  out[i+1] = cur[i] + 1
end
redis.call('INCR', KEYS[2])
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
	res, err := putScript.Run(ctx, s.rdb, []string{s.keys.Campaigns(), s.keys.CampaignsRev()}, args...).Int64Slice()
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
	n, err := s.rdb.HDel(ctx, s.keys.Campaigns(), id).Result()
	if err != nil {
		return fmt.Errorf("delete campaign %q: %w", id, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	s.rdb.Incr(ctx, s.keys.CampaignsRev())
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
	b, err := s.rdb.HGet(ctx, s.keys.Campaigns(), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("get campaign %q: %w", id, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("decode campaign %q: %w", id, err)
	}
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
	store  *Store
	rdb    redis.UniversalClient
	keys   storage.Keys
	cfg    WatcherConfig
	log    *zap.Logger
	now    func() time.Time
	index  atomic.Pointer[Index]
	rev    atomic.Int64
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
	ctx, w.cancel = context.WithCancel(context.Background())
	sub := w.rdb.Subscribe(ctx, w.keys.CampaignsChannel())
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
