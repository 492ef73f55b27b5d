package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histograms' geometry: microseconds from 1µs to 60s at three significant
// digits (0.1% resolution), about 140 KiB per histogram.
const (
	histLowest  = 1
	histHighest = 60_000_000
	histSigFigs = 3
)

// Error kinds counted in Metrics.ErrorKinds.
const (
	ErrKindTimeout = "timeout"
	ErrKindConn    = "connection"
	ErrKindOther   = "other"
	ErrKindStatus  = "status" // an HTTP status other than 200 and 204
	ErrKindBadBid  = "bad-response"
	// ErrKindNotSent: every connection to the target stayed busy for
	// AttackConfig.ConnWait, and the exchange dropped the request unsent.
	ErrKindNotSent = "not-sent"
)

// NoBidUnknown is the no-bid reason counted when a 204 carries no reason header.
const NoBidUnknown = "unknown"

// Result is the outcome of one bid request as a worker saw it.
type Result struct {
	// Scheduled is when the request was due; latency runs from here.
	Scheduled time.Time
	// Sent is when the worker actually started sending it, holding a
	// connection; zero when it was dropped unsent (ErrKindNotSent).
	Sent time.Time
	// Done is when the response (or error) arrived.
	Done time.Time
	// Status is the HTTP status, 0 after a transport error.
	Status int
	// ErrKind is one of the ErrKind constants, empty when the exchange went well.
	// Add sets ErrKindStatus for statuses other than 200 and 204.
	ErrKind string
	// NoBidReason is the X-Kairos-Nobid-Reason header of a 204. It aliases the
	// response and is valid only until the worker's next request.
	NoBidReason []byte
	// TMax is the request's deadline; a response after it is late. Zero: no limit.
	TMax time.Duration
	// Stall is how long the load generator itself was stalled between Sent
	// and Done (see StallMonitor); measured only for answers late from the send.
	Stall time.Duration
}

// AuctionStats counts what the simulated exchange did with the bids.
type AuctionStats struct {
	// Mode is the clearing rule: "first", "second" or "none".
	Mode string `json:"mode"`
	// Bids is the number of bids put to auction.
	Bids uint64 `json:"bids"`
	// Wins is the number of bids that won.
	Wins uint64 `json:"wins"`
	// Losses is the number of bids that lost, by any reason.
	Losses uint64 `json:"losses"`
	// SpendMicros is the sum of clearing prices per impression in micros of the
	// bid currency (a CPM of 1.00 costs 1000 micros per impression).
	SpendMicros int64 `json:"spend_micros"`
	// LossReasons counts losses by OpenRTB loss reason code.
	LossReasons map[int]uint64 `json:"loss_reasons,omitempty"`
	// NoticesSent counts notice GETs answered 2xx.
	NoticesSent uint64 `json:"notices_sent"`
	// NoticesFailed counts notice GETs that failed or got another status.
	NoticesFailed uint64 `json:"notices_failed"`
	// NoticesDropped counts notices not sent because the notice queue was full.
	NoticesDropped uint64 `json:"notices_dropped"`
	// NoticesSkipped counts notices not sent because their host is not allowed.
	NoticesSkipped uint64 `json:"notices_skipped"`
}

func (a *AuctionStats) merge(o *AuctionStats) {
	if a.Mode == "" {
		a.Mode = o.Mode
	}
	a.Bids += o.Bids
	a.Wins += o.Wins
	a.Losses += o.Losses
	a.SpendMicros += o.SpendMicros
	a.NoticesSent += o.NoticesSent
	a.NoticesFailed += o.NoticesFailed
	a.NoticesDropped += o.NoticesDropped
	a.NoticesSkipped += o.NoticesSkipped
	for k, v := range o.LossReasons {
		if a.LossReasons == nil {
			a.LossReasons = make(map[int]uint64)
		}
		a.LossReasons[k] += v
	}
}

