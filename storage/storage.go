package storage

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Config says which Redis to use. The zero value means the embedded in-memory
// Redis with the default prefix.
type Config struct {
	// URL is redis://, rediss://, or a cluster as redis://host:port?addr=host2:port&addr=…
	// (a single address of a cluster node is recognised as a cluster too).
	// Empty starts an embedded in-memory Redis.
	URL string
	// Prefix starts every key Kairos writes; default "kairos:".
	Prefix string
	// PoolSize is the connection pool size per node; 0 = go-redis default.
	PoolSize int
}

// DefaultPrefix is the key prefix when none is configured.
const DefaultPrefix = "kairos:"

// Validate checks the configuration, naming the offending setting.
func (c *Config) Validate() error {
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			return fmt.Errorf("KAIROS_REDIS_URL: want redis://host:port or rediss://…, got %q", c.URL)
		}
		if u.Query().Has("addr") && strings.Trim(u.Path, "/0") != "" {
			return fmt.Errorf("KAIROS_REDIS_URL: a Redis Cluster has only database 0, got %q", u.Path)
		}
	}
	if strings.ContainsAny(c.Prefix, "{} \n") {
		return fmt.Errorf("KAIROS_REDIS_PREFIX %q: must not contain braces or spaces", c.Prefix)
	}
	return nil
}

// Redis is an open connection to Redis (a node, or a cluster) plus its key prefix.
type Redis struct {
	// Client talks to Redis; it is a *redis.ClusterClient for a cluster.
	Client redis.UniversalClient
	// Keys builds prefixed key names.
	Keys Keys
	// Embedded is set when Kairos runs its own in-memory Redis (demo mode).
	Embedded *miniredis.Miniredis
	// Cluster reports whether Client is a cluster client.
	Cluster bool
}

// Open connects to the configured Redis, or starts the embedded one, and checks
// that it answers.
func Open(ctx context.Context, cfg Config) (*Redis, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	r := &Redis{Keys: Keys{Prefix: prefix}}
	switch {
	case cfg.URL == "":
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start embedded redis: %w", err)
		}
		r.Embedded = mr
		r.Client = redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: cfg.PoolSize})
	case strings.Contains(cfg.URL, "addr="):
		if err := r.openCluster(cfg); err != nil {
			return nil, err
		}
	default:
		opt, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("KAIROS_REDIS_URL: %w", err)
		}
		if cfg.PoolSize > 0 {
			opt.PoolSize = cfg.PoolSize
		}
		r.Client = redis.NewClient(opt)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.Client.Ping(pctx).Err(); err != nil {
		r.Close()
		return nil, fmt.Errorf("redis %s: %w", redact(cfg.URL), err)
	}
	if !r.Cluster && r.Embedded == nil && clusterEnabled(pctx, r.Client) {
		// One address of a cluster node: a plain client would fail on every
		// key of another node's slots (MOVED), so talk to it as a cluster.
		r.Client.Close()
		if err := r.openCluster(cfg); err != nil {
			return nil, err
		}
		if err := r.Client.Ping(pctx).Err(); err != nil {
			r.Close()
			return nil, fmt.Errorf("redis cluster %s: %w", redact(cfg.URL), err)
		}
	}
	return r, nil
}

// openCluster sets r.Client to a cluster client for the seed addresses of cfg.URL.
func (r *Redis) openCluster(cfg Config) error {
	opt, err := redis.ParseClusterURL(cfg.URL)
	if err != nil {
		return fmt.Errorf("KAIROS_REDIS_URL: %w", err)
	}
	if cfg.PoolSize > 0 {
		opt.PoolSize = cfg.PoolSize
	}
	// A context's deadline bounds the socket reads and writes of its command,
	// so a stalled node costs a lookup pipeline its own deadline, not the
	// default 3s read timeout.
	opt.ContextTimeoutEnabled = true
	r.Client = redis.NewClusterClient(opt)
	r.Cluster = true
	return nil
}

// clusterEnabled reports whether the server behind c is a Redis Cluster node.
func clusterEnabled(ctx context.Context, c redis.UniversalClient) bool {
	info, err := c.Info(ctx, "cluster").Result()
	return err == nil && strings.Contains(info, "cluster_enabled:1")
}

// Close closes the client and stops the embedded Redis, if any.
func (r *Redis) Close() error {
	err := r.Client.Close()
	if r.Embedded != nil {
		r.Embedded.Close()
	}
	return err
}

// Describe names the Redis for logs without its password.
func (r *Redis) Describe(cfgURL string) string {
	if r.Embedded != nil {
		return "embedded in-memory redis at " + r.Embedded.Addr()
	}
	return redact(cfgURL)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "redis"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// Keys builds Redis key names under a prefix. Per-user keys carry the hash tag
// {u:<id>} so that all of one user's keys share a Redis Cluster slot; the
// campaign keys share the tag {c}.
type Keys struct {
	// Prefix starts every key.
	Prefix string
}

// Campaigns is the hash of campaign id → campaign JSON.
func (k Keys) Campaigns() string { return k.Prefix + "{c}:campaigns" }

// CampaignVersions is the hash of campaign id → version.
func (k Keys) CampaignVersions() string { return k.Prefix + "{c}:versions" }

// CampaignsRev counts campaign changes; instances resync when it moves.
func (k Keys) CampaignsRev() string { return k.Prefix + "{c}:rev" }

// CampaignsChannel is the pub/sub channel announcing campaign changes.
func (k Keys) CampaignsChannel() string { return k.Prefix + "campaigns:changed" }

// CampaignsAudit is the list of campaign change records, newest first.
func (k Keys) CampaignsAudit() string { return k.Prefix + "{c}:audit" }

// AppendUser appends the key of one user's record kind (e.g. "p" for profile,
// "fc" for frequency counters) to dst: <prefix>{u:<id>}:<kind>.
func (k Keys) AppendUser(dst []byte, user, kind string) []byte {
	dst = append(dst, k.Prefix...)
	dst = append(dst, "{u:"...)
	dst = append(dst, user...)
	dst = append(dst, "}:"...)
	return append(dst, kind...)
}

// User returns the key of one user's record kind.
func (k Keys) User(user, kind string) string {
	return string(k.AppendUser(make([]byte, 0, len(k.Prefix)+len(user)+8), user, kind))
}
