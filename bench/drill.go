package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Window is what one slice of a failure drill's steady load saw.
type Window struct {
	// Start is when the window's first request was due.
	Start time.Time `json:"start"`
	// Requests, Bids, Late, LateSent, LateServer, Errors and NotSent are as in
	// Metrics; Status5xx counts answers with a 5xx status; GenLag is the load
	// generator's largest delay in sending a request.
	Requests   uint64        `json:"requests"`
	Bids       uint64        `json:"bids"`
	Late       uint64        `json:"late"`
	LateSent   uint64        `json:"late_sent"`
	LateServer uint64        `json:"late_server"`
	Errors     uint64        `json:"errors"`
	NotSent    uint64        `json:"not_sent"`
	Status5xx  uint64        `json:"status_5xx"`
	GenLag     time.Duration `json:"generator_lag_max"`
	// NoBidReasons counts 204 answers by reason.
	NoBidReasons map[string]uint64 `json:"nobid_reasons,omitempty"`
}

// WindowOf condenses an attack's metrics into a Window starting at start.
func WindowOf(start time.Time, m *Metrics) Window {
	w := Window{Start: start, Requests: m.Requests, Bids: m.Bids, Late: m.Late, LateSent: m.LateSent, LateServer: m.LateServer,
		Errors: m.Errors, NotSent: m.NotSent, GenLag: m.SchedLagMax, NoBidReasons: m.NoBidReasons}
	for code, n := range m.StatusCodes {
		if code >= 500 {
			w.Status5xx += n
		}
	}
	return w
}

// RunWindows attacks in consecutive windows of length every until total has
// passed or ctx ends, and calls emit with each window. Before each window,
// targets (when not nil) names the live bid endpoints, as a load balancer's
// health checks would: a drill takes a killed instance out of rotation.
func RunWindows(ctx context.Context, cfg AttackConfig, c Corpus, every, total time.Duration,
	targets func() []string, emit func(Window) error) error {
	end := time.Now().Add(total)
	for ctx.Err() == nil && time.Now().Before(end) {
		wc := cfg
		if targets != nil {
			if t := targets(); len(t) > 0 {
				wc.Targets = t
			}
		}
		wc.Duration = min(every, time.Until(end))
		a, err := NewAttacker(wc)
		if err != nil {
			return err
		}
		start := time.Now()
		m, err := a.Attack(ctx, c)
		if err != nil {
			return err
		}
		if err := emit(WindowOf(start, m)); err != nil {
			return err
		}
	}
	return nil
}

// DrillEvent is one line of a drill's event log: "<unix seconds> <kind>
// <name> [value…]". Kinds: start and end bound a fault (the baseline is a
// fault named baseline); spend gives a campaign's settled spend, budget and
// late spend in micros; attack names the timeline of extra load that
// belongs to the fault.
type DrillEvent struct {
	At     time.Time
	Kind   string
	Name   string
	Values []string
}

// ReadDrillEvents reads an event log.
func ReadDrillEvents(r io.Reader) ([]DrillEvent, error) {
	var out []DrillEvent
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("event line %d: want <time> <kind> <name>, got %q", n, sc.Text())
		}
		sec, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("event line %d: time %q: %w", n, f[0], err)
		}
		out = append(out, DrillEvent{At: time.Unix(0, int64(sec*1e9)), Kind: f[1], Name: f[2], Values: f[3:]})
	}
	return out, sc.Err()
}

// DrillRow is the drill table's line for one fault: the steady load from the
// fault's start until the next fault starts (so recovery counts too), plus
// any extra load of the fault.
type DrillRow struct {
	Fault                  string
	Requests, Late, Errors uint64
	Status5xx, Bids        uint64
	// NotSent counts requests the exchange dropped unsent because every
	// connection to the instance was busy (part of Errors).
	NotSent uint64
	// LateSent counts the answers late from their actual send, LateServer
	// those still late without the generator's own stalls meanwhile; GenLag
	// is the load generator's largest delay in sending (Late includes it).
	LateSent, LateServer     uint64
	GenLag                   time.Duration
	Spent, Budget, LateSpend int64 // micros; Budget 0 = not measured
	// NoBids counts no-bids by reason, of the steady load and any extra load.
	NoBids map[string]uint64
	// Resumed is how long after the fault ended the bid rate was back to at
	// least half the baseline's; -1 when it never was.
	Resumed time.Duration
}

// add counts window w into r (its no-bid reasons aside).
func (r *DrillRow) add(w *Window) {
	r.Requests += w.Requests
	r.Late += w.Late
	r.LateSent += w.LateSent
	r.LateServer += w.LateServer
	r.GenLag = max(r.GenLag, w.GenLag)
	r.Errors += w.Errors
	r.NotSent += w.NotSent
	r.Status5xx += w.Status5xx
	r.Bids += w.Bids
}

