package main

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"valuerx/tracking"
)

// analytics.targets in the config file reach the gateway as tracking targets, checked.
func TestAnalyticsTargetsConfig(t *testing.T) {
	c, err := loadConfig(writeConfig(t, `analytics:
  targets:
    - contract: mssp-aco
      acceptanceRate: 0.6
      annualPayerSavingsUSD: 5000000
    - contract: mssp-aco
      family: trastuzumab
      biosimilarShareNewStarts: 0.8
`))
	if err != nil {
		t.Fatal(err)
	}
	ts := c.Analytics.Targets
	if len(ts) != 2 || ts[0].Contract != "mssp-aco" || *ts[0].AcceptanceRate != 0.6 || *ts[0].AnnualPayerSavingsUSD != 5e6 ||
		ts[1].Family != "trastuzumab" || *ts[1].BiosimilarShareNewStarts != 0.8 || ts[1].AcceptanceRate != nil {
		t.Fatalf("targets = %+v", ts)
	}
	if err := tracking.ValidateTargets(ts); err != nil {
		t.Fatal(err)
	}
	c, err = loadConfig(writeConfig(t, "analytics:\n  targets:\n    - contract: x\n      acceptanceRate: 80\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tracking.ValidateTargets(c.Analytics.Targets); err == nil {
		t.Error("an acceptance rate of 80 (percent, not a share) must be refused")
	}
	if _, err := loadConfig(writeConfig(t, "analytics:\n  targets:\n    - contract: x\n      acceptance: 0.8\n")); err == nil {
		t.Error("a misspelt target field must be refused")
	}
}

// A store holding decisions booked on the allowed amount (before 3 December 2026) and a
// payer-savings target: the start warns, naming the targets and when the old basis ends. No
// warning for a store of new-basis decisions only, or with targets that set no payer savings.
func TestStartWarnsOfPayerTargetsOnTheAllowedAmount(t *testing.T) {
	storePath := filepath.Join(t.TempDir(), "valuerx.db")
	start := func(targets string) string {
		t.Helper()
		cfg, err := loadConfig(writeConfig(t, "listen: 127.0.0.1:0\nexternalURL: http://valuerx.test\nstore: "+storePath+
			"\nauth:\n  enabled: false\ndemo:\n  enabled: true\nanalytics:\n  targets:\n"+targets))
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		a, err := buildApp(cfg, newLogger(&logs, "info"))
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		return logs.String()
	}
	const payer = "    - contract: mssp-aco\n      annualPayerSavingsUSD: 5000000\n    - contract: mssp-aco\n      family: trastuzumab\n      annualRealisedPayerSavingsUSD: 900000\n"
	const share = "    - contract: mssp-aco\n      family: trastuzumab\n      biosimilarShareNewStarts: 0.8\n"
	const warning = "payer-savings targets may have been set on the allowed amount"
	if logs := start(payer); strings.Contains(logs, warning) {
		t.Fatalf("a new store (every decision on the payer's own payment) warned:\n%s", logs)
	}
	db, err := sql.Open("sqlite", "file:"+storePath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE payer_basis SET allowed_until = '2026-11-30T09:15:00.000000000Z'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	logs := start(payer)
	for _, want := range []string{warning, `"targets":"mssp-aco, mssp-aco/trastuzumab"`, `"allowedBasisUntil":"2026-11-30T09:15:00Z"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("start log lacks %q:\n%s", want, logs)
		}
	}
	if logs := start(share); strings.Contains(logs, warning) {
		t.Errorf("warned with no payer-savings target:\n%s", logs)
	}
	// ma-capitation's payer-savings target is never measured (the plan pays no claim): not named.
	logs = start(payer + "    - contract: ma-capitation\n      annualPayerSavingsUSD: 100000\n")
	if !strings.Contains(logs, `"targets":"mssp-aco, mssp-aco/trastuzumab"`) {
		t.Errorf("a capitated contract's target named, or the others not:\n%s", logs)
	}
}
