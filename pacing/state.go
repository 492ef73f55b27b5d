package pacing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// CampaignState is a campaign's pacing state as this instance sees it: ledger
// figures as of the last lease or controller tick, plus its local lease.
type CampaignState struct {
	// ID is the campaign id.
	ID string `json:"id"`
	// Mode is the pacing mode: asap, even or ahead.
	Mode string `json:"mode"`
	// Currency is the budget currency.
	Currency string `json:"currency"`
	// Day is the campaign-local day of the day figures.
	Day string `json:"day"`
	// Daily and Total are the budgets.
	Daily money.Micros `json:"daily"`
	Total money.Micros `json:"total"`
	// SpentToday and SpentTotal are settled spend, all instances.
	SpentToday money.Micros `json:"spent_today"`
	SpentTotal money.Micros `json:"spent_total"`
	// Reserved is today's budget leased by all instances: unreserved lease
	// balances plus reservations awaiting their notices.
	Reserved money.Micros `json:"reserved"`
	// LateToday is spend settled after its reservation was released.
	LateToday money.Micros `json:"late_today"`
	// PlannedToday is what the pacing mode plans to have spent by now.
	PlannedToday money.Micros `json:"planned_today"`
	// Participation is the share of auctions the campaign takes part in.
	Participation float64 `json:"participation"`
	// LocalBalance and LocalOutstanding are this instance's unreserved lease
	// and its reservations not yet released.
	LocalBalance     money.Micros `json:"local_balance"`
	LocalOutstanding money.Micros `json:"local_outstanding"`
	// LedgerLost is set when the ledger vanished from Redis (see ErrLedgerLost).
	LedgerLost bool `json:"ledger_lost"`
}

func (p *Pacer) stateOf(st *campState) CampaignState {
	cs := CampaignState{ID: st.id, LedgerLost: st.lost.Load()}
	if c := st.comp.Load(); c != nil {
		cs.Mode, cs.Currency, cs.Daily, cs.Total = c.Pacing, c.Budget.Currency, c.Budget.Daily, c.Budget.Total
	}
	if f := st.fig.Load(); f != nil {
		cs.Day, cs.SpentToday, cs.SpentTotal, cs.Reserved, cs.LateToday = f.Day, f.SpentToday, f.SpentTotal, f.LeasedToday, f.LateToday
	}
	cs.PlannedToday = money.Micros(st.plan.Load())
	if t := st.threshold.Load(); t == math.MaxUint64 {
		cs.Participation = 1
	} else {
		cs.Participation = float64(t) / (1 << 64)
	}
	if dl := st.lease.Load(); dl != nil {
		cs.LocalBalance = money.Micros(dl.balance.Load())
	}
	cs.LocalOutstanding = money.Micros(st.outstanding.Load())
	return cs
}

// State returns one campaign's pacing state.
func (p *Pacer) State(campaignID string) (CampaignState, bool) {
	st := p.lookup(campaignID)
	if st == nil {
		return CampaignState{}, false
	}
	return p.stateOf(st), true
}

