package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"valuerx/cdshooks"
	"valuerx/demo"
	"valuerx/fhir"
	"valuerx/gateway"
	"valuerx/scoring"
	"valuerx/store"
	"valuerx/tracking"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configPath := fl.String("config", os.Getenv("VALUERX_CONFIG"), "YAML configuration file (default: embedded demo defaults; env VALUERX_CONFIG)")
	listen := fl.String("listen", "", "listen address (overrides the config)")
	external := fl.String("external-url", "", "external base URL (overrides the config)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx:", err)
		return 2
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *external != "" {
		cfg.ExternalURL = *external
	}
	logger := newLogger(stderr, cfg.LogLevel)
	app, err := buildApp(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx:", err)
		return 1
	}
	defer app.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx:", err)
		return 1
	}
	scheme := "http"
	if cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	logger.Info("valuerx listening", "addr", ln.Addr().String(), "scheme", scheme, "external_url", cfg.ExternalURL,
		"auth", cfg.authEnabled(), "embedded_fhir", cfg.Demo.EmbeddedFHIR)
	fmt.Fprintf(stdout, "valuerx serving on %s://%s (external URL %s)\n", scheme, ln.Addr(), cfg.ExternalURL)
	fmt.Fprintf(stdout, "discovery: %s/cds-services\n", cfg.ExternalURL)
	if cfg.Demo.EmbeddedFHIR && cfg.Auth.DevClient {
		fmt.Fprintln(stdout, "try, in another shell: go run ./cmd/valuerx send aco-herceptin-order-select   (valuerx send -list for all demo requests)")
	}
	if app.demoAnalystPassword != "" {
		fmt.Fprintf(stdout, "analytics (demo account, new password at every start): %s/analytics/login  name %s  password %s\n",
			cfg.ExternalURL, demoAnalystName, app.demoAnalystPassword)
	}
	if cfg.MetricsListen != "" {
		stop, err := serveMetrics(cfg.MetricsListen, app.gw.MetricsHandler())
		if err != nil {
			ln.Close()
			fmt.Fprintln(stderr, "valuerx:", err)
			return 1
		}
		defer stop()
		logger.Info("metrics listening", "addr", cfg.MetricsListen)
	}
	if cfg.DebugListen != "" {
		stop, err := serveDebug(cfg.DebugListen)
		if err != nil {
			ln.Close()
			fmt.Fprintln(stderr, "valuerx:", err)
			return 1
		}
		defer stop()
		logger.Info("pprof listening", "addr", cfg.DebugListen)
	}
	rl := &catalogReloader{cfg: cfg, app: app, logger: logger, poll: cfg.CatalogPoll.Duration, now: time.Now}
	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	go rl.run(rctx)
	if err := startPolls(rctx, cfg, app, logger); err != nil { // poll.go
		ln.Close()
		fmt.Fprintln(stderr, "valuerx:", err)
		return 1
	}
	if err := app.gw.Serve(ctx, ln, cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
		fmt.Fprintln(stderr, "valuerx:", err)
		return 1
	}
	return 0
}

// serveDebug serves net/http/pprof on addr (loopback, checked by loadConfig) with its own mux,
// so nothing of it leaks onto the gateway's routes.
func serveDebug(addr string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debugListen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return func() { srv.Close() }, nil
}

// serveMetrics serves /metrics on addr (loopback, checked by loadConfig) with its own mux.
func serveMetrics(addr string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metricsListen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return func() { srv.Close() }, nil
}

const demoAnalystName = "analyst"

