package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"time"

	"github.com/kairos-rtb/kairos/bandit"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/valyala/fasthttp"
)

// VariantSource reads what the creative bandit learnt about a campaign's
// variants; bandit.Bandit implements it.
type VariantSource interface {
	Report(ctx context.Context, campaignID string) (bandit.Report, error)
}

// LiftSource reads a campaign's holdout study; holdout.Holdout implements it.
type LiftSource interface {
	Report(ctx context.Context, campaignID string) (holdout.Report, error)
}

var (
	_ VariantSource = (*bandit.Bandit)(nil)
	_ LiftSource    = (*holdout.Holdout)(nil)
)

// LearningAPI serves the reports of the learning components: the creative
// bandit's variants and the holdout's lift. Their counts run since the
// campaign's learning began (they expire with it), so the reports take no
// time range.
type LearningAPI struct {
	variants VariantSource
	lift     LiftSource
	timeout  time.Duration
}

// NewLearningAPI returns the variants and lift report endpoints.
func NewLearningAPI(v VariantSource, l LiftSource) *LearningAPI {
	return &LearningAPI{variants: v, lift: l, timeout: 30 * time.Second}
}

// Variants serves GET /v1/reports/variants?campaign=ID&format=json|csv: per
// phase, part and variant the impressions, clicks, purchases, CTR, share of
// the part's impressions and the posterior (bandit.Report).
func (a *LearningAPI) Variants(ctx *fasthttp.RequestCtx) {
	serveCampaignReport(ctx, a.timeout, a.variants.Report, AppendVariantsCSV)
}

// Lift serves GET /v1/reports/lift?campaign=ID&format=json|csv: the exposed
// and held-out groups' conversion rates and the absolute and relative lift,
// with 95% intervals (holdout.Report).
func (a *LearningAPI) Lift(ctx *fasthttp.RequestCtx) {
	serveCampaignReport(ctx, a.timeout, a.lift.Report, AppendLiftCSV)
}

// serveCampaignReport answers one campaign's report, read by report, as
// JSON or, with format=csv, as appendCSV writes it.
func serveCampaignReport[R any](ctx *fasthttp.RequestCtx, timeout time.Duration,
	report func(context.Context, string) (R, error), appendCSV func([]byte, *R) []byte) {
	id, format, ok := campaignQuery(ctx)
	if !ok {
		return
	}
	c, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := report(c, id)
	if err != nil {
		writeErr(ctx, err)
		return
	}
	if format == "csv" {
		writeCSV(ctx, appendCSV(nil, &rep))
		return
	}
	writeJSON(ctx, &rep)
}

// campaignQuery reads the campaign (required) and format parameters, or
// answers the error and returns false.
func campaignQuery(ctx *fasthttp.RequestCtx) (id, format string, ok bool) {
	if !getOnly(ctx) {
		return "", "", false
	}
	args := ctx.QueryArgs()
	id, format = string(args.Peek("campaign")), string(args.Peek("format"))
	switch {
	case id == "":
		writeErr(ctx, &ParamError{"campaign", "required: the campaign's id"})
	case format != "" && format != "json" && format != "csv":
		writeErr(ctx, &ParamError{"format", "want json or csv"})
	default:
		return id, format, true
	}
	return "", "", false
}

func writeCSV(ctx *fasthttp.RequestCtx, b []byte) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("text/csv; charset=utf-8")
	ctx.SetBody(b)
}

// VariantsCSVHeader are the CSV columns of a variants report.
var VariantsCSVHeader = []string{"campaign", "phase", "part", "variant", "impressions", "clicks", "purchases",
	"ctr", "share", "posterior_ctr", "prob_best"}

// AppendVariantsCSV appends rep as CSV with a header line to dst, one row per
// variant.
func AppendVariantsCSV(dst []byte, rep *bandit.Report) []byte {
	buf := bytes.NewBuffer(dst)
	w := csv.NewWriter(buf)
	_ = w.Write(VariantsCSVHeader)
	for _, v := range rep.Variants {
		_ = w.Write([]string{rep.Campaign, v.Phase, v.Part, strconv.Itoa(v.Variant), i64(v.Impressions),
			i64(v.Clicks), i64(v.Purchases), f64(v.CTR), f64(v.Share), f64(v.PosteriorCTR), f64(v.ProbBest)})
	}
	w.Flush()
	return buf.Bytes()
}

// LiftCSVHeader are the CSV columns of a lift report: one row per campaign,
// so that reports of several campaigns stack.
var LiftCSVHeader = []string{"campaign",
	"exposed_users", "exposed_converters", "exposed_rate", "exposed_rate_low", "exposed_rate_high", "exposed_bids", "exposed_avg_bid_cpm",
	"ghost_users", "ghost_converters", "ghost_rate", "ghost_rate_low", "ghost_rate_high", "ghost_bids", "ghost_avg_bid_cpm",
	"absolute_lift", "absolute_lift_low", "absolute_lift_high", "relative_lift", "relative_lift_low", "relative_lift_high"}

// AppendLiftCSV appends rep as CSV with a header line to dst; the relative
// lift's cells are empty while it is undefined.
func AppendLiftCSV(dst []byte, rep *holdout.Report) []byte {
	buf := bytes.NewBuffer(dst)
	w := csv.NewWriter(buf)
	_ = w.Write(LiftCSVHeader)
	rec := []string{rep.Campaign}
	for _, g := range []*holdout.GroupStats{&rep.Exposed, &rep.Ghost} {
		rec = append(rec, i64(g.Users), i64(g.Converters), f64(g.ConversionRate.Value), f64(g.ConversionRate.Low),
			f64(g.ConversionRate.High), i64(g.Bids), f64(g.AvgBidCPM))
	}
	rec = append(rec, f64(rep.AbsoluteLift.Value), f64(rep.AbsoluteLift.Low), f64(rep.AbsoluteLift.High))
	if r := rep.RelativeLift; r != nil {
		rec = append(rec, f64(r.Value), f64(r.Low), f64(r.High))
	} else {
		rec = append(rec, "", "", "")
	}
	_ = w.Write(rec)
	w.Flush()
	return buf.Bytes()
}

func i64(v int64) string   { return strconv.FormatInt(v, 10) }
func f64(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
