package scoring

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"
)

func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	type want struct {
		name        string
		arr         Arrangement
		basis       Basis
		attribution bool
	}
	wants := map[string]want{
		"medicare-ffs":   {"Medicare Part B fee-for-service", FFS, BasisMedicareASP, false},
		"mssp-aco":       {"Medicare Shared Savings ACO (two-sided)", SharedSavingsTwoSided, BasisMedicareASP, true},
		"ma-capitation":  {"Medicare Advantage global capitation", Capitation, BasisNone, false},
		"commercial-ppo": {"Commercial PPO, ASP + 20%", FFS, BasisASPPlus, false},
		"eom-oncology":   {"Enhancing Oncology Model episode (sample)", Episode, BasisMedicareASP, true},
	}
	if len(cfg.Contracts) != len(wants) {
		t.Fatalf("%d contracts, want %d", len(cfg.Contracts), len(wants))
	}
	for _, k := range cfg.Contracts {
		w, ok := wants[k.ID]
		if !ok {
			t.Errorf("unexpected contract %s", k.ID)
			continue
		}
		if k.Name != w.name || k.Arrangement != w.arr || k.Reimbursement.Basis != w.basis || k.Match.Attribution != w.attribution || k.Coinsurance != 0.2 || k.Threshold != 25 || k.AllowMarginSwitch {
			t.Errorf("%s: %+v", k.ID, k)
		}
	}
	aco := contractByID(t, &cfg, "mssp-aco")
	if aco.SharedSavingsRate != 0.5 || !cmp.Equal(aco.Match.SOPT, []string{"121"}) || aco.Risk == nil || aco.Risk.Track != "basic-e" || aco.Risk.ExpectedPosition != AboveMSR {
		t.Errorf("mssp-aco: %+v", aco)
	}
	ma := contractByID(t, &cfg, "ma-capitation")
	if !ma.DrugsInBudget || ma.OOPMaxPerYear != 9250 || !cmp.Equal(ma.Match.SOPT, []string{"111", "112", "113"}) || !cmp.Equal(ma.Match.PayerIDs, []string{"valuerx-demo-ma"}) || !cmp.Equal(ma.Match.Plans, []string{"MA-GLOBAL-CAP"}) {
		t.Errorf("ma-capitation: %+v", ma)
	}
	ppo := contractByID(t, &cfg, "commercial-ppo")
	if ppo.Reimbursement.Percent != 0.2 || ppo.PriorAuth == nil || *ppo.PriorAuth != (PriorAuthTerms{ExpectedDelayDays: 7, DenialRate: 0.1}) || !cmp.Equal(ppo.Preferred, map[string][]string{"trastuzumab": {"kanjinti", "ogivri"}}) ||
		!cmp.Equal(ppo.Match.PayerIDs, []string{"valuerx-demo-ppo"}) || !cmp.Equal(ppo.Match.Plans, []string{"PPO-GOLD"}) {
		t.Errorf("commercial-ppo: %+v", ppo)
	}
	var onRoster bool
	for _, e := range cfg.Roster {
		if _, ok := NormalizeMBI(e.MBI); !ok {
			t.Errorf("roster MBI %q is not valid", e.MBI)
		}
		onRoster = onRoster || (e.MBI == "1EG4TE5MK73" && e.Contract == "mssp-aco" && e.Start.IsZero() && e.End.IsZero())
	}
	if !onRoster || len(cfg.Roster) < 2 {
		t.Errorf("roster %+v lacks the demo MBI without a period", cfg.Roster)
	}
	if _, err := ParseConfig(DefaultConfigYAML()); err != nil {
		t.Errorf("DefaultConfigYAML: %v", err)
	}
}

