package tracking_test

import (
	"strings"
	"testing"

	"valuerx/store"
	"valuerx/tracking"
)

// A payer saving is the payer's own payment since 3 December 2026 (scoring.Saved): under
// capitation there is none, the one saving being the organisation's (43,055.61 here for a
// Herceptin order switched to Trazimera). A payer-savings target on a capitated contract is then
// missed whatever the programme does (0 against 1,000,000 x 90/365 = 246,575.34): it is not
// measured, and says why, projected and realised alike.
func TestPayerSavingsTargetOnACapitatedContractIsNotMeasured(t *testing.T) {
	o := store.OrderRecord{ContractID: "ma-capitation", Arrangement: "capitation", GroupID: "trastuzumab", OrderedProductID: "herceptin",
		Outcome: "accepted", AcceptedProductID: "trazimera", RecommendedProductID: "trazimera", OrgImpact: 43055.61, OrgImpactYear: 43055.61,
		SignedProductID: "trazimera", FirstAt: day(2, 1),
		Options: []store.Option{{ProductID: "trazimera", Eligible: true, PerCourse: store.Saving{Org: 43055.61}, PerYear: store.Saving{Org: 43055.61}}}}
	target := 1e6
	ts := []tracking.Target{{Contract: "ma-capitation", AnnualPayerSavingsUSD: &target, AnnualRealisedPayerSavingsUSD: &target}}
	f := tracking.Filter{From: finFrom, To: finTo}
	check := func(what string, rs []tracking.TargetResult, measure string) {
		t.Helper()
		for _, r := range rs {
			if r.Measure != measure {
				continue
			}
			if r.Measured || !strings.Contains(r.Note, "capitation") {
				t.Errorf("%s: %+v; want not measured, the note naming capitation", what, r)
			}
			return
		}
		t.Errorf("%s: no %s target in %+v", what, measure, rs)
	}
	rep := tracking.Build([]store.OrderRecord{o}, f, ts)
	check("projected", rep.Contracts[0].Targets, tracking.MeasureAnnualSavings)
	out := tracking.BuildOutcomes([]store.OrderRecord{o}, f, ts)
	check("realised", out.Contracts[0].Targets, tracking.MeasureRealised)
}

// A capitated contract with a payer-savings target and no order in the period still has its row
// (idleTargets), and its payer-savings targets are as unmeasurable as with orders: not "missed"
// at 0 against 1,000,000 x 90/365 = 246,575.34 (Q1 2026). The blank row takes the contract's
// arrangement from the target (Target.Arrangement, filled by the gateway from the contracts in
// service), projected (Build, FromAggregates) and realised (BuildOutcomes, OutcomesFromAggregates).
func TestPayerSavingsTargetOfAnIdleCapitatedContractIsNotMeasured(t *testing.T) {
	target := 1e6
	ts := []tracking.Target{{Contract: "ma-capitation", Arrangement: "capitation", AnnualPayerSavingsUSD: &target, AnnualRealisedPayerSavingsUSD: &target}}
	f := tracking.Filter{From: finFrom, To: finTo}
	check := func(what string, rows int, arrangement string, rs []tracking.TargetResult) {
		t.Helper()
		if rows != 1 || len(rs) != 1 {
			t.Fatalf("%s: %d rows, targets %+v; want the idle contract's row with one target", what, rows, rs)
		}
		if r := rs[0]; r.Measured || r.Target != 246575.34 || !strings.Contains(r.Note, "capitation") || arrangement != "capitation" {
			t.Errorf("%s: arrangement %q, %+v; want capitation, 246,575.34 not measured, the note naming capitation", what, arrangement, r)
		}
	}
	rep := tracking.Build(nil, f, ts)
	check("Build", len(rep.Contracts), rep.Contracts[0].Arrangement, rep.Contracts[0].Targets)
	d := tracking.FromAggregates(tracking.Aggregates{}, f, ts)
	check("FromAggregates", len(d.Contracts), d.Contracts[0].Arrangement, d.Contracts[0].Targets)
	out := tracking.BuildOutcomes(nil, f, ts)
	check("BuildOutcomes", len(out.Contracts), out.Contracts[0].Arrangement, out.Contracts[0].Targets)
	out = tracking.OutcomesFromAggregates(nil, nil, f, ts)
	check("OutcomesFromAggregates", len(out.Contracts), out.Contracts[0].Arrangement, out.Contracts[0].Targets)
}
