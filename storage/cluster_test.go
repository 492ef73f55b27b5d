package storage_test

import (
	"context"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/redis/go-redis/v9"
)

func TestValidateClusterURL(t *testing.T) {
	f := func(raw string, ok bool) {
		t.Helper()
		c := storage.Config{URL: raw}
		if err := c.Validate(); (err == nil) != ok {
			t.Fatalf("Validate(%q) = %v, want ok %v", raw, err, ok)
		}
	}
	f("redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", true)
	f("redis://127.0.0.1:7000/0?addr=127.0.0.1:7001", true)
	f("rediss://u:p@10.0.0.1:7000?addr=10.0.0.2:7000", true)
	f("redis://127.0.0.1:7000/3?addr=127.0.0.1:7001", false)
	f("redis://127.0.0.1:6379/3", true)
	f("http://127.0.0.1:7000?addr=127.0.0.1:7001", false)
}

// TestOpenCluster: every form of a cluster URL gives a cluster client that
// reaches all three masters, and a user's keys share one slot.
func TestOpenCluster(t *testing.T) {
	r := storagetest.OpenCluster(t)
	ctx := context.Background()
	full := storagetest.ClusterURL(t)
	u, err := url.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	seed := "redis://" + u.Host // one node's address only
	for _, raw := range []string{full, seed} {
		c, err := storage.Open(ctx, storage.Config{URL: raw, Prefix: r.Keys.Prefix})
		if err != nil {
			t.Fatalf("open %s: %v", raw, err)
		}
		if !c.Cluster {
			t.Fatalf("open %s: not a cluster client", raw)
		}
		var masters atomic.Int32
		err = c.Client.(*redis.ClusterClient).ForEachMaster(ctx, func(context.Context, *redis.Client) error {
			masters.Add(1)
			return nil
		})
		c.Close()
		if err != nil || masters.Load() != 3 {
			t.Fatalf("open %s: %d masters reached (%v), want 3", raw, masters.Load(), err)
		}
	}

	slot := func(k string) int64 {
		t.Helper()
		n, err := r.Client.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if a, b := slot(r.Keys.User("u-1", "p")), slot(r.Keys.User("u-1", "fc")); a != b {
		t.Fatalf("one user's keys in slots %d and %d", a, b)
	}
	if a, b := slot(r.Keys.Campaigns()), slot(r.Keys.CampaignsRev()); a != b {
		t.Fatalf("campaign keys in slots %d and %d", a, b)
	}

	// Keys of many users spread over every master, and a pipeline across them
	// works as one call.
	pipe := r.Client.Pipeline()
	for i := range 300 {
		pipe.Set(ctx, r.Keys.User("spread-"+strconv.Itoa(i), "p"), i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("pipeline across nodes: %v", err)
	}
	storagetest.CheckSpread(t, r, r.Keys.Prefix+"*")
}