// TestConfigRoundTrip: a parsed configuration marshals back to YAML that
// parses to the same value.
func TestConfigRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AcquisitionCosts = []AcquisitionCost{{Product: "trazimera", USDPerUnit: 2.5, Start: Date{day("2026-01-01")}, End: Date{day("2026-03-31")}, Note: "GPO"}}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig(out)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	if d := cmp.Diff(cfg, back, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

const minimal = `
contracts:
  - id: k
    name: K
    match: {sopt: ["121"]}
    arrangement: ffs
    reimbursement: {basis: medicare-asp}
    coinsurance: 0.2
    threshold: 25
`

func TestParseConfigErrors(t *testing.T) {
	if _, err := ParseConfig([]byte(minimal)); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty"},
		{"not yaml", "contracts: [", "config"},
		{"typo in a key", strings.Replace(minimal, "coinsurance", "coinsurence", 1), "coinsurence"},
		{"unknown top-level key", minimal + "extra: 1\n", "extra"},
		{"two documents", minimal + "---\n" + minimal, "more than one"},
		{"no contracts", "contracts: []\n", "no contracts"},
		{"bad id", strings.Replace(minimal, "id: k", "id: K K", 1), "must match"},
		{"no name", strings.Replace(minimal, "name: K", "name: ''", 1), "name is required"},
		{"no match", strings.Replace(minimal, `match: {sopt: ["121"]}`, "match: {}", 1), "at least one"},
		{"sopt not digits", strings.Replace(minimal, `"121"`, `"12a"`, 1), "digits"},
		{"unknown arrangement", strings.Replace(minimal, "arrangement: ffs", "arrangement: fee-for-service", 1), "unknown arrangement"},
		{"shared savings without rate", strings.Replace(minimal, "arrangement: ffs", "arrangement: shared-savings-two-sided", 1), "sharedSavingsRate"},
		{"episode without share", strings.Replace(minimal, "arrangement: ffs", "arrangement: episode", 1), "episodeRiskShare"},
		{"wac-minus", strings.Replace(minimal, "basis: medicare-asp", "basis: wac-minus", 1), "not supported"},
		{"unknown basis", strings.Replace(minimal, "basis: medicare-asp", "basis: awp", 1), "unknown reimbursement.basis"},
		{"basis none for ffs", strings.Replace(minimal, "basis: medicare-asp", "basis: none", 1), "only valid for capitation"},
		{"fee schedule empty", strings.Replace(minimal, "basis: medicare-asp", "basis: fee-schedule", 1), "feeSchedule"},
		{"percent coinsurance", strings.Replace(minimal, "coinsurance: 0.2", "coinsurance: 20", 1), "fraction"},
		{"negative threshold", strings.Replace(minimal, "threshold: 25", "threshold: -1", 1), "non-negative"},
		{"string number", strings.Replace(minimal, "threshold: 25", "threshold: lots", 1), "config"},
		{"duplicate id", minimal + strings.TrimPrefix(strings.SplitN(minimal, "contracts:", 2)[1], "\n"), "already used"},
		{"roster bad mbi", minimal + "roster: [{mbi: 1SL4TE5MK73, contract: k}]\n", "not a valid MBI"},
		{"roster unknown contract", minimal + "roster: [{mbi: 1EG4TE5MK73, contract: nope}]\n", "unknown contract"},
		{"roster without attribution", minimal + "roster: [{mbi: 1EG4TE5MK73, contract: k}]\n", "does not use attribution"},
		{"roster bad date", minimal + "roster: [{mbi: 1EG4TE5MK73, contract: k, start: 01/02/2026}]\n", "YYYY-MM-DD"},
		{"acquisition zero", minimal + "acquisitionCosts: [{product: trazimera, usdPerUnit: 0}]\n", "positive"},
		{"acquisition no product", minimal + "acquisitionCosts: [{usdPerUnit: 1}]\n", "product is required"},
		{"acquisition end before start", minimal + "acquisitionCosts: [{product: x, usdPerUnit: 1, start: 2026-02-01, end: 2026-01-01}]\n", "end before start"},
		{"preferred empty", minimal + "    preferred: {trastuzumab: []}\n", "lists no products"},
	} {
		_, err := ParseConfig([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to mention %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "1SL4TE5MK73") {
			t.Errorf("%s: the error quotes a roster identifier: %v", c.name, err)
		}
	}
}

func TestNewRegistryChecksCatalogReferences(t *testing.T) {
	cat, _ := env(t)
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"preferred unknown group", func(c *Config) { c.Contracts[0].Preferred = map[string][]string{"nope": {"x"}} }, "unknown group"},
		{"preferred outside group", func(c *Config) { c.Contracts[0].Preferred = map[string][]string{"trastuzumab": {"avastin"}} }, "not a product of the group"},
		{"mid-course unknown group", func(c *Config) { c.Contracts[0].AllowMidCourseSwitch = map[string]bool{"nope": true} }, "unknown group"},
		{"acquisition unknown product", func(c *Config) {
			c.AcquisitionCosts = []AcquisitionCost{{Product: "nope", USDPerUnit: 1}}
		}, "unknown product"},
		{"fee schedule unknown product", func(c *Config) {
			c.Contracts[0].Reimbursement = Reimbursement{Basis: BasisFeeSchedule, FeeSchedule: map[string]float64{"nope": 1}}
		}, "unknown product"},
		{"invalid config", func(c *Config) { c.Contracts[0].Coinsurance = 2 }, "fraction"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		if _, err := NewRegistry(cfg, cat); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := NewRegistry(DefaultConfig(), nil); err == nil {
		t.Error("nil catalog accepted")
	}
}

// FuzzParseConfig: ParseConfig never panics, and whatever it accepts
// marshals back to YAML that it accepts again unchanged.
func FuzzParseConfig(f *testing.F) {
	f.Add(DefaultConfigYAML())
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "roster: [{mbi: 1EG4-TE5-MK73, contract: k, start: 2026-01-01}]\n"))
	f.Add([]byte(minimal + "acquisitionCosts: [{product: trazimera, usdPerUnit: 2.5, note: x}]\n"))
	f.Add([]byte("contracts: [{id: a, name: A, match: {attribution: true}, arrangement: capitation, drugsInBudget: true, coinsurance: 0, threshold: 0}]\n"))
	f.Add([]byte("contracts: !!map {}\n"))
	f.Add([]byte("{contracts: [&a {id: x}], roster: [*a]}"))
	f.Add([]byte(minimal + "secondaryCoverage: [{id: g, name: G, kind: medigap, match: {sopt: [\"523\"]}, paysCoinsurance: 1, paysDeductible: true}]\n"))
	f.Add([]byte("contracts: [{id: s, name: S, match: {sopt: [\"121\"]}, arrangement: shared-savings-two-sided, risk: {track: basic-e, qualityFactor: 0.5, expectedSavingsRate: 0.01, sequesterPayout: false}, reimbursement: {basis: medicare-asp, sequestration: 0.02, coinsuranceSource: contract}, coinsurance: 0.2, deductible: 283, deductibleMet: true, oopMaxPerYear: 9250, threshold: 25, preferred: {trastuzumab: [kanjinti]}, priorAuth: {expectedDelayDays: 7, denialRate: 0.1}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal accepted config: %v", err)
		}
		back, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if d := cmp.Diff(cfg, back, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}
