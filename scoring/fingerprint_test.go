package scoring

import (
	"os"
	"strings"
	"testing"
)

// ConfigFingerprint changes with every term a score reads and with nothing else: a contract's
// arrangement, rates, payment, threshold or preferences, a contract removed or added, an
// acquisition cost, a supplemental coverage's terms, the P&T policy. What only classifies a
// patient (match rules, roster) and the policy file's name keep it, and reading the same files
// again gives the same fingerprint (maps are encoded in key order).
func TestConfigFingerprint(t *testing.T) {
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	ind, err := DefaultIndications()
	if err != nil {
		t.Fatal(err)
	}
	policyYAML, err := DefaultPolicyYAML()
	if err != nil {
		t.Fatal(err)
	}
	policy := func(yaml []byte, ind *IndicationTable, source string) *Policy {
		p, err := ParsePolicy(cat, yaml, ind, source)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fingerprint := func(edit func(*Config), pol *Policy) string {
		cfg := DefaultConfig()
		if edit != nil {
			edit(&cfg)
		}
		reg, err := NewRegistry(cfg, cat)
		if err != nil {
			t.Fatal(err)
		}
		return ConfigFingerprint(reg, pol)
	}
	defaultPolicy := func() *Policy { return policy(policyYAML, ind, "embedded demo policy (scoring/data/policy.yaml)") }
	base := fingerprint(nil, defaultPolicy())
	if len(base) != 16 {
		t.Fatalf("fingerprint %q: want 16 hex digits", base)
	}
	byID := func(cfg *Config, id string) *Contract { return contractByID(t, cfg, id) }
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name    string
		edit    func(*Config)
		pol     func() *Policy // nil: the default policy, read again
		changes bool
	}{
		{"the same files read again", nil, nil, false},
		{"a roster entry added", func(c *Config) {
			c.Roster = append(c.Roster, RosterEntry{MBI: "9AA9AA9AA99", Contract: "mssp-aco"})
		}, nil, false},
		{"the roster emptied", func(c *Config) { c.Roster = nil }, nil, false},
		{"a payer id added to a contract's match", func(c *Config) {
			k := byID(c, "commercial-ppo")
			k.Match.PayerIDs = append(k.Match.PayerIDs, "another-ppo-payer")
		}, nil, false},
		{"a supplemental coverage's match", func(c *Config) { c.SecondaryCoverage[0].Match.SOPT = []string{"52"} }, nil, false},
		{"the policy read from another file name", nil, func() *Policy { return policy(policyYAML, ind, "/etc/valuerx/policy.yaml") }, false},

		{"an arrangement", func(c *Config) {
			k := byID(c, "commercial-ppo")
			k.Arrangement, k.SharedSavingsRate = SharedSavingsUpside, 0.5
		}, nil, true},
		{"a shared-savings rate", func(c *Config) { byID(c, "mssp-aco").SharedSavingsRate = 0.4 }, nil, true},
		{"a risk term", func(c *Config) { byID(c, "mssp-aco").Risk.LossRate = f(0.4) }, nil, true},
		{"a reimbursement percent", func(c *Config) { byID(c, "commercial-ppo").Reimbursement.Percent = 0.25 }, nil, true},
		{"a threshold", func(c *Config) { byID(c, "medicare-ffs").Threshold = 50 }, nil, true},
		{"preferred products", func(c *Config) { byID(c, "commercial-ppo").Preferred["trastuzumab"] = []string{"kanjinti"} }, nil, true},
		{"a contract removed", func(c *Config) {
			var keep []Contract
			for _, k := range c.Contracts {
				if k.ID != "commercial-ppo" {
					keep = append(keep, k)
				}
			}
			c.Contracts = keep
		}, nil, true},
		{"a contract added", func(c *Config) {
			k := *byID(c, "commercial-ppo")
			k.ID, k.Match = "commercial-hmo", Match{PayerIDs: []string{"valuerx-demo-hmo"}}
			c.Contracts = append(c.Contracts, k)
		}, nil, true},
		{"an acquisition cost", func(c *Config) {
			c.AcquisitionCosts = append(c.AcquisitionCosts, AcquisitionCost{Product: "trazimera", USDPerUnit: 2.5})
		}, nil, true},
		{"a supplemental coverage's terms", func(c *Config) { c.SecondaryCoverage[0].PaysCoinsurance = 0.5 }, nil, true},
		{"a policy group rule", nil, func() *Policy {
			return policy([]byte("groups:\n  trastuzumab: {midCourse: next-cycle}\n"), ind, "embedded demo policy (scoring/data/policy.yaml)")
		}, true},
		{"a comment added to the policy file", nil, func() *Policy {
			return policy(append(append([]byte{}, policyYAML...), []byte("\n# reviewed by the P&T committee\n")...), ind, "x")
		}, false},
		{"a formulary (config/formulary-restricted.yaml)", nil, func() *Policy {
			b, err := os.ReadFile("../config/formulary-restricted.yaml")
			if err != nil {
				t.Fatal(err)
			}
			return policy(b, ind, "embedded demo policy (scoring/data/policy.yaml)")
		}, true},
		{"the indications' short labels reworded", nil, func() *Policy {
			b, err := os.ReadFile("data/indications.csv")
			if err != nil {
				t.Fatal(err)
			}
			reworded, err := ParseIndications(strings.NewReader(strings.ReplaceAll(string(b), "HER2+ breast cancer", "Breast cancer (HER2+)")))
			if err != nil {
				t.Fatal(err)
			}
			if l := reworded.Label("trastuzumab", "her2-breast"); l != "Breast cancer (HER2+)" {
				t.Fatalf("reworded label %q", l)
			}
			return policy(policyYAML, reworded, "embedded demo policy (scoring/data/policy.yaml)")
		}, false},
		{"no indication table", nil, func() *Policy { return policy(policyYAML, nil, "embedded demo policy (scoring/data/policy.yaml)") }, true},
		{"no policy (the default)", nil, func() *Policy { return nil }, true},
	} {
		pol := defaultPolicy()
		if c.pol != nil {
			pol = c.pol()
		}
		got := fingerprint(c.edit, pol)
		if (got != base) != c.changes {
			t.Errorf("%s: fingerprint %s, base %s: changed %v, want %v", c.name, got, base, got != base, c.changes)
		}
	}
}
