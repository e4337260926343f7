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
	// Policy is the P&T policy file (formulary per site, mid-course rules, dose rounding;
	// scoring/data/policy.yaml documents it). Empty: the embedded demo policy.
	Policy string `yaml:"policy"`
	// Indications is the curated labelled-indication table (CSV, scoring/data/indications.csv
	// documents the columns). Empty: the embedded table.
	Indications string `yaml:"indications"`
	// Store is the SQLite file for decisions and feedback ("" = do not record).
	Store string `yaml:"store"`
	Auth  struct {
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
	} `yaml:"fhir"`
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	ScoreCache   int   `yaml:"scoreCacheSize"`
	Demo         struct {
		// EmbeddedFHIR serves an in-memory FHIR R4 server with the demo patients at /fhir.
		EmbeddedFHIR bool `yaml:"embeddedFHIR"`
		// FHIRDelay injects latency into the embedded FHIR server (load tests).
		FHIRDelay duration `yaml:"fhirDelay"`
	} `yaml:"demo"`
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
	} `yaml:"cards"`
	LogLevel string `yaml:"logLevel"`
	// DebugListen serves Go's pprof profiles (/debug/pprof/) on a second listener, for operators
	// chasing a latency or memory problem. Empty: off. Only loopback addresses are accepted:
	// profiles show request paths and heap contents, which may include PHI.
	DebugListen string `yaml:"debugListen"`
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
func defaultConfig() fileConfig {
	var c fileConfig
	c.Listen = "127.0.0.1:8080"
	c.ExternalURL = "http://localhost:8080"
	c.Store = "var/valuerx.db"
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
	c.Demo.EmbeddedFHIR = true
	c.LogLevel = "info"
	return c
}

// loadConfig reads path (if any) over the defaults. Unknown keys are errors: a typo in a
// security setting must not pass silently.
func loadConfig(path string) (fileConfig, error) {
	c := defaultConfig()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if err := checkDebugListen(c.DebugListen); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// checkDebugListen accepts "" or a loopback host:port.
func checkDebugListen(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("debugListen: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("debugListen %q: only a loopback address is allowed (profiles may hold PHI)", addr)
	}
	return nil
}

func (c fileConfig) authEnabled() bool { return c.Auth.Enabled == nil || *c.Auth.Enabled }
