package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"valuerx/tracking"
)

// fileConfig is the gateway's configuration file (YAML). Every field has a default, so
// `valuerx serve` runs with no file at all; see config/example.yaml for a documented copy.
type fileConfig struct {
	// Listen is the address to listen on.
	Listen string `yaml:"listen"`
	// ExternalURL is the base URL EHRs call. JWT audiences are checked against it.
	ExternalURL string `yaml:"externalURL"`
	TLS         struct {
		CertFile string `yaml:"certFile"`
		KeyFile  string `yaml:"keyFile"`
	} `yaml:"tls"`
	// Contracts is a scoring configuration file (contracts, attribution roster, acquisition
	// costs). Empty: the embedded sample contracts.
	Contracts string `yaml:"contracts"`
	// Rosters are payer attribution rosters whose entries join the contracts file's roster: a CSV
	// (attribution package) or a Da Vinci ATR Member Attribution List (.json Bundle or .ndjson),
	// read again with the catalog on reload; each is logged by its version (SHA-256).
	Rosters []rosterFile `yaml:"rosters"`
	// Policy is the P&T policy file (formulary per site, mid-course rules, dose rounding;
	// scoring/data/policy.yaml documents it). Empty: the embedded demo policy.
	Policy string `yaml:"policy"`
	// Indications is the curated labelled-indication table (CSV, scoring/data/indications.csv
	// documents the columns). Empty: the embedded table.
	Indications string `yaml:"indications"`
	// Catalog is a catalog snapshot file written by `valuerx catalog import` (JSON, or .json.gz).
	// Empty: the catalog embedded in the binary. The file is reloaded on SIGHUP and when it
	// changes (checked every catalogPoll); a snapshot that fails its checks is refused and the one
	// in service stays.
	Catalog     string   `yaml:"catalog"`
	CatalogPoll duration `yaml:"catalogPoll"`
	// MaxBookAge: an order dated more than this past the end of the newest CMS price book gets no
	// card at all (before it, it is priced on the newest book and marked stale). 0: no limit.
	MaxBookAge duration `yaml:"maxBookAge"`
	// Store is where decisions and feedback are recorded: a SQLite file ("" = do not record),
	// or PostgreSQL for several instances (storeconfig.go). It also holds the jti of every
	// accepted client JWT until expiry, so replay protection survives a restart and is shared by
	// the instances of one store.
	Store storeConfig `yaml:"store"`
	// OrderKeySecretFile holds the secret (any bytes, 32 or more) that keys the hash linking a
	// draft order's order-select and order-sign decisions. Instances sharing a store must share
	// it. Empty: a random secret per process (an order is then recognised only by the process
	// that saw it, and not after a restart).
	OrderKeySecretFile string `yaml:"orderKeySecretFile"`
	// MaxInFlight caps concurrent hooks; beyond it a hook gets 503 with Retry-After (default 256).
	MaxInFlight int `yaml:"maxInFlight"`
	Auth        struct {
		// Enabled turns client JWT verification on (it is on by default).
		Enabled *bool `yaml:"enabled"`
		// Discovery requires a JWT on GET /cds-services too.
		Discovery bool `yaml:"discovery"`
		// DevClient trusts the locally generated development key (DevKeyFile). Never in production.
		DevClient  bool     `yaml:"devClient"`
		DevKeyFile string   `yaml:"devKeyFile"`
		ClockSkew  duration `yaml:"clockSkew"`
		// MaxLifetime bounds exp - iat.
		MaxLifetime duration `yaml:"maxLifetime"`
		// Replay is "reject" (default) or "off" (for suites that reuse one token).
		Replay  string         `yaml:"replay"`
		Clients []clientConfig `yaml:"clients"`
	} `yaml:"auth"`
	CORS struct {
		Origins []string `yaml:"origins"`
	} `yaml:"cors"`
	FHIR struct {
		// AllowHTTP lets valuerx call plain-http fhirServers (tests and the demo only).
		AllowHTTP bool `yaml:"allowHTTP"`
		// AllowPrivateAddresses lets clients without fhirServers name loopback, private and
		// link-local FHIR servers (the demo's FHIR server is valuerx itself on localhost).
		AllowPrivateAddresses bool     `yaml:"allowPrivateAddresses"`
		Budget                duration `yaml:"budget"`
		Timeout               duration `yaml:"timeout"`
		CoverageTTL           duration `yaml:"coverageTTL"`
		// MaxEntriesPerKey caps the entries used per prefetch key, prefetched or fetched
		// (default 1000); beyond it valuerx answers from the first ones.
		MaxEntriesPerKey int `yaml:"maxEntriesPerKey"`
		// MaxConnsPerHost caps the connections valuerx opens to one FHIR server (host and
		// port), idle or busy (default 64; negative: no cap). Requests beyond it wait for a
		// connection within the hook's budget.
		MaxConnsPerHost int `yaml:"maxConnsPerHost"`
	} `yaml:"fhir"`
	MaxBodyBytes int64      `yaml:"maxBodyBytes"`
	ScoreCache   int        `yaml:"scoreCacheSize"`
	Demo         demoConfig `yaml:"demo"`
	LogLevel     string     `yaml:"logLevel"`
	// Analytics is who may read /analytics/* (and /metrics on the gateway's listener).
	Analytics analyticsConfig `yaml:"analytics"`
	// Imports are the realised side of the record read by the gateway itself (poll.go); files
	// are imported with `valuerx import`.
	Imports struct {
		AdministrationsPoll []administrationsPoll `yaml:"administrationsPoll"`
	} `yaml:"imports"`
	// MetricsListen serves /metrics without authentication on a second, loopback-only listener
	// (Prometheus on the same host). Empty: /metrics is on the gateway's listener behind analyst
	// authentication (Prometheus with basic_auth or a bearer token).
	MetricsListen string `yaml:"metricsListen"`
	// Cards says what a prescriber's card shows (issue 14).
	Cards struct {
		// ShowOrganisation lists who sees the organisation's margin and net impact on cards:
		// contract ids, and hook userIds (a PractitionerRole reference, or "PractitionerRole/"
		// for every user of that type). Default: nobody; the comparison page shows them to
		// pharmacists and the value-based-care team.
		ShowOrganisation struct {
			Contracts []string `yaml:"contracts"`
			Users     []string `yaml:"users"`
		} `yaml:"showOrganisation"`
		// Compare configures the comparison page each card links to: linkTTL is how long a link
		// works (default 1h); secretFile holds the key of the links' HMAC (at least 16 bytes;
		// empty: a random key per process, so links die with a restart); entries bounds the
		// comparisons held (default 4096).
		Compare struct {
			LinkTTL    duration `yaml:"linkTTL"`
			SecretFile string   `yaml:"secretFile"`
			Entries    int      `yaml:"entries"`
		} `yaml:"compare"`
	} `yaml:"cards"`
	// DebugListen serves Go's pprof profiles (/debug/pprof/) on a second listener, for operators
	// chasing a latency or memory problem. Empty: off. Only loopback addresses are accepted:
	// profiles show request paths and heap contents, which may include PHI.
	DebugListen string `yaml:"debugListen"`

	// demo is the resolved demo mode: on without a file, else what the file says (resolveDemo).
	demo bool
}

