package segments

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestImport(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	s := NewStore(r, Config{ImportChunk: 3}, nil)
	now := time.Now()
	s.now = fixedClock(now)
	input := strings.Join([]string{
		`{"user":"u-1","phase":"intent","interests":["running-shoes"],"product":{"id":"sku-1","name":"Trail Runner 2","price":"89.00"},"purchased":["sku-9"],"ttl":"720h"}`,
		`{"user":"u-2","phase":"awareness"}`,
		``,
		`{"user":"u-3","phase":"buying"}`,
		`not json`,
		`{"user":"u-4","phase":"purchased","purchased":["sku-1"],"ttl":"1h","since":"2026-01-02T03:04:05Z"}`,
		`{"user":"u 5","phase":"intent"}`,
		`{"user":"u-6","phase":"consideration","ttl":"2d"}`,
		`{"user":"u-7","phase":"consideration","extra":1}`,
		`{"user":"u-8","phase":"unknown","interests":["x"]}`,
	}, "\n") // no newline at the end
	res, err := s.Import(ctx, strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	want := ImportResult{Imported: 5, Rejected: 4, Errors: []LineError{
		{Line: 4, Field: "phase", Reason: `unknown phase "buying" (want one of unknown, awareness, consideration, intent, purchased)`},
		{Line: 5, Reason: "invalid JSON at byte 0: expected an object"},
		{Line: 7, Field: "user", Reason: "must not contain spaces or control characters"},
		{Line: 9, Field: "extra", Reason: "unknown field"},
	}}
	if fmt.Sprint(res) != fmt.Sprint(want) {
		t.Errorf("Import = %+v\nwant     %+v", res, want)
	}
	ttls := map[string]time.Duration{"u-1": 720 * time.Hour, "u-2": 720 * time.Hour, "u-4": time.Hour, "u-6": 48 * time.Hour, "u-8": 720 * time.Hour}
	for u, want := range ttls {
		if got := r.Client.PTTL(ctx, r.Keys.User(u, "p")).Val(); got > want || got < want-time.Minute {
			t.Errorf("TTL of %s = %s, want %s", u, got, want)
		}
	}
	// u-4 was purchased as of its since; its phase now follows from the decay.
	var rec record
	rec.setPhase(PhasePurchased, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli())
	wantPhase, _ := rec.phase(&s.cfg.Decay, now.UnixMilli())
	if p, err := s.Get(ctx, "u-4"); err != nil || p.Phase != wantPhase || !p.HasPurchased("sku-1") {
		t.Errorf("u-4 = %+v, %v; want phase %s", p, err, wantPhase)
	}
	if p, _ := s.Get(ctx, "u-8"); p.Phase != PhaseUnknown || p.Interests[0] != "x" {
		t.Errorf("u-8 = %+v", p)
	}

	// Importing again, gzip-compressed, gives the same stored values.
	before := r.Client.Get(ctx, r.Keys.User("u-1", "p")).Val()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, input)
	zw.Close()
	res2, err := s.Import(ctx, &gz)
	if err != nil || res2.Imported != 5 || res2.Rejected != 4 {
		t.Fatalf("gzip re-import = %+v, %v", res2, err)
	}
	if after := r.Client.Get(ctx, r.Keys.User("u-1", "p")).Val(); after != before {
		t.Error("re-import changed the stored profile")
	}
	if n := r.Client.Keys(ctx, r.Keys.Prefix+"*").Val(); len(n) != 5 {
		t.Errorf("%d keys after re-import, want 5", len(n))
	}

	// Only the first 100 errors are listed; all are counted.
	bad := strings.Repeat("{}\n", 250)
	res3, err := s.Import(ctx, strings.NewReader(bad))
	if err != nil || res3.Rejected != 250 || len(res3.Errors) != maxLineErrors || res3.Errors[99].Line != 100 {
		t.Errorf("bad import = %d rejected, %d listed, %v", res3.Rejected, len(res3.Errors), err)
	}
	// A corrupt gzip stream is bad input.
	if _, err := s.Import(ctx, bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); !errors.Is(err, ErrInvalid) {
		t.Errorf("corrupt gzip: %v, want ErrInvalid", err)
	}
	// A long line is rejected, the next one still read.
	long := `{"user":"u-9","phase":"intent","interests":["` + strings.Repeat("x", maxLine) + `"]}` + "\n" + `{"user":"u-10","phase":"intent"}`
	res4, err := s.Import(ctx, strings.NewReader(long))
	if err != nil || res4.Imported != 1 || res4.Rejected != 1 || res4.Errors[0].Line != 1 {
		t.Errorf("long line import = %+v, %v", res4, err)
	}
}

