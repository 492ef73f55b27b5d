package segments

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var (
	t0    = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	day   = 24 * time.Hour
	decay = Config{}.withDefaults().Decay
)

func ev(typ EventType, at time.Duration, sku string) Event {
	e := Event{Type: typ, User: "u-1", Time: t0.Add(at)}
	if sku != "" {
		e.Product = Product{ID: sku, Name: "Product " + sku, Price: "10.00"}
	}
	return e
}

func TestPhase(t *testing.T) {
	f := func(name string, events []Event, at time.Duration, want Phase, wantSince time.Duration) {
		t.Helper()
		var r record
		for i := range events {
			r.apply(&events[i])
		}
		got, since := r.phase(&decay, t0.Add(at).UnixMilli())
		if got != want {
			t.Errorf("%s: phase %s, want %s", name, got, want)
		}
		if want != PhaseUnknown && since != t0.Add(wantSince).UnixMilli() {
			t.Errorf("%s: since %s, want %s", name, time.UnixMilli(since).UTC(), t0.Add(wantSince))
		}
	}
	f("no events", nil, 0, PhaseUnknown, 0)
	f("page view", []Event{ev(EventPageView, 0, "")}, day, PhaseAwareness, 0)
	f("page view never decays by default", []Event{ev(EventPageView, 0, "")}, 400*day, PhaseAwareness, 0)
	f("product view", []Event{ev(EventPageView, 0, ""), ev(EventProductView, time.Hour, "a")}, 2*time.Hour, PhaseConsideration, time.Hour)
	f("product view without page view", []Event{ev(EventProductView, 0, "a")}, 0, PhaseConsideration, 0)
	f("consideration decays after 30d", []Event{ev(EventProductView, 0, "a")}, 30*day, PhaseAwareness, 30*day)
	f("consideration 1ms before decay", []Event{ev(EventProductView, 0, "a")}, 30*day-time.Millisecond, PhaseConsideration, 0)
	f("add to cart", []Event{ev(EventProductView, 0, "a"), ev(EventAddToCart, time.Hour, "a")}, 2*time.Hour, PhaseIntent, time.Hour)
	f("checkout", []Event{ev(EventCheckout, 0, "a")}, time.Hour, PhaseIntent, 0)
	f("intent decays to consideration after 7d", []Event{ev(EventAddToCart, 0, "a")}, 8*day, PhaseConsideration, 7*day)
	f("then to awareness 30d after the cart", []Event{ev(EventAddToCart, 0, "a")}, 31*day, PhaseAwareness, 30*day)
	f("a later view keeps intent", []Event{ev(EventAddToCart, 0, "a"), ev(EventProductView, day, "b")}, 2*day, PhaseIntent, 0)
	f("view after intent decayed", []Event{ev(EventAddToCart, 0, "a"), ev(EventProductView, 10*day, "b")}, 11*day, PhaseConsideration, 10*day)
	f("purchase", []Event{ev(EventAddToCart, 0, "a"), ev(EventPurchase, time.Hour, "a")}, 2*time.Hour, PhasePurchased, time.Hour)
	f("purchased decays after 90d", []Event{ev(EventPurchase, 0, "a")}, 90*day, PhaseAwareness, 90*day)
	f("purchase ends the journey", []Event{ev(EventProductView, 0, "a"), ev(EventAddToCart, 0, "a"), ev(EventPurchase, day, "a")}, 95*day, PhaseAwareness, 91*day)
	f("browsing after a purchase stays purchased", []Event{ev(EventPurchase, 0, "a"), ev(EventProductView, day, "b")}, 2*day, PhasePurchased, 0)
	f("a new cart after a purchase is intent", []Event{ev(EventPurchase, 0, "a"), ev(EventAddToCart, day, "b")}, 2*day, PhaseIntent, day)
	f("back to purchased when that intent decays", []Event{ev(EventPurchase, 0, "a"), ev(EventAddToCart, day, "b")}, 9*day, PhasePurchased, 8*day)
	f("consideration after purchase decayed", []Event{ev(EventPurchase, 0, "a"), ev(EventProductView, 80*day, "b")}, 91*day, PhaseConsideration, 90*day)

	d := decay
	d.Awareness = 60 * day
	var r record
	e := ev(EventPageView, 0, "")
	r.apply(&e)
	if got, _ := r.phase(&d, t0.Add(60*day).UnixMilli()); got != PhaseUnknown {
		t.Errorf("awareness with Decay.Awareness=60d after 60d: %s, want unknown", got)
	}
}

