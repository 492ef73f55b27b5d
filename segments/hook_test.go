package segments

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// fakeHook records the purchases it is told about and keeps one key per user.
type fakeHook struct {
	keys      func(user string) string
	mu        sync.Mutex
	purchases []string
	fail      error
}

func (h *fakeHook) Purchase(_ context.Context, user string, at time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.purchases = append(h.purchases, user+"@"+at.UTC().Format(time.RFC3339))
	return h.fail
}

func (h *fakeHook) UserKeys(dst []string, user string) []string { return append(dst, h.keys(user)) }

// TestHookPurchasesAndDeletes: purchase events reach the hook after the
// profile is written, with the event's time, every time they are applied; a
// hook failure fails the call (so it is retried); deleting a profile deletes
// the hook's keys of the user too.
func TestHookPurchasesAndDeletes(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	h := &fakeHook{keys: func(u string) string { return r.Keys.User(u, "hk") }}
	s.SetHook(h)
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	evs := []Event{
		{Type: EventProductView, User: "u1", Product: Product{ID: "sku-1"}, Time: at},
		{Type: EventPurchase, User: "u1", Product: Product{ID: "sku-1"}, Time: at.Add(time.Minute)},
		{Type: EventPurchase, User: "u2", Time: at.Add(2 * time.Minute)},
	}
	for range 2 { // a replay is told again: the hook is idempotent
		if err := s.Apply(ctx, evs...); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"u1@2026-11-02T10:01:00Z", "u2@2026-11-02T10:02:00Z"}
	if !slices.Equal(h.purchases, append(want, want...)) {
		t.Fatalf("hook told %q", h.purchases)
	}
	if p, err := s.Get(ctx, "u1"); err != nil || !slices.Equal(p.Purchased, []string{"sku-1"}) {
		t.Fatalf("profile of u1: %+v, %v", p, err)
	}

	h.fail = errors.New("redis down")
	err := s.Apply(ctx, evs[2])
	if err == nil || !strings.Contains(err.Error(), `event 0: attribute the purchase of "u2": redis down`) {
		t.Fatalf("hook failure: %v", err)
	}
	hs := NewHandlers(s)
	rc := &fasthttp.RequestCtx{}
	rc.Request.Header.SetMethod("POST")
	rc.Request.SetBodyString(`{"type":"purchase","user":"u2"}`)
	hs.Events(rc)
	if rc.Response.StatusCode() != fasthttp.StatusServiceUnavailable {
		t.Fatalf("events with a failing hook: %d %s, want 503 so that the sender retries", rc.Response.StatusCode(), rc.Response.Body())
	}

	// The hook's keys go with the profile, and alone they are still found.
	for _, u := range []string{"u1", "only-hook"} {
		r.Client.HSet(ctx, h.keys(u), "c", "1")
	}
	for _, u := range []string{"u1", "only-hook"} {
		if err := s.Delete(ctx, u); err != nil {
			t.Fatalf("delete %s: %v", u, err)
		}
		if n := r.Client.Exists(ctx, h.keys(u), r.Keys.User(u, "p")).Val(); n != 0 {
			t.Fatalf("%s: %d keys left after delete", u, n)
		}
	}
	if err := s.Delete(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete unknown user: %v", err)
	}
}
