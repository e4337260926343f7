package tracking_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"strings"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/tracking"
)

// Per-year figures of the three biosimilars a trastuzumab card offers against Herceptin
// (payer, patient, organisation), and their per-course figures a third of that.
var trastOptions = []store.Option{
	{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: store.Saving{Payer: 100, Patient: 20, Org: 50}, PerYear: store.Saving{Payer: 300, Patient: 60, Org: 150}},
	{ProductID: "kanjinti", Relationship: "biosimilar", Eligible: true, PerCourse: store.Saving{Payer: 80, Patient: 16, Org: 40}, PerYear: store.Saving{Payer: 240, Patient: 48, Org: 120}},
	{ProductID: "ogivri", Relationship: "biosimilar", Eligible: true, PerCourse: store.Saving{Payer: 60, Patient: 12, Org: 30}, PerYear: store.Saving{Payer: 180, Patient: 36, Org: 90}},
}

func accepted(n int) store.OrderRecord {
	op := trastOptions[n-1]
	return store.OrderRecord{Outcome: "accepted", AcceptedSuggestion: n, AcceptedProductID: op.ProductID,
		PayerSaved: op.PerCourse.Payer, PatientSaved: op.PerCourse.Patient, OrgImpact: op.PerCourse.Org,
		PayerSavedYear: op.PerYear.Payer, PatientSavedYear: op.PerYear.Patient, OrgImpactYear: op.PerYear.Org}
}

func trast(o store.OrderRecord, therapy string) store.OrderRecord {
	o.ContractID, o.GroupID, o.OrderedProductID, o.OrderedRelationship = "mssp-aco", "trastuzumab", "herceptin", "reference"
	o.Options, o.Therapy, o.FirstAt = trastOptions, therapy, day(2, 1)
	return o
}