// demoConfig is the local demo. `demo: true` (or `demo: {enabled: true}`) turns every demo piece
// on that the file does not set itself: the development client (auth.devClient), the embedded
// FHIR server (demo.embeddedFHIR), plain-http and private-address FHIR servers
// (fhir.allowHTTP, fhir.allowPrivateAddresses), CORS from any origin (cors.origins) and a demo
// analyst account. Without a file the demo is on; with one it is off unless the file says so.
type demoConfig struct {
	Enabled bool `yaml:"enabled"`
	// EmbeddedFHIR serves an in-memory, read-only FHIR R4 server with the demo patients at /fhir.
	EmbeddedFHIR bool `yaml:"embeddedFHIR"`
	// FHIRDelay injects latency into the embedded FHIR server (load tests).
	FHIRDelay duration `yaml:"fhirDelay"`
}

// UnmarshalYAML accepts `demo: true|false` as well as the mapping. Unknown keys of the mapping
// are errors here too (yaml's KnownFields does not reach a custom unmarshaler).
func (d *demoConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: demo must be true, false or a mapping", n.Line)
		}
		d.Enabled = b
		return nil
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "enabled", "embeddedFHIR", "fhirDelay":
			default:
				return fmt.Errorf("line %d: field %s not found in demo", k.Line, k.Value)
			}
		}
	}
	type plain demoConfig
	return n.Decode((*plain)(d))
}

