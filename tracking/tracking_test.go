package tracking_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"path/filepath"
	"testing"
	"time"

	"valuerx/store"
	"valuerx/tracking"
)

func day(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, time.UTC) }

type order struct {
	key, contract, family string
	at                    time.Time
	selectToo             bool // also seen at order-select half an hour earlier (same order key)
	outcome               string
	accept                int // index of the accepted suggestion
	reason                string
}

// The suggestions every card offers, with their own per-course figures (payer, patient, org).
var suggs = []store.Suggestion{
	{ProductID: "p1", PayerSaving: 100, PatientSaving: 20, OrgImpact: 50},
	{ProductID: "p2", PayerSaving: 80, PatientSaving: 16, OrgImpact: 40},
	{ProductID: "p3", PayerSaving: 60, PatientSaving: 12, OrgImpact: 30},
}

// scenario: 10 orders, 8 first advised in [Jan 1, Apr 1) 2026 (90 days).
var scenario = []order{
	{"k1", "mssp-aco", "trastuzumab", day(1, 10), true, "accepted", 2, ""}, // third suggestion: 60/12/30
	{"k2", "mssp-aco", "trastuzumab", day(1, 20), false, "accepted", 0, ""},
	{"k3", "mssp-aco", "trastuzumab", day(2, 1), false, "overridden", 0, "clinical-reason"},
	{"k4", "mssp-aco", "bevacizumab", day(2, 10), false, "accepted", 0, ""}, // bevacizumab cards: 200/0/80
	{"k5", "mssp-aco", "bevacizumab", day(2, 15), false, "", 0, ""},
	{"k6", "commercial", "trastuzumab", day(3, 1), false, "overridden", 0, "patient-preference"},
	{"k7", "commercial", "trastuzumab", day(3, 2), false, "overridden", 0, ""},
	{"k8", "commercial", "trastuzumab", day(3, 3), false, "accepted", 1, ""},
	{"k9", "mssp-aco", "trastuzumab", day(4, 5), false, "accepted", 0, ""},                                      // after the period
	{"k10", "mssp-aco", "trastuzumab", time.Date(2025, 12, 31, 10, 0, 0, 0, time.UTC), true, "accepted", 0, ""}, // before
}

// prescriberOf: the commercial orders k6..k8 come from hooks without a userId.
var prescriberOf = map[string]string{"k1": "Practitioner/a", "k2": "Practitioner/a", "k4": "Practitioner/a",
	"k3": "Practitioner/b", "k5": "Practitioner/b", "k9": "Practitioner/a", "k10": "Practitioner/a"}

