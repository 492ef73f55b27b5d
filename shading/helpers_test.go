package shading

import "time"

var t0 = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
