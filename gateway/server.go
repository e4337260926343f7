// Package gateway is the valuerx product: the CDS Hooks routes, the order-select and order-sign
// services, feedback, metrics and the analysts' summary. It is the one place that knows all the
// other packages: it decodes requests with cdshooks, gathers data with fhir, turns FHIR into plain
// facts, asks scoring for the economics and turns the answer into cards.
//
// Arrows point down: gateway imports cdshooks, fhir, scoring and store; none of them imports it.
// Errors are mapped to HTTP status in one table (errors.go). Nothing here logs PHI or tokens:
// logs carry service ids, hook instances, resource types, status codes and timings.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"valuerx/cdshooks"
	"valuerx/scoring"
	"valuerx/store"
	"valuerx/tracking"
	"valuerx/web"
)

// Config is everything the gateway needs, parsed once by cmd and passed in as values.
type Config struct {
	// ExternalURL is the base URL EHRs call (scheme, host, optional path prefix), e.g.
	// https://valuerx.example.org. JWT audiences are checked against it; it is configured, never
	// guessed from Host or X-Forwarded-* headers.
	ExternalURL string

	// Catalog, Registry and Scorer are what the gateway starts on; Gateway.Swap replaces them
	// (a catalog snapshot reloaded). CatalogVersion names the starting catalog.
	Catalog        *scoring.Catalog
	Registry       *scoring.Registry
	Scorer         *scoring.Scorer
	CatalogVersion string
	// MaxBookAge is how far past the end of the newest CMS price book an order may be dated and
	// still get a card with figures (priced on that book and marked stale); beyond it the card is
	// not given at all. Zero: no limit.
	MaxBookAge time.Duration
	Store      store.Store // may be nil: decisions and feedback are then not recorded

	// Verifier checks client JWTs; nil turns authentication off (tests, local demo only).
	Verifier *cdshooks.Verifier
	// DiscoveryAuth requires a JWT on GET /cds-services too (the CDS Hooks sandbox sends one,
	// Inferno by default does not).
	DiscoveryAuth bool

	// CORSOrigins lists allowed browser origins; "*" allows any.
	CORSOrigins []string

	MaxBodyBytes int64         // request body limit (413 above it)
	HookBudget   time.Duration // one deadline for all data gathering in a hook
	// AllowHTTPFHIR lets valuerx call a fhirServer over plain http (tests and the demo only; the
	// spec requires https for real data).
	AllowHTTPFHIR bool
	FHIRClient    *http.Client // client for EHR FHIR servers (timeouts set by cmd)
	// FHIRMaxConnsPerHost caps the connections to one FHIR server (host and port) of the pooled
	// transport valuerx builds when FHIRClient names none: without it one client's hooks could
	// open a connection per request in flight. Default 64 (the idle pool's size); negative: no
	// cap. A FHIRClient with its own Transport is the operator's and used as it is.
	FHIRMaxConnsPerHost int
	// FHIRServers is each trusted client's allowlist of FHIR service bases, keyed by JWT issuer
	// ("https://ehr.example.org/fhir/r4": origin plus path prefix). A client with a list may
	// name only servers at or under its entries, which are then called wherever they live; a
	// client without one may name public https servers only (allowlist.go).
	FHIRServers map[string][]string
	// TenantFHIRServers are the allowlists of single tenants (the JWT tenant claim) of an
	// issuer: issuer -> tenant -> bases. A hook whose token carries a tenant listed here may name
	// only that tenant's servers, so one tenant's hooks cannot make valuerx call another's; a
	// tenant not listed has its issuer's FHIRServers, as before.
	TenantFHIRServers map[string]map[string][]string
	// AllowPrivateFHIR lets clients without an allowlist name loopback, private and link-local
	// FHIR servers (the demo, whose FHIR server is valuerx itself on localhost; tests).
	AllowPrivateFHIR bool
	// fhirAccess is built from the fields above by defaults().
	fhirAccess *fhirAccess
	// CoverageTTL is how long coverage valuerx fetched per (client, FHIR server, patient, token)
	// is reused.
	CoverageTTL time.Duration
	// MaxEntriesPerKey caps the entries kept per prefetch key (coverage, medications), prefetched
	// or fetched; beyond it valuerx answers from the first ones (default 1000).
	MaxEntriesPerKey int
	// OrderKeySecret keys the hash that links a draft order's order-select and order-sign
	// decisions without storing patient identifiers. Instances sharing a store must share it;
	// empty: a random secret per process.
	OrderKeySecret []byte
	// MaxInFlight caps the hooks served at once; beyond it a hook gets 503 with Retry-After
	// (decisions.go says why). Default 256; negative: no cap.
	MaxInFlight int

	// Disclosure says which prescribers see the organisation's margin and net impact on cards
	// (default: none; the comparison page shows them to pharmacists and the VBC team).
	Disclosure Disclosure
	// CompareSecret keys the signed references of comparison-page links (at least 16 bytes;
	// empty: a random secret per process). CompareTTL is how long a link works (default 1 h),
	// CompareEntries how many comparisons are held (default 4096).
	CompareSecret  []byte
	CompareTTL     time.Duration
	CompareEntries int

	// Targets are the organisation's targets per contract and drug family, reported against the
	// actuals by /analytics/report and the dashboard (package tracking).
	Targets []tracking.Target
	// MaxOutcomeOrders bounds the orders the dashboard's realised savings and divergence tab reads
	// when the store has no rollup to answer from (it reads them all then; default 250,000).
	MaxOutcomeOrders int
	// RollupFoldEvery is how often the dashboard rollup is folded in the background, so a read
	// after an idle period has little left to fold itself (rollupfold.go). Zero or negative (the
	// default): only on reads, since the fold is not yet incremental per order and cost more CPU
	// than the hooks under load.
	RollupFoldEvery time.Duration

	// MeasuresDir is the output directory of `valuerx measures` (rates.json, worklist.csv) that
	// /analytics/measures shows; empty: the page says how to set it.
	MeasuresDir string

	// Analysts is who may read /analytics/* (analyst.go). Zero: nobody.
	Analysts AnalystAuth
	// MetricsOnGateway serves /metrics on the gateway's listener behind analyst authentication
	// (Prometheus with basic_auth or a bearer token). Off: /metrics is only on the handler
	// MetricsHandler returns, which cmd serves on its own loopback listener.
	MetricsOnGateway bool

	// Extra routes mounted on the same listener (the demo's embedded FHIR server at /fhir).
	Mounts map[string]http.Handler

	Logger *slog.Logger
	Now    func() time.Time
}