// TestRealisedHandCounted: seven orders, their stages worked by hand.
//
//	r1 card, third suggestion accepted (ogivri), signed ogivri           realised 180/36/90, new start on a biosimilar
//	r2 card, first accepted (trazimera), never signed                     projected 300/60/150, realised nothing; new start, biosimilar as it stands
//	r3 card, second accepted (kanjinti), signed kanjinti, given trazimera realised at trazimera 300/60/150 (the product given); paid 1,000
//	r4 card overridden, signed herceptin                                  realised order, 0 saved; new start on the reference
//	r5 no card (already-best), ordered and signed trazimera               not a realised saving; new start on a biosimilar
//	r6 card, first accepted, signed a product the card did not price      realised unpriced
//	r7 no card, a statin new start                                        not a biologic family: no new start counted
func TestRealisedHandCounted(t *testing.T) {
	r1 := trast(accepted(3), store.TherapyNewStart)
	r1.SignedProductID = "ogivri"
	r2 := trast(accepted(1), store.TherapyNewStart)
	r3 := trast(accepted(2), store.TherapyContinuing)
	r3.SignedProductID, r3.Administrations, r3.AdministeredProductID, r3.ClaimLines, r3.PaidUSD = "kanjinti", 2, "trazimera", 1, 1000
	r4 := trast(store.OrderRecord{Outcome: "overridden", ReasonCode: "patient-declines", SignedProductID: "herceptin"}, store.TherapyNewStart)
	r5 := trast(store.OrderRecord{NoCardReason: "already-best", SignedProductID: "trazimera"}, store.TherapyNewStart)
	r5.OrderedProductID, r5.OrderedRelationship = "trazimera", "biosimilar"
	r6 := trast(accepted(1), "")
	r6.SignedProductID = "herceptin-hylecta"
	r7 := store.OrderRecord{ContractID: "mssp-aco", GroupID: "atorvastatin", OrderedProductID: "lipitor", OrderedRelationship: "brand",
		Options: []store.Option{{ProductID: "atorvastatin-generic", Relationship: "ab-generic"}}, NoCardReason: "below-threshold",
		Therapy: store.TherapyNewStart, FirstAt: day(2, 1)}
	orders := []store.OrderRecord{r1, r2, r3, r4, r5, r6, r7}
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) // 365 days
	targets := []tracking.Target{{Contract: "mssp-aco", BiosimilarShareNewStarts: ptr(0.8), AnnualRealisedPayerSavingsUSD: ptr(480)}}
	rep := tracking.BuildOutcomes(orders, tracking.Filter{From: from, To: to}, targets)
	over := tracking.Build(orders, tracking.Filter{From: from, To: to}, targets)
	r := rep.Total
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"orders", float64(r.Orders), 7}, {"cards", float64(r.Cards), 5}, {"no card", float64(r.NoCard), 2},
		{"accepted", float64(r.Accepted), 4},
		// projected per course: 60 + 100 + 80 + 100; per year: 180 + 300 + 240 + 300
		{"projected payer per course", over.Total.PayerSavedUSD, 340}, {"projected payer per year", r.ProjectedPayerSavedPerYearUSD, 1020},
		{"projected patient per year", r.ProjectedPatientSavedPerYearUSD, 204}, {"projected org per year", r.ProjectedOrgImpactPerYearUSD, 510},
		{"signed", float64(r.Signed), 5}, {"administered", float64(r.Administered), 1}, {"paid", float64(r.Paid), 1}, {"paid USD", r.PaidUSD, 1000},
		// realised: r1, r3, r4, r6 (cards signed or given); r2 never signed; r5 had no card
		{"realised orders", float64(r.RealisedOrders), 4}, {"switched", float64(r.RealisedSwitched), 2}, {"unpriced", float64(r.RealisedUnpriced), 1},
		{"realised overridden", float64(r.RealisedOverridden), 1}, {"realised unanswered", float64(r.RealisedUnanswered), 0},
		{"realised payer per year", r.RealisedPayerSavedPerYearUSD, 480}, {"realised patient per year", r.RealisedPatientSavedPerYearUSD, 96},
		{"realised org per year", r.RealisedOrgImpactPerYearUSD, 240},
		{"new starts", float64(r.NewStarts), 4}, {"new starts on a biosimilar", float64(r.NewStartsBiosimilar), 3},
		{"biosimilar share of new starts", r.BiosimilarShareNewStarts, 0.75},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if nr := over.Total.NoCardReasons; nr["already-best"] != 1 || nr["below-threshold"] != 1 || over.Total.Orders != 7 || over.Total.Cards != 5 {
		t.Errorf("overview: %d orders, %d cards, no-card reasons %v", over.Total.Orders, over.Total.Cards, nr)
	}
	// Targets: 3 of 4 new starts (0.75) misses 0.8; 480 realised a year against 480 over 365 days is met.
	got := map[string]tracking.TargetResult{}
	for _, tr := range rep.Contracts[0].Targets {
		got[tr.Measure] = tr
	}
	if b := got[tracking.MeasureBiosimilarNew]; !b.Measured || b.Met || b.Actual != 0.75 || b.Target != 0.8 {
		t.Errorf("biosimilar share target = %+v, want measured, 0.75 against 0.8, missed", b)
	}
	if re := got[tracking.MeasureRealised]; !re.Measured || !re.Met || re.Actual != 480 || re.Target != 480 {
		t.Errorf("realised target = %+v, want 480 against 480, met", re)
	}
	// Half the year: the realised target is prorated to 480 * 181 / 365 = 238.03 (Jan 1 - Jul 1).
	half := tracking.BuildOutcomes(orders, tracking.Filter{From: from, To: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}, targets)
	for _, tr := range half.Contracts[0].Targets {
		if tr.Measure == tracking.MeasureRealised && (tr.Target != 238.03 || !tr.Met) {
			t.Errorf("half-year realised target = %+v, want 238.03, met", tr)
		}
	}
}

