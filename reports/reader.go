package reports

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/redis/go-redis/v9"
)

// ParamError is a bad query parameter: Param names it (from, to, by,
// campaign, format), Msg says what is wrong.
type ParamError struct {
	// Param is the query parameter's name.
	Param string
	// Msg says what is wrong with it.
	Msg string
}

// Error returns the message with the parameter's name.
func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

// Reader answers report queries from the counts the Counters flushed to Redis,
// summed over every instance. It is safe for concurrent use.
type Reader struct {
	rdb *storage.Redis
	cfg Config
}

// NewReader returns a Reader over r.
func NewReader(r *storage.Redis, cfg Config) *Reader {
	return &Reader{rdb: r, cfg: cfg.withDefaults()}
}

// Now returns the Reader's clock time.
func (r *Reader) Now() time.Time { return r.cfg.Clock.Now() }

// Row is one line of a win-rate report. Amounts are in the currency the
// counts were made in (the campaign's budget currency); rates are fractions
// in [0, 1]. Requests and no-bids carry no campaign or variant: they appear
// in rows whose campaign and variant are empty.
type Row struct {
	// Dims maps each grouping dimension to its value in this row.
	Dims map[string]string `json:"dims"`
	// Requests counts bid requests.
	Requests int64 `json:"requests"`
	// NoBids counts requests answered with no bid.
	NoBids int64 `json:"no_bids"`
	// Bids counts bids sent.
	Bids int64 `json:"bids"`
	// Wins counts won bids (win, billing or impression notice, once per bid).
	Wins int64 `json:"wins"`
	// LateWins counts wins settled after their reservation was released.
	LateWins int64 `json:"late_wins"`
	// Losses counts loss notices.
	Losses int64 `json:"losses"`
	// Impressions counts billing notices.
	Impressions int64 `json:"impressions"`
	// Clicks counts clicks.
	Clicks int64 `json:"clicks"`
	// WinRate is Wins / Bids.
	WinRate float64 `json:"win_rate"`
	// Spend is the sum of the clearing prices of one impression per win.
	Spend money.Micros `json:"spend"`
	// ECPM is Spend per thousand wins.
	ECPM money.Micros `json:"ecpm"`
	// AvgClearingCPM is the mean clearing CPM of wins.
	AvgClearingCPM money.Micros `json:"avg_clearing_cpm"`
	// AvgBidCPM is the mean CPM of bids.
	AvgBidCPM money.Micros `json:"avg_bid_cpm"`
	// CTR is Clicks / Wins.
	CTR float64 `json:"ctr"`

	bidCPM, clearCPM int64
	sortKey          string
}

// add files one metric of a hash field into r.
func (r *Row) add(metric string, v int64) {
	switch metric {
	case "q":
		r.Requests += v
	case "b":
		r.Bids += v
	case "bc":
		r.bidCPM += v
	case "w":
		r.Wins += v
	case "wl":
		r.LateWins += v
	case "wc":
		r.clearCPM += v
	case "s":
		r.Spend += money.Micros(v)
	case "i":
		r.Impressions += v
	case "k":
		r.Clicks += v
	default:
		switch {
		case strings.HasPrefix(metric, "n:"):
			r.NoBids += v
		case strings.HasPrefix(metric, "l:"):
			r.Losses += v
		}
	}
}

func (r *Row) merge(o *Row) {
	r.Requests += o.Requests
	r.NoBids += o.NoBids
	r.Bids += o.Bids
	r.Wins += o.Wins
	r.LateWins += o.LateWins
	r.Losses += o.Losses
	r.Impressions += o.Impressions
	r.Clicks += o.Clicks
	r.Spend += o.Spend
	r.bidCPM += o.bidCPM
	r.clearCPM += o.clearCPM
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*1e6) / 1e6
}

func mean(sum, n int64) money.Micros {
	if n == 0 {
		return 0
	}
	return money.Micros(sum / n)
}

