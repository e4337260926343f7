package main

import (
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