// TestEvents applies one user's history in order, shuffled with duplicates,
// and concurrently: every way ends in the same stored profile.
func TestEvents(t *testing.T) {
	r := testRedis(t)
	ctx := context.Background()
	s := NewStore(r, Config{}, nil)
	now := time.Now().Truncate(time.Millisecond)
	s.now = fixedClock(now)
	history := func(user string) []Event {
		at := func(d time.Duration) time.Time { return now.Add(-time.Hour + d) }
		p1 := Product{ID: "sku-1", Name: "Trail Runner 2", Price: "89.00"}
		p2 := Product{ID: "sku-2", Name: "Trail Socks", Price: "9.00"}
		return []Event{
			{Type: EventPageView, User: user, Time: at(0)},
			{Type: EventProductView, User: user, Product: p1, Time: at(time.Minute)},
			{Type: EventProductView, User: user, Product: p2, Time: at(2 * time.Minute)},
			{Type: EventAddToCart, User: user, Product: p1, Time: at(3 * time.Minute)},
			{Type: EventCheckout, User: user, Product: p1, Time: at(4 * time.Minute)},
			{Type: EventPurchase, User: user, Product: p1, Time: at(5 * time.Minute)},
			{Type: EventProductView, User: user, Product: p2, Time: at(6 * time.Minute)},
		}
	}
	// In order, one at a time, with the phase after each step.
	wantPhases := []Phase{PhaseAwareness, PhaseConsideration, PhaseConsideration, PhaseIntent, PhaseIntent, PhasePurchased, PhasePurchased}
	for i, e := range history("in-order") {
		if err := s.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
		p, err := s.Get(ctx, "in-order")
		if err != nil || p.Phase != wantPhases[i] {
			t.Fatalf("after %s: %s, %v; want %s", e.Type, p.Phase, err, wantPhases[i])
		}
	}
	// Shuffled with duplicates, in one batch.
	evs := history("shuffled")
	evs = append(evs, evs[1], evs[5], evs[5])
	rand.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	if err := s.Apply(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	// Concurrently, one event per call, every event twice.
	var wg sync.WaitGroup
	for range 2 {
		for _, e := range history("concurrent") {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Apply(ctx, e); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	want := r.Client.Get(ctx, r.Keys.User("in-order", "p")).Val()
	for _, u := range []string{"shuffled", "concurrent"} {
		if got := r.Client.Get(ctx, r.Keys.User(u, "p")).Val(); got != want {
			t.Errorf("%s: stored %x, in order %x", u, got, want)
		}
	}
	p, _ := s.Get(ctx, "concurrent")
	if p.Phase != PhasePurchased || p.Product.ID != "sku-2" || !slices.Equal(p.Purchased, []string{"sku-1"}) {
		t.Errorf("final profile %+v", p)
	}
	if ttl := r.Client.PTTL(ctx, r.Keys.User("concurrent", "p")).Val(); ttl < 719*time.Hour {
		t.Errorf("profile made by events has TTL %s, want the default 720h", ttl)
	}
	// Events merge into an imported profile and keep its longer TTL.
	if err := s.Put(ctx, Profile{User: "imported", Phase: PhaseConsideration, Interests: []string{"running"}}, 2000*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, Event{Type: EventCheckout, User: "imported", Product: Product{ID: "sku-3"}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Get(ctx, "imported"); p.Phase != PhaseIntent || p.Interests[0] != "running" || p.Product.ID != "sku-3" {
		t.Errorf("imported + checkout = %+v", p)
	}
	if ttl := r.Client.PTTL(ctx, r.Keys.User("imported", "p")).Val(); ttl < 1999*time.Hour {
		t.Errorf("an event shortened the TTL to %s", ttl)
	}
	// Invalid events reject the call, naming the event.
	err := s.Apply(ctx, Event{Type: EventPageView, User: "ok"}, Event{Type: EventPurchase, User: "x", Time: now.Add(time.Hour)})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "ts" || !strings.HasPrefix(err.Error(), "event 1:") {
		t.Errorf("future event: %v", err)
	}
	if r.Client.Exists(ctx, r.Keys.User("ok", "p")).Val() != 0 {
		t.Error("a call with an invalid event applied the valid one")
	}
}

func TestHandlers(t *testing.T) {
	r := testRedis(t)
	s := NewStore(r, Config{}, nil)
	h := NewHandlers(s)
	do := func(handler fasthttp.RequestHandler, method, path, body string, hdr ...string) (int, map[string]any) {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(path)
		ctx.Request.SetBodyString(body)
		for i := 0; i+1 < len(hdr); i += 2 {
			ctx.Request.Header.Set(hdr[i], hdr[i+1])
		}
		handler(&ctx)
		var out map[string]any
		if b := ctx.Response.Body(); len(b) > 0 {
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("%s %s: body %q: %v", method, path, b, err)
			}
		}
		return ctx.Response.StatusCode(), out
	}
	expect := func(method, path string, code, want int, out map[string]any, keyvals ...string) {
		t.Helper()
		if code != want {
			t.Errorf("%s %s = %d %v, want %d", method, path, code, out, want)
			return
		}
		for i := 0; i+1 < len(keyvals); i += 2 {
			if got := fmt.Sprint(out[keyvals[i]]); got != keyvals[i+1] {
				t.Errorf("%s %s: %s = %s, want %s", method, path, keyvals[i], got, keyvals[i+1])
			}
		}
	}
	code, out := do(h.Profile, "GET", "/v1/segments/u-1", "")
	expect("GET", "unknown user", code, 404, out, "field", "user")
	code, out = do(h.Profile, "PUT", "/v1/segments/u-1", `{"phase":"intent","product":{"id":"sku-1","name":"Trail Runner 2","price":"89.00"},"ttl":"1h"}`)
	expect("PUT", "/v1/segments/u-1", code, 200, out, "user", "u-1", "phase", "intent")
	code, out = do(h.Profile, "GET", "/v1/segments/u-1", "")
	expect("GET", "/v1/segments/u-1", code, 200, out, "phase", "intent", "product", "map[id:sku-1 name:Trail Runner 2 price:89.00]")
	if _, ok := out["expires"]; !ok {
		t.Errorf("GET: no expires in %v", out)
	}
	code, out = do(h.Profile, "PUT", "/v1/segments/u-1", `{"user":"u-2","phase":"intent"}`)
	expect("PUT", "mismatched user", code, 400, out, "field", "user")
	code, out = do(h.Profile, "PUT", "/v1/segments/u-1", `{"phase":"shopping"}`)
	expect("PUT", "bad phase", code, 400, out, "field", "phase")
	code, out = do(h.Profile, "POST", "/v1/segments/u-1", ``)
	expect("POST", "/v1/segments/u-1", code, 405, out)

	code, out = do(h.Events, "POST", "/v1/events", `{"type":"purchase","user":"u-1","product":{"id":"sku-1"}}`)
	expect("POST", "one event", code, 200, out, "applied", "1")
	code, out = do(h.Events, "POST", "/v1/events", `[{"type":"page_view","user":"u-2"},{"type":"product_view","user":"u-2","product":{"id":"a"},"ts":"2020-01-01T00:00:00Z"}]`)
	expect("POST", "array", code, 200, out, "applied", "2")
	code, out = do(h.Events, "POST", "/v1/events", "{\"type\":\"page_view\",\"user\":\"u-3\"}\n{\"type\":\"checkout\",\"user\":\"u-3\"}\n")
	expect("POST", "lines", code, 200, out, "applied", "2")
	code, out = do(h.Events, "POST", "/v1/events", `[{"type":"page_view","user":"u-2"},{"type":"wink","user":"u-2"}]`)
	expect("POST", "bad type", code, 400, out, "field", "type")
	code, out = do(h.Events, "POST", "/v1/events", `{"type":"page_view"}`)
	expect("POST", "no user", code, 400, out, "field", "user")
	code, out = do(h.Profile, "GET", "/v1/segments/u-1", "")
	expect("GET", "after purchase", code, 200, out, "phase", "purchased", "purchased", "[sku-1]")
	code, out = do(h.Profile, "GET", "/v1/segments/u-3", "")
	expect("GET", "after checkout", code, 200, out, "phase", "intent")

	code, out = do(h.Import, "POST", "/v1/segments/import", "{\"user\":\"u-4\",\"phase\":\"awareness\"}\n{\"user\":\"u-5\"}\n")
	expect("POST", "import", code, 200, out, "imported", "1", "rejected", "1", "errors", "[map[field:phase line:2 reason:required]]")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, `{"user":"u-6","phase":"intent"}`)
	zw.Close()
	code, out = do(h.Import, "POST", "/v1/segments/import", gz.String(), "Content-Encoding", "gzip")
	expect("POST", "gzip import", code, 200, out, "imported", "1")
	code, out = do(h.Import, "POST", "/v1/segments/import", "\x1f\x8bgarbage")
	expect("POST", "bad gzip", code, 400, out)

	code, _ = do(h.Profile, "DELETE", "/v1/segments/u-1", "")
	expect("DELETE", "/v1/segments/u-1", code, 204, nil)
	code, out = do(h.Profile, "DELETE", "/v1/segments/u-1", "")
	expect("DELETE", "again", code, 404, out)
}

// BenchmarkImport imports b.N profiles into Redis and reports profiles/s.
func BenchmarkImport(b *testing.B) {
	r := testRedis(b)
	s := NewStore(r, Config{}, nil)
	var in bytes.Buffer
	for i := range b.N {
		fmt.Fprintf(&in, `{"user":"bench-%d","phase":"intent","interests":["running-shoes"],"product":{"id":"sku-1","name":"Trail Runner 2","price":"89.00"},"purchased":["sku-9"],"ttl":"1h"}`+"\n", i)
	}
	ctx := context.Background()
	redisCPU := func() time.Duration {
		info := r.Client.Info(ctx, "cpu").Val()
		var total time.Duration
		for _, f := range []string{"used_cpu_user_main_thread:", "used_cpu_sys_main_thread:"} {
			if i := strings.Index(info, f); i >= 0 {
				var sec float64
				fmt.Sscan(info[i+len(f):], &sec)
				total += time.Duration(sec * float64(time.Second))
			}
		}
		return total
	}
	var ru0, ru1 syscall.Rusage
	rc0 := redisCPU()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	res, err := s.Import(ctx, &in)
	elapsed := time.Since(start)
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	rc1 := redisCPU()
	if err != nil || res.Imported != b.N {
		b.Fatalf("imported %d of %d: %v", res.Imported, b.N, err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "profiles/s")
	// CPU per profile on each side tells what an idle machine could do,
	// however busy this one is. (Redis's figure includes other clients.)
	us := func(tv syscall.Timeval) float64 { return float64(tv.Sec)*1e6 + float64(tv.Usec) }
	goCPU := us(ru1.Utime) + us(ru1.Stime) - us(ru0.Utime) - us(ru0.Stime)
	b.ReportMetric(goCPU/float64(b.N), "go-cpu-µs/profile")
	b.ReportMetric(float64(rc1-rc0)/float64(time.Microsecond)/float64(b.N), "redis-cpu-µs/profile")
}