// finish computes the derived figures.
func (r *Row) finish() {
	r.WinRate = ratio(r.Wins, r.Bids)
	r.CTR = ratio(r.Clicks, r.Wins)
	r.ECPM = mean(int64(money.ImpressionToCPM(r.Spend)), r.Wins)
	r.AvgClearingCPM = mean(r.clearCPM, r.Wins)
	r.AvgBidCPM = mean(r.bidCPM, r.Bids)
}

// Totals sums rows into one row without dimensions.
func Totals(rows []Row) Row {
	t := Row{Dims: map[string]string{}}
	for i := range rows {
		t.merge(&rows[i])
	}
	t.finish()
	return t
}

// ParseBy reads a comma-separated list of dimensions, rejecting unknown and
// repeated names.
func ParseBy(s string) ([]string, error) {
	var by []string
	for _, d := range strings.Split(s, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if dimIndex(d) < 0 {
			return nil, &ParamError{"by", fmt.Sprintf("unknown dimension %q (want %s)", d, strings.Join(Dimensions(), ", "))}
		}
		for _, o := range by {
			if o == d {
				return nil, &ParamError{"by", fmt.Sprintf("dimension %q given twice", d)}
			}
		}
		by = append(by, d)
	}
	return by, nil
}

func dimIndex(d string) int {
	for i, n := range Dimensions() {
		if n == d {
			return i
		}
	}
	return -1
}

// dimValue returns the value of dimension i (in Dimensions order) of a field
// and a key that sorts it (numeric codes and hours in their own order).
func dimValue(i int, f *fieldDims, hour int64) (val, sortKey string) {
	switch i {
	case 0:
		return f.strs[0], f.strs[0]
	case 1:
		return f.strs[1], f.strs[1]
	case 2:
		return PhaseName(f.phase), string(rune('0' + f.phase))
	case 3:
		return f.strs[2], f.strs[2]
	case 4:
		return f.strs[3], f.strs[3]
	case 5:
		return f.strs[4], f.strs[4]
	case 6:
		return DeviceName(f.device), string(rune('0' + f.device))
	case 7:
		return FormatName(f.format), string(rune('0' + f.format))
	}
	return HourTime(hour).Format(time.RFC3339), fmt.Sprintf("%012d", hour)
}

// HourTime returns the start of a unix hour.
func HourTime(hour int64) time.Time { return time.Unix(hour*3600, 0).UTC() }

// checkRange validates a query range.
func (r *Reader) checkRange(from, to time.Time) error {
	switch {
	case !from.Before(to):
		return &ParamError{"to", "must be after from"}
	case to.Sub(from) > r.cfg.TTL+time.Hour:
		return &ParamError{"from", fmt.Sprintf("range longer than the %v reports are kept", r.cfg.TTL)}
	}
	return nil
}

