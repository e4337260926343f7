package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"valuerx/scoring"
	"valuerx/store"
)

// metrics are the operator's view. They live in the gateway's own registry (no package globals)
// and carry no patient data in labels: service ids, prefetch keys, outcomes.
type metrics struct {
	hooks       *prometheus.CounterVec
	hookSeconds *prometheus.HistogramVec
	cards       *prometheus.CounterVec
	feedback    *prometheus.CounterVec
	// feedbackRefused counts feedback items not stored, by reason (unknown-card, other-client,
	// other-service, unknown-suggestion).
	feedbackRefused *prometheus.CounterVec
	// suppressed counts cards not shown again for an order the clinician overrode (same advice).
	suppressed *prometheus.CounterVec
	// overloaded counts hooks refused with 503 beyond Config.MaxInFlight.
	overloaded prometheus.Counter
	// feedbackOverloaded counts feedback requests refused with 503 beyond maxFeedbackInFlight.
	feedbackOverloaded prometheus.Counter
	prefetch           *prometheus.CounterVec
	fhirFetches        *prometheus.CounterVec
	fhirErrors         *prometheus.CounterVec
	fhirRoundTrips     prometheus.Histogram
	coverageCache      *prometheus.CounterVec
	authFailures       prometheus.Counter
	panics             prometheus.Counter
	unclassified       prometheus.Counter
	stalePriced        prometheus.Counter
	staleSuppressed    prometheus.Counter
	catalogInfo        *prometheus.GaugeVec
	catalogReloads     prometheus.Counter
	// divergenceFailed counts decisions whose stored request no longer scores under their own
	// contract (a contract removed since): stored without answers.
	divergenceFailed prometheus.Counter
	// divergenceDropped counts decisions the divergence queue had no room for (the start sweep
	// and `valuerx divergence` compute them).
	divergenceDropped prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, scorer func() *scoring.Scorer) *metrics {
	m := &metrics{
		hooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_hook_requests_total",
			Help: "CDS Hooks service calls by service and HTTP status."}, []string{"service", "status"}),
		hookSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "valuerx_hook_duration_seconds",
			Help:    "Time to answer a CDS Hooks service call.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"service"}),
		cards: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_cards_total",
			Help: "Cards returned."}, []string{"service"}),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_feedback_total",
			Help: "Feedback items received by outcome."}, []string{"service", "outcome"}),
		feedbackRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_feedback_refused_total",
			Help: "Feedback items answered but not stored, by reason."}, []string{"service", "reason"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_cards_suppressed_total",
			Help: "Cards not shown again for an order whose card the clinician overrode, with the same advice."}, []string{"service"}),
		overloaded: prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_hooks_overloaded_total",
			Help: "Hooks refused with 503 because too many were in flight."}),
		feedbackOverloaded: prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_feedback_overloaded_total",
			Help: "Feedback requests refused with 503 because too many were in flight."}),
		prefetch: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_prefetch_total",
			Help: "Prefetch keys by state: present, null, outcome (client could not fetch), absent."}, []string{"key", "state"}),
		fhirFetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_fhir_fetches_total",
			Help: "Queries sent to EHR FHIR servers for missing prefetch."}, []string{"key"}),
		fhirErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_fhir_errors_total",
			Help: "Failed FHIR fetches."}, []string{"key"}),
		fhirRoundTrips: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "valuerx_fhir_round_trips_per_hook",
			Help: "FHIR requests per hook (searches, reads, next pages), each counted though most run side by side in one round trip; the name is kept for existing dashboards.", Buckets: []float64{0, 1, 2, 3, 4, 6, 10}}),
		coverageCache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "valuerx_coverage_cache_total",
			Help: "Coverage cache lookups by result."}, []string{"result"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_auth_failures_total",
			Help: "Requests refused for a missing or invalid client JWT."}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_panics_total",
			Help: "Panics recovered into a 500."}),
		unclassified: prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_unclassified_coverage_total",
			Help: "Recognised orders whose coverage matched no configured contract."}),
		stalePriced: prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_stale_price_book_total",
			Help: "Orders priced on the nearest price book because their date is outside every book (marked stale in the card)."}),
		staleSuppressed: prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_stale_cards_suppressed_total",
			Help: "Cards not given because the order is dated further past the newest price book than maxBookAge."}),
		catalogInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "valuerx_catalog_info",
			Help: "The catalog snapshot in service (1 for its version)."}, []string{"version"}),
		catalogReloads: prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_catalog_reloads_total",
			Help: "Catalog snapshots swapped in since start."}),
	}
	m.divergenceFailed = prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_divergence_failed_total",
		Help: "Decisions whose divergence could not be computed (their contract no longer scores the order)."})
	m.divergenceDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "valuerx_divergence_dropped_total",
		Help: "Decisions the divergence queue had no room for (computed at the next start or by valuerx divergence)."})
	reg.MustRegister(m.divergenceFailed, m.divergenceDropped)
	reg.MustRegister(m.hooks, m.hookSeconds, m.cards, m.feedback, m.feedbackRefused, m.suppressed, m.overloaded, m.feedbackOverloaded, m.prefetch, m.fhirFetches, m.fhirErrors,
		m.fhirRoundTrips, m.coverageCache, m.authFailures, m.panics, m.unclassified,
		m.stalePriced, m.staleSuppressed, m.catalogInfo, m.catalogReloads)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "valuerx_scoring_cache_hits",
		Help: "Scoring LRU cache hits since start."}, func() float64 { return float64(scorer().Stats().Hits) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "valuerx_scoring_cache_misses",
		Help: "Scoring LRU cache misses since start."}, func() float64 { return float64(scorer().Stats().Misses) }))
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// panicCounter is a store that counts its writes that panicked (store.SQLite, store.Postgres).
type panicCounter interface {
	WritePanics() int64
}

// registerStoreMetrics exposes what st counts of its own health: its panicking writes and, for
// a SQLite file, its log (registerWALMetrics).
func registerStoreMetrics(reg *prometheus.Registry, st store.Store) {
	if p, ok := st.(panicCounter); ok {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "valuerx_store_write_panics_total",
			Help: "Store writes that panicked (a bug): SQLite rolled the write's transaction back; in PostgreSQL its batch's outcome is unknown. The store answered them and went on."},
			func() float64 { return float64(p.WritePanics()) }))
	}
	registerWALMetrics(reg, st)
}

// walReporter is a store with a write-ahead log to watch (store.SQLite).
type walReporter interface {
	WALHealth() (store.WALHealth, bool)
}

// registerWALMetrics exposes the SQLite log's health when st has one: a checkpoint failing
// without a word let the -wal file grow to the writer's backstop unseen.
func registerWALMetrics(reg *prometheus.Registry, st store.Store) {
	w, ok := st.(walReporter)
	if !ok {
		return
	}
	if _, ok := w.WALHealth(); !ok {
		return
	}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "valuerx_store_checkpoint_failures_total",
		Help: "SQLite WAL checkpoints that failed (the log then grows to the writer's backstop)."},
		func() float64 { h, _ := w.WALHealth(); return float64(h.CheckpointFailures) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "valuerx_store_wal_bytes",
		Help: "Size of the SQLite -wal file."},
		func() float64 { h, _ := w.WALHealth(); return float64(h.WALBytes) }))
}

// CacheStats exposes the scoring cache counters (the load harness reports the hit ratio).
func (g *Gateway) CacheStats() scoring.CacheStats { return g.current().scorer.Stats() }
