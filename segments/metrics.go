package segments

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Lookup's Prometheus collectors, created once and resolved to
// their label values up front so the hot path only adds and observes.
type metrics struct {
	latency       prometheus.Histogram
	hit           prometheus.Counter
	miss          prometheus.Counter
	timeout       prometheus.Counter
	overloaded    prometheus.Counter
	errors        prometheus.Counter
	batchSize     prometheus.Histogram
	invalidations prometheus.Counter
	resubscribes  prometheus.Counter

	refreshStarted   prometheus.Counter
	refreshOK        prometheus.Counter
	refreshDiscarded prometheus.Counter
	refreshDropped   prometheus.Counter
	refreshErrors    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, entries func() float64) *metrics {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kairos_segments_lookups_total",
		Help: "Profile lookups by result: hit (local cache), miss (answered by Redis), timeout, overloaded, error.",
	}, []string{"result"})
	refreshes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kairos_segments_refreshes_total",
		Help: "Background refreshes of cache entries hit late in their TTL, by result: started (queued; each ends as ok, discarded or error), " +
			"ok (stored with a fresh TTL), discarded (the entry was invalidated, evicted or replaced meanwhile), " +
			"error (Redis failed or timed out; the entry keeps its expiry), dropped (not started: queue half full or lookup stopped).",
	}, []string{"result"})
	m := &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kairos_segments_lookup_seconds",
			Help:    "Time to answer a profile lookup, cache hits included.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kairos_segments_batch_size",
			Help:    "Lookups per Redis pipeline (one round trip).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		invalidations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kairos_segments_invalidations_total",
			Help: "Cache invalidation messages received.",
		}),
		resubscribes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kairos_segments_resubscribes_total",
			Help: "Times the invalidation channel was subscribed again after a lost connection; each empties the cache.",
		}),
	}
	cols := []prometheus.Collector{m.latency, m.batchSize, m.invalidations, lookups, m.resubscribes, refreshes}
	if entries != nil {
		cols = append(cols, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kairos_segments_cache_entries",
			Help: "Profiles in the local cache.",
		}, entries))
	}
	if reg != nil {
		for i, c := range cols {
			cols[i] = register(reg, c)
		}
	}
	m.latency = cols[0].(prometheus.Histogram)
	m.batchSize = cols[1].(prometheus.Histogram)
	m.invalidations = cols[2].(prometheus.Counter)
	lookups = cols[3].(*prometheus.CounterVec)
	m.resubscribes = cols[4].(prometheus.Counter)
	refreshes = cols[5].(*prometheus.CounterVec)
	m.hit = lookups.WithLabelValues("hit")
	m.miss = lookups.WithLabelValues("miss")
	m.timeout = lookups.WithLabelValues("timeout")
	m.overloaded = lookups.WithLabelValues("overloaded")
	m.errors = lookups.WithLabelValues("error")
	m.refreshStarted = refreshes.WithLabelValues("started")
	m.refreshOK = refreshes.WithLabelValues("ok")
	m.refreshDiscarded = refreshes.WithLabelValues("discarded")
	m.refreshDropped = refreshes.WithLabelValues("dropped")
	m.refreshErrors = refreshes.WithLabelValues("error")
	return m
}

// register registers c, or returns the collector already registered under its
// name, so that two Lookups may share a registry.
func register(reg prometheus.Registerer, c prometheus.Collector) prometheus.Collector {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector
		}
		// Only a malformed collector gets here, which is a programming error.
		panic(err)
	}
	return c
}
