package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/kairos-rtb/kairos/admin"
	"github.com/valyala/fasthttp"
)

// API serves the report endpoints of the admin listener (the admin server
// authenticates the caller).
type API struct {
	r       *Reader
	timeout time.Duration
}

// NewAPI returns the report endpoints over r.
func NewAPI(r *Reader) *API { return &API{r: r, timeout: 30 * time.Second} }

// WinRateReport is the JSON answer of GET /v1/reports/winrate.
type WinRateReport struct {
	// From and To are the range as asked for.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// By lists the grouping dimensions.
	By []string `json:"by"`
	// Rows are the groups, sorted by their dimensions.
	Rows []Row `json:"rows"`
	// Totals sums every row.
	Totals Row `json:"totals"`
}

// LandscapeReport is the JSON answer of GET /v1/reports/landscape.
type LandscapeReport struct {
	// From and To are the range as asked for.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Campaign is the campaign, empty for all.
	Campaign string `json:"campaign"`
	// Buckets are the price buckets with bids, by phase and price.
	Buckets []LandscapeRow `json:"buckets"`
}

// NoBidReport is the JSON answer of GET /v1/reports/nobids.
type NoBidReport struct {
	// From and To are the range as asked for.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// NoBids are the no-bid reasons, most frequent first.
	NoBids []ReasonCount `json:"no_bids"`
	// Losses are the loss reasons exchanges reported, most frequent first.
	Losses []LossCount `json:"losses"`
}

// WinRate serves GET /v1/reports/winrate?from=&to=&by=&format=json|csv.
func (a *API) WinRate(ctx *fasthttp.RequestCtx) {
	if !getOnly(ctx) {
		return
	}
	args := ctx.QueryArgs()
	from, to, err := parseRange(args, a.r.Now())
	if err != nil {
		writeErr(ctx, err)
		return
	}
	format := string(args.Peek("format"))
	if format != "" && format != "json" && format != "csv" {
		writeErr(ctx, &ParamError{"format", "want json or csv"})
		return
	}
	by, err := ParseBy(string(args.Peek("by")))
	if err != nil {
		writeErr(ctx, err)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	rows, err := a.r.WinRate(c, from, to, by)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	if format == "csv" {
		ctx.SetContentType("text/csv; charset=utf-8")
		ctx.SetBody(AppendCSV(nil, by, rows))
		return
	}
	if by == nil {
		by = []string{}
	}
	writeJSON(ctx, &WinRateReport{From: from, To: to, By: by, Rows: rows, Totals: Totals(rows)})
}

// CSVHeader returns the CSV columns of a win-rate report grouped by by.
func CSVHeader(by []string) []string {
	return append(append([]string{}, by...), "requests", "no_bids", "bids", "wins", "late_wins", "losses",
		"impressions", "clicks", "win_rate", "spend", "ecpm", "avg_clearing_cpm", "avg_bid_cpm", "ctr")
}

// AppendCSV appends rows as CSV with a header line to dst.
func AppendCSV(dst []byte, by []string, rows []Row) []byte {
	buf := bytes.NewBuffer(dst)
	w := csv.NewWriter(buf)
	_ = w.Write(CSVHeader(by))
	rec := make([]string, 0, len(by)+14)
	for i := range rows {
		r := &rows[i]
		rec = rec[:0]
		for _, d := range by {
			rec = append(rec, r.Dims[d])
		}
		rec = append(rec, i64(r.Requests), i64(r.NoBids), i64(r.Bids), i64(r.Wins), i64(r.LateWins), i64(r.Losses),
			i64(r.Impressions), i64(r.Clicks), f64(r.WinRate), r.Spend.String(), r.ECPM.String(),
			r.AvgClearingCPM.String(), r.AvgBidCPM.String(), f64(r.CTR))
		_ = w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

// Landscape serves GET /v1/reports/landscape?campaign=&from=&to=.
func (a *API) Landscape(ctx *fasthttp.RequestCtx) {
	if !getOnly(ctx) {
		return
	}
	args := ctx.QueryArgs()
	from, to, err := parseRange(args, a.r.Now())
	if err != nil {
		writeErr(ctx, err)
		return
	}
	campaign := string(args.Peek("campaign"))
	c, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	rows, err := a.r.Landscape(c, from, to, campaign)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	writeJSON(ctx, &LandscapeReport{From: from, To: to, Campaign: campaign, Buckets: rows})
}

// NoBids serves GET /v1/reports/nobids?from=&to=: no-bid and loss reasons.
func (a *API) NoBids(ctx *fasthttp.RequestCtx) {
	if !getOnly(ctx) {
		return
	}
	from, to, err := parseRange(ctx.QueryArgs(), a.r.Now())
	if err != nil {
		writeErr(ctx, err)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	nb, ls, err := a.r.reasons(c, from, to)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	writeJSON(ctx, &NoBidReport{From: from, To: to, NoBids: nb, Losses: ls})
}

func getOnly(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	ctx.Response.Header.Set("Allow", "GET, HEAD")
	admin.WriteError(ctx, fasthttp.StatusMethodNotAllowed, "", "method "+string(ctx.Method())+" not allowed (GET only)")
	return false
}

// parseRange reads from, to (RFC 3339 or unix seconds) and since (a
// duration before to); the default is the 24 hours before now.
func parseRange(args *fasthttp.Args, now time.Time) (from, to time.Time, err error) {
	to = now
	if v := args.Peek("to"); len(v) > 0 {
		if to, err = parseTime("to", string(v)); err != nil {
			return
		}
	}
	from = to.Add(-24 * time.Hour)
	if v := args.Peek("since"); len(v) > 0 {
		d, perr := time.ParseDuration(string(v))
		if perr != nil || d <= 0 {
			return from, to, &ParamError{"since", "want a positive duration such as 24h"}
		}
		from = to.Add(-d)
	}
	if v := args.Peek("from"); len(v) > 0 {
		if from, err = parseTime("from", string(v)); err != nil {
			return
		}
	}
	if !from.Before(to) {
		return from, to, &ParamError{"to", "must be after from"}
	}
	return from.UTC(), to.UTC(), nil
}

// parseTime reads a time as RFC 3339 or unix seconds; param names it in the error.
func parseTime(param, s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, &ParamError{param, "want RFC 3339 (2026-11-01T00:00:00Z) or unix seconds, got " + strconv.Quote(s)}
	}
	return t, nil
}

func writeErr(ctx *fasthttp.RequestCtx, err error) {
	var pe *ParamError
	if errors.As(err, &pe) {
		admin.WriteError(ctx, fasthttp.StatusBadRequest, pe.Param, pe.Error())
		return
	}
	admin.WriteError(ctx, fasthttp.StatusServiceUnavailable, "", err.Error())
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		admin.WriteError(ctx, fasthttp.StatusInternalServerError, "", "encode answer: "+err.Error())
		return
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}
