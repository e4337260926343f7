package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"valuerx/cdshooks"
	"valuerx/conformance"
)

// TestConformAgainstValuerx is the suite's self-test against the product (the suite's command,
// valuerx-conform, is its own binary; this test drives the same library): valuerx as `valuerx
// serve` wires it (demo defaults, development client, SQLite store) passes every check with no
// failure and no warning besides response time, which depends on the machine.
func TestConformAgainstValuerx(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	cfg := defaultConfig()
	cfg.ExternalURL = base
	cfg.Store = storeConfig{Driver: driverSQLite, Path: filepath.Join(dir, "valuerx.db")}
	cfg.Auth.DevKeyFile = filepath.Join(dir, "dev-client-key.pem")
	cfg.LogLevel = "error"
	a, err := buildApp(cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv.Config.Handler = a.gw
	srv.Start()
	t.Cleanup(srv.Close)

	pemBytes, err := os.ReadFile(cfg.Auth.DevKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cdshooks.LoadSignerPEM(pemBytes, cdshooks.DevIssuer)
	if err != nil {
		t.Fatal(err)
	}
	result, err := conformance.Run(context.Background(), conformance.Options{
		BaseURL: base, Signer: signer, Issuer: cdshooks.DevIssuer, OmitJKU: true, TimingCalls: 2,
		Timeout: conformance.DefaultTimeout, Origin: conformance.DefaultOrigin,
	})
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := result.Write(&stdout, conformance.FormatJSON); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Results []struct {
			ID          string `json:"id"`
			Level       string `json:"level"`
			Status      string `json:"status"`
			Evaluations int    `json:"evaluations"`
			Evidence    []struct {
				Message string `json:"message"`
			} `json:"evidence"`
		} `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report does not parse: %v", err)
	}
	if result.ShallFailed() {
		t.Errorf("a SHALL failed")
	}
	// Checks that must have run against valuerx's cards for the self-test to mean anything.
	mustRun := map[string]bool{"card.summary": true, "action.fhir-r4": true, "action.target-in-draft": true,
		"prefetch.412": true, "cors.preflight": true, "auth.alg-none": true, "feedback.repeat": true}
	for _, r := range rep.Results {
		switch {
		case r.Status == "fail":
			t.Errorf("%s (%s) failed: %+v", r.ID, r.Level, r.Evidence)
		case r.Status == "warning" && !strings.HasPrefix(r.ID, "perf."):
			t.Errorf("%s (%s) warned: %+v", r.ID, r.Level, r.Evidence)
		case mustRun[r.ID] && (r.Status != "pass" || r.Evaluations == 0):
			t.Errorf("%s: %s after %d evaluations, want pass", r.ID, r.Status, r.Evaluations)
		}
	}
}