// TestEventOrder applies a history in every order and with duplicates: the
// stored record must come out byte for byte the same.
func TestEventOrder(t *testing.T) {
	f := func(name string, events []Event) {
		t.Helper()
		var want record
		for i := range events {
			want.apply(&events[i])
		}
		wantB := appendRecord(nil, &want)
		rng := rand.New(rand.NewPCG(1, 2))
		for round := 0; round < 200; round++ {
			evs := slices.Clone(events)
			// Duplicate some events, then shuffle.
			for i := range evs {
				if rng.IntN(3) == 0 {
					evs = append(evs, evs[i])
				}
			}
			rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
			var got record
			for i := range evs {
				got.apply(&evs[i])
			}
			if b := appendRecord(nil, &got); !bytes.Equal(b, wantB) {
				t.Fatalf("%s: order %v gives a different record", name, evs)
			}
		}
	}
	f("journey", []Event{
		ev(EventPageView, 0, ""), ev(EventProductView, time.Minute, "a"), ev(EventProductView, 2*time.Minute, "b"),
		ev(EventAddToCart, 3*time.Minute, "b"), ev(EventCheckout, 4*time.Minute, "b"), ev(EventPurchase, 5*time.Minute, "b"),
	})
	f("same-time product views", []Event{ev(EventProductView, 0, "a"), ev(EventProductView, 0, "b"), ev(EventProductView, 0, "c")})
	f("repeat purchases", []Event{ev(EventPurchase, 0, "a"), ev(EventPurchase, day, "b"), ev(EventPurchase, 2*day, "a"), ev(EventPurchase, 2*day, "c")})
}

func TestPurchaseCap(t *testing.T) {
	var r record
	for i := range maxPurchased + 20 {
		e := ev(EventPurchase, time.Duration(i)*time.Minute, string(rune('A'+i%26))+string(rune('a'+i/26)))
		r.apply(&e)
	}
	if len(r.purchased) != maxPurchased {
		t.Fatalf("%d purchases kept, want %d", len(r.purchased), maxPurchased)
	}
	for i := 1; i < len(r.boughtAt); i++ {
		if r.boughtAt[i] > r.boughtAt[i-1] {
			t.Fatalf("purchases not newest first at %d", i)
		}
	}
	if r.boughtAt[0] != t0.Add(time.Duration(maxPurchased+19)*time.Minute).UnixMilli() {
		t.Errorf("newest purchase dropped")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	f := func(r record) {
		t.Helper()
		b := appendRecord(nil, &r)
		var got record
		if err := decodeRecord(string(b), &got); err != nil {
			t.Fatalf("decode %x: %v", b, err)
		}
		if !bytes.Equal(appendRecord(nil, &got), b) {
			t.Fatalf("round trip of %+v differs: %+v", r, got)
		}
	}
	f(record{})
	f(record{seen: [NumPhases]int64{0, 1, 2, 3, 4}, productAt: 5, product: Product{"sku-1", "Trail Runner 2", "89.00"},
		interests: []string{"running", "trail"}, purchased: []string{"sku-9", "sku-1"}, boughtAt: []int64{9, 1}})
	f(record{seen: [NumPhases]int64{0, 1 << 50}, product: Product{ID: "ü€😀"}})

	for _, bad := range []string{"", "\x02", "\x01", "\x01\x00\x00\x00\x00\x00\x05ab", "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01"} {
		var r record
		if err := decodeRecord(bad, &r); err == nil {
			t.Errorf("decodeRecord(%q) succeeded", bad)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(string(appendRecord(nil, &record{product: Product{ID: "a"}, interests: []string{"x"}, purchased: []string{"p"}, boughtAt: []int64{3}})))
	f.Add("\x01\x80\x80")
	f.Fuzz(func(t *testing.T, s string) {
		var r record
		if decodeRecord(s, &r) != nil {
			return
		}
		// Anything that decodes re-encodes to the same bytes.
		if b := appendRecord(nil, &r); string(b) != s {
			var r2 record
			if err := decodeRecord(string(b), &r2); err != nil || !bytes.Equal(appendRecord(nil, &r2), b) {
				t.Fatalf("re-encoding of %q does not round trip", s)
			}
		}
		var p Profile
		r.fill(&p, "u", &decay, t0)
	})
}

func BenchmarkDecodeRecord(b *testing.B) {
	r := record{seen: [NumPhases]int64{0, 1, 2, 3, 4}, productAt: 5, product: Product{"sku-1", "Trail Runner 2", "89.00"},
		interests: []string{"running", "trail"}, purchased: []string{"sku-9"}, boughtAt: []int64{9}}
	val := string(appendRecord(nil, &r))
	var got record
	var p Profile
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeRecord(val, &got); err != nil {
			b.Fatal(err)
		}
		got.fill(&p, "u-1", &decay, t0)
	}
}
