// Package storagetest opens a Redis for tests: the real server named by
// KAIROS_TEST_REDIS (default redis://127.0.0.1:6379) when it answers, else the
// embedded in-memory one, saying so. Each test gets its own key prefix and its
// keys are deleted when it ends.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
	"github.com/redis/go-redis/v9"
)

// Open returns a Redis for t with a fresh key prefix. With real set, a test that
// needs a real server (Lua semantics, pub/sub across clients, timing) is skipped
// when none answers — unless CI is set, where it fails.
func Open(t testing.TB, real bool) *storage.Redis {
	t.Helper()
	url := os.Getenv("KAIROS_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	prefix := testPrefix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := storage.Open(ctx, storage.Config{URL: url, Prefix: prefix})
	if err != nil {
		if real {
			if os.Getenv("CI") != "" {
				t.Fatalf("a real Redis is required and %s does not answer: %v", url, err)
			}
			t.Skipf("needs a real Redis; %s does not answer: %v", url, err)
		}
		t.Logf("no real Redis at %s (%v): using the embedded in-memory Redis", url, err)
		r, err = storage.Open(context.Background(), storage.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		defer r.Close()
		if r.Embedded != nil {
			return
		}
		deleteKeys(context.Background(), r.Client, prefix)
	})
	return r
}

// testPrefix returns a key prefix of its own for t.
func testPrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "kt:" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + ":" + hex.EncodeToString(b[:]) + ":"
}

// deleteKeys deletes the keys under prefix on one Redis node.
func deleteKeys(ctx context.Context, c redis.Cmdable, prefix string) {
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	// One DEL per key: on a cluster node, keys of different slots cannot share one.
	pipe := c.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k)
	}
	if len(keys) > 0 {
		_, _ = pipe.Exec(ctx)
	}
}