// TestRealisedOverriddenOrUnanswered: the product given decides what is realised, and the report
// says how many realised orders the clicks did not back (README "The programme report").
//
//	o1 card overridden, signed herceptin, given trazimera twice   realised 300/60/150; overridden
//	o2 card never answered, given kanjinti                         realised 240/48/120; unanswered
//	o3 card never answered, nothing signed or given                not realised
//	o4 first accepted (trazimera), signed trazimera                realised 300/60/150
//	o5 card overridden, given herceptin (the ordered product)      realised order, 0 saved; overridden
//
// Realised orders 4 (o1, o2, o4, o5), switched 3, overridden 2, unanswered 1; payer 840.
func TestRealisedOverriddenOrUnanswered(t *testing.T) {
	o1 := trast(store.OrderRecord{Outcome: "overridden", ReasonCode: "patient-declines", SignedProductID: "herceptin",
		Administrations: 2, AdministeredProductID: "trazimera"}, store.TherapyNewStart)
	o2 := trast(store.OrderRecord{Administrations: 1, AdministeredProductID: "kanjinti"}, store.TherapyNewStart)
	o3 := trast(store.OrderRecord{}, store.TherapyNewStart)
	o4 := trast(accepted(1), store.TherapyNewStart)
	o4.SignedProductID = "trazimera"
	o5 := trast(store.OrderRecord{Outcome: "overridden", Administrations: 1, AdministeredProductID: "herceptin"}, store.TherapyContinuing)
	r := tracking.BuildOutcomes([]store.OrderRecord{o1, o2, o3, o4, o5}, tracking.Filter{}, nil).Total
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"cards", float64(r.Cards), 5}, {"accepted", float64(r.Accepted), 1}, {"administered", float64(r.Administered), 3},
		{"realised orders", float64(r.RealisedOrders), 4}, {"switched", float64(r.RealisedSwitched), 3},
		{"realised overridden", float64(r.RealisedOverridden), 2}, {"realised unanswered", float64(r.RealisedUnanswered), 1},
		{"realised payer per year", r.RealisedPayerSavedPerYearUSD, 840}, {"realised patient per year", r.RealisedPatientSavedPerYearUSD, 168},
		{"realised org per year", r.RealisedOrgImpactPerYearUSD, 420},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	var b bytes.Buffer
	if err := tracking.WriteOutcomesCSV(&b, tracking.Outcomes{Total: r}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv: %v %v", recs, err)
	}
	cell := map[string]string{}
	for i, h := range recs[0] {
		cell[h] = recs[1][i]
	}
	if cell["realisedOverridden"] != "2" || cell["realisedUnanswered"] != "1" || cell["realisedOrders"] != "4" {
		t.Errorf("csv total = %v, want realisedOrders 4, realisedOverridden 2, realisedUnanswered 1", cell)
	}
}

