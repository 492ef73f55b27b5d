package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kairos-rtb/kairos/bandit"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/reports"
)

const reportUsage = `Usage:
  kairosctl report winrate [--by DIMS] [--since 24h | --from T --to T] [--format table|csv|json]
  kairosctl report landscape [--campaign ID] [--since 24h | --from T --to T] [--format table|json]
  kairosctl report nobids [--since 24h | --from T --to T] [--format table|json]
  kairosctl report variants --campaign ID [--format table|csv|json]
  kairosctl report lift --campaign ID [--format table|csv|json]

DIMS is a comma-separated list of campaign, variant, phase, exchange, publisher,
country, device, format, hour. T is RFC 3339 (2026-11-01T00:00:00Z), a date
(2026-11-01, UTC) or unix seconds. The default range is the last 24 hours.
Amounts are in currency units; CPM prices per thousand impressions.
variants shows what the creative bandit learnt per phase, part and variant;
lift the holdout study: conversion rates of exposed and held-out users and
the lift with 95% intervals. Both count since the campaign began learning.
`

func (c *CLI) report(args []string) error {
	if len(args) == 0 {
		return usageError("report: want winrate, landscape, nobids, variants or lift")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.Out, reportUsage)
		return helpShown{}
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("report "+verb, flag.ContinueOnError)
	format := fs.String("format", "table", "output: table, csv (winrate, variants and lift) or json")
	var since, from, to, by, campaign *string
	ranged := func() {
		since = fs.String("since", "", "range ending now, e.g. 6h, 24h or 7d (default 24h)")
		from = fs.String("from", "", "start of the range: RFC 3339, date or unix seconds")
		to = fs.String("to", "", "end of the range (exclusive; default now)")
	}
	var line string
	switch verb {
	case "winrate":
		ranged()
		by = fs.String("by", "campaign", "dimensions to group by (comma-separated; empty for totals)")
		line = "report winrate [--by DIMS] [--since D | --from T --to T] [--format table|csv|json]"
	case "landscape":
		ranged()
		campaign = fs.String("campaign", "", "campaign id (default all campaigns)")
		line = "report landscape [--campaign ID] [--since D | --from T --to T] [--format table|json]"
	case "nobids":
		ranged()
		line = "report nobids [--since D | --from T --to T] [--format table|json]"
	case "variants", "lift":
		campaign = fs.String("campaign", "", "campaign id (required)")
		line = "report " + verb + " --campaign ID [--format table|csv|json]"
	default:
		return usageError("report: unknown report %q (want winrate, landscape, nobids, variants or lift)", verb)
	}
	pos, err := c.flags(fs, line, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("report %s: unexpected argument %q", verb, pos[0])
	}
	q := url.Values{}
	if since != nil {
		if q, err = rangeQuery(verb, *since, *from, *to); err != nil {
			return err
		}
	}
	learning := verb == "variants" || verb == "lift"
	switch {
	case *format == "csv" && verb != "winrate" && !learning:
		return usageError("report %s: --format csv is for winrate, variants and lift only", verb)
	case *format != "table" && *format != "csv" && *format != "json":
		return usageError("report %s: --format must be table, csv or json", verb)
	case learning && *campaign == "":
		return usageError("report %s: --campaign is required", verb)
	}
	path := "/v1/reports/" + verb
	if by != nil {
		dims, err := reports.ParseBy(*by)
		if err != nil {
			return usageError("report winrate: --by: %s", strings.TrimPrefix(err.Error(), "by: "))
		}
		q.Set("by", strings.Join(dims, ","))
	}
	if campaign != nil && *campaign != "" {
		q.Set("campaign", *campaign)
	}
	if *format == "csv" {
		q.Set("format", "csv")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	body, err := cl.do("GET", path+"?"+q.Encode(), "", nil)
	if err != nil {
		return fmt.Errorf("report %s: %w", verb, err)
	}
	if *format != "table" {
		_, err = c.Out.Write(body)
		return err
	}
	switch verb {
	case "winrate":
		return c.winRateTable(body)
	case "landscape":
		return c.landscapeTable(body)
	case "variants":
		return c.variantsTable(body)
	case "lift":
		return c.liftTable(body)
	}
	return c.noBidTable(body)
}

// rangeQuery checks --since/--from/--to and turns them into query parameters;
// a relative range is sent as since, so that it ends at the server's "now".
func rangeQuery(verb, since, from, to string) (url.Values, error) {
	q := url.Values{}
	if since != "" && from != "" {
		return nil, usageError("report %s: give --since or --from, not both", verb)
	}
	if since != "" {
		d, err := parseSince(since)
		if err != nil {
			return nil, usageError("report %s: --since %q: want a duration such as 6h, 24h or 7d", verb, since)
		}
		q.Set("since", d.String())
	}
	for name, v := range map[string]string{"from": from, "to": to} {
		if v == "" {
			continue
		}
		t, err := parseWhen(v)
		if err != nil {
			return nil, usageError("report %s: --%s %q: want RFC 3339 (2026-11-01T00:00:00Z), a date (2026-11-01) or unix seconds", verb, name, v)
		}
		q.Set(name, t)
	}
	return q, nil
}

func parseSince(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("bad days")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration")
	}
	return d, nil
}