// Metrics aggregates the results of an attack. The zero value is not ready; use
// NewMetrics. A Metrics is not safe for concurrent use.
type Metrics struct {
	// Label names the run in reports, e.g. "baseline".
	Label string
	// Targets are the attacked endpoints.
	Targets []string
	// Mode is "open" (paced) or "closed" (maximum throughput).
	Mode string
	// TargetRate is the paced rate per second (peak rate in day mode), 0 in closed loop.
	TargetRate float64
	// Workers is the number of workers (the most that ran, in open loop).
	Workers int

	// FirstSend and LastSend bound the actual send times.
	FirstSend, LastSend time.Time
	// LastDone is when the last response arrived.
	LastDone time.Time

	// Requests counts requests due: sent, or dropped unsent (NotSent).
	Requests uint64
	// Responses counts HTTP responses of any status.
	Responses uint64
	// Bids counts 200 answers.
	Bids uint64
	// NoBids counts 204 answers.
	NoBids uint64
	// Errors counts transport errors, requests not sent and statuses other
	// than 200 and 204.
	Errors uint64
	// NotSent counts requests the exchange dropped because every connection
	// to the target stayed busy (ErrKindNotSent); they are in Requests and
	// Errors but in no latency.
	NotSent uint64
	// Late counts answers (of any kind) that arrived after the request's tmax,
	// counted from when the request was due: what an exchange would see.
	Late uint64
	// LateSent counts answers that arrived after tmax counted from when the
	// request was actually sent: the server's lateness, without the load
	// generator's own lag (which Late includes when the generator falls behind).
	LateSent uint64
	// LateServer counts the answers late from the send even without the time
	// the load generator itself was stalled meanwhile: those the server was
	// late with, whatever the generator's state (at most LateSent).
	LateServer uint64
	// StatusCodes counts responses by HTTP status.
	StatusCodes map[int]uint64
	// NoBidReasons counts 204 answers by X-Kairos-Nobid-Reason.
	NoBidReasons map[string]uint64
	// ErrorKinds counts errors by ErrKind constant.
	ErrorKinds map[string]uint64
	// Latency holds latencies in microseconds from the scheduled send time: what
	// an exchange would see, including any wait for the load generator.
	Latency *hdrhistogram.Histogram
	// Service holds latencies in microseconds from the actual send time. It equals
	// Latency in closed loop; in open loop the difference is the generator's lag.
	Service *hdrhistogram.Histogram
	// SchedLagMax is the largest delay between a request's scheduled and
	// actual send time; a large value means the load generator fell behind.
	SchedLagMax time.Duration
	// SchedLagSum is the sum of those delays.
	SchedLagSum time.Duration
	// Auction holds the exchange simulation's counts.
	Auction AuctionStats

	// reasons counts no-bid reasons without allocating per response; folded into
	// NoBidReasons by flush.
	reasons map[string]*uint64
}

// NewMetrics returns empty Metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		StatusCodes:  make(map[int]uint64),
		NoBidReasons: make(map[string]uint64),
		ErrorKinds:   make(map[string]uint64),
		Latency:      hdrhistogram.New(histLowest, histHighest, histSigFigs),
		Service:      hdrhistogram.New(histLowest, histHighest, histSigFigs),
		reasons:      make(map[string]*uint64),
	}
}

// Add records one result. It does not allocate once each status, error kind and
// no-bid reason has been seen.
func (m *Metrics) Add(r *Result) {
	m.Requests++
	if r.ErrKind == ErrKindNotSent { // no answer, no latency: the exchange's drop
		m.Errors++
		m.NotSent++
		m.ErrorKinds[r.ErrKind]++
		return
	}
	if m.FirstSend.IsZero() || r.Sent.Before(m.FirstSend) {
		m.FirstSend = r.Sent
	}
	if r.Sent.After(m.LastSend) {
		m.LastSend = r.Sent
	}
	if r.Done.After(m.LastDone) {
		m.LastDone = r.Done
	}
	if lag := r.Sent.Sub(r.Scheduled); lag > 0 {
		m.SchedLagSum += lag
		m.SchedLagMax = max(m.SchedLagMax, lag)
	}
	lat := r.Done.Sub(r.Scheduled)
	_ = m.Latency.RecordValue(clampMicros(lat))
	_ = m.Service.RecordValue(clampMicros(r.Done.Sub(r.Sent)))
	if r.TMax > 0 && lat > r.TMax {
		m.Late++
	}
	if r.TMax > 0 && r.Done.Sub(r.Sent) > r.TMax {
		m.LateSent++
		if r.Done.Sub(r.Sent)-r.Stall > r.TMax {
			m.LateServer++
		}
	}
	if r.Status != 0 {
		m.Responses++
		m.StatusCodes[r.Status]++
	}
	if r.ErrKind == "" && r.Status != 200 && r.Status != 204 {
		r.ErrKind = ErrKindStatus
	}
	if r.ErrKind != "" {
		m.Errors++
		m.ErrorKinds[r.ErrKind]++
		return
	}
	switch r.Status {
	case 200:
		m.Bids++
	case 204:
		m.NoBids++
		reason := r.NoBidReason
		if len(reason) == 0 {
			reason = []byte(NoBidUnknown)
		}
		if p := m.reasons[string(reason)]; p != nil {
			*p++
		} else {
			n := uint64(1)
			m.reasons[string(reason)] = &n
		}
	}
}