// analyticsAccount is a local analyst account.
type analyticsAccount struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"passwordHash"`
	// Clients, when given, are the only clients (EHRs) whose decisions the account sees on the
	// dashboard, its JSON and CSV ([]: none); absent: every client.
	Clients []string `yaml:"clients"`
}

// analyticsConfig is analyst access: an OpenID Connect provider, local accounts, or both.
type analyticsConfig struct {
	OIDC struct {
		Issuer   string   `yaml:"issuer"`
		Audience string   `yaml:"audience"`
		Claim    string   `yaml:"claim"`
		Values   []string `yaml:"values"`
		// ClientScopes limits the analysts a value of Values admits to some clients (EHRs):
		// value -> client identities (the JWT iss, and " tenant=..." with a tenant). A value
		// without an entry admits analysts who see every client.
		ClientScopes map[string][]string `yaml:"clientScopes"`
		// ClientID (and the secret in ClientSecretFile, if the client is confidential) let
		// browsers sign in with the provider at /analytics/oidc/login.
		ClientID         string `yaml:"clientID"`
		ClientSecretFile string `yaml:"clientSecretFile"`
	} `yaml:"oidc"`
	Accounts   []analyticsAccount `yaml:"accounts"`
	SessionTTL duration           `yaml:"sessionTTL"`
	// PasswordChecksPerSecond rations bcrypt checks of local accounts (default 2).
	PasswordChecksPerSecond float64 `yaml:"passwordChecksPerSecond"`
	SessionKeyFile          string  `yaml:"sessionKeyFile"`
	// Targets are the organisation's programme targets per contract and drug family, shown
	// against the actuals by /analytics/report and /analytics/dashboard.
	Targets []tracking.Target `yaml:"targets"`
	// MeasuresDir is the -out directory of `valuerx measures`, whose rates and worklist
	// /analytics/measures shows (the demo: var/demo-measures, which `valuerx measures -demo -out
	// var/demo-measures` writes).
	MeasuresDir string `yaml:"measuresDir"`
}

// clientConfig is one trusted EHR (CDS client).
type clientConfig struct {
	Issuer   string   `yaml:"issuer"`
	JWKSFile string   `yaml:"jwksFile"`
	JWKS     string   `yaml:"jwks"` // inline JSON
	JKU      []string `yaml:"jku"`
	Tenants  []string `yaml:"tenants"`
	Replay   string   `yaml:"replay"`
	// FHIRServers are the FHIR service bases (origin plus path prefix) this client's hooks may
	// name as fhirServer. Listed servers are called wherever they live; without a list, only
	// public https servers.
	FHIRServers []string `yaml:"fhirServers"`
	// TenantFHIRServers gives single tenants (the JWT tenant claim) their own FHIR servers: a
	// hook of a tenant listed here may name only that tenant's servers, never another tenant's
	// of the same issuer; a tenant not listed has fhirServers.
	TenantFHIRServers map[string][]string `yaml:"tenantFhirServers"`
}

// rosterFile is one payer roster: the file and, for an ATR list, the contract its members are
// attributed to (default: the Group's contract identifier, else its name).
type rosterFile struct {
	File     string `yaml:"file"`
	Contract string `yaml:"contract"`
}

type duration struct{ time.Duration }

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.Duration = v
	return nil
}

// defaultConfig is what `make run` uses: the demo on localhost with the development client.
// A configuration file starts from it with the demo pieces off (loadConfig).
func defaultConfig() fileConfig {
	var c fileConfig
	c.Demo.Enabled, c.demo = true, true
	c.Listen = "127.0.0.1:8080"
	c.ExternalURL = "http://localhost:8080"
	c.Store = storeConfig{Driver: driverSQLite, Path: "var/valuerx.db"}
	c.Auth.DevClient = true
	c.Auth.DevKeyFile = "var/dev-client-key.pem"
	c.CORS.Origins = []string{"*"}
	c.FHIR.AllowHTTP = true
	c.FHIR.AllowPrivateAddresses = true
	c.FHIR.Budget.Duration = 450 * time.Millisecond
	c.FHIR.Timeout.Duration = 5 * time.Second
	c.FHIR.CoverageTTL.Duration = 5 * time.Minute
	c.MaxBodyBytes = 1 << 20
	c.ScoreCache = 1024
	c.CatalogPoll.Duration = 10 * time.Second
	// MaxBookAge stays 0 in the demo: the demo orders are dated in the shipped books, and an
	// undated order takes today. Production configurations set it (config/example.yaml).
	c.Demo.EmbeddedFHIR = true
	c.Analytics.MeasuresDir = "var/demo-measures"
	c.LogLevel = "info"
	return c
}

