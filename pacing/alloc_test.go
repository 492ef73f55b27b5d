//go:build !race

package pacing

import (
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
)

// TestHotPathDoesNotAllocate pins the bid-path calls at zero allocations.
func TestHotPathDoesNotAllocate(t *testing.T) {
	p, c := benchPacer(t)
	s, _ := NewSigner(testSecret)
	n := testNotice()
	buf := make([]byte, 0, 1024)
	now := t0.Add(time.Second)
	p.Reserve(c, 2*money.Unit, now) // grow the queue once
	args := parseArgs(t, string(s.AppendNoticeURL(nil, KindWin, "https://bid.example", &n)))
	for name, f := range map[string]func(){
		"Reserve":         func() { p.Reserve(c, 2*money.Unit, now) },
		"Allow":           func() { p.Allow(c, 12345) },
		"ObserveRequest":  func() { p.ObserveRequest(now) },
		"AppendNoticeURL": func() { buf = s.AppendNoticeURL(buf[:0], KindWin, "https://bid.example", &n) },
		"Verify":          func() { _, _ = s.Verify(KindWin, args, t0) },
	} {
		drain(p)
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s allocates %.1f times per call", name, a)
		}
	}
}