// clampMicros converts d to microseconds within the histograms' range.
func clampMicros(d time.Duration) int64 {
	return min(max(d.Microseconds(), histLowest), histHighest)
}

// flush folds the allocation-free no-bid counters into NoBidReasons.
func (m *Metrics) flush() {
	for k, p := range m.reasons {
		m.NoBidReasons[k] += *p
	}
	clear(m.reasons)
}

// Merge adds o's counts and latencies to m, so results from several workers or
// several load generators add up. Metadata stays m's unless m has none.
func (m *Metrics) Merge(o *Metrics) {
	o.flush()
	m.flush()
	if m.Label == "" {
		m.Label = o.Label
	}
	if m.Mode == "" {
		m.Mode = o.Mode
	}
	if len(m.Targets) == 0 {
		m.Targets = append([]string(nil), o.Targets...)
	}
	m.TargetRate = max(m.TargetRate, o.TargetRate)
	m.Workers = max(m.Workers, o.Workers)
	if !o.FirstSend.IsZero() && (m.FirstSend.IsZero() || o.FirstSend.Before(m.FirstSend)) {
		m.FirstSend = o.FirstSend
	}
	if o.LastSend.After(m.LastSend) {
		m.LastSend = o.LastSend
	}
	if o.LastDone.After(m.LastDone) {
		m.LastDone = o.LastDone
	}
	m.Requests += o.Requests
	m.Responses += o.Responses
	m.Bids += o.Bids
	m.NoBids += o.NoBids
	m.Errors += o.Errors
	m.NotSent += o.NotSent
	m.Late += o.Late
	m.LateSent += o.LateSent
	m.LateServer += o.LateServer
	for k, v := range o.StatusCodes {
		m.StatusCodes[k] += v
	}
	for k, v := range o.NoBidReasons {
		m.NoBidReasons[k] += v
	}
	for k, v := range o.ErrorKinds {
		m.ErrorKinds[k] += v
	}
	m.Latency.Merge(o.Latency)
	m.Service.Merge(o.Service)
	m.SchedLagSum += o.SchedLagSum
	m.SchedLagMax = max(m.SchedLagMax, o.SchedLagMax)
	m.Auction.merge(&o.Auction)
}

// Summary holds the figures derived from Metrics.
type Summary struct {
	// Duration runs from the first to the last send.
	Duration time.Duration
	// Rate is requests sent per second over Duration.
	Rate float64
	// Throughput is 200 and 204 answers per second from the first send to the
	// last response.
	Throughput float64
	// BidRate is the share of requests answered with a bid.
	BidRate float64
	// ErrorRate is the share of requests that failed.
	ErrorRate float64
	// LateRate is the share of requests answered after tmax.
	LateRate float64
	// Latency percentiles and extremes, measured from the scheduled send time.
	P50, P90, P99, P999, Max, Mean time.Duration
	// Service time percentiles, measured from the actual send time.
	ServiceP50, ServiceP99, ServiceP999 time.Duration
	// SchedLagMean is the mean delay of actual behind scheduled send.
	SchedLagMean time.Duration
}