// Pass reports whether the row meets the drill's checks: no answer late from
// its send, no 5xx, settled spend within budget, bidding back within 5
// seconds. Lateness the load generator causes by falling behind (Late beyond
// LateSent, with GenLag showing how far it fell) or by stalling while an
// answer waited to be read (LateSent beyond LateServer) is the harness's, not
// the bidder's: the drill runs everything on one machine.
func (r *DrillRow) Pass() bool {
	return r.LateServer == 0 && r.Status5xx == 0 && (r.Budget == 0 || r.Spent <= r.Budget) &&
		r.Resumed >= 0 && r.Resumed <= 5*time.Second
}

// DrillTable builds one row per fault from the steady load's windows and the
// event log; extra reads the timelines of extra load.
func DrillTable(ws []Window, evs []DrillEvent, extra func(path string) ([]Window, error)) ([]DrillRow, error) {
	type span struct{ start, end, next time.Time }
	spans := map[string]*span{}
	var order []string
	for _, e := range evs {
		if e.Kind == "start" {
			spans[e.Name] = &span{start: e.At}
			if n := len(order); n > 0 {
				spans[order[n-1]].next = e.At
			}
			order = append(order, e.Name)
		} else if e.Kind == "end" && spans[e.Name] != nil {
			spans[e.Name].end = e.At
		}
	}
	var baseBids, baseReq uint64
	rows := make([]DrillRow, len(order))
	for i, name := range order {
		s := spans[name]
		if s.end.IsZero() {
			s.end = s.start
		}
		r := DrillRow{Fault: name, Resumed: -1, NoBids: map[string]uint64{}}
		for _, w := range ws {
			if w.Start.Before(s.start) || (!s.next.IsZero() && !w.Start.Before(s.next)) {
				continue
			}
			r.add(&w)
			for k, n := range w.NoBidReasons {
				r.NoBids[k] += n
			}
		}
		if i == 0 {
			baseBids, baseReq = r.Bids, r.Requests
		}
		rows[i] = r
	}
	for i, name := range order {
		s, r := spans[name], &rows[i]
		if i == 0 {
			r.Resumed = 0 // the baseline: no fault to resume from
		}
		for _, w := range ws {
			if i == 0 {
				break
			}
			if w.Start.Before(s.end) || w.Requests == 0 || (!s.next.IsZero() && !w.Start.Before(s.next)) {
				continue
			}
			// Bidding is back when this window's bid rate is at least half
			// the baseline's.
			if baseReq > 0 && 2*w.Bids*baseReq >= baseBids*w.Requests {
				r.Resumed = max(w.Start.Sub(s.end), 0)
				break
			}
		}
		for _, e := range evs {
			switch {
			case e.Name != name:
			case e.Kind == "spend" && len(e.Values) >= 3:
				r.Spent, _ = strconv.ParseInt(e.Values[0], 10, 64)
				r.Budget, _ = strconv.ParseInt(e.Values[1], 10, 64)
				r.LateSpend, _ = strconv.ParseInt(e.Values[2], 10, 64)
			case e.Kind == "attack" && len(e.Values) >= 1 && extra != nil:
				xs, err := extra(e.Values[0])
				if err != nil {
					return nil, err
				}
				for k := range xs {
					r.add(&xs[k])
					for reason, n := range xs[k].NoBidReasons {
						r.NoBids[reason] += n
					}
				}
			}
		}
	}
	return rows, nil
}

// WriteDrillTable prints rows as a Markdown table with a verdict per fault.
func WriteDrillTable(w io.Writer, rows []DrillRow) error {
	ew := &errWriter{w: w}
	ew.printf("| fault | requests | bids | late from send (beyond generator stalls) | late incl. generator lag (max lag) | errors (not sent) | 5xx | settled spend / budget (late) | bidding resumed after | checks | top no-bid reasons |\n")
	ew.printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for i := range rows {
		r := &rows[i]
		spend := "-"
		if r.Budget > 0 {
			spend = fmt.Sprintf("%s / %s (%s)", fmtMicros(r.Spent), fmtMicros(r.Budget), fmtMicros(r.LateSpend))
		}
		resumed := "never"
		if r.Resumed >= 0 {
			resumed = fmt.Sprintf("%.1fs", r.Resumed.Seconds())
		}
		verdict := "ok"
		if !r.Pass() {
			verdict = "FAIL"
		}
		reasons := strings.Fields(fmtCounts(r.NoBids))
		ew.printf("| %s | %d | %d | %d (%d) | %d (%s) | %d (%d) | %d | %s | %s | %s | %s |\n", r.Fault, r.Requests, r.Bids, r.LateSent, r.LateServer,
			r.Late, r.GenLag.Round(time.Millisecond), r.Errors, r.NotSent, r.Status5xx, spend, resumed, verdict,
			strings.Join(reasons[:min(3, len(reasons))], " "))
	}
	return ew.err
}

// ReadWindows reads a timeline written one JSON Window per line.
func ReadWindows(path string) ([]Window, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Window
	dec := json.NewDecoder(f)
	for dec.More() {
		var w Window
		if err := dec.Decode(&w); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, w)
	}
	return out, nil
}