// analystAuth builds analyst access from the configuration. In demo mode without any analyst
// credential it adds the account demoAnalystName with a random password, returned for printing.
func analystAuth(cfg fileConfig) (gateway.AnalystAuth, string, error) {
	ac := cfg.Analytics
	https := strings.HasPrefix(strings.ToLower(cfg.ExternalURL), "https://")
	out := gateway.AnalystAuth{SessionTTL: ac.SessionTTL.Duration, SecureCookie: https, PasswordChecksPerSecond: ac.PasswordChecksPerSecond}
	if ac.OIDC.Issuer != "" {
		if !strings.HasPrefix(ac.OIDC.Issuer, "https://") && !cfg.demo {
			return out, "", fmt.Errorf("analytics.oidc.issuer %q: must be https (its key set decides who reads the analytics)", ac.OIDC.Issuer)
		}
		for v := range ac.OIDC.ClientScopes {
			if !slices.Contains(ac.OIDC.Values, v) {
				return out, "", fmt.Errorf("analytics.oidc.clientScopes: %q is not one of analytics.oidc.values, so it admits nobody", v)
			}
		}
		out.OIDC = &gateway.AnalystOIDC{Issuer: ac.OIDC.Issuer, Audience: ac.OIDC.Audience, Claim: ac.OIDC.Claim, Values: ac.OIDC.Values,
			ClientScopes: ac.OIDC.ClientScopes, HTTPClient: &http.Client{Timeout: 10 * time.Second}, ClientID: ac.OIDC.ClientID}
		if ac.OIDC.ClientSecretFile != "" {
			b, err := os.ReadFile(ac.OIDC.ClientSecretFile)
			if err != nil {
				return out, "", fmt.Errorf("analytics.oidc.clientSecretFile: %w", err)
			}
			out.OIDC.ClientSecret = strings.TrimSpace(string(b))
		}
	}
	for _, a := range ac.Accounts {
		out.Accounts = append(out.Accounts, gateway.AnalystAccount{Name: a.Name, PasswordHash: a.PasswordHash, Clients: a.Clients})
	}
	if len(out.Accounts) > 0 && !https && !cfg.demo {
		return out, "", errors.New("analytics.accounts: passwords would cross the network in clear; externalURL must be https (TLS here or at a proxy in front)")
	}
	if ac.SessionKeyFile != "" {
		b, err := os.ReadFile(ac.SessionKeyFile)
		if err != nil {
			return out, "", fmt.Errorf("analytics.sessionKeyFile: %w", err)
		}
		out.SessionKey = []byte(strings.TrimSpace(string(b)))
	}
	if cfg.demo && out.OIDC == nil && len(out.Accounts) == 0 {
		pw := randomPassword()
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			return out, "", fmt.Errorf("demo analyst: %w", err)
		}
		out.Accounts = []gateway.AnalystAccount{{Name: demoAnalystName, PasswordHash: string(h)}}
		return out, pw, nil
	}
	return out, "", nil
}

// randomPassword is 16 random bytes in base64url (22 characters).
func randomPassword() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv}))
}

// app is the wired gateway with what it owns.
type app struct {
	gw      *gateway.Gateway
	store   store.Store
	fhirSrv *fhir.Server
	// stopRetention ends the retention loop (nil when retention is off).
	stopRetention func()
	// demoAnalystPassword is the password of the demo's analyst account, generated at start in
	// demo mode when no analyst credential is configured ("" otherwise).
	demoAnalystPassword string
	// orderSecret and cat are the gateway's, for the administrations poll (poll.go).
	orderSecret []byte
	cat         *scoring.Catalog
}

func (a *app) Close() {
	if a.gw != nil {
		a.gw.Close()
	}
	if a.stopRetention != nil {
		a.stopRetention()
	}
	if a.store != nil {
		a.store.Close()
	}
}