// Summary derives rates, shares and latency percentiles.
func (m *Metrics) Summary() Summary {
	var s Summary
	s.Duration = m.LastSend.Sub(m.FirstSend)
	if s.Duration > 0 {
		s.Rate = float64(m.Requests) / s.Duration.Seconds()
	}
	if d := m.LastDone.Sub(m.FirstSend); d > 0 {
		s.Throughput = float64(m.Bids+m.NoBids) / d.Seconds()
	}
	if m.Requests > 0 {
		n := float64(m.Requests)
		s.BidRate = float64(m.Bids) / n
		s.ErrorRate = float64(m.Errors) / n
		s.LateRate = float64(m.Late) / n
		s.SchedLagMean = m.SchedLagSum / time.Duration(m.Requests)
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	if m.Service.TotalCount() > 0 {
		s.ServiceP50 = us(m.Service.ValueAtQuantile(50))
		s.ServiceP99 = us(m.Service.ValueAtQuantile(99))
		s.ServiceP999 = us(m.Service.ValueAtQuantile(99.9))
	}
	if m.Latency.TotalCount() > 0 {
		s.P50 = us(m.Latency.ValueAtQuantile(50))
		s.P90 = us(m.Latency.ValueAtQuantile(90))
		s.P99 = us(m.Latency.ValueAtQuantile(99))
		s.P999 = us(m.Latency.ValueAtQuantile(99.9))
		s.Max = us(m.Latency.Max())
		s.Mean = time.Duration(m.Latency.Mean() * float64(time.Microsecond))
	}
	return s
}

// metricsJSON is the results file: raw counts that merge, figures derived from
// them for scripts, and the encoded histogram so that files can be merged and
// compared later.
type metricsJSON struct {
	Version    int       `json:"version"`
	Label      string    `json:"label,omitempty"`
	Targets    []string  `json:"targets"`
	Mode       string    `json:"mode"`
	TargetRate float64   `json:"target_rate"`
	Workers    int       `json:"workers"`
	FirstSend  time.Time `json:"first_send"`
	LastSend   time.Time `json:"last_send"`
	LastDone   time.Time `json:"last_done"`

	Requests     uint64            `json:"requests"`
	Responses    uint64            `json:"responses"`
	Bids         uint64            `json:"bids"`
	NoBids       uint64            `json:"nobids"`
	Errors       uint64            `json:"errors"`
	Late         uint64            `json:"late"`
	LateSent     uint64            `json:"late_sent"`
	LateServer   uint64            `json:"late_server"`
	StatusCodes  map[int]uint64    `json:"status_codes"`
	NoBidReasons map[string]uint64 `json:"nobid_reasons"`
	ErrorKinds   map[string]uint64 `json:"error_kinds"`
	SchedLagMax  float64           `json:"sched_lag_max_ms"`
	SchedLagSum  float64           `json:"sched_lag_sum_ms"`
	Auction      AuctionStats      `json:"auction"`

	// Derived figures; ignored when reading.
	DurationS  float64            `json:"duration_s"`
	Rate       float64            `json:"rate"`
	Throughput float64            `json:"throughput"`
	BidRate    float64            `json:"bid_rate"`
	ErrorRate  float64            `json:"error_rate"`
	LateRate   float64            `json:"late_rate"`
	LatencyMS  map[string]float64 `json:"latency_ms"`

	ServiceMS map[string]float64 `json:"service_ms"`

	Histogram        string `json:"histogram"`
	ServiceHistogram string `json:"service_histogram"`
}

const resultsVersion = 1

// MarshalJSON writes the results file form: counts, derived figures and the
// compressed latency histogram.
func (m *Metrics) MarshalJSON() ([]byte, error) {
	m.flush()
	s := m.Summary()
	hist, err := m.Latency.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode histogram: %w", err)
	}
	service, err := m.Service.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode service histogram: %w", err)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	j := metricsJSON{
		Version: resultsVersion, Label: m.Label, Targets: m.Targets, Mode: m.Mode,
		TargetRate: m.TargetRate, Workers: m.Workers,
		FirstSend: m.FirstSend, LastSend: m.LastSend, LastDone: m.LastDone,
		Requests: m.Requests, Responses: m.Responses, Bids: m.Bids, NoBids: m.NoBids,
		Errors: m.Errors, Late: m.Late, LateSent: m.LateSent, LateServer: m.LateServer, StatusCodes: m.StatusCodes,
		NoBidReasons: m.NoBidReasons, ErrorKinds: m.ErrorKinds,
		SchedLagMax: ms(m.SchedLagMax), SchedLagSum: ms(m.SchedLagSum),
		Auction:   m.Auction,
		DurationS: s.Duration.Seconds(), Rate: s.Rate, Throughput: s.Throughput,
		BidRate: s.BidRate, ErrorRate: s.ErrorRate, LateRate: s.LateRate,
		LatencyMS: map[string]float64{
			"p50": ms(s.P50), "p90": ms(s.P90), "p99": ms(s.P99), "p99.9": ms(s.P999),
			"max": ms(s.Max), "mean": ms(s.Mean),
		},
		ServiceMS: map[string]float64{
			"p50": ms(s.ServiceP50), "p99": ms(s.ServiceP99), "p99.9": ms(s.ServiceP999),
		},
		Histogram:        string(hist),
		ServiceHistogram: string(service),
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a results file written by MarshalJSON.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var j metricsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Version != resultsVersion {
		return fmt.Errorf("results version %d, want %d", j.Version, resultsVersion)
	}
	h, err := hdrhistogram.Decode([]byte(j.Histogram))
	if err != nil {
		return fmt.Errorf("decode histogram: %w", err)
	}
	service, err := hdrhistogram.Decode([]byte(j.ServiceHistogram))
	if err != nil {
		return fmt.Errorf("decode service histogram: %w", err)
	}
	fromMS := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	*m = Metrics{
		Label: j.Label, Targets: j.Targets, Mode: j.Mode, TargetRate: j.TargetRate,
		Workers: j.Workers, FirstSend: j.FirstSend, LastSend: j.LastSend, LastDone: j.LastDone,
		Requests: j.Requests, Responses: j.Responses, Bids: j.Bids, NoBids: j.NoBids,
		Errors: j.Errors, Late: j.Late, LateSent: j.LateSent, LateServer: j.LateServer, StatusCodes: j.StatusCodes,
		NoBidReasons: j.NoBidReasons, ErrorKinds: j.ErrorKinds, Latency: h, Service: service,
		SchedLagMax: fromMS(j.SchedLagMax), SchedLagSum: fromMS(j.SchedLagSum),
		Auction: j.Auction, reasons: make(map[string]*uint64),
	}
	if m.StatusCodes == nil {
		m.StatusCodes = make(map[int]uint64)
	}
	if m.NoBidReasons == nil {
		m.NoBidReasons = make(map[string]uint64)
	}
	if m.ErrorKinds == nil {
		m.ErrorKinds = make(map[string]uint64)
	}
	m.NotSent = m.ErrorKinds[ErrKindNotSent]
	return nil
}

