package consent

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(tb testing.TB, c prometheus.Counter) float64 {
	tb.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestTCFCache(t *testing.T) {
	d := newDecider(t, Config{VendorID: kairosVendor, CacheSize: 16})
	hits := func() float64 { return counterValue(t, d.metrics.cacheHits) }
	misses := func() float64 { return counterValue(t, d.metrics.cacheMisses) }

	a := consentAll
	a.created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := consentAll
	b.created = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	sa, sb := a.encode(), b.encode()
	if sa == sb {
		t.Fatal("strings should differ in their timestamps")
	}
	want := Decision{Personal: true, Contextual: true}
	for i, s := range []string{sa, sa, sb, sb + ".IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw"} {
		if got := d.Decide(bidRequest(t, gdprReq(s))); got != want {
			t.Errorf("request %d: %+v, want %+v", i, got, want)
		}
	}
	if hits() != 3 || misses() != 1 {
		t.Errorf("hits %v misses %v, want 3 and 1: strings differing only in timestamps or later segments share an entry", hits(), misses())
	}
	// Garbage in the timestamps is malformed even though the rest matches a
	// cached entry.
	bad := sa[:1] + "!!!!!!!!!!!!" + sa[13:]
	if got := d.Decide(bidRequest(t, gdprReq(bad))); got.Reason != ReasonGDPRMalformed {
		t.Errorf("garbage timestamps: %+v", got)
	}
	// A different decision must not be served from another string's entry.
	no := tcString{purposes: []int{1, 2}, vendors: []uint16{kairosVendor}}.encode()
	if got := d.Decide(bidRequest(t, gdprReq(no))); got.Personal {
		t.Errorf("purposes 3, 4 missing: %+v", got)
	}
	if got := d.Decide(bidRequest(t, gdprReq(sa))); !got.Personal {
		t.Errorf("after another string: %+v", got)
	}
}

// TestTCFCacheConcurrent runs Decide on many strings from many goroutines
// (for the race detector) and checks every answer against an uncached one.
func TestTCFCacheConcurrent(t *testing.T) {
	d := newDecider(t, Config{VendorID: kairosVendor, CacheSize: 16})
	var strs []string
	var wants []Decision
	for i := 0; i < 64; i++ {
		tc := tcString{purposes: []int{1, 2, 3}, vendors: []uint16{kairosVendor, uint16(100 + i)}}
		if i%2 == 0 {
			tc.purposes = append(tc.purposes, 4)
		}
		s := tc.encode()
		strs = append(strs, gdprReq(s))
		ref := newDecider(t, Config{VendorID: kairosVendor})
		wants = append(wants, ref.Decide(bidRequest(t, gdprReq(s))))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				k := (i*7 + g) % len(strs)
				if got := d.Decide(bidRequest(t, strs[k])); got != wants[k] {
					t.Errorf("string %d: %+v, want %+v", k, got, wants[k])
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
