package pacing

import (
	"testing"
	"time"
)

func TestScaledClock(t *testing.T) {
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	c := NewScaledClockSince(start, time.Now().Add(-time.Second), 144) // a day in 10 minutes
	if got := c.Now().Sub(start); got < 144*time.Second || got > 150*time.Second {
		t.Fatalf("scaled clock advanced %s in one real second, want ≈ 144s", got)
	}
	if got := realInterval(c, 5*time.Second); got != 5*time.Second/144 {
		t.Fatalf("realInterval = %s", got)
	}
	if got := realInterval(SystemClock{}, time.Millisecond); got != 5*time.Millisecond {
		t.Fatalf("realInterval floor = %s", got)
	}
}

func TestDayOf(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	f := func(now time.Time, loc *time.Location, wantDay string, wantHours float64) {
		t.Helper()
		day, s, e := dayOf(now, loc)
		if day != wantDay || float64(e-s)/3.6e6 != wantHours {
			t.Fatalf("dayOf(%s, %s) = %s, %gh; want %s, %gh", now, loc, day, float64(e-s)/3.6e6, wantDay, wantHours)
		}
	}
	f(time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC), ny, "2026-11-01", 25) // DST ends
	f(time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), ny, "2026-03-08", 23) // DST starts
	f(time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), nil, "2026-03-08", 24)
}