// buildApp wires the packages from a configuration. Tests call it too, so what they run is what
// `valuerx serve` runs.
func buildApp(cfg fileConfig, logger *slog.Logger) (*app, error) {
	if err := checkServe(cfg); err != nil {
		return nil, err
	}
	set, err := loadScoring(cfg)
	if err != nil {
		return nil, err
	}
	cat, reg, scorer := set.cat, set.reg, set.scorer
	logCatalog(logger, set, time.Now(), "catalog loaded")
	a := &app{}
	built := false
	defer func() {
		if !built {
			a.Close() // the store and its retention loop, when opened before the failure
		}
	}()
	gcfg := gateway.Config{
		ExternalURL:         cfg.ExternalURL,
		Catalog:             cat,
		Registry:            reg,
		Scorer:              scorer,
		CatalogVersion:      set.version,
		MaxBookAge:          cfg.MaxBookAge.Duration,
		DiscoveryAuth:       cfg.Auth.Discovery,
		CORSOrigins:         cfg.CORS.Origins,
		MaxBodyBytes:        cfg.MaxBodyBytes,
		HookBudget:          cfg.FHIR.Budget.Duration,
		AllowHTTPFHIR:       cfg.FHIR.AllowHTTP,
		AllowPrivateFHIR:    cfg.FHIR.AllowPrivateAddresses,
		FHIRServers:         fhirServers(cfg),
		TenantFHIRServers:   tenantFHIRServers(cfg),
		FHIRClient:          &http.Client{Timeout: cfg.FHIR.Timeout.Duration},
		CoverageTTL:         cfg.FHIR.CoverageTTL.Duration,
		MaxEntriesPerKey:    cfg.FHIR.MaxEntriesPerKey,
		FHIRMaxConnsPerHost: cfg.FHIR.MaxConnsPerHost,
		MaxInFlight:         cfg.MaxInFlight,
		Disclosure: gateway.Disclosure{Contracts: cfg.Cards.ShowOrganisation.Contracts,
			Users: cfg.Cards.ShowOrganisation.Users},
		CompareTTL:     cfg.Cards.Compare.LinkTTL.Duration,
		CompareEntries: cfg.Cards.Compare.Entries,
		Logger:         logger,
	}
	switch {
	case cfg.OrderKeySecretFile != "":
		secret, err := os.ReadFile(cfg.OrderKeySecretFile)
		if err != nil {
			return nil, fmt.Errorf("orderKeySecretFile: %w", err)
		}
		if len(secret) < 32 {
			return nil, fmt.Errorf("orderKeySecretFile: %d bytes; at least 32 are needed", len(secret))
		}
		gcfg.OrderKeySecret = secret
	case cfg.Store.Driver == driverPostgres:
		// A shared store is for several instances: with a key each, the same order seen by two
		// of them would be two decisions, and a file beside a database does not exist.
		return nil, errors.New("store.driver postgres needs orderKeySecretFile: every instance sharing the database must hash orders with the same key " +
			"(head -c 32 /dev/urandom > order.key, the same file on each)")
	case cfg.Store.Path != "":
		// A store outlives the process: with a key drawn per process, an order seen at
		// order-select before a restart and at order-sign after it would be two decisions.
		secret, path, created, err := orderKeyBesideStore(cfg.Store.Path)
		if err != nil {
			return nil, err
		}
		if created {
			logger.Info("order key generated beside the store; instances sharing a store need orderKeySecretFile", "path", path)
		}
		gcfg.OrderKeySecret = secret
	}
	if f := cfg.Cards.Compare.SecretFile; f != "" {
		secret, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cards.compare.secretFile: %w", err)
		}
		gcfg.CompareSecret = bytes.TrimSpace(secret)
	}
	for _, c := range cfg.Auth.Clients {
		for t := range c.TenantFHIRServers {
			if len(c.Tenants) > 0 && !slices.Contains(c.Tenants, t) {
				return nil, fmt.Errorf("auth.clients %q: tenantFhirServers names tenant %q, which is not one of its tenants", c.Issuer, t)
			}
		}
		switch {
		case len(c.FHIRServers) > 0:
		case cfg.FHIR.AllowPrivateAddresses || cfg.FHIR.AllowHTTP:
			// The log said "public https only" beside private_addresses_allowed: true (security
			// review, 2 December 2026): say what the hooks may actually name.
			logger.Warn("client has no fhirServers allowlist: its hooks may name any FHIR server the fhir settings allow",
				"issuer", c.Issuer, "private_addresses_allowed", cfg.FHIR.AllowPrivateAddresses, "plain_http_allowed", cfg.FHIR.AllowHTTP)
		default:
			logger.Info("client has no fhirServers allowlist: its hooks may name public https FHIR servers only", "issuer", c.Issuer)
		}
	}
	if cfg.FHIR.AllowHTTP {
		logger.Warn("fhir.allowHTTP is on: valuerx will call plain-http FHIR servers. Use only for tests and the demo.")
	}
	an, demoPassword, err := analystAuth(cfg)
	if err != nil {
		return nil, err
	}
	gcfg.Analysts = an
	if err := tracking.ValidateTargets(cfg.Analytics.Targets); err != nil {
		return nil, fmt.Errorf("analytics.%w", err)
	}
	gcfg.Targets = cfg.Analytics.Targets
	gcfg.MeasuresDir = cfg.Analytics.MeasuresDir
	a.demoAnalystPassword = demoPassword
	a.orderSecret, a.cat = gcfg.OrderKeySecret, cat
	gcfg.MetricsOnGateway = cfg.MetricsListen == ""
	st, err := openStore(context.Background(), cfg.Store, logger)
	if err != nil {
		return nil, err
	}
	if st != nil {
		a.store = st
		gcfg.Store = st
		a.stopRetention = startRetention(st, cfg.Store, logger)
	}
	if cfg.authEnabled() {
		var replay cdshooks.ReplayStore
		if a.store != nil {
			replay = a.store // jti claims survive a restart and are shared by instances on one store
		}
		v, err := buildVerifier(cfg, logger, replay)
		if err != nil {
			return nil, err
		}
		gcfg.Verifier = v
	} else {
		logger.Warn("auth.enabled is false: any caller can invoke the services. Never do this with real patient data.")
	}
	if cfg.Demo.EmbeddedFHIR {
		srv := fhir.NewServer()
		if err := srv.LoadBundle(demo.Patients()); err != nil {
			return nil, fmt.Errorf("demo patients: %w", err)
		}
		// The adherence demo's fills are dated back from today (issue 17: valuerx send
		// statin-pdc63-order-sign shows an adherence card whatever the day).
		if err := srv.LoadBundle(demo.AdherencePatients(time.Now())); err != nil {
			return nil, fmt.Errorf("demo adherence patients: %w", err)
		}
		// Next links must carry the public path, not the one StripPrefix leaves the handler.
		if err := srv.SetBaseURL(strings.TrimRight(cfg.ExternalURL, "/") + "/fhir"); err != nil {
			return nil, fmt.Errorf("demo FHIR base: %w", err)
		}
		if cfg.Demo.FHIRDelay.Duration > 0 {
			srv.SetDelay(cfg.Demo.FHIRDelay.Duration)
		}
		a.fhirSrv = srv
		gcfg.Mounts = map[string]http.Handler{"/fhir": srv}
	}
	gw, err := gateway.New(gcfg)
	if err != nil {
		return nil, err
	}
	a.gw = gw
	if a.store != nil {
		warnPayerTargets(a.store, gw.Targets(), logger)
	}
	built = true
	return a, nil
}

