package gateway

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"valuerx/tracking"
)

// The sample ma-capitation contract with a 1,000,000 payer-savings target and no order in Q1
// 2026: its row is there, and the target is not measured (a capitated plan pays no claim), not
// missed at 0 against 1,000,000 x 90/365 = 246,575.34, on the report and on the outcomes.
func TestIdleCapitatedContractPayerTargetNotMeasured(t *testing.T) {
	target := 1e6
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) }
		c.Targets = []tracking.Target{{Contract: "ma-capitation", AnnualPayerSavingsUSD: &target, AnnualRealisedPayerSavingsUSD: &target}}
	})
	for _, path := range []string{"/analytics/report", "/analytics/outcomes"} {
		st, out, _ := e.do(http.MethodGet, path+"?from=2026-01-01&to=2026-03-31", nil, analystHeader())
		if st != http.StatusOK {
			t.Fatalf("%s: %d %s", path, st, out)
		}
		var rep struct {
			Contracts []struct {
				Contract, Arrangement string
				Targets               []tracking.TargetResult
			}
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Contracts) != 1 || len(rep.Contracts[0].Targets) != 1 {
			t.Fatalf("%s: contracts %+v; want ma-capitation's idle row with its target", path, rep.Contracts)
		}
		if c := rep.Contracts[0]; c.Arrangement != "capitation" || c.Targets[0].Measured || c.Targets[0].Target != 246575.34 {
			t.Errorf("%s: %+v; want capitation, the payer target 246,575.34 not measured", path, c)
		}
	}
}