// fill records the scenario in a real SQLite file the way the gateway does.
func fill(t *testing.T) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "valuerx.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, o := range scenario {
		mk := func(id string, at time.Time) store.Decision {
			d := store.Decision{CardUUID: id, HookInstance: "h-" + id, ServiceID: "valuerx-order-sign", Hook: "order-sign",
				Client: "https://ehr.test", OrderKey: o.key, Fingerprint: "fp-" + o.key, UserID: prescriberOf[o.key], ContractID: o.contract,
				Arrangement: "arr-" + o.contract, GroupID: o.family, OrderedProductID: "ref-" + o.family, At: at}
			for i, sg := range suggs {
				sg.UUID = id + "-s" + string(rune('1'+i))
				if o.family == "bevacizumab" {
					sg.PayerSaving, sg.PatientSaving, sg.OrgImpact = 200, 0, 80
				}
				d.Suggestions = append(d.Suggestions, sg)
			}
			d.BestProductID = d.Suggestions[0].ProductID
			d.PayerSaving, d.PatientSaving, d.OrgImpact = d.Suggestions[0].PayerSaving, d.Suggestions[0].PatientSaving, d.Suggestions[0].OrgImpact
			return d
		}
		sign := mk(o.key+"-sign", o.at)
		ds := []store.Decision{sign}
		if o.selectToo {
			sel := mk(o.key+"-select", o.at.Add(-30*time.Minute))
			sel.Hook = "order-select"
			ds = append(ds, sel)
		}
		if err := s.RecordDecisions(ctx, ds); err != nil {
			t.Fatal(err)
		}
		if o.outcome == "" {
			continue
		}
		when := o.at.Add(5 * time.Minute)
		f := store.Feedback{Client: "https://ehr.test", ServiceID: "valuerx-order-sign", CardUUID: sign.CardUUID, OrderKey: o.key,
			Fingerprint: "fp-" + o.key, Outcome: o.outcome, ReasonCode: o.reason, OutcomeSent: when, OutcomeAt: when, ReceivedAt: when}
		if o.outcome == "accepted" {
			f.SuggestionUUID = sign.Suggestions[o.accept].UUID
		}
		if err := s.RecordFeedback(ctx, []store.Feedback{f}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func ptr(v float64) *float64 { return &v }

var targets = []tracking.Target{
	{Contract: "mssp-aco", AcceptanceRate: ptr(0.7), AnnualPayerSavingsUSD: ptr(1460)},
	{Contract: "commercial", AcceptanceRate: ptr(0.5)},
	{Contract: "mssp-aco", Family: "trastuzumab", AcceptanceRate: ptr(0.8), BiosimilarShareNewStarts: ptr(0.8)},
}

type want struct {
	cards, acc, over, none int
	rate                   float64
	payer, patient, org    float64
	reasons                map[string]int
}

func check(t *testing.T, name string, r tracking.Row, w want) {
	t.Helper()
	if r.Cards != w.cards || r.Accepted != w.acc || r.Overridden != w.over || r.NoFeedback != w.none {
		t.Errorf("%s: cards/accepted/overridden/none = %d/%d/%d/%d, want %d/%d/%d/%d", name, r.Cards, r.Accepted, r.Overridden, r.NoFeedback, w.cards, w.acc, w.over, w.none)
	}
	if math.Abs(r.AcceptanceRate-w.rate) > 1e-9 {
		t.Errorf("%s: acceptance = %v, want %v", name, r.AcceptanceRate, w.rate)
	}
	if r.PayerSavedUSD != w.payer || r.PatientSavedUSD != w.patient || r.OrgImpactUSD != w.org {
		t.Errorf("%s: payer/patient/org = %v/%v/%v, want %v/%v/%v", name, r.PayerSavedUSD, r.PatientSavedUSD, r.OrgImpactUSD, w.payer, w.patient, w.org)
	}
	if len(r.Overrides) != len(w.reasons) {
		t.Errorf("%s: overrides = %v, want %v", name, r.Overrides, w.reasons)
	}
	for k, n := range w.reasons {
		if r.Overrides[k] != n {
			t.Errorf("%s: overrides[%s] = %d, want %d", name, k, r.Overrides[k], n)
		}
	}
}

func TestBuildHandCounted(t *testing.T) {
	s := fill(t)
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	orders, err := s.Orders(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	// k1 is one order though it has an order-select and an order-sign card; k9 and k10 fall outside.
	if len(orders) != 8 {
		t.Fatalf("orders in period = %d, want 8", len(orders))
	}
	all := tracking.Filter{From: from, To: to}
	commercial := want{3, 1, 2, 0, 1.0 / 3, 80, 16, 40, map[string]int{"patient-preference": 1, tracking.NoReason: 1}}
	for _, tc := range []struct {
		name      string
		f         tracking.Filter
		total     want
		contracts map[string]want
		families  map[[2]string]want
		// prescribers: nil skips the check
		prescribers map[string]want
	}{
		{"whole period", all,
			// accepted k1 (60/12/30, the third suggestion), k2 (100/20/50), k4 (200/0/80), k8 (80/16/40)
			want{8, 4, 3, 1, 4.0 / 7, 440, 48, 200, map[string]int{"clinical-reason": 1, "patient-preference": 1, tracking.NoReason: 1}},
			map[string]want{
				"mssp-aco":   {5, 3, 1, 1, 0.75, 360, 32, 160, map[string]int{"clinical-reason": 1}},
				"commercial": commercial,
			},
			map[[2]string]want{
				{"mssp-aco", "trastuzumab"}:   {3, 2, 1, 0, 2.0 / 3, 160, 32, 80, map[string]int{"clinical-reason": 1}},
				{"mssp-aco", "bevacizumab"}:   {2, 1, 0, 1, 1, 200, 0, 80, map[string]int{}},
				{"commercial", "trastuzumab"}: commercial,
			},
			map[string]want{
				"Practitioner/a":      {3, 3, 0, 0, 1, 360, 32, 160, map[string]int{}},
				"Practitioner/b":      {2, 0, 1, 1, 0, 0, 0, 0, map[string]int{"clinical-reason": 1}},
				tracking.NoPrescriber: commercial,
			}},
		{"one prescriber", tracking.Filter{From: from, To: to, Prescriber: "Practitioner/b"},
			want{2, 0, 1, 1, 0, 0, 0, 0, map[string]int{"clinical-reason": 1}},
			map[string]want{"mssp-aco": {2, 0, 1, 1, 0, 0, 0, 0, map[string]int{"clinical-reason": 1}}},
			map[[2]string]want{
				{"mssp-aco", "trastuzumab"}: {1, 0, 1, 0, 0, 0, 0, 0, map[string]int{"clinical-reason": 1}},
				{"mssp-aco", "bevacizumab"}: {1, 0, 0, 1, 0, 0, 0, 0, map[string]int{}},
			},
			map[string]want{"Practitioner/b": {2, 0, 1, 1, 0, 0, 0, 0, map[string]int{"clinical-reason": 1}}}},
		{"one contract", tracking.Filter{From: from, To: to, Contract: "commercial"}, commercial,
			map[string]want{"commercial": commercial}, map[[2]string]want{{"commercial", "trastuzumab"}: commercial},
			map[string]want{tracking.NoPrescriber: commercial}},
		{"one family", tracking.Filter{From: from, To: to, Family: "bevacizumab"},
			want{2, 1, 0, 1, 1, 200, 0, 80, map[string]int{}},
			map[string]want{"mssp-aco": {2, 1, 0, 1, 1, 200, 0, 80, map[string]int{}}},
			map[[2]string]want{{"mssp-aco", "bevacizumab"}: {2, 1, 0, 1, 1, 200, 0, 80, map[string]int{}}}, nil},
		{"February only", tracking.Filter{From: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
			want{3, 1, 1, 1, 0.5, 200, 0, 80, map[string]int{"clinical-reason": 1}},
			// commercial has no order in February but a target: its row is there, empty (idleTargets)
			map[string]want{"mssp-aco": {3, 1, 1, 1, 0.5, 200, 0, 80, map[string]int{"clinical-reason": 1}},
				"commercial": {0, 0, 0, 0, 0, 0, 0, 0, map[string]int{}}},
			map[[2]string]want{
				{"mssp-aco", "trastuzumab"}: {1, 0, 1, 0, 0, 0, 0, 0, map[string]int{"clinical-reason": 1}},
				{"mssp-aco", "bevacizumab"}: {2, 1, 0, 1, 1, 200, 0, 80, map[string]int{}},
			}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := tracking.Build(orders, tc.f, targets)
			check(t, "total", rep.Total, tc.total)
			if len(rep.Contracts) != len(tc.contracts) || len(rep.Families) != len(tc.families) {
				t.Fatalf("rows: %d contracts, %d families; want %d, %d", len(rep.Contracts), len(rep.Families), len(tc.contracts), len(tc.families))
			}
			for _, r := range rep.Contracts {
				check(t, r.Contract, r, tc.contracts[r.Contract])
			}
			for _, r := range rep.Families {
				check(t, r.Contract+"/"+r.Family, r, tc.families[[2]string{r.Contract, r.Family}])
			}
			months := 0
			for _, m := range rep.Months {
				months += m.Cards
			}
			if months != rep.Total.Cards {
				t.Errorf("months add up to %d cards, total %d", months, rep.Total.Cards)
			}
			if tc.prescribers == nil {
				return
			}
			if len(rep.Prescribers) != len(tc.prescribers) {
				t.Fatalf("prescriber rows = %d, want %d", len(rep.Prescribers), len(tc.prescribers))
			}
			for _, r := range rep.Prescribers {
				check(t, r.Prescriber, r, tc.prescribers[r.Prescriber])
			}
		})
	}
}

func TestMonths(t *testing.T) {
	s := fill(t)
	orders, err := s.Orders(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rep := tracking.Build(orders, tracking.Filter{}, nil)
	want := map[string]want{
		"2025-12": {1, 1, 0, 0, 1, 100, 20, 50, map[string]int{}}, // k10
		"2026-01": {2, 2, 0, 0, 1, 160, 32, 80, map[string]int{}}, // k1 (60/12/30), k2 (100/20/50)
		"2026-02": {3, 1, 1, 1, 0.5, 200, 0, 80, map[string]int{"clinical-reason": 1}},
		"2026-03": {3, 1, 2, 0, 1.0 / 3, 80, 16, 40, map[string]int{"patient-preference": 1, tracking.NoReason: 1}},
		"2026-04": {1, 1, 0, 0, 1, 100, 20, 50, map[string]int{}}, // k9
	}
	if len(rep.Months) != len(want) || rep.Months[0].Month != "2025-12" || rep.Months[4].Month != "2026-04" {
		t.Fatalf("months = %+v", rep.Months)
	}
	for _, m := range rep.Months {
		check(t, m.Month, m, want[m.Month])
	}
}

func TestTargets(t *testing.T) {
	s := fill(t)
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	orders, err := s.Orders(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rep := tracking.Build(orders, tracking.Filter{From: from, To: to}, targets) // Build filters the period itself
	got := map[string][]tracking.TargetResult{}
	for _, r := range rep.Contracts {
		got[r.Contract] = r.Targets
	}
	for _, r := range rep.Families {
		got[r.Contract+"/"+r.Family] = r.Targets
	}
	for _, tc := range []struct {
		row            string
		measure        string
		target, actual float64
		measured, met  bool
	}{
		{"mssp-aco", tracking.MeasureAcceptance, 0.7, 0.75, true, true},
		// 1460 a year over 90 days is 1460 * 90 / 365 = 360; mssp-aco booked 360: met exactly.
		{"mssp-aco", tracking.MeasureAnnualSavings, 360, 360, true, true},
		{"commercial", tracking.MeasureAcceptance, 0.5, 1.0 / 3, true, false},
		{"mssp-aco/trastuzumab", tracking.MeasureAcceptance, 0.8, 2.0 / 3, true, false},
	} {
		var found *tracking.TargetResult
		for i := range got[tc.row] {
			if got[tc.row][i].Measure == tc.measure {
				found = &got[tc.row][i]
			}
		}
		if found == nil {
			t.Errorf("%s: no %s target in %+v", tc.row, tc.measure, got[tc.row])
			continue
		}
		if math.Abs(found.Target-tc.target) > 1e-9 || math.Abs(found.Actual-tc.actual) > 1e-9 || found.Measured != tc.measured || found.Met != tc.met {
			t.Errorf("%s %s = %+v, want target %v actual %v measured %v met %v", tc.row, tc.measure, *found, tc.target, tc.actual, tc.measured, tc.met)
		}
	}
	// The biosimilar share of new starts is an outcome (BuildOutcomes), not an overview target.
	for _, tr := range got["mssp-aco/trastuzumab"] {
		if tr.Measure == tracking.MeasureBiosimilarNew {
			t.Errorf("the overview evaluates the biosimilar target: %+v", tr)
		}
	}
	if len(got["mssp-aco/bevacizumab"]) != 0 || len(got["commercial/trastuzumab"]) != 0 {
		t.Errorf("rows without a target of their own got some: %+v %+v", got["mssp-aco/bevacizumab"], got["commercial/trastuzumab"])
	}
}

func TestWriteCSV(t *testing.T) {
	s := fill(t)
	orders, err := s.Orders(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rep := tracking.Build(orders, tracking.Filter{Contract: "commercial"}, targets)
	var buf bytes.Buffer
	if err := tracking.WriteCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header, total, one contract, one family, one prescriber (the commercial hooks had no userId),
	// one month (March)
	if len(recs) != 6 || len(recs[0]) != len(tracking.CSVHeader) {
		t.Fatalf("csv = %q", recs)
	}
	wantContract := []string{"contract", "commercial", "arr-commercial", "", "", "", "3", "1", "2", "0", "0.3333", "80.00", "16.00", "40.00",
		"(no reason)=1;patient-preference=1", "acceptanceRate=0.3333333333333333/0.5(missed)"}
	for i, v := range wantContract {
		if recs[2][i] != v {
			t.Errorf("contract line col %s = %q, want %q", recs[0][i], recs[2][i], v)
		}
	}
	// orders and noCard, as the page shows them: the commercial orders all had a card.
	if c := rep.Contracts[0]; recs[0][17] != "orders" || recs[0][18] != "noCard" || recs[2][17] != "3" || recs[2][18] != "0" || c.Orders != 3 || c.NoCard != 0 {
		t.Errorf("contract line orders/noCard = %q/%q (row %d/%d), want 3/0", recs[2][17], recs[2][18], c.Orders, c.NoCard)
	}
	if recs[1][0] != "total" || recs[1][6] != "3" || recs[3][0] != "family" || recs[3][3] != "trastuzumab" ||
		recs[4][0] != "prescriber" || recs[4][4] != tracking.NoPrescriber || recs[4][6] != "3" ||
		recs[5][0] != "month" || recs[5][5] != "2026-03" || recs[5][6] != "3" {
		t.Errorf("total/family/prescriber/month lines = %q / %q / %q / %q", recs[1], recs[3], recs[4], recs[5])
	}
}

func TestCSVFormulaCellsDefused(t *testing.T) {
	rep := tracking.Build([]store.OrderRecord{{ContractID: "=HYPERLINK(\"x\")", GroupID: "+1", FirstAt: day(1, 1)}}, tracking.Filter{}, nil)
	var buf bytes.Buffer
	if err := tracking.WriteCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[2][1] != "'=HYPERLINK(\"x\")" || recs[3][3] != "'+1" {
		t.Errorf("formula cells not defused: %q %q", recs[2], recs[3])
	}
}

func TestValidateTargets(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   []tracking.Target
		ok   bool
	}{
		{"the test targets", targets, true},
		{"no contract", []tracking.Target{{AcceptanceRate: ptr(0.5)}}, false},
		{"share above 1", []tracking.Target{{Contract: "a", AcceptanceRate: ptr(80)}}, false},
		{"negative biosimilar share", []tracking.Target{{Contract: "a", BiosimilarShareNewStarts: ptr(-0.1)}}, false},
		{"negative savings", []tracking.Target{{Contract: "a", AnnualPayerSavingsUSD: ptr(-1)}}, false},
		{"duplicate", []tracking.Target{{Contract: "a", Family: "f"}, {Contract: "a", Family: "f"}}, false},
		{"same contract, other family", []tracking.Target{{Contract: "a"}, {Contract: "a", Family: "f"}}, true},
	} {
		if err := tracking.ValidateTargets(tc.ts); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
