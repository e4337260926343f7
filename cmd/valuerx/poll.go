package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"valuerx/fhir"
	"valuerx/imports"
)

// administrationsPoll reads MedicationAdministration from one EHR's FHIR server on a schedule
// (imports.Poller):
//
//	imports:
//	  administrationsPoll:
//	    - fhirServer: https://fhir.hospital-a.example/r4
//	      tokenFile: /etc/valuerx/hospital-a.fhir-token   # a system (backend services) bearer token, re-read each poll; mode 0600 (group- or world-readable is refused)
//	      issuer: https://ehr.hospital-a.example/cds-client   # the CDS client whose orders these are
//	      tenant: ""
//	      every: 15m
//	      lookback: 168h                                  # the first poll's window
type administrationsPoll struct {
	FHIRServer string   `yaml:"fhirServer"`
	TokenFile  string   `yaml:"tokenFile"`
	Issuer     string   `yaml:"issuer"`
	Tenant     string   `yaml:"tenant"`
	Every      duration `yaml:"every"`
	Lookback   duration `yaml:"lookback"`
}

// startPolls starts one poller per configured server; they stop with ctx.
func startPolls(ctx context.Context, cfg fileConfig, a *app, logger *slog.Logger) error {
	for i, pc := range cfg.Imports.AdministrationsPoll {
		if a.store == nil {
			return errors.New("imports.administrationsPoll needs a store")
		}
		if pc.FHIRServer == "" || pc.TokenFile == "" || pc.Issuer == "" {
			return fmt.Errorf("imports.administrationsPoll[%d]: fhirServer, tokenFile and issuer are required", i)
		}
		tok, err := readToken(pc.TokenFile)
		if err != nil {
			return fmt.Errorf("imports.administrationsPoll[%d]: %w", i, err)
		}
		c, err := fhir.NewClient(pc.FHIRServer, tok, &http.Client{Timeout: 60 * time.Second}, cfg.FHIR.AllowHTTP)
		if err != nil {
			return fmt.Errorf("imports.administrationsPoll[%d]: %w", i, err)
		}
		lookback := pc.Lookback.Duration
		if lookback <= 0 {
			lookback = 7 * 24 * time.Hour
		}
		log := logger.With("fhir_server", pc.FHIRServer)
		p := &imports.Poller{Client: c, Joiner: imports.Joiner{Secret: a.orderSecret, Client: imports.ClientID(pc.Issuer, pc.Tenant)},
			Catalog: a.cat, Store: a.store, Every: pc.Every.Duration, Since: time.Now().Add(-lookback),
			Log: func(msg string, args ...any) {
				// A rotated token file is picked up before the next poll.
				if t, err := readToken(pc.TokenFile); err == nil {
					c.Token = t
				}
				log.Info(msg, args...)
			}}
		go p.Run(ctx)
	}
	return nil
}

// readToken reads a bearer token file, refusing one that the group or others may read (a FHIR
// system token gives the whole server's records; attacker review finding 11).
func readToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("tokenFile: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return "", fmt.Errorf("tokenFile %s is readable by group or others (mode %04o): chmod 600 it", path, m)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("tokenFile: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("tokenFile %s is empty", path)
	}
	return t, nil
}
