package bench

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Pacer fixes, before any request is sent, when each request of an open-loop
// attack is due. Because the schedule does not depend on responses, a slow
// target cannot delay the requests that would measure its slowness.
type Pacer interface {
	// Due returns the offset from the attack start at which request n (counting
	// from 0) is due. It is non-decreasing in n.
	Due(n uint64) time.Duration
	// Rate returns the intended request rate per second at offset t.
	Rate(t time.Duration) float64
}

// ConstantPacer sends requests at a fixed rate per second.
type ConstantPacer struct {
	// PerSecond is the request rate; it must be positive.
	PerSecond float64
}

var _ Pacer = ConstantPacer{}

// Due returns n/PerSecond seconds.
func (p ConstantPacer) Due(n uint64) time.Duration {
	return time.Duration(float64(n) * float64(time.Second) / p.PerSecond)
}

// Rate returns PerSecond.
func (p ConstantPacer) Rate(time.Duration) float64 { return p.PerSecond }

// DefaultDayCurve is the relative traffic of each hour of a simulated day (hour 0
// is midnight in the day's time zone): a night trough at a quarter of the evening
// peak, typical of European web and app inventory.
var DefaultDayCurve = [24]float64{
	0.45, 0.35, 0.28, 0.25, 0.25, 0.30, 0.42, 0.58, 0.70, 0.76, 0.80, 0.83,
	0.86, 0.85, 0.82, 0.80, 0.82, 0.86, 0.90, 0.96, 1.00, 0.95, 0.80, 0.60,
}

// Day compresses a simulated day into a shorter real duration for pacing tests:
// the request rate follows a daily traffic curve and every request and notice
// carries the simulated time in the X-Kairos-Sim-Time header.
type Day struct {
	// Sim is the simulated span, usually 24h.
	Sim time.Duration
	// Real is how long Sim takes in real time, e.g. 10m. Zero disables day mode.
	Real time.Duration
	// Start is the simulated time at the attack start; zero means midnight UTC of
	// the day the attack starts.
	Start time.Time
	// Curve holds relative rates per simulated hour (any positive scale; the
	// maximum is the peak). Nil means DefaultDayCurve.
	Curve []float64
}

// Enabled reports whether day compression is on.
func (d Day) Enabled() bool { return d.Real > 0 }

// Validate reports the first invalid setting.
func (d Day) Validate() error {
	if !d.Enabled() {
		return nil
	}
	if d.Sim <= 0 {
		return errors.New("day: sim span must be positive")
	}
	if d.Curve != nil {
		if len(d.Curve) == 0 {
			return errors.New("day: curve is empty")
		}
		peak := 0.0
		for i, v := range d.Curve {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("day: curve[%d] = %v is not a non-negative number", i, v)
			}
			peak = max(peak, v)
		}
		if peak == 0 {
			return errors.New("day: curve is all zero")
		}
	}
	return nil
}

// SimTime maps a real offset from the attack start to simulated time.
func (d Day) SimTime(start time.Time, offset time.Duration) time.Time {
	s := d.Start
	if s.IsZero() {
		s = start.UTC().Truncate(24 * time.Hour)
	}
	return s.Add(time.Duration(float64(offset) * float64(d.Sim) / float64(d.Real)))
}

// ParseDayCompress parses "SIM=REAL", for example "24h=10m".
func ParseDayCompress(s string) (Day, error) {
	simS, realS, ok := strings.Cut(s, "=")
	if !ok {
		return Day{}, fmt.Errorf("day compression %q: want SIM=REAL, e.g. 24h=10m", s)
	}
	sim, err := time.ParseDuration(simS)
	if err != nil {
		return Day{}, fmt.Errorf("day compression %q: %w", s, err)
	}
	real, err := time.ParseDuration(realS)
	if err != nil {
		return Day{}, fmt.Errorf("day compression %q: %w", s, err)
	}
	if sim <= 0 || real <= 0 {
		return Day{}, fmt.Errorf("day compression %q: both spans must be positive", s)
	}
	return Day{Sim: sim, Real: real}, nil
}

// daySlots is the resolution of the day pacer: the curve is interpolated
// linearly between hours and held constant over each of these slots.
const daySlots = 288

// DayPacer paces requests along a compressed day: the rate at real offset t is
// Peak times the curve value at the simulated time of t. After one compressed day
// it starts over.
type DayPacer struct {
	peak  float64
	slot  time.Duration // real length of one slot
	rates []float64     // requests per second in each slot
	cum   []float64     // requests due by the end of each slot
}

var _ Pacer = (*DayPacer)(nil)

// NewDayPacer returns a pacer whose peak rate is peak requests per second.
func NewDayPacer(peak float64, d Day) (*DayPacer, error) {
	if peak <= 0 {
		return nil, errors.New("day pacer: peak rate must be positive")
	}
	if !d.Enabled() {
		return nil, errors.New("day pacer: day compression is off")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	curve := d.Curve
	if curve == nil {
		curve = DefaultDayCurve[:]
	}
	top := 0.0
	for _, v := range curve {
		top = max(top, v)
	}
	// The simulated day may start at any hour; the curve is indexed by the hour
	// of day of the simulated time.
	start := d.Start
	startHour := 0.0
	if !start.IsZero() {
		startHour = float64(start.Hour()) + float64(start.Minute())/60 + float64(start.Second())/3600
	}
	p := &DayPacer{
		peak:  peak,
		slot:  d.Real / daySlots,
		rates: make([]float64, daySlots),
		cum:   make([]float64, daySlots),
	}
	if p.slot <= 0 {
		return nil, errors.New("day pacer: real span too short")
	}
	simHours := d.Sim.Hours()
	total := 0.0
	for i := range daySlots {
		h := startHour + (float64(i)+0.5)/daySlots*simHours
		r := peak * curveAt(curve, h) / top
		p.rates[i] = r
		total += r * p.slot.Seconds()
		p.cum[i] = total
	}
	if total < 1 {
		return nil, errors.New("day pacer: fewer than one request per compressed day")
	}
	return p, nil
}

// curveAt interpolates the hourly curve linearly at hour h, wrapping at midnight.
func curveAt(curve []float64, h float64) float64 {
	n := float64(len(curve))
	h = math.Mod(h*n/24, n)
	i := int(h)
	frac := h - float64(i)
	a := curve[i%len(curve)]
	b := curve[(i+1)%len(curve)]
	return a + (b-a)*frac
}

// Due returns when request n is due, inverting the cumulative rate.
func (p *DayPacer) Due(n uint64) time.Duration {
	perDay := p.cum[len(p.cum)-1]
	x := float64(n)
	days := math.Floor(x / perDay)
	x -= days * perDay
	i := sort.SearchFloat64s(p.cum, x)
	for i < len(p.cum)-1 && p.cum[i] <= x {
		i++ // the first slot whose end lies strictly past x
	}
	for p.rates[i] == 0 && i < len(p.cum)-1 {
		i++
	}
	before := 0.0
	if i > 0 {
		before = p.cum[i-1]
	}
	in := 0.0
	if p.rates[i] > 0 {
		in = (x - before) / p.rates[i]
	}
	day := time.Duration(daySlots) * p.slot
	return time.Duration(days)*day + time.Duration(i)*p.slot + time.Duration(in*float64(time.Second))
}

// Rate returns the intended rate at real offset t.
func (p *DayPacer) Rate(t time.Duration) float64 {
	if t < 0 {
		t = 0
	}
	i := int(t/p.slot) % daySlots
	return p.rates[i]
}

// PerDay returns how many requests one compressed day carries.
func (p *DayPacer) PerDay() float64 { return p.cum[len(p.cum)-1] }