// ReadMetrics reads a results file.
func ReadMetrics(path string) (*Metrics, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := new(Metrics)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	return m, nil
}

// WriteJSON writes m as an indented results file.
func (m *Metrics) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes a report for people.
func (m *Metrics) WriteText(w io.Writer) error {
	m.flush()
	s := m.Summary()
	p := &errWriter{w: w}
	title := m.Label
	if title == "" {
		title = "results"
	}
	p.printf("%s: %s loop against %v\n", title, m.Mode, m.Targets)
	if m.Mode == "open" {
		p.printf("  target rate   %.0f/s\n", m.TargetRate)
	}
	p.printf("  requests      %d in %s (%.0f/s sent, %d workers)\n", m.Requests, s.Duration.Round(time.Millisecond), s.Rate, m.Workers)
	p.printf("  throughput    %.0f answers/s\n", s.Throughput)
	p.printf("  latency       p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
		fmtDur(s.P50), fmtDur(s.P90), fmtDur(s.P99), fmtDur(s.P999), fmtDur(s.Max), fmtDur(s.Mean))
	if m.Mode == "open" {
		p.printf("  service time  p50 %s  p99 %s  p99.9 %s (from the actual send)\n",
			fmtDur(s.ServiceP50), fmtDur(s.ServiceP99), fmtDur(s.ServiceP999))
	}
	p.printf("  answers       bids %d (%.1f%%)  no-bids %d  errors %d (%.2f%%)  late %d (%.2f%%)\n",
		m.Bids, 100*s.BidRate, m.NoBids, m.Errors, 100*s.ErrorRate, m.Late, 100*s.LateRate)
	if m.Mode == "open" {
		p.printf("  late from the actual send %d (%d beyond the generator's own stalls); not sent (every connection busy) %d\n",
			m.LateSent, m.LateServer, m.NotSent)
	}
	p.printf("  status codes  %s\n", fmtCounts(intKeys(m.StatusCodes)))
	if len(m.NoBidReasons) > 0 {
		p.printf("  no-bid        %s\n", fmtCounts(m.NoBidReasons))
	}
	if len(m.ErrorKinds) > 0 {
		p.printf("  errors        %s\n", fmtCounts(m.ErrorKinds))
	}
	p.printf("  send lag      mean %s  max %s (scheduled → sent; large means the generator fell behind)\n",
		fmtDur(s.SchedLagMean), fmtDur(m.SchedLagMax))
	if a := m.Auction; a.Mode != "" && a.Mode != "none" {
		winRate := 0.0
		if a.Bids > 0 {
			winRate = float64(a.Wins) / float64(a.Bids)
		}
		p.printf("  auction       %s price: %d bids, %d wins (%.1f%%), spend %s\n",
			a.Mode, a.Bids, a.Wins, 100*winRate, fmtMicros(a.SpendMicros))
		if len(a.LossReasons) > 0 {
			p.printf("  loss reasons  %s\n", fmtCounts(intKeys(a.LossReasons)))
		}
		p.printf("  notices       sent %d  failed %d  dropped %d  skipped %d\n",
			a.NoticesSent, a.NoticesFailed, a.NoticesDropped, a.NoticesSkipped)
	}
	return p.err
}