func (c *Config) defaults() error {
	if c.Catalog == nil || c.Registry == nil || c.Scorer == nil {
		return errors.New("gateway: catalog, registry and scorer are required")
	}
	c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	if c.ExternalURL == "" {
		return errors.New("gateway: ExternalURL is required (JWT audiences are checked against it)")
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.HookBudget <= 0 {
		c.HookBudget = 450 * time.Millisecond
	}
	if c.CoverageTTL <= 0 {
		c.CoverageTTL = 5 * time.Minute
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.MaxEntriesPerKey <= 0 {
		c.MaxEntriesPerKey = 1000
	}
	if c.FHIRClient == nil {
		c.FHIRClient = &http.Client{Timeout: 5 * time.Second}
	}
	if c.FHIRMaxConnsPerHost == 0 {
		c.FHIRMaxConnsPerHost = fhirIdleConnsPerHost
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	access, err := newFHIRAccess(c)
	if err != nil {
		return err
	}
	c.fhirAccess = access
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Gateway is the valuerx HTTP service.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	router *mux.Router // for route templates in logs (routeLabel)
	// deferJTI: hooks write their jti claim with their decisions (authenticateHook).
	deferJTI bool
	// warns rate-limits the warnings a caller can provoke at will (logthrottle.go).
	warns warnLimiter
	// outcomesSlot admits one outcomes report at a time (outcomes.go).
	outcomesSlot chan struct{}
	// fold is the background rollup folder (rollupfold.go); nil without a rollup.
	fold     *rollupFolder
	services []serviceDef
	byID     map[string]*serviceDef
	resolver *resolver
	metrics  *metrics
	analysts *analysts
	registry *prometheus.Registry
	// orderSecret keys orderKey (Config.OrderKeySecret, or random per process).
	orderSecret []byte
	handler     http.Handler
	// links issues and opens the comparison pages' signed references (package web).
	links *web.Links
	// eng is the catalog and what is built on it; replaced whole by Swap.
	eng atomic.Pointer[engine]
	// div computes how the answer differs by arrangement, after decisions are durable (divergence.go).
	div *divergenceJob
}

// New builds a Gateway from cfg.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, orderSecret: cfg.OrderKeySecret, outcomesSlot: make(chan struct{}, 1)}
	if len(g.orderSecret) == 0 {
		g.orderSecret = make([]byte, 32)
		if _, err := rand.Read(g.orderSecret); err != nil {
			return nil, fmt.Errorf("gateway: order key secret: %w", err)
		}
	}
	// A hook's jti claim goes into its decisions' commit only when the verifier claims in the
	// decision store itself (serve passes the same store to both).
	g.deferJTI = cfg.Verifier != nil && cfg.Store != nil && sameStore(cfg.Verifier.ReplayStore(), cfg.Store)
	g.services = defaultServices()
	g.byID = map[string]*serviceDef{}
	for i := range g.services {
		g.byID[g.services[i].ID] = &g.services[i]
	}
	g.registry = prometheus.NewRegistry()
	g.eng.Store(newEngine(cfg.Catalog, cfg.Registry, cfg.Scorer, cfg.CatalogVersion))
	g.metrics = newMetrics(g.registry, func() *scoring.Scorer { return g.current().scorer })
	g.metrics.catalogInfo.WithLabelValues(cfg.CatalogVersion).Set(1)
	registerStoreMetrics(g.registry, cfg.Store)
	an, err := newAnalysts(cfg.Analysts, cfg.ExternalURL, cfg.Now, g.registry)
	if err != nil {
		return nil, err
	}
	g.analysts = an
	if !an.configured() {
		cfg.Logger.Warn("no analyst credentials configured (analytics.accounts or analytics.oidc): /analytics refuses every request")
	}
	g.resolver = newResolver(cfg, g.metrics)
	ttl := cfg.CompareTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	links, err := web.NewLinks(cfg.CompareSecret, ttl, cfg.CompareEntries, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("gateway: comparison links: %w", err)
	}
	g.links = links
	g.handler = g.routes()
	g.startDivergence()
	g.startRollupFold()
	return g, nil
}

// Close releases background resources (caches with janitors).
func (g *Gateway) Close() error {
	g.div.close()
	g.fold.close()
	g.resolver.close()
	return nil
}

// ServeHTTP makes the Gateway an http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

func (g *Gateway) routes() http.Handler {
	r := mux.NewRouter()
	g.router = r
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, errorf(KindNotFound, "route", "no such endpoint", nil))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, errorf(KindNotFound, "route", "no such endpoint for this method", nil))
	})

	discovery := http.Handler(http.HandlerFunc(g.handleDiscovery))
	if g.cfg.DiscoveryAuth {
		discovery = g.authenticate(discovery)
	}
	r.Handle("/cds-services", discovery).Methods(http.MethodGet)
	r.Handle("/cds-services/{id}", g.inFlight(g.authenticateHook(http.HandlerFunc(g.handleHook)))).Methods(http.MethodPost)
	r.Handle("/cds-services/{id}/feedback", g.feedbackInFlight(g.authenticate(http.HandlerFunc(g.handleFeedback)))).Methods(http.MethodPost)

	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet)
	if g.cfg.MetricsOnGateway {
		r.Handle("/metrics", g.requireAnalyst(g.MetricsHandler())).Methods(http.MethodGet)
	}
	// Analytics: the login form is open, everything else under /analytics/ (summary, contracts,
	// and any dashboard page added to this subrouter) needs an analyst credential.
	r.HandleFunc(analystLoginPath, g.handleLogin).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc(analystLogoutPath, g.handleLogout).Methods(http.MethodPost)
	r.HandleFunc(analystOIDCLoginPath, g.handleOIDCLogin).Methods(http.MethodGet)
	r.HandleFunc(analystOIDCCallbackPath, g.handleOIDCCallback).Methods(http.MethodGet)
	analytics := r.PathPrefix("/analytics").Subrouter() // paths below are relative to it
	analytics.Use(g.requireAnalyst)
	analytics.HandleFunc("/summary", g.handleSummary).Methods(http.MethodGet)
	analytics.HandleFunc("/contracts", g.handleContracts).Methods(http.MethodGet)
	analytics.HandleFunc("/report", g.handleReport).Methods(http.MethodGet)
	analytics.HandleFunc("/report.csv", g.handleReportCSV).Methods(http.MethodGet)
	analytics.HandleFunc("/outcomes", g.handleOutcomes).Methods(http.MethodGet) // outcomes.go (record)
	analytics.HandleFunc("/outcomes.csv", g.handleOutcomesCSV).Methods(http.MethodGet)
	analytics.HandleFunc("/divergence.csv", g.handleDivergenceCSV).Methods(http.MethodGet)
	analytics.HandleFunc("/report/decisions", g.handleDecisionsJSON).Methods(http.MethodGet)
	analytics.HandleFunc("/dashboard", g.handleDashboard(web.TabOverview)).Methods(http.MethodGet)
	analytics.HandleFunc("/dashboard/families", g.handleDashboard(web.TabFamilies)).Methods(http.MethodGet)
	analytics.HandleFunc("/dashboard/people", g.handleDashboard(web.TabPeople)).Methods(http.MethodGet)
	analytics.HandleFunc("/dashboard/decisions", g.handleDashboard(web.TabDecisions)).Methods(http.MethodGet)
	analytics.HandleFunc("/dashboard/outcomes", g.handleDashboard(web.TabOutcomes)).Methods(http.MethodGet)
	analytics.HandleFunc("/decisions/{card}", g.handleDecisionPage).Methods(http.MethodGet)
	analytics.HandleFunc("/dashboard.css", g.handleDashboardCSS).Methods(http.MethodGet)
	analytics.HandleFunc("/measures", g.handleMeasuresPage).Methods(http.MethodGet) // quality_page.go (adherence)
	r.PathPrefix(comparePath).Handler(web.NewHandler(g.links, comparePath, g.log)).Methods(http.MethodGet, http.MethodHead)
	for prefix, h := range g.cfg.Mounts {
		r.PathPrefix(prefix).Handler(http.StripPrefix(prefix, h))
	}
	// Middleware order, outermost first: recovery catches everything, CORS answers preflights
	// before authentication, the body limit applies to every route.
	return g.recoverer(g.cors(g.limitBody(g.accessLog(r))))
}

// MetricsHandler serves the Prometheus metrics (no PHI: routes, statuses, counts, timings).
// cmd serves it on metricsListen; with MetricsOnGateway it is also on the gateway behind analyst
// authentication.
func (g *Gateway) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{})
}

// Serve listens on addr and serves until ctx is cancelled, then shuts down gracefully. With
// certFile and keyFile it serves HTTPS with TLS 1.2 or newer only.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	if certFile != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if certFile != "" {
			err = srv.ServeTLS(ln, certFile, keyFile)
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	return nil
}

// sameStore reports whether a and b are the same store: the same pointer (a store of another
// kind is never taken for the same, since comparing it could panic).
func sameStore(a, b any) bool {
	if a == nil || b == nil || reflect.TypeOf(a) != reflect.TypeOf(b) || reflect.TypeOf(a).Kind() != reflect.Pointer {
		return false
	}
	return a == b
}