func buildVerifier(cfg fileConfig, logger *slog.Logger, replay cdshooks.ReplayStore) (*cdshooks.Verifier, error) {
	vc := cdshooks.VerifierConfig{
		ReplayStore: replay,
		ClockSkew:   cfg.Auth.ClockSkew.Duration,
		MaxLifetime: cfg.Auth.MaxLifetime.Duration,
		HTTPClient:  &http.Client{Timeout: 10 * time.Second},
		Logger:      logger,
	}
	if cfg.Auth.Replay != "" {
		m, err := cdshooks.ParseReplayMode(cfg.Auth.Replay)
		if err != nil {
			return nil, fmt.Errorf("auth.replay: %w", err)
		}
		vc.Replay = m
	}
	for i, c := range cfg.Auth.Clients {
		tc := cdshooks.TrustedClient{Issuer: c.Issuer, JKUAllow: c.JKU, Tenants: c.Tenants}
		switch {
		case c.JWKSFile != "":
			b, err := os.ReadFile(c.JWKSFile)
			if err != nil {
				return nil, fmt.Errorf("auth.clients[%d].jwksFile: %w", i, err)
			}
			tc.JWKS = b
		case c.JWKS != "":
			tc.JWKS = []byte(c.JWKS)
		}
		if c.Replay != "" {
			m, err := cdshooks.ParseReplayMode(c.Replay)
			if err != nil {
				return nil, fmt.Errorf("auth.clients[%d].replay: %w", i, err)
			}
			tc.Replay = &m
		}
		vc.Clients = append(vc.Clients, tc)
	}
	if cfg.Auth.DevClient {
		signer, created, err := devSigner(cfg.Auth.DevKeyFile)
		if err != nil {
			return nil, err
		}
		vc.Clients = append(vc.Clients, signer.TrustedClient())
		logger.Warn("DEVELOPMENT CLIENT TRUSTED: tokens signed with "+cfg.Auth.DevKeyFile+" are accepted. "+
			"This key is for local use only; set auth.devClient: false in production.",
			"issuer", cdshooks.DevIssuer, "kid", signer.KID, "generated", created)
	}
	if len(vc.Clients) == 0 {
		return nil, errors.New("auth is enabled but no trusted client is configured (auth.clients or auth.devClient)")
	}
	return cdshooks.NewVerifier(vc)
}

// devSigner loads the development client key, generating it (mode 0600) on first use.
func devSigner(path string) (*cdshooks.Signer, bool, error) {
	if path == "" {
		path = "var/dev-client-key.pem"
	}
	b, err := os.ReadFile(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		key, gerr := cdshooks.GenerateES384()
		if gerr != nil {
			return nil, false, gerr
		}
		if b, err = cdshooks.MarshalPrivatePEM(key); err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("dev key: %w", err)
		}
		// O_EXCL: two processes starting together must not overwrite each other's key.
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr == nil {
			_, err = f.Write(b)
			f.Close()
			created = true
		} else if errors.Is(ferr, fs.ErrExist) {
			b, err = os.ReadFile(path)
		} else {
			err = ferr
		}
		if err != nil {
			return nil, false, fmt.Errorf("dev key: %w", err)
		}
	} else if err != nil {
		return nil, false, fmt.Errorf("dev key: %w", err)
	}
	s, err := cdshooks.LoadSignerPEM(b, cdshooks.DevIssuer)
	if err != nil {
		return nil, false, fmt.Errorf("dev key %s: %w", path, err)
	}
	return s, created, nil
}

