package population

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"gopkg.in/yaml.v3"

	"valuerx/measures"
)

// Terms are a value-based contract's quality terms per measure: the target rate the contract
// holds the organisation to, what the payer pays per attributed patient meeting the measure and
// per gap closed, and (for Medicare Advantage) the measure's weight in the Star Ratings when it
// differs from StarWeights2026. They turn the worklist's value into dollars and the rates into
// "how many patients short of the target".
//
//	contracts:
//	  - contract: H1001
//	    measures:
//	      PDC-STA: {target: 0.85, bonusPerAdherent: 25, bonusPerGapClosed: 40, starWeight: 3}
//	      SUPD:    {target: 0.90, bonusPerGapClosed: 30}
type Terms struct {
	Contracts []ContractTerms `yaml:"contracts"`
}

// ContractTerms are one contract's terms by measure id (PDC-DR, PDC-RASA, PDC-STA, SUPD).
type ContractTerms struct {
	Contract string                 `yaml:"contract"`
	Measures map[string]MeasureTerm `yaml:"measures"`
}

// MeasureTerm is one measure's terms. Money is in dollars; the target a fraction (85 % = 0.85).
type MeasureTerm struct {
	Target            float64  `yaml:"target"`
	BonusPerAdherent  float64  `yaml:"bonusPerAdherent"`
	BonusPerGapClosed float64  `yaml:"bonusPerGapClosed"`
	StarWeight        *float64 `yaml:"starWeight"`
}

// ParseTerms reads terms strictly: unknown keys, unknown measures, a target outside [0, 1] and
// negative amounts are errors.
func ParseTerms(data []byte) (*Terms, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var t Terms
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("population: terms: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("population: terms: more than one YAML document")
	}
	seen := map[string]bool{}
	for i, c := range t.Contracts {
		if c.Contract == "" || seen[c.Contract] {
			return nil, fmt.Errorf("population: terms: contract %d: empty or repeated id", i+1)
		}
		seen[c.Contract] = true
		for id, m := range c.Measures {
			if _, ok := measures.ParseMeasure(id); !ok {
				return nil, fmt.Errorf("population: terms: contract %s: unknown measure %q (PDC-DR, PDC-RASA, PDC-STA, SUPD)", c.Contract, id)
			}
			if m.Target < 0 || m.Target > 1 || m.BonusPerAdherent < 0 || m.BonusPerGapClosed < 0 || (m.StarWeight != nil && *m.StarWeight < 0) {
				return nil, fmt.Errorf("population: terms: contract %s %s: target must be in [0, 1] and amounts >= 0", c.Contract, id)
			}
		}
	}
	return &t, nil
}

func (t *Terms) term(contract string, m measures.Measure) (MeasureTerm, bool) {
	if t == nil {
		return MeasureTerm{}, false
	}
	for _, c := range t.Contracts {
		if c.Contract == contract {
			mt, ok := c.Measures[m.String()]
			return mt, ok
		}
	}
	return MeasureTerm{}, false
}

// ShortOfTarget is how many more patients must meet the measure for the rate to reach target:
// ceil(target x denominator) - numerator, at least 0.
func ShortOfTarget(target float64, den, num int) int {
	need := int(math.Ceil(target*float64(den)-1e-9)) - num
	return max(need, 0)
}