// parseWhen normalises a time flag to what the API takes.
func parseWhen(s string) (string, error) {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return s, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.RFC3339), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return "", err
	}
	return t.UTC().Format(time.RFC3339), nil
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

func (c *CLI) winRateTable(body []byte) error {
	var rep reports.WinRateReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	var head []string
	for _, d := range rep.By {
		head = append(head, strings.ToUpper(d))
	}
	head = append(head, "REQUESTS", "NO-BIDS", "BIDS", "WINS", "WIN RATE", "SPEND", "ECPM", "AVG CLEARING", "AVG BID", "LOSSES", "IMPS", "CLICKS", "CTR")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	row := func(dims []string, r *reports.Row) {
		cells := append(dims, strconv.FormatInt(r.Requests, 10), strconv.FormatInt(r.NoBids, 10),
			strconv.FormatInt(r.Bids, 10), strconv.FormatInt(r.Wins, 10), pct(r.WinRate), r.Spend.String(),
			r.ECPM.String(), r.AvgClearingCPM.String(), r.AvgBidCPM.String(), strconv.FormatInt(r.Losses, 10),
			strconv.FormatInt(r.Impressions, 10), strconv.FormatInt(r.Clicks, 10), pct(r.CTR))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	for i := range rep.Rows {
		var dims []string
		for _, d := range rep.By {
			v := rep.Rows[i].Dims[d]
			if v == "" {
				v = "-"
			}
			dims = append(dims, v)
		}
		row(dims, &rep.Rows[i])
	}
	if len(rep.By) > 0 {
		dims := make([]string, len(rep.By))
		dims[0] = "TOTAL"
		row(dims, &rep.Totals)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "%s to %s\n", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	return nil
}

func (c *CLI) landscapeTable(body []byte) error {
	var rep reports.LandscapeReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tBID CPM\tBIDS\tWINS\tWIN RATE")
	for _, b := range rep.Buckets {
		span := b.Low.String() + "+"
		if b.High != nil {
			span = b.Low.String() + "–" + b.High.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", b.Phase, span, b.Bids, b.Wins, pct(b.WinRate))
	}
	return tw.Flush()
}

func (c *CLI) noBidTable(body []byte) error {
	var rep reports.NoBidReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NO-BID REASON\tCOUNT")
	for _, r := range rep.NoBids {
		fmt.Fprintf(tw, "%s\t%d\n", r.Reason, r.Count)
	}
	fmt.Fprintln(tw, "\t")
	fmt.Fprintln(tw, "LOSS REASON\tCOUNT")
	for _, r := range rep.Losses {
		fmt.Fprintf(tw, "%s (%d)\t%d\n", r.Reason, r.Code, r.Count)
	}
	return tw.Flush()
}

// pct2 formats a rate as a percentage with two decimals, for the small
// rates of clicks and conversions.
func pct2(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + "%" }

func (c *CLI) variantsTable(body []byte) error {
	var rep bandit.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	if len(rep.Variants) == 0 {
		fmt.Fprintf(c.Out, "no variant of campaign %q has been shown yet\n", rep.Campaign)
		return nil
	}
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tPART\tVARIANT\tIMPS\tCLICKS\tCTR\tSHARE\tPURCHASES\tPOSTERIOR CTR\tP(BEST)")
	for _, v := range rep.Variants {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%d\t%s\t%s\n", v.Phase, v.Part, v.Variant, v.Impressions,
			v.Clicks, pct2(v.CTR), pct(v.Share), v.Purchases, pct2(v.PosteriorCTR), pct(v.ProbBest))
	}
	return tw.Flush()
}

func (c *CLI) liftTable(body []byte) error {
	var rep holdout.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	span := func(iv holdout.Interval, f func(float64) string) string {
		return f(iv.Value) + " [" + f(iv.Low) + ", " + f(iv.High) + "]"
	}
	signed := func(f func(float64) string) func(float64) string {
		return func(v float64) string {
			if v >= 0 {
				return "+" + f(v)
			}
			return f(v)
		}
	}
	tw := tabwriter.NewWriter(c.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tUSERS\tCONVERTERS\tCONVERSION RATE [95%]\tBIDS\tAVG BID CPM")
	for _, g := range []struct {
		name string
		s    *holdout.GroupStats
	}{{"exposed", &rep.Exposed}, {"held out", &rep.Ghost}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%.2f\n", g.name, g.s.Users, g.s.Converters,
			span(g.s.ConversionRate, pct2), g.s.Bids, g.s.AvgBidCPM)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "\nabsolute lift  %s (percentage points)\n", span(rep.AbsoluteLift, signed(func(v float64) string {
		return strconv.FormatFloat(v*100, 'f', 2, 64)
	})))
	if rep.RelativeLift != nil {
		fmt.Fprintf(c.Out, "relative lift  %s\n", span(*rep.RelativeLift, signed(pct)))
	} else {
		fmt.Fprintln(c.Out, "relative lift  n/a (no exposed user or no held-out conversion yet)")
	}
	fmt.Fprintln(c.Out, rep.Method)
	return nil
}
