package bandit

import (
	"context"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
)

var t0 = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

func newTestBandit(t testing.TB, rdb *storage.Redis, cfg Config, clock Clock) *Bandit {
	t.Helper()
	b, err := New(cfg, Deps{Redis: rdb, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSync(t testing.TB, b *Bandit) {
	t.Helper()
	if err := b.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}
