package segments

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Store reads and writes profiles, frequency counters and events in Redis (see
// the package documentation for the schema). Every change it makes to a
// profile is announced on the invalidation channel, so each instance's Lookup
// drops its cached copy.
type Store struct {
	rdb     redis.UniversalClient
	keys    storage.Keys
	channel string
	cfg     Config
	log     *zap.Logger
	now     func() time.Time
	hook    Hook
}

// Hook is told about the purchases that events record, and names the keys of
// what it keeps about a user so that they go with the profile. The holdout's
// conversions and the creative bandit's purchase credit come in this way.
type Hook interface {
	// Purchase attributes a user's purchase at time at. It is called after
	// the event is recorded, again when the event is replayed: it must be
	// idempotent.
	Purchase(ctx context.Context, user string, at time.Time) error
	// UserKeys appends to dst the keys of the hook's data about user. They
	// must carry the user's hash tag (storage.Keys.User), so that one DEL
	// removes them with the profile on a Redis Cluster.
	UserKeys(dst []string, user string) []string
}

// SetHook sets the hook called on purchases and deletions. Call it before
// the Store is used.
func (s *Store) SetHook(h Hook) { s.hook = h }

// NewStore returns a Store on r. cfg should have passed Validate; invalid values
// fall back to defaults.
func NewStore(r *storage.Redis, cfg Config, log *zap.Logger) *Store {
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{rdb: r.Client, keys: r.Keys, channel: invalidateChannel(r.Keys), cfg: cfg.withDefaults(), log: log, now: time.Now}
}

// StoredProfile is a profile as the admin API shows it: the profile with decay
// applied now, and when it expires.
type StoredProfile struct {
	Profile
	// Expires is when Redis drops the profile; zero if it has no TTL.
	Expires time.Time `json:"expires,omitzero"`
}

// Put stores p, replacing any profile of p.User. p.Phase becomes a signal at
// p.Since (or now), from which the phase decays. ttl 0 means Config.DefaultTTL.
func (s *Store) Put(ctx context.Context, p Profile, ttl time.Duration) error {
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	if ttl < time.Second || ttl > maxTTL {
		return fieldErr("ttl", "want 1s to %s, got %s", maxTTL, ttl)
	}
	var r record
	if err := fromProfile(&r, &p, s.now()); err != nil {
		return err
	}
	return s.put(ctx, p.User, appendRecord(nil, &r), ttl)
}

func (s *Store) put(ctx context.Context, user string, val []byte, ttl time.Duration) error {
	pipe := s.rdb.Pipeline()
	pipe.Set(ctx, s.keys.User(user, "p"), val, ttl)
	pipe.Publish(ctx, s.channel, user)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("put profile %q: %w", user, err)
	}
	return nil
}

// Get returns user's profile with decay applied now, or ErrNotFound. It reads
// Redis directly, bypassing every cache.
func (s *Store) Get(ctx context.Context, user string) (Profile, error) {
	sp, err := s.Stored(ctx, user)
	return sp.Profile, err
}

// Stored is Get plus the profile's expiry.
func (s *Store) Stored(ctx context.Context, user string) (StoredProfile, error) {
	if err := checkUser(user); err != nil {
		return StoredProfile{}, err
	}
	pipe := s.rdb.Pipeline()
	get := pipe.Get(ctx, s.keys.User(user, "p"))
	ttl := pipe.PTTL(ctx, s.keys.User(user, "p"))
	_, _ = pipe.Exec(ctx) // errors are read per command
	val, err := get.Result()
	if err == redis.Nil {
		return StoredProfile{}, ErrNotFound
	}
	if err != nil {
		return StoredProfile{}, fmt.Errorf("get profile %q: %w", user, err)
	}
	var r record
	if err := decodeRecord(val, &r); err != nil {
		return StoredProfile{}, fmt.Errorf("get profile %q: %w", user, err)
	}
	now := s.now()
	var sp StoredProfile
	r.fill(&sp.Profile, user, &s.cfg.Decay, now)
	if d, err := ttl.Result(); err == nil && d > 0 {
		sp.Expires = now.Add(d).UTC().Truncate(time.Second)
	}
	return sp, nil
}

// Delete removes user's profile, frequency counters and the hook's data
// about the user, or returns ErrNotFound when there were none.
func (s *Store) Delete(ctx context.Context, user string) error {
	if err := checkUser(user); err != nil {
		return err
	}
	keys := []string{s.keys.User(user, "p"), s.keys.User(user, "fc")}
	if s.hook != nil {
		keys = s.hook.UserKeys(keys, user)
	}
	pipe := s.rdb.Pipeline()
	del := pipe.Del(ctx, keys...)
	pipe.Publish(ctx, s.channel, user)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("delete profile %q: %w", user, err)
	}
	if del.Val() == 0 {
		return ErrNotFound
	}
	return nil
}

// incrScript counts one impression: KEYS[1] the fc hash; ARGV: field
// "<campaign>:<bucket>", the campaign's field prefix "<campaign>:", the window
// in ms, the invalidation channel and the user. It drops the campaign's older
// buckets when a new one starts (so the hash holds one field per campaign),
// extends the key's TTL to at least the window, and announces the change.
var incrScript = redis.NewScript(`
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if n == 1 then
  local pre = ARGV[2]
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if f ~= ARGV[1] and string.sub(f, 1, #pre) == pre then redis.call('HDEL', KEYS[1], f) end
  end
end
local w = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < w then redis.call('PEXPIRE', KEYS[1], w) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return n
`)

// IncrFrequency counts one impression of campaignID for user in the window
// bucket containing now and returns the count so far. The fc hash's TTL is
// extended to at least window. Cached counters on every instance are
// invalidated, so the next lookup sees the new count.
func (s *Store) IncrFrequency(ctx context.Context, user, campaignID string, window time.Duration, now time.Time) (int, error) {
	if err := checkUser(user); err != nil {
		return 0, err
	}
	if campaignID == "" || strings.ContainsAny(campaignID, ": \n") {
		return 0, fieldErr("campaign", "invalid campaign id %q", campaignID)
	}
	w := windowSeconds(window)
	field := campaignID + ":" + strconv.FormatInt(now.Unix()/w, 10)
	n, err := incrScript.Run(ctx, s.rdb, []string{s.keys.User(user, "fc")},
		field, campaignID+":", w*1000, s.channel, user).Int()
	if err != nil {
		return 0, fmt.Errorf("count impression of %q for %q: %w", campaignID, user, err)
	}
	return n, nil
}

// publish announces changed users, newline-separated, in one message.
func publishUsers(ctx context.Context, pipe redis.Pipeliner, channel string, users []byte) {
	if len(users) > 0 {
		pipe.Publish(ctx, channel, str(users))
	}
}

var errConflict = errors.New("profile kept changing; gave up")
