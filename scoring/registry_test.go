package scoring

import (
	"slices"
	"testing"
)

func TestClassify(t *testing.T) {
	_, reg := env(t)
	on := day("2026-02-15")
	for _, c := range []struct {
		name string
		cov  Coverage
		on   string // default 2026-02-15
		want string // "" = no contract
	}{
		{"medicare, attributed", Coverage{SOPT: []string{"121"}, MBI: "1EG4TE5MK73"}, "", "mssp-aco"},
		{"medicare, attributed, dashed lower-case MBI", Coverage{SOPT: []string{"121"}, MBI: "1eg4-te5-mk73"}, "", "mssp-aco"},
		{"medicare, not on roster", Coverage{SOPT: []string{"121"}, MBI: "9AA9AA9AA99"}, "", "medicare-ffs"},
		{"medicare, no MBI", Coverage{SOPT: []string{"121"}}, "", "medicare-ffs"},
		{"medicare, malformed MBI", Coverage{SOPT: []string{"121"}, MBI: "not-an-mbi"}, "", "medicare-ffs"},
		{"medicare, longer SOPT code refines 121", Coverage{SOPT: []string{"1211"}, MBI: "1EG4TE5MK73"}, "", "mssp-aco"},
		{"attribution period covers the day", Coverage{SOPT: []string{"121"}, MBI: "2FH5UF6NK84"}, "2026-06-01", "mssp-aco"},
		{"attribution period over", Coverage{SOPT: []string{"121"}, MBI: "2FH5UF6NK84"}, "2025-06-01", "medicare-ffs"},
		{"attributed in 2025 only (2025)", Coverage{SOPT: []string{"121"}, MBI: "3GJ6WG7PM95"}, "2025-06-01", "mssp-aco"},
		{"attributed in 2025 only (2026)", Coverage{SOPT: []string{"121"}, MBI: "3GJ6WG7PM95"}, "2026-06-01", "medicare-ffs"},
		{"roster MBI on a commercial coverage", Coverage{SOPT: []string{"5"}, MBI: "1EG4TE5MK73"}, "", "commercial-ppo"},
		{"roster MBI with no coverage type", Coverage{MBI: "1EG4TE5MK73"}, "", ""},
		{"medicare advantage HMO", Coverage{SOPT: []string{"111"}}, "", "ma-capitation"},
		{"medicare advantage PPO", Coverage{SOPT: []string{"112"}}, "", "ma-capitation"},
		{"MA payer id only", Coverage{PayerIDs: []string{"valuerx-demo-ma"}}, "", "ma-capitation"},
		{"MA plan only, any case", Coverage{Plans: []string{"ma-global-cap"}}, "", "ma-capitation"},
		{"commercial payer id", Coverage{PayerIDs: []string{"VALUERX-DEMO-PPO"}}, "", "commercial-ppo"},
		{"commercial plan", Coverage{Plans: []string{"PPO-GOLD"}, SOPT: []string{"5"}}, "", "commercial-ppo"},
		{"commercial SOPT only (weak)", Coverage{SOPT: []string{"512"}}, "", "commercial-ppo"},
		{"payer beats SOPT", Coverage{SOPT: []string{"121"}, PayerIDs: []string{"valuerx-demo-ppo"}}, "", "commercial-ppo"},
		{"plan beats SOPT", Coverage{SOPT: []string{"121"}, Plans: []string{"MA-GLOBAL-CAP"}}, "", "ma-capitation"},
		{"attribution beats payer", Coverage{SOPT: []string{"121"}, PayerIDs: []string{"valuerx-demo-ppo"}, MBI: "1EG4TE5MK73"}, "", "mssp-aco"},
		{"medicare non-FFS prefix 12 alone", Coverage{SOPT: []string{"12"}}, "", ""},
		{"medicaid", Coverage{SOPT: []string{"2"}}, "", ""},
		{"self-pay", Coverage{SOPT: []string{"81"}}, "", ""},
		{"unknown payer", Coverage{PayerIDs: []string{"acme"}, Plans: []string{"gold"}}, "", ""},
		{"empty", Coverage{}, "", ""},
		{"blank values never match", Coverage{PayerIDs: []string{""}, Plans: []string{" "}, SOPT: []string{""}}, "", ""},
	} {
		d := on
		if c.on != "" {
			d = day(c.on)
		}
		k, ok := reg.Classify(c.cov, d)
		if ok != (c.want != "") || k.ID != c.want {
			t.Errorf("%s: got %q %v, want %q", c.name, k.ID, ok, c.want)
		}
	}
}

func TestRegistryReturnsCopies(t *testing.T) {
	_, reg := env(t)
	k, ok := reg.Contract("commercial-ppo")
	if !ok {
		t.Fatal("no commercial-ppo")
	}
	k.Preferred["trastuzumab"][0] = "trazimera"
	k.Match.PayerIDs[0] = "someone-else"
	k.PriorAuth.DenialRate = 0.9
	again, _ := reg.Contract("commercial-ppo")
	if again.Preferred["trastuzumab"][0] != "kanjinti" || again.Match.PayerIDs[0] != "valuerx-demo-ppo" || again.PriorAuth.DenialRate != 0.1 {
		t.Fatal("a caller's edit changed the registry")
	}
	var ids []string
	for _, k := range reg.Contracts() {
		ids = append(ids, k.ID)
	}
	if !slices.Equal(ids, []string{"medicare-ffs", "mssp-aco", "ma-capitation", "commercial-ppo", "eom-oncology"}) {
		t.Errorf("Contracts() = %v", ids)
	}
	if _, ok := reg.Contract("nope"); ok {
		t.Error("unknown contract found")
	}
}

func TestNormalizeMBI(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"1EG4TE5MK73", "1EG4TE5MK73", true},
		{"1eg4-te5-mk73", "1EG4TE5MK73", true},
		{" 1EG4 TE5 MK73 ", "1EG4TE5MK73", true},
		{"0EG4TE5MK73", "0EG4TE5MK73", false}, // first character 1-9
		{"1SG4TE5MK73", "1SG4TE5MK73", false}, // S is never used
		{"1EG4TE5MK7", "1EG4TE5MK7", false},   // 10 characters
		{"", "", false},
	} {
		got, ok := NormalizeMBI(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("NormalizeMBI(%q) = %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