// loadConfig reads path (if any) over the defaults. Unknown keys are errors: a typo in a
// security setting must not pass silently.
func loadConfig(path string) (fileConfig, error) {
	c := defaultConfig()
	if path == "" {
		c.demo = true
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	c.Demo.Enabled = false // a file is production until it says demo: true
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	c.resolveDemo(raw)
	if err := checkDebugListen(c.DebugListen); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if err := checkLoopbackListen("metricsListen", c.MetricsListen, "unauthenticated metrics stay on this host; remote Prometheus scrapes /metrics on the gateway with an analyst credential"); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// resolveDemo sets every demo piece the file (raw) does not set itself to the demo mode.
func (c *fileConfig) resolveDemo(raw map[string]any) {
	c.demo = c.Demo.Enabled
	has := func(section, key string) bool {
		m, ok := raw[section].(map[string]any)
		if !ok {
			return false
		}
		_, ok = m[key]
		return ok
	}
	if !has("auth", "devClient") {
		c.Auth.DevClient = c.demo
	}
	if !has("demo", "embeddedFHIR") {
		c.Demo.EmbeddedFHIR = c.demo
	}
	if !has("analytics", "measuresDir") && !c.demo {
		c.Analytics.MeasuresDir = "" // the demo's directory is the demo's
	}
	if !has("fhir", "allowHTTP") {
		c.FHIR.AllowHTTP = c.demo
	}
	if !has("fhir", "allowPrivateAddresses") {
		c.FHIR.AllowPrivateAddresses = c.demo
	}
	if !has("cors", "origins") {
		c.CORS.Origins = nil
		if c.demo {
			c.CORS.Origins = []string{"*"}
		}
	}
}

// checkServe refuses combinations that would expose the demo: the development client's key sits
// in var/ on this machine and `valuerx token` mints for it, so it may only be trusted by a
// valuerx that nothing but this machine can reach.
func checkServe(c fileConfig) error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	if c.Auth.DevClient && c.authEnabled() && !loopbackHost(host) {
		return fmt.Errorf("listen %q is not a loopback address and auth.devClient is on: anyone who can reach it could mint trusted tokens with the development key. "+
			"Listen on 127.0.0.1, or set auth.devClient: false and configure auth.clients", c.Listen)
	}
	if c.demo && !loopbackHost(host) {
		// Without the development client the demo still serves its patients (names, birth dates,
		// MBIs) at /fhir without authentication, answers CORS from any origin, lets hooks name
		// private FHIR addresses and prints a demo analyst's password (security review, 2
		// December 2026: `demo: true` with auth.devClient: false started on 0.0.0.0).
		return fmt.Errorf("listen %q is not a loopback address and the demo is on: it serves demo patients at /fhir without authentication, CORS from any origin and a demo analyst account. "+
			"Listen on 127.0.0.1, or remove demo: true from the configuration file", c.Listen)
	}
	if !c.authEnabled() && !loopbackHost(host) {
		return fmt.Errorf("listen %q is not a loopback address and auth.enabled is false: anyone who can reach it could call the services. "+
			"Listen on 127.0.0.1, or turn authentication on", c.Listen)
	}
	return nil
}

// checkDebugListen accepts "" or a loopback host:port.
func checkDebugListen(addr string) error {
	return checkLoopbackListen("debugListen", addr, "profiles may hold PHI")
}

// checkLoopbackListen accepts "" or a loopback host:port for the named key.
func checkLoopbackListen(key, addr, why string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("%s %q: only a loopback address is allowed (%s)", key, addr, why)
	}
	return nil
}

// loopbackHost reports whether host (from host:port) is localhost or a loopback IP.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c fileConfig) authEnabled() bool { return c.Auth.Enabled == nil || *c.Auth.Enabled }