// Compare writes a table comparing b against a with ratios b/a, for example
// Kairos against the baseline.
func Compare(w io.Writer, a, b *Metrics) error {
	sa, sb := a.Summary(), b.Summary()
	la, lb := a.Label, b.Label
	if la == "" {
		la = "A"
	}
	if lb == "" {
		lb = "B"
	}
	p := &errWriter{w: w}
	p.printf("| %-14s | %12s | %12s | %8s |\n", "metric", la, lb, lb+"/"+la)
	p.printf("|%s|%s|%s|%s|\n", "----------------", "--------------", "--------------", "----------")
	num := func(name string, x, y float64, format string) {
		p.printf("| %-14s | %12s | %12s | %8s |\n", name, fmt.Sprintf(format, x), fmt.Sprintf(format, y), ratio(x, y))
	}
	dur := func(name string, x, y time.Duration) {
		p.printf("| %-14s | %12s | %12s | %8s |\n", name, fmtDur(x), fmtDur(y), ratio(float64(x), float64(y)))
	}
	num("throughput/s", sa.Throughput, sb.Throughput, "%.0f")
	num("sent/s", sa.Rate, sb.Rate, "%.0f")
	dur("p50", sa.P50, sb.P50)
	dur("p90", sa.P90, sb.P90)
	dur("p99", sa.P99, sb.P99)
	dur("p99.9", sa.P999, sb.P999)
	dur("max", sa.Max, sb.Max)
	dur("service p50", sa.ServiceP50, sb.ServiceP50)
	dur("service p99", sa.ServiceP99, sb.ServiceP99)
	num("bid rate %", 100*sa.BidRate, 100*sb.BidRate, "%.1f")
	num("error rate %", 100*sa.ErrorRate, 100*sb.ErrorRate, "%.2f")
	num("late rate %", 100*sa.LateRate, 100*sb.LateRate, "%.2f")
	return p.err
}

// Get returns one named figure of m for scripts: throughput, rate, bid_rate,
// error_rate, late_rate, requests, p50_ms, p90_ms, p99_ms, p999_ms, max_ms,
// service_p50_ms, service_p99_ms, wins, spend_micros.
func (m *Metrics) Get(name string) (float64, error) {
	s := m.Summary()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	switch name {
	case "throughput":
		return s.Throughput, nil
	case "rate":
		return s.Rate, nil
	case "bid_rate":
		return s.BidRate, nil
	case "error_rate":
		return s.ErrorRate, nil
	case "late_rate":
		return s.LateRate, nil
	case "requests":
		return float64(m.Requests), nil
	case "p50_ms":
		return ms(s.P50), nil
	case "p90_ms":
		return ms(s.P90), nil
	case "p99_ms":
		return ms(s.P99), nil
	case "p999_ms":
		return ms(s.P999), nil
	case "max_ms":
		return ms(s.Max), nil
	case "service_p50_ms":
		return ms(s.ServiceP50), nil
	case "service_p99_ms":
		return ms(s.ServiceP99), nil
	case "wins":
		return float64(m.Auction.Wins), nil
	case "spend_micros":
		return float64(m.Auction.SpendMicros), nil
	}
	return 0, fmt.Errorf("unknown figure %q", name)
}

func ratio(a, b float64) string {
	if a == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", b/a)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

func fmtMicros(v int64) string {
	return strconv.FormatFloat(float64(v)/1e6, 'f', 2, 64)
}

func intKeys(m map[int]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[strconv.Itoa(k)] = v
	}
	return out
}

// fmtCounts lists counts largest first.
func fmtCounts(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, "  "...)
		}
		b = fmt.Appendf(b, "%s=%d", k, m[k])
	}
	return string(b)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// shard is a mutex-guarded Metrics shared by a few workers.
type shard struct {
	mu sync.Mutex
	m  *Metrics
	_  [40]byte // keeps neighbouring shards' locks off one cache line
}