// TestDivergenceHandCounted: a divergence is counted exactly when an FFS and a value-based
// contract's best products differ.
//
//	d1 Q1: medicare-ffs trazimera, ppo herceptin (stay), mssp trazimera -> diverged (ppo vs mssp);
//	       under mssp's figures herceptin 5,000 and trazimera 1,000 a year to the payer, net 10 and 50
//	d2 Q1: every contract trazimera                                     -> comparable, not diverged
//	d3 Q2: only mssp answered                                           -> not comparable
//	d4 Q1: no divergence computed yet                                   -> not counted
func TestDivergenceHandCounted(t *testing.T) {
	year := map[string]store.YearFigures{"trazimera": {PayerAllowed: 1000, NetImpact: 50}, "herceptin": {PayerAllowed: 5000, NetImpact: 10}}
	ans := func(best ...string) []store.Answer {
		return []store.Answer{
			{ContractID: "medicare-ffs", Arrangement: "ffs", BestProductID: best[0]},
			{ContractID: "ppo", Arrangement: "ffs", BestProductID: best[1]},
			{ContractID: "mssp", Arrangement: "shared-savings-two-sided", BestProductID: best[2], Year: year},
		}
	}
	mk := func(at time.Time, a []store.Answer) store.OrderRecord {
		return store.OrderRecord{ContractID: "mssp", GroupID: "trastuzumab", OrderedProductID: "herceptin", FirstAt: at, Answers: a}
	}
	orders := []store.OrderRecord{
		mk(day(1, 5), ans("trazimera", "herceptin", "trazimera")),
		mk(day(2, 5), ans("trazimera", "trazimera", "trazimera")),
		mk(day(5, 5), ans("x", "y", "trazimera")[2:]),
		mk(day(3, 5), nil), // its request not scored yet: pending
		mk(day(3, 6), nil), // not scored: its configuration was replaced
		mk(day(3, 7), nil), // no scoring request at all (recorded before they were kept)
	}
	orders[3].ScoreRequested = true
	orders[4].ScoreRequested, orders[4].DivergenceNotScored = true, store.DivNotScoredConfig
	rep := tracking.BuildOutcomes(orders, tracking.Filter{}, nil)
	// Q1: four orders with a request (two with answers, one pending, one not scored), Q2 one.
	want := []tracking.DivergenceRow{
		{Family: "trastuzumab", Quarter: "2026-Q1", Orders: 2, Comparable: 2, Diverged: 1, Share: 0.5, Requested: 4, NotScored: 1, Pending: 1},
		{Family: "trastuzumab", Quarter: "2026-Q2", Orders: 1, Requested: 1},
	}
	if g := rep.DivergenceGaps; g.Requested != 5 || g.Scored != 3 || g.Pending != 1 || g.NotScored[store.DivNotScoredConfig] != 1 ||
		g.NotScored[store.DivNotScoredCatalog] != 0 || len(g.NotScored) != 3 {
		t.Errorf("gaps = %+v, want 5 requested, 3 scored, 1 pending, 1 configuration replaced", g)
	}
	if len(rep.Divergence) != len(want) {
		t.Fatalf("divergence rows = %+v, want %+v", rep.Divergence, want)
	}
	for i := range want {
		if rep.Divergence[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rep.Divergence[i], want[i])
		}
	}
	wantPairs := []tracking.DivergencePair{
		{Family: "trastuzumab", Quarter: "2026-Q1", FFS: "medicare-ffs", ValueBased: "mssp", Arrangement: "shared-savings-two-sided", Orders: 2},
		{Family: "trastuzumab", Quarter: "2026-Q1", FFS: "ppo", ValueBased: "mssp", Arrangement: "shared-savings-two-sided", Orders: 2, Diverged: 1,
			Share: 0.5, PayerSavedPerYearUSD: 4000, OrgImpactPerYearUSD: 40},
	}
	if len(rep.DivergencePairs) != len(wantPairs) {
		t.Fatalf("pairs = %+v, want %+v", rep.DivergencePairs, wantPairs)
	}
	for i := range wantPairs {
		if rep.DivergencePairs[i] != wantPairs[i] {
			t.Errorf("pair %d = %+v, want %+v", i, rep.DivergencePairs[i], wantPairs[i])
		}
	}
	var buf bytes.Buffer
	if err := tracking.WriteDivergenceCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 9 || recs[0][0] != "level" || recs[4][3] != "ppo" || recs[4][8] != "1" || recs[4][10] != "4000.00" || recs[4][11] != "40.00" ||
		recs[1][12] != "4" || recs[1][13] != "1" || recs[1][14] != "1" ||
		recs[5][0] != "notScored" || recs[5][15] != store.DivNotScoredConfig || recs[5][6] != "1" || recs[8][0] != "pending" || recs[8][6] != "1" {
		t.Errorf("divergence csv = %q", recs)
	}
}

// The outcomes and divergence exports defuse formula cells like the report's.
func TestOutcomesCSVFormulaCellsDefused(t *testing.T) {
	o := store.OrderRecord{ContractID: "=HYPERLINK(\"x\")", GroupID: "+1", FirstAt: day(1, 1), NoCardReason: "already-best",
		Answers: []store.Answer{{ContractID: "@ffs", Arrangement: "ffs", BestProductID: "a"}, {ContractID: "-vb", Arrangement: "capitation", BestProductID: "b"}}}
	rep := tracking.BuildOutcomes([]store.OrderRecord{o}, tracking.Filter{}, nil)
	for name, write := range map[string]func(*bytes.Buffer) error{
		"outcomes":   func(b *bytes.Buffer) error { return tracking.WriteOutcomesCSV(b, rep) },
		"divergence": func(b *bytes.Buffer) error { return tracking.WriteDivergenceCSV(b, rep) },
	} {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs[1:] {
			for _, cell := range rec {
				if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) && cell[0] != '-' {
					t.Errorf("%s: formula cell %q", name, cell)
				}
				if strings.HasPrefix(cell, "-vb") || strings.HasPrefix(cell, "=") || strings.HasPrefix(cell, "+") || strings.HasPrefix(cell, "@") {
					t.Errorf("%s: cell %q not defused", name, cell)
				}
			}
		}
	}
}
