package scoring

import "testing"

// FuzzConfigScore: an accepted configuration (FuzzParseConfig holds the round trip) builds a
// registry or a clear error, and scores orders under every contract and supplemental coverage
// without panicking: the risk terms, cost sharing, caps and coverages of issue 12 in any mix.
func FuzzConfigScore(f *testing.F) {
	f.Add(DefaultConfigYAML())
	f.Add([]byte("contracts:\n  - id: a\n    name: A\n    match: {sopt: [\"121\"]}\n    arrangement: shared-savings-two-sided\n    risk: {track: enhanced, expectedSavingsRate: -0.5, lossCap: 0.1}\n    reimbursement: {basis: medicare-asp, sequestration: 0.02, coinsuranceSource: file}\n    coinsurance: 0.2\n    deductible: 283\n    oopMaxPerYear: 9250\n    threshold: 25\n"))
	f.Add([]byte("contracts:\n  - id: e\n    name: E\n    match: {sopt: [\"121\"]}\n    arrangement: episode\n    episodeRiskShare: 1\n    risk: {expectedPosition: above-target}\n    reimbursement: {basis: medicare-asp}\n    coinsurance: 0.2\n    threshold: 0\nsecondaryCoverage:\n  - {id: q, name: Q, kind: medicaid, qmb: true, match: {plans: [QMB]}, paysCoinsurance: 0.5}\n"))
	f.Add([]byte("contracts: []\n"))
	cat, _ := env(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		reg, err := NewRegistry(cfg, cat)
		if err != nil {
			return
		}
		for _, k := range reg.Contracts() {
			_, _ = Score(cat, reg, Request{ContractID: k.ID, ProductID: "herceptin", Date: day("2026-02-15")})
			for _, sc := range cfg.SecondaryCoverage {
				_, _ = Score(cat, reg, Request{ContractID: k.ID, ProductID: "neulasta", Date: day("2026-02-15"), SecondaryID: sc.ID})
			}
		}
	})
}