// fhirServers is each client's FHIR server allowlist keyed by issuer, as the gateway wants it.
func fhirServers(cfg fileConfig) map[string][]string {
	m := map[string][]string{}
	for _, c := range cfg.Auth.Clients {
		if len(c.FHIRServers) > 0 {
			m[c.Issuer] = append(m[c.Issuer], c.FHIRServers...)
		}
	}
	return m
}

// tenantFHIRServers are the per-tenant allowlists of the configured clients: issuer -> tenant ->
// bases.
func tenantFHIRServers(cfg fileConfig) map[string]map[string][]string {
	m := map[string]map[string][]string{}
	for _, c := range cfg.Auth.Clients {
		for t, list := range c.TenantFHIRServers {
			if m[c.Issuer] == nil {
				m[c.Issuer] = map[string][]string{}
			}
			m[c.Issuer][t] = list
		}
	}
	return m
}

// serviceFor picks the valuerx service for a hook name.
func serviceFor(hook string) string {
	if strings.TrimSpace(hook) == "order-select" {
		return gateway.ServiceOrderSelect
	}
	return gateway.ServiceOrderSign
}

// loadPolicy reads the P&T policy and the indication table named by the configuration, else the
// embedded ones.
func loadPolicy(cat *scoring.Catalog, cfg fileConfig) (*scoring.Policy, error) {
	ind, err := scoring.DefaultIndications()
	if err != nil {
		return nil, err
	}
	if cfg.Indications != "" {
		f, err := os.Open(cfg.Indications)
		if err != nil {
			return nil, fmt.Errorf("indications: %w", err)
		}
		defer f.Close()
		if ind, err = scoring.ParseIndications(f); err != nil {
			return nil, fmt.Errorf("indications %s: %w", cfg.Indications, err)
		}
	}
	if cfg.Policy == "" {
		b, err := scoring.DefaultPolicyYAML()
		if err != nil {
			return nil, err
		}
		return scoring.ParsePolicy(cat, b, ind, "embedded demo policy (scoring/data/policy.yaml)")
	}
	b, err := os.ReadFile(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	pol, err := scoring.ParsePolicy(cat, b, ind, cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return pol, nil
}

// orderKeyBesideStore returns the order key kept in a file next to the SQLite store
// (STORE.orderkey, mode 0600), creating it with 32 random bytes on first start. It is the
// default when orderKeySecretFile is not configured, so the keyed order hashes in the store stay
// stable across restarts. It is kept outside the database so that a copy of the database alone
// does not let anyone test guessed (patient, order) pairs against its hashes.
func orderKeyBesideStore(storePath string) (secret []byte, path string, created bool, err error) {
	path = storePath + ".orderkey"
	secret, err = os.ReadFile(path)
	if err == nil {
		if len(secret) < 32 {
			return nil, path, false, fmt.Errorf("order key %s: %d bytes; at least 32 are needed (delete it to draw a new one)", path, len(secret))
		}
		return secret, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, path, false, fmt.Errorf("order key: %w", err)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, path, false, fmt.Errorf("order key: %w", err)
		}
	}
	secret = make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, path, false, fmt.Errorf("order key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return orderKeyBesideStore(storePath) // another process drew it first: use theirs
	}
	if err != nil {
		return nil, path, false, fmt.Errorf("order key: %w", err)
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		return nil, path, false, fmt.Errorf("order key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, path, false, fmt.Errorf("order key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, path, false, fmt.Errorf("order key: %w", err)
	}
	return secret, path, true, nil
}

// warnPayerTargets warns at start when the store holds decisions that booked the change in the
// allowed amount as the payer's saving (before 3 December 2026) and payer-savings targets are
// configured: such a target was likely chosen against those figures, and the payer's own payment
// reads about a fifth lower (tracking.PayerSavingsTargets). The reports say so too; this is the
// operator's prompt to review the targets, once per start.
func warnPayerTargets(st store.Store, ts []tracking.Target, logger *slog.Logger) {
	pb, ok := st.(store.PayerBasis)
	named := tracking.PayerSavingsTargets(ts)
	if !ok || len(named) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	until, err := pb.AllowedBasisUntil(ctx)
	if err != nil || until.IsZero() {
		return // a store that cannot answer here fails its reports, which say why
	}
	logger.Warn("payer-savings targets may have been set on the allowed amount: decisions up to allowedBasisUntil book the change in the allowed amount as the payer's saving, later ones the payer's own payment (about 0.78 of it under Medicare Part B); review these targets",
		"targets", strings.Join(named, ", "), "allowedBasisUntil", until.UTC().Format(time.RFC3339))
}
