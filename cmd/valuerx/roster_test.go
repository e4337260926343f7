package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valuerx/scoring"
)

// TestServeRosters: the rosters of the serve configuration (a CSV and a Da Vinci ATR list) join
// the contracts' roster, so the gateway attributes a Coverage by MBI or by plan member id.
func TestServeRosters(t *testing.T) {
	dir := t.TempDir()
	csvFile, atrFile := filepath.Join(dir, "aco.csv"), filepath.Join(dir, "aco-atr.json")
	os.WriteFile(csvFile, []byte("member_id,mbi,plan_member_id,contract,start,end\nM9,9AA9AA9AA99,,mssp-aco,2026-01-01,2026-12-31\n"), 0o600)
	os.WriteFile(atrFile, []byte(`{"resourceType":"Bundle","type":"collection","entry":[
 {"resource":{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/p1"},"period":{"start":"2026-03-01"},
   "extension":[{"url":"http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-coverageReference","valueReference":{"reference":"Coverage/c1"}}]}]}},
 {"resource":{"resourceType":"Coverage","id":"c1","subscriberId":"W555123"}}]}`), 0o600)
	cfg := defaultConfig()
	cfg.Rosters = []rosterFile{{File: csvFile}, {File: atrFile, Contract: "mssp-aco"}}
	set, err := loadScoring(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.rosters) != 2 || !strings.HasPrefix(set.rosters[1], "aco-atr.json sha256:") {
		t.Errorf("rosters %v", set.rosters)
	}
	on := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		cov  scoring.Coverage
		on   time.Time
		want string
	}{
		{scoring.Coverage{SOPT: []string{"121"}, MBI: "9AA9AA9AA99"}, on, "mssp-aco"},
		{scoring.Coverage{SOPT: []string{"121"}, MemberID: "W555123"}, on, "mssp-aco"},
		{scoring.Coverage{SOPT: []string{"121"}, MemberID: "W555123"}, on.AddDate(0, -2, 0), "medicare-ffs"}, // before the ATR period
		{scoring.Coverage{SOPT: []string{"121"}, MemberID: "W000"}, on, "medicare-ffs"},
	} {
		if k, ok := set.reg.Classify(c.cov, c.on); !ok || k.ID != c.want {
			t.Errorf("%+v on %s: %q, want %q", c.cov, c.on.Format(time.DateOnly), k.ID, c.want)
		}
	}
	// A roster naming a contract without attribution, or unreadable, stops the start.
	cfg.Rosters = []rosterFile{{File: atrFile, Contract: "commercial-ppo"}}
	if _, err := loadScoring(cfg); err == nil || !strings.Contains(err.Error(), "does not use attribution") {
		t.Errorf("roster for a non-attribution contract: %v", err)
	}
	cfg.Rosters = []rosterFile{{File: filepath.Join(dir, "missing.csv")}}
	if _, err := loadScoring(cfg); err == nil {
		t.Error("a missing roster file was accepted")
	}
}
