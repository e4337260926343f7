package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valuerx/scoring"
)

// A reload (SIGHUP) after the contracts file was edited swaps the new contracts in although the
// catalog version is the same: the answers differ, and the divergence answers are keyed by the
// configuration's fingerprint with the version (gateway/divergence.go). An edit that changes no
// answer (a comment) keeps the engine in service.
func TestReloadSwapsEditedContractsOnTheSameCatalog(t *testing.T) {
	dir := t.TempDir()
	contracts := filepath.Join(dir, "contracts.yaml")
	base := string(scoring.DefaultConfigYAML())
	if err := os.WriteFile(contracts, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.Store, cfg.Demo.EmbeddedFHIR = storeConfig{}, false
	cfg.Catalog, cfg.Contracts = "../../catalog/data/snapshot.json.gz", contracts
	cfg.Auth.DevKeyFile = filepath.Join(dir, "key.pem")
	logs := &lockedBuffer{}
	a, err := buildApp(cfg, newLogger(logs, "info"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	version := a.gw.CatalogVersion()
	rl := &catalogReloader{cfg: cfg, app: a, logger: newLogger(logs, "info"), now: time.Now}
	const rate = "sharedSavingsRate: 0.5"
	if !strings.Contains(base, rate) {
		t.Fatalf("the sample contracts have no %q", rate)
	}
	for _, c := range []struct {
		name    string
		file    string
		swapped bool
	}{
		{"nothing changed", base, false},
		{"a comment added", base + "\n# reviewed by finance\n", false},
		{"mssp-aco's sharing rate 0.5 -> 0.4", strings.Replace(base, rate, "sharedSavingsRate: 0.4", 1), true},
		{"the same again", strings.Replace(base, rate, "sharedSavingsRate: 0.4", 1), false},
		{"back to 0.5", base, true},
	} {
		if err := os.WriteFile(contracts, []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
		before, reloads := a.gw.ConfigFingerprint(), strings.Count(logs.String(), `"msg":"catalog reloaded`)
		if err := rl.reloadNow(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if swapped := strings.Count(logs.String(), `"msg":"catalog reloaded`) > reloads; swapped != c.swapped || (a.gw.ConfigFingerprint() != before) != c.swapped || a.gw.CatalogVersion() != version {
			t.Errorf("%s: swapped %v (fingerprint %s -> %s, version %s), want swapped %v", c.name, swapped, before, a.gw.ConfigFingerprint(), a.gw.CatalogVersion(), c.swapped)
		}
	}
}
