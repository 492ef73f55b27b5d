package segments

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeLine(t *testing.T) {
	ok := func(line string, check func(*lineDecoder)) {
		t.Helper()
		var d lineDecoder
		if err := d.decode([]byte(line), t0, 720*time.Hour); err != nil {
			t.Errorf("decode(%s): %v", line, err)
			return
		}
		check(&d)
	}
	bad := func(line, field string) {
		t.Helper()
		var d lineDecoder
		err := d.decode([]byte(line), t0, 720*time.Hour)
		if err == nil {
			t.Errorf("decode(%s) succeeded", line)
			return
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("decode(%s): %v is not ErrInvalid", line, err)
		}
		var fe *FieldError
		if field != "" && (!errors.As(err, &fe) || fe.Field != field) {
			t.Errorf("decode(%s): %v, want an error for field %q", line, err, field)
		}
	}
	ok(`{"user":"u-1","phase":"intent","interests":["running-shoes"],"product":{"id":"sku-1","name":"Trail Runner 2","price":"89.00"},"purchased":["sku-9"],"ttl":"720h"}`,
		func(d *lineDecoder) {
			var p Profile
			d.rec.fill(&p, d.user, &decay, t0)
			if d.user != "u-1" || p.Phase != PhaseIntent || !p.Since.Equal(t0) || p.Product.Name != "Trail Runner 2" ||
				p.Product.Price != "89.00" || len(p.Interests) != 1 || !p.HasPurchased("sku-9") || d.ttl != 720*time.Hour {
				t.Errorf("got %+v ttl %s", p, d.ttl)
			}
		})
	ok(`  {"phase":"awareness","user":"u\u00fc\"x","ttl":"30d","since":"2026-10-01T00:00:00Z","product":null}`+"\r\n", func(d *lineDecoder) {
		if d.user != `uü"x` || d.ttl != 30*24*time.Hour || d.rec.seen[PhaseAwareness] != time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).UnixMilli() {
			t.Errorf("got user %q ttl %s seen %v", d.user, d.ttl, d.rec.seen)
		}
	})
	ok(`{"user":"u","phase":"unknown","ttl":3600,"product":{"id":"a","price":12.5}}`, func(d *lineDecoder) {
		if d.ttl != time.Hour || d.rec.product.Price != "12.5" {
			t.Errorf("ttl %s price %q", d.ttl, d.rec.product.Price)
		}
	})
	ok(`{"user":"u","phase":"consideration","interests":["a","a","b"]}`, func(d *lineDecoder) {
		if strings.Join(d.rec.interests, ",") != "a,b" || d.ttl != 720*time.Hour {
			t.Errorf("interests %q ttl %s", d.rec.interests, d.ttl)
		}
	})
	bad(``, "")
	bad(`[]`, "")
	bad(`{"user":"u-1"}`, "phase")
	bad(`{"phase":"intent"}`, "user")
	bad(`{"user":"u 1","phase":"intent"}`, "user")
	bad(`{"user":"u-1","phase":"buying"}`, "phase")
	bad(`{"user":"u-1","phase":"intent","colour":"red"}`, "colour")
	bad(`{"user":"u-1","phase":"intent","ttl":"forever"}`, "ttl")
	bad(`{"user":"u-1","phase":"intent","ttl":"0s"}`, "ttl")
	bad(`{"user":"u-1","phase":"intent","product":{"name":"x"}}`, "product.id")
	bad(`{"user":"u-1","phase":"intent","product":{"id":"x","price":"cheap"}}`, "product.price")
	bad(`{"user":"u-1","phase":"intent","product":{"id":"x","colour":"red"}}`, "product.colour")
	bad(`{"user":"u-1","phase":"intent","interests":"running"}`, "interests")
	bad(`{"user":"u-1","phase":"intent","interests":[""]}`, "interests")
	bad(`{"user":"u-1","phase":"intent","since":"yesterday"}`, "since")
	bad(`{"user":"u-1","phase":"intent"} x`, "")
	bad(`{"user":"u-1","phase":"intent",}`, "")
	bad(`{"user":"u-1" "phase":"intent"}`, "")
	bad(`{"user":"u-1","phase":"intent"`, "")
	bad(`{"user":"`+strings.Repeat("x", 300)+`","phase":"intent"}`, "user")
	bad(`{"user":"u-1","phase":"intent","purchased":[`+strings.Repeat(`"a",`, maxPurchased)+`"b"]}`, "purchased")
}

func FuzzDecodeLine(f *testing.F) {
	f.Add(`{"user":"u-1","phase":"intent","interests":["running-shoes"],"product":{"id":"sku-1","name":"Trail Runner 2","price":"89.00"},"purchased":["sku-9"],"ttl":"720h"}`)
	f.Add(`{"user":"\ud83d\ude00","phase":"awareness","since":"2026-01-01T00:00:00Z"}`)
	f.Add(`{"user":"a","phase":"unknown","ttl":10,"product":{"id":"\u0000"}}`)
	f.Fuzz(func(t *testing.T, line string) {
		var d lineDecoder
		if err := d.decode([]byte(line), t0, time.Hour); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if checkUser(d.user) != nil {
			t.Fatalf("accepted invalid user %q", d.user)
		}
		b := appendRecord(nil, &d.rec)
		var r record
		if err := decodeRecord(string(b), &r); err != nil {
			t.Fatalf("encoded record does not decode: %v", err)
		}
	})
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add(`[{"type":"page_view","user":"u"},{"type":"purchase","user":"u","product":{"id":"a"},"ts":"2026-11-02T10:00:00Z"}]`)
	f.Add("{\"type\":\"checkout\",\"user\":\"u\"}\n{\"type\":\"add_to_cart\",\"user\":\"v\"}\n")
	f.Fuzz(func(t *testing.T, body string) {
		evs, err := decodeEvents([]byte(body), 100)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("no events and no error")
		}
	})
}

func BenchmarkDecodeLine(b *testing.B) {
	line := []byte(`{"user":"u-123456","phase":"intent","interests":["running-shoes"],"product":{"id":"sku-1","name":"Trail Runner 2","price":"89.00"},"purchased":["sku-9"],"ttl":"720h"}`)
	var d lineDecoder
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		if err := d.decode(line, t0, time.Hour); err != nil {
			b.Fatal(err)
		}
		out = appendRecord(out[:0], &d.rec)
	}
}
