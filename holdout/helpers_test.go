package holdout

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/storage"
)

var t0 = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

func newTestHoldout(t testing.TB, rdb *storage.Redis, cfg Config, clock Clock) *Holdout {
	t.Helper()
	h, err := New(cfg, Deps{Redis: rdb, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustSync(t testing.TB, h *Holdout) {
	t.Helper()
	if err := h.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// testUsers returns n user ids.
func testUsers(n int) []string {
	users := make([]string, n)
	for i := range users {
		users[i] = "u-" + strconv.Itoa(i)
	}
	return users
}
