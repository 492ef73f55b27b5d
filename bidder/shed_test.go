package bidder

import (
	"testing"
	"time"
)

func TestShedderShare(t *testing.T) {
	s := newShedder(ShedConfig{TargetLag: 2 * time.Millisecond}) // the default is 10ms
	f := func(lag time.Duration, want float64) {
		t.Helper()
		s.observe(lag)
		if got := s.Share(); got < want-1e-9 || got > want+1e-9 {
			t.Fatalf("after lag %s share = %.3f, want %.3f", lag, got, want)
		}
	}
	f(0, 0)                                        // idle: nothing shed
	f(2*time.Millisecond, 0)                       // at the target: nothing shed
	f(3*time.Millisecond, 0)                       // one late sample: a blip, not a queue
	f(0, 0)                                        // back in time
	f(3*time.Millisecond, 0)                       // late again...
	f(3*time.Millisecond, shedStepUp)              // ...twice in a row: up one step
	f(50*time.Millisecond, 2*shedStepUp)           // still lagging
	f(time.Millisecond, 2*shedStepUp-shedStepDown) // recovering: down slowly
	for range 100 {
		s.observe(time.Second)
	}
	if got := s.Share(); got != shedMax {
		t.Fatalf("share under sustained overload = %.3f, want the cap %.2f", got, shedMax)
	}
	for range 100 {
		s.observe(0)
	}
	if got := s.Share(); got != 0 {
		t.Fatalf("share after recovery = %.3f, want 0", got)
	}
}

func TestShedDraw(t *testing.T) {
	s := newShedder(ShedConfig{})
	s.share.Store(0) // math.Float64bits(0)
	for i := uint64(0); i < 1000; i++ {
		if s.shed(mix64(i)) {
			t.Fatal("shed with share 0")
		}
	}
	for range 6 {
		s.observe(time.Second) // the first sample is taken for a blip: share 0.5
	}
	n := 0
	for i := uint64(0); i < 100000; i++ {
		if s.shed(mix64(i)) {
			n++
		}
	}
	if n < 48000 || n > 52000 {
		t.Fatalf("shed %d of 100000 at share 0.5", n)
	}
	var off *shedder
	if off.enabled() || newShedder(ShedConfig{TargetLag: -1}).enabled() {
		t.Fatal("a nil or negative-target shedder is enabled")
	}
}

// TestShedRequest: a shed request is answered 204 "overload" without its body
// being decoded, so even a malformed one costs no decode.
func TestShedRequest(t *testing.T) {
	s := demoServer(t)
	for range 100 {
		s.shed.observe(time.Second)
	}
	overload := 0
	for range 200 {
		status, reason, _ := do(s, `{not json`)
		switch {
		case status == 204 && reason == ReasonOverload.String():
			overload++
		case status == 400:
		default:
			t.Fatalf("status %d reason %q", status, reason)
		}
	}
	if overload < 180 {
		t.Fatalf("%d of 200 requests shed at share %.2f", overload, s.shed.Share())
	}
	for range 100 {
		s.shed.observe(0)
	}
	if status, _, _ := do(s, `{not json`); status != 400 {
		t.Fatalf("after recovery a malformed request gets %d, want 400", status)
	}
}