// hours lists the unix hours that start in [from rounded down to the hour, to).
func hours(from, to time.Time) []int64 {
	if !from.Before(to) {
		return nil
	}
	h0 := floorDiv(from.Unix(), 3600)
	h1 := floorDiv(to.Unix()-1, 3600)
	out := make([]int64, 0, h1-h0+1)
	for h := h0; h <= h1; h++ {
		out = append(out, h)
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// scan reads the hashes of every hour in range (landscape hashes when land is
// set) and calls fn for each field.
func (r *Reader) scan(ctx context.Context, from, to time.Time, land bool, fn func(hour int64, field string, v int64)) error {
	if err := r.checkRange(from, to); err != nil {
		return err
	}
	hs := hours(from, to)
	const perPipe = 32 // hours per pipeline, keySpread+1 keys each
	for len(hs) > 0 {
		part := hs[:min(len(hs), perPipe)]
		hs = hs[len(part):]
		pipe := r.rdb.Client.Pipeline()
		const perHour = keySpread + 1 // the parts, then the legacy key
		cmds := make([]*redis.MapStringStringCmd, 0, len(part)*perHour)
		prefix := r.rdb.Keys.Prefix
		for _, h := range part {
			for p := range keySpread {
				if land {
					cmds = append(cmds, pipe.HGetAll(ctx, landKey(prefix, h, p)))
				} else {
					cmds = append(cmds, pipe.HGetAll(ctx, hourKey(prefix, h, p)))
				}
			}
			if land {
				cmds = append(cmds, pipe.HGetAll(ctx, legacyLandKey(prefix, h)))
			} else {
				cmds = append(cmds, pipe.HGetAll(ctx, legacyHourKey(prefix, h)))
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("read reports: %w", err)
		}
		for i, cmd := range cmds {
			for f, s := range cmd.Val() {
				v, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					continue
				}
				fn(part[i/perHour], f, v)
			}
		}
	}
	return nil
}

// grouping sums fields into rows by a list of dimensions.
type grouping struct {
	idx  []int
	by   []string
	rows map[string]*Row
	buf  []byte
}

func newGrouping(by []string) *grouping {
	g := &grouping{by: by, rows: map[string]*Row{}}
	for _, d := range by {
		g.idx = append(g.idx, dimIndex(d))
	}
	return g
}

func (g *grouping) add(hour int64, f *fieldDims, v int64) {
	g.buf = g.buf[:0]
	for _, i := range g.idx {
		val, _ := dimValue(i, f, hour)
		g.buf = append(append(g.buf, val...), sep)
	}
	row := g.rows[string(g.buf)]
	if row == nil {
		row = &Row{Dims: make(map[string]string, len(g.idx))}
		var sk strings.Builder
		for j, i := range g.idx {
			val, s := dimValue(i, f, hour)
			row.Dims[g.by[j]] = val
			sk.WriteString(s)
			sk.WriteByte(sep)
		}
		row.sortKey = sk.String()
		g.rows[string(g.buf)] = row
	}
	row.add(f.metric, v)
}

func (g *grouping) result() []Row {
	out := make([]Row, 0, len(g.rows))
	for _, r := range g.rows {
		r.finish()
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sortKey < out[j].sortKey })
	return out
}

// WinRate returns the report for [from, to) grouped by the given dimensions
// (see Dimensions), sorted by them; with none it returns one row of totals.
// Hours are whole: from is rounded down to its hour and an hour is included
// when it starts before to.
func (r *Reader) WinRate(ctx context.Context, from, to time.Time, by []string) ([]Row, error) {
	by, err := ParseBy(strings.Join(by, ","))
	if err != nil {
		return nil, err
	}
	g := newGrouping(by)
	err = r.scan(ctx, from, to, false, func(hour int64, field string, v int64) {
		if f, ok := parseField(field); ok {
			g.add(hour, &f, v)
		}
	})
	if err != nil {
		return nil, err
	}
	rows := g.result()
	if len(by) == 0 && len(rows) == 0 {
		rows = []Row{Totals(nil)}
	}
	return rows, nil
}

// LandscapeRow is the win rate of one bid-price bucket and phase.
type LandscapeRow struct {
	// Phase is the purchase phase.
	Phase string `json:"phase"`
	// Bucket numbers the price bucket, from 0.
	Bucket int `json:"bucket"`
	// Low is the bucket's lowest bid CPM.
	Low money.Micros `json:"low_cpm"`
	// High is the CPM where the bucket ends (exclusive); absent for the last.
	High *money.Micros `json:"high_cpm,omitempty"`
	// Bids counts bids in the bucket.
	Bids int64 `json:"bids"`
	// Wins counts wins of bids in the bucket.
	Wins int64 `json:"wins"`
	// WinRate is Wins / Bids.
	WinRate float64 `json:"win_rate"`

	phase uint8
}

// Landscape returns the win rate by bid-price bucket and phase of a campaign
// (every campaign when campaign is empty) over [from, to); only buckets with
// bids or wins appear, ordered by phase and price.
func (r *Reader) Landscape(ctx context.Context, from, to time.Time, campaign string) ([]LandscapeRow, error) {
	type lk struct {
		phase  uint8
		bucket int
	}
	m := map[lk]*LandscapeRow{}
	err := r.scan(ctx, from, to, true, func(_ int64, field string, v int64) {
		parts := strings.Split(field, string(sep))
		if len(parts) != 4 || (campaign != "" && parts[0] != campaign) {
			return
		}
		ph, err1 := strconv.ParseUint(parts[1], 10, 8)
		b, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || b < 0 || b >= numBuckets {
			return
		}
		k := lk{uint8(ph), b}
		row := m[k]
		if row == nil {
			low, high := BucketBounds(b)
			row = &LandscapeRow{Phase: PhaseName(k.phase), Bucket: b, Low: low, phase: k.phase}
			if high != 0 {
				row.High = &high
			}
			m[k] = row
		}
		switch parts[3] {
		case "b":
			row.Bids += v
		case "w":
			row.Wins += v
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]LandscapeRow, 0, len(m))
	for _, row := range m {
		row.WinRate = ratio(row.Wins, row.Bids)
		out = append(out, *row)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].phase != out[j].phase {
			return out[i].phase < out[j].phase
		}
		return out[i].Bucket < out[j].Bucket
	})
	return out, nil
}