// States returns every known campaign's pacing state, sorted by id.
func (p *Pacer) States() []CampaignState {
	m := *p.states.Load()
	out := make([]CampaignState, 0, len(m))
	for _, st := range m {
		out = append(out, p.stateOf(st))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ServeAdmin is the admin API for pacing, mounted on "/v1/pacing" and
// "/v1/pacing/": GET /v1/pacing lists every campaign's state, GET
// /v1/pacing/<id> returns one, POST /v1/pacing/<id>/restore rewrites a lost
// ledger (see Restore), POST /v1/pacing/<id>/clear-lost resumes a campaign
// whose ledger was lost, accepting the ledger as it stands.
func (p *Pacer) ServeAdmin(ctx *fasthttp.RequestCtx) {
	path := strings.TrimPrefix(string(ctx.Path()), "/v1/pacing")
	path = strings.Trim(path, "/")
	ctx.SetContentType("application/json")
	switch {
	case path == "" && ctx.IsGet():
		writeJSON(ctx, map[string]any{"campaigns": p.States()})
	case strings.HasSuffix(path, "/restore") && ctx.IsPost():
		p.serveRestore(ctx, strings.TrimSuffix(path, "/restore"))
	case strings.HasSuffix(path, "/clear-lost") && ctx.IsPost():
		id := strings.TrimSuffix(path, "/clear-lost")
		if !p.ClearLost(id) {
			ctx.SetStatusCode(fasthttp.StatusConflict)
			writeJSON(ctx, map[string]string{"error": "campaign " + id + " is not marked ledger_lost here"})
			return
		}
		writeJSON(ctx, map[string]string{"status": "cleared"})
	case path != "" && !strings.Contains(path, "/") && ctx.IsGet():
		st, ok := p.State(path)
		if !ok {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			writeJSON(ctx, map[string]string{"error": "no pacing state for campaign " + path})
			return
		}
		writeJSON(ctx, st)
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		writeJSON(ctx, map[string]string{"error": "not found"})
	}
}

// RestoreRequest is the body of POST /v1/pacing/<id>/restore. Amounts are in
// the campaign's currency units ("12.50"). Every field may be left out: the
// figures then come from this instance's last view of the ledger (Restore).
type RestoreRequest struct {
	Day        string `json:"day,omitempty"`
	SpentToday string `json:"spent_today,omitempty"`
	SpentTotal string `json:"spent_total,omitempty"`
}

// Unknown marks a restore figure to be taken from the last view of the ledger.
const Unknown money.Micros = -1

// LedgerFigures are the figures a restore writes: the campaign-local day and
// the settled spend of that day and in total.
type LedgerFigures struct {
	Day        string       `json:"day"`
	SpentToday money.Micros `json:"spent_today"`
	SpentTotal money.Micros `json:"spent_total"`
}

// Restore rewrites a campaign's ledger after Redis lost it, so that every
// instance resumes bidding on it at its next controller tick. Figures left
// out (an empty Day, Unknown amounts) come from this instance's last view of
// the ledger, counting what was leased then as spent: a lease's unspent part
// may be stranded for the day, but nothing the lost ledger had handed out can
// be spent twice. It returns the figures written.
func (p *Pacer) Restore(ctx context.Context, campaignID string, f LedgerFigures) (LedgerFigures, error) {
	if f.Day == "" || f.SpentToday < 0 || f.SpentTotal < 0 {
		cs, ok := p.State(campaignID)
		if !ok || cs.Day == "" {
			return f, ErrNoFigures
		}
		if f.Day == "" {
			f.Day = cs.Day
		}
		if f.SpentToday < 0 {
			f.SpentToday = cs.SpentToday + cs.Reserved
		}
		if f.SpentTotal < 0 {
			f.SpentTotal = cs.SpentTotal + cs.Reserved
		}
	}
	return f, p.ledger.Restore(ctx, campaignID, f.Day, f.SpentToday, f.SpentTotal, p.clock.Now())
}

// ErrNoFigures: a restore without figures on an instance that never saw the
// campaign's ledger.
var ErrNoFigures = errors.New("this instance has no figures of the campaign's ledger; give day, spent_today and spent_total")

func (p *Pacer) serveRestore(ctx *fasthttp.RequestCtx, id string) {
	var req RestoreRequest
	if body := ctx.PostBody(); len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			writeJSON(ctx, map[string]string{"error": "restore: body is not JSON: " + err.Error()})
			return
		}
	}
	f := LedgerFigures{Day: req.Day, SpentToday: Unknown, SpentTotal: Unknown}
	for _, a := range []struct {
		v   string
		dst *money.Micros
	}{{req.SpentToday, &f.SpentToday}, {req.SpentTotal, &f.SpentTotal}} {
		if a.v == "" {
			continue
		}
		m, err := money.Parse(a.v)
		if err != nil || m < 0 {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			writeJSON(ctx, map[string]string{"error": fmt.Sprintf("restore: %q is not an amount such as 12.50", a.v)})
			return
		}
		*a.dst = m
	}
	if req.Day != "" {
		if _, err := time.Parse(time.DateOnly, req.Day); err != nil {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			writeJSON(ctx, map[string]string{"error": fmt.Sprintf("restore: day %q is not YYYY-MM-DD", req.Day)})
			return
		}
	}
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := p.Restore(rctx, id, f)
	switch {
	case errors.Is(err, ErrNoFigures):
		ctx.SetStatusCode(fasthttp.StatusConflict)
		writeJSON(ctx, map[string]string{"error": err.Error()})
	case err != nil:
		ctx.SetStatusCode(fasthttp.StatusBadGateway)
		writeJSON(ctx, map[string]string{"error": err.Error()})
	default:
		writeJSON(ctx, map[string]any{"status": "restored", "figures": f})
	}
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	b, _ := json.Marshal(v)
	ctx.SetBody(b)
}

// collector exposes the pacing state of every campaign at scrape time, so the
// bid path never touches a metric for it.
type collector struct {
	p     *Pacer
	descs []*prometheus.Desc
}

var _ prometheus.Collector = (*collector)(nil)

func newCollector(p *Pacer) *collector {
	labels := []string{"campaign", "currency"}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("kairos_pacing_"+name, help, labels, nil)
	}
	return &collector{p: p, descs: []*prometheus.Desc{
		d("daily_budget", "Daily budget in currency units."),
		d("total_budget", "Total budget in currency units."),
		d("spent_today", "Settled spend today (campaign time zone), all instances, currency units."),
		d("spent_total", "Settled spend over the flight, all instances, currency units."),
		d("reserved", "Budget leased by all instances today (unreserved leases plus reservations awaiting notices), currency units."),
		d("late_today", "Spend settled today after its reservation was released, currency units."),
		d("planned_today", "Spend the pacing mode plans by now, currency units."),
		d("participation", "Share of auctions the campaign takes part in (0..1)."),
		d("local_balance", "This instance's unreserved lease, currency units."),
		d("local_outstanding", "This instance's reservations not yet released, currency units."),
		d("ledger_lost", "1 when the campaign's ledger vanished from Redis and bidding is stopped."),
	}}
}

// Describe sends the metric descriptions.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads every campaign's state.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.p.States() {
		lost := 0.0
		if s.LedgerLost {
			lost = 1
		}
		vals := []float64{s.Daily.Float(), s.Total.Float(), s.SpentToday.Float(), s.SpentTotal.Float(),
			s.Reserved.Float(), s.LateToday.Float(), s.PlannedToday.Float(), s.Participation,
			s.LocalBalance.Float(), s.LocalOutstanding.Float(), lost}
		for i, d := range c.descs {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, vals[i], s.ID, s.Currency)
		}
	}
}
