package bidder

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bidder's Prometheus metrics, created once; the per-reason
// children are resolved up front so counting on the hot path is a single atomic
// add.
type Metrics struct {
	Requests     prometheus.Counter
	Bids         prometheus.Counter
	NoBids       [numReasons]prometheus.Counter
	BadRequests  prometheus.Counter
	TooLarge     prometheus.Counter
	Latency      prometheus.Histogram
	LookupErrors prometheus.Counter
}

// NewMetrics registers the bidder metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_bid_requests_total",
			Help: "Bid requests received on /openrtb2/bid."}),
		Bids: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_bids_total",
			Help: "Bids sent (one per impression bid on)."}),
		BadRequests: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_bid_decode_errors_total",
			Help: "Bid requests answered 400 because they were malformed."}),
		TooLarge: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_bid_too_large_total",
			Help: "Bid requests answered 413 because the body exceeded the limit after decompression."}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kairos_bid_duration_seconds",
			Help:    "Time from reading a bid request to writing its answer.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}}),
		LookupErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "kairos_bid_profile_lookup_failures_total",
			Help: "Bid requests decided without the profile because the lookup failed or was late."}),
	}
	nobid := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kairos_nobids_total",
		Help: "Bid requests answered without a bid, by reason."}, []string{"reason"})
	for r := Reason(1); r < numReasons; r++ {
		m.NoBids[r] = nobid.WithLabelValues(r.String())
	}
	reg.MustRegister(m.Requests, m.Bids, m.BadRequests, m.TooLarge, m.Latency, m.LookupErrors, nobid)
	return m
}