// ReasonCount is how often one no-bid reason occurred.
type ReasonCount struct {
	// Reason is the no-bid reason's name.
	Reason string `json:"reason"`
	// Count is the number of no-bids for it.
	Count int64 `json:"count"`
}

// LossCount is how often one OpenRTB loss reason was reported.
type LossCount struct {
	// Code is the OpenRTB loss reason code.
	Code int `json:"code"`
	// Reason is the code's name.
	Reason string `json:"reason"`
	// Count is the number of loss notices with it.
	Count int64 `json:"count"`
}

// NoBidReasons returns the no-bid reasons of [from, to), most frequent first.
func (r *Reader) NoBidReasons(ctx context.Context, from, to time.Time) ([]ReasonCount, error) {
	nb, _, err := r.reasons(ctx, from, to)
	return nb, err
}

// LossReasons returns the loss reasons of [from, to), most frequent first.
func (r *Reader) LossReasons(ctx context.Context, from, to time.Time) ([]LossCount, error) {
	_, ls, err := r.reasons(ctx, from, to)
	return ls, err
}

func (r *Reader) reasons(ctx context.Context, from, to time.Time) ([]ReasonCount, []LossCount, error) {
	ra := newReasonAgg()
	err := r.scan(ctx, from, to, false, func(_ int64, field string, v int64) {
		if f, ok := parseField(field); ok {
			ra.add(f.metric, v)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	nb, ls := ra.result()
	return nb, ls, nil
}

type reasonAgg struct {
	nobids map[string]int64
	losses map[int]int64
}

func newReasonAgg() *reasonAgg {
	return &reasonAgg{nobids: map[string]int64{}, losses: map[int]int64{}}
}

func (a *reasonAgg) add(metric string, v int64) {
	switch {
	case strings.HasPrefix(metric, "n:"):
		a.nobids[metric[2:]] += v
	case strings.HasPrefix(metric, "l:"):
		if code, err := strconv.Atoi(metric[2:]); err == nil {
			a.losses[code] += v
		}
	}
}

func (a *reasonAgg) result() ([]ReasonCount, []LossCount) {
	nb := make([]ReasonCount, 0, len(a.nobids))
	for r, n := range a.nobids {
		nb = append(nb, ReasonCount{r, n})
	}
	sort.Slice(nb, func(i, j int) bool {
		if nb[i].Count != nb[j].Count {
			return nb[i].Count > nb[j].Count
		}
		return nb[i].Reason < nb[j].Reason
	})
	ls := make([]LossCount, 0, len(a.losses))
	for c, n := range a.losses {
		ls = append(ls, LossCount{c, LossReasonName(c), n})
	}
	sort.Slice(ls, func(i, j int) bool {
		if ls[i].Count != ls[j].Count {
			return ls[i].Count > ls[j].Count
		}
		return ls[i].Code < ls[j].Code
	})
	return nb, ls
}
