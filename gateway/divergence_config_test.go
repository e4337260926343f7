package gateway

import (
	"context"
	"database/sql"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"valuerx/scoring"
	"valuerx/store"
	"valuerx/tracking"
)

// TestDivergenceKeyedByConfiguration: the divergence answers of a request are stored once per
// catalog version AND contracts/policy configuration (issue 16). Through the real gateway over
// HTTP into a real SQLite file, the same Herceptin order of the ACO patient (420 mg, 17 doses a
// year; see TestProgrammeRecordThroughTheGateway for the figures) is recorded under a sequence of
// configurations on one catalog version, swapped in as a reload does:
//
//	A   the sample contracts: medicare-ffs, mssp-aco, ma-capitation, commercial-ppo, eom-oncology.
//	    The Medicare-priced contracts answer Trazimera, the PPO Kanjinti (its preferred product).
//	B   A without commercial-ppo: four contracts, all Trazimera, nothing diverges.
//	B'  B with what only classifies a patient changed (a roster entry, a payer id on a match), the
//	    policy read under another file name and a smaller score cache: the same answers, the
//	    same key.
//	C   A with mssp-aco's sharing rate 0.5 -> 0.4: the same products, other mssp-aco figures.
//
// d1, d2 (A) share one row; d3 (B) gets a new row; d4 (B') shares d3's; d5 is recorded under C
// and C is replaced by A again before the job runs: d5 is still scored under C, its hook's
// configuration; d6 (A again) shares d1's row. Three rows in all; d1 and d2 keep A's answers.
func TestDivergenceKeyedByConfiguration(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cat := testCatalog(t)
	version := e.gw.CatalogVersion()
	pol := e.gw.current().scorer.Policy()
	engineOf := func(edit func(*scoring.Config), pol *scoring.Policy, cache int) func() {
		scfg := scoring.DefaultConfig()
		if edit != nil {
			edit(&scfg)
		}
		reg, err := scoring.NewRegistry(scfg, cat)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := scoring.NewScorerWithPolicy(cat, reg, pol, cache)
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := e.gw.Swap(cat, reg, sc, version); err != nil {
				t.Fatal(err)
			}
		}
	}
	withoutPPO := func(c *scoring.Config) {
		c.Contracts = slices.DeleteFunc(c.Contracts, func(k scoring.Contract) bool { return k.ID == "commercial-ppo" })
	}
	ind, err := scoring.DefaultIndications()
	if err != nil {
		t.Fatal(err)
	}
	polYAML, err := scoring.DefaultPolicyYAML()
	if err != nil {
		t.Fatal(err)
	}
	renamed, err := scoring.ParsePolicy(cat, polYAML, ind, "/etc/valuerx/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	confA := engineOf(nil, pol, 256)
	confB := engineOf(withoutPPO, pol, 256)
	confB2 := engineOf(func(c *scoring.Config) {
		withoutPPO(c)
		c.Roster = append(c.Roster, scoring.RosterEntry{MBI: "9AA9AA9AA99", Contract: "mssp-aco"})
		for i := range c.Contracts {
			if c.Contracts[i].ID == "medicare-ffs" {
				c.Contracts[i].Match.PayerIDs = append(c.Contracts[i].Match.PayerIDs, "another-mac")
			}
		}
	}, renamed, 64)
	confC := engineOf(func(c *scoring.Config) {
		for i := range c.Contracts {
			if c.Contracts[i].ID == "mssp-aco" {
				c.Contracts[i].SharedSavingsRate = 0.4
			}
		}
	}, pol, 256)

	sel := e.demoRequest("aco-herceptin-order-select")
	decided := map[string]store.Decision{}
	hook := func(name string) {
		t.Helper()
		r := e.hook("order-select", withDraft(t, sel, nil, "draft-"+name))
		if len(r.Cards) != 1 {
			t.Fatalf("%s: want one card: %+v", name, r)
		}
		d, err := e.store.Decision(ctx, r.Cards[0].UUID)
		if err != nil {
			t.Fatal(err)
		}
		decided[name] = d
	}
	compute := func() {
		t.Helper()
		if _, err := e.gw.ComputeDivergence(ctx); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+e.storePath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := func() int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM divergence_answers`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	fpA := e.gw.ConfigFingerprint()
	hook("d1")
	hook("d2")
	compute()
	if n := rows(); n != 1 {
		t.Fatalf("after d1, d2 (A): %d answer rows, want 1 shared", n)
	}
	confB()
	fpB := e.gw.ConfigFingerprint()
	hook("d3")
	compute()
	if n := rows(); n != 2 {
		t.Fatalf("after d3 (B): %d answer rows, want 2", n)
	}
	confB2()
	if fp := e.gw.ConfigFingerprint(); fp != fpB {
		t.Fatalf("B' fingerprint %s, B's %s: a roster, a match, a policy file name and a cache size change no answer", fp, fpB)
	}
	hook("d4")
	compute()
	if n := rows(); n != 2 {
		t.Fatalf("after d4 (B'): %d answer rows, want still 2 (d3's shared)", n)
	}
	confC()
	fpC := e.gw.ConfigFingerprint()
	hook("d5")
	confA() // before the job scores d5: it is scored on its hook's engine all the same
	if e.gw.ConfigFingerprint() != fpA {
		t.Fatal("A swapped in again has another fingerprint")
	}
	compute()
	hook("d6")
	compute()
	if n := rows(); n != 3 {
		t.Fatalf("after d5 (C), d6 (A): %d answer rows, want 3 (A, B, C)", n)
	}
	if fpA == fpB || fpA == fpC || fpB == fpC {
		t.Fatalf("fingerprints A %s B %s C %s: want three", fpA, fpB, fpC)
	}

	// What each decision's answers must be. mssp-aco's figures for a year (17 doses) of
	// Trazimera: 42 units x 8.205 x 17 = 5,858.37 allowed; Kanjinti's, present while the PPO
	// answers it, 42 x 51.439 x 17 = 36,727.446. The mssp-aco net impact under C is what the
	// scorer gives under C, and not A's.
	orders, err := e.store.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	answersOf := func(name string) []store.Answer {
		for _, o := range orders {
			if o.FirstAt.Equal(decided[name].At) {
				return o.Answers
			}
		}
		t.Fatalf("%s: no order", name)
		return nil
	}
	scMSSP := func(conf func()) store.YearFigures {
		conf()
		defer confA()
		req, _, err := decodeScoreRequest(decided["d1"].ScoreRequest) // the order as the hook scored it
		if err != nil {
			t.Fatal(err)
		}
		req.ContractID = "mssp-aco"
		res, err := e.gw.current().scorer.Score(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Options {
			if o.Product.ID == "trazimera" {
				return store.YearFigures{PayerAllowed: o.PerYear.PayerAllowed, PatientOOP: o.PerYear.PatientOOP, NetImpact: o.PerYear.NetImpact}
			}
		}
		t.Fatal("no trazimera option")
		return store.YearFigures{}
	}
	netA, netC := scMSSP(confA).NetImpact, scMSSP(confC).NetImpact
	if netA == netC {
		t.Fatalf("mssp-aco net impact of Trazimera %v under both A and C: the test cannot tell them apart", netA)
	}
	keys := map[string]string{} // row -> key
	defer func() {
		if len(keys) != 3 || keys["A"] == keys["B"] || keys["A"] == keys["C"] || keys["B"] == keys["C"] {
			t.Errorf("keys by row %v: want three", keys)
		}
	}()
	five := []string{"commercial-ppo", "eom-oncology", "ma-capitation", "medicare-ffs", "mssp-aco"}
	four := []string{"eom-oncology", "ma-capitation", "medicare-ffs", "mssp-aco"}
	for _, c := range []struct {
		name      string
		row       string // decisions with the same row share one key (and answer row)
		contracts []string
		diverges  bool     // the PPO answers Kanjinti
		msspYear  []string // products with mssp-aco year figures
		msspNet   float64  // mssp-aco's net impact of Trazimera for a year
	}{
		{"d1", "A", five, true, []string{"kanjinti", "trazimera"}, netA},
		{"d2", "A", five, true, []string{"kanjinti", "trazimera"}, netA},
		{"d3", "B", four, false, []string{"trazimera"}, netA},
		{"d4", "B", four, false, []string{"trazimera"}, netA},
		{"d5", "C", five, true, []string{"kanjinti", "trazimera"}, netC},
		{"d6", "A", five, true, []string{"kanjinti", "trazimera"}, netA},
	} {
		if k := decided[c.name].DivergenceKey(); keys[c.row] == "" {
			keys[c.row] = k
		} else if k != keys[c.row] {
			t.Errorf("%s: key %s, want row %s's %s", c.name, k, c.row, keys[c.row])
		}
		as := answersOf(c.name)
		var ids []string
		var mssp store.Answer
		for _, a := range as {
			ids = append(ids, a.ContractID)
			if a.ContractID == "mssp-aco" {
				mssp = a
			}
			want := "trazimera"
			if a.ContractID == "commercial-ppo" {
				want = "kanjinti"
			}
			if a.BestProductID != want || a.Differs != (a.ContractID == "commercial-ppo") {
				t.Errorf("%s: %s answers %s (differs %v), want %s", c.name, a.ContractID, a.BestProductID, a.Differs, want)
			}
		}
		if !slices.Equal(ids, c.contracts) {
			t.Errorf("%s: answers under %v, want %v", c.name, ids, c.contracts)
		}
		var years []string
		for p := range mssp.Year {
			years = append(years, p)
		}
		sort.Strings(years)
		if !slices.Equal(years, c.msspYear) {
			t.Errorf("%s: mssp-aco year figures of %v, want %v", c.name, years, c.msspYear)
		}
		traz := mssp.Year["trazimera"]
		if math.Abs(traz.PayerAllowed-5858.37) > 0.005 || traz.NetImpact != c.msspNet {
			t.Errorf("%s: mssp-aco Trazimera a year %+v, want 5,858.37 allowed, net %v", c.name, traz, c.msspNet)
		}
		if k, ok := mssp.Year["kanjinti"]; ok && math.Abs(k.PayerAllowed-36727.446) > 0.005 {
			t.Errorf("%s: mssp-aco Kanjinti a year %+v, want 36,727.446 allowed", c.name, k)
		}
	}

	// The report: d1, d2, d5, d6 diverge (the PPO against each value-based contract), d3 and d4,
	// recorded without the PPO, have no FFS answer but medicare-ffs's, which agrees.
	rep := tracking.BuildOutcomes(orders, tracking.Filter{}, nil)
	var tras tracking.DivergenceRow
	for _, r := range rep.Divergence {
		if r.Family == "trastuzumab" {
			tras = r
		}
	}
	if tras.Orders != 6 || tras.Comparable != 6 || tras.Diverged != 4 {
		t.Errorf("trastuzumab divergence %+v, want 6 orders, 6 comparable, 4 diverged", tras)
	}
}

// The sweep (at start, and `valuerx divergence`) scores on the configuration in service, and
// never under inputs other than a decision's own. A pending decision whose request names another
// configuration (recorded before a restart with other contracts, and never scored: dropped from
// the queue, or the process stopped first), or whose catalog version is not the one loaded, is
// stored as not scored with its reason once it is divergenceGrace old: not scored under
// contracts or prices it was not decided under, and not left pending for ever. A younger one is
// left pending (another instance may still run its configuration). A request stored before the
// fingerprint was recorded names none and is scored, as before. Every scored row names the
// fingerprint it was computed under.
func TestDivergenceSweepMarksAnotherConfigurationNotScored(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "valuerx.db")
	st := storeAt(t, path)
	cat, regA, scA := defaultScoring(t, 64)
	scfg := scoring.DefaultConfig()
	scfg.Contracts = slices.DeleteFunc(scfg.Contracts, func(k scoring.Contract) bool { return k.ID == "commercial-ppo" })
	regB, err := scoring.NewRegistry(scfg, cat)
	if err != nil {
		t.Fatal(err)
	}
	scB, err := scoring.NewScorerWithPolicy(cat, regB, scA.Policy(), 64)
	if err != nil {
		t.Fatal(err)
	}
	fpA, fpB := scoring.ConfigFingerprint(regA, scA.Policy()), scoring.ConfigFingerprint(regB, scB.Policy())
	req := scoring.Request{ContractID: "mssp-aco", ProductID: "herceptin", DoseMg: 420, Date: time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC)}
	at := time.Date(2026, 2, 16, 9, 0, 0, 0, time.UTC)
	clock := at.Add(time.Hour)
	now := func() time.Time { return clock }
	type dec struct {
		id, config, catalog string
		at                  time.Time
	}
	decs := []dec{
		{"under-a", fpA, "test", at},
		{"legacy", "", "test", at.Add(time.Minute)},
		{"under-b", fpB, "test", at.Add(2 * time.Minute)},
		{"old-catalog", fpB, "test-2025q4", at.Add(3 * time.Minute)},
		{"young-a", fpA, "test", clock.Add(-time.Minute)}, // recorded a minute before the sweep
	}
	var ds []store.Decision
	for _, x := range decs {
		r := req
		if x.id == "young-a" {
			r.DoseMg = 440 // another request (key) than under-a's
		}
		ds = append(ds, store.Decision{CardUUID: x.id, HookInstance: "h-" + x.id, ServiceID: "svc", Hook: "order-select", Client: "https://ehr.test",
			OrderKey: "order-" + x.id, ContractID: "mssp-aco", Arrangement: string(scoring.SharedSavingsTwoSided), GroupID: "trastuzumab",
			OrderedProductID: "herceptin", BestProductID: "trazimera", Suggestions: []store.Suggestion{{UUID: x.id + "-s1", ProductID: "trazimera"}},
			CatalogVersion: x.catalog, At: x.at, ScoreRequest: encodeScoreRequest(r, x.config)})
	}
	if err := st.RecordDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	// state: decision -> contracts it has answers under, or its not-scored reason, or "pending".
	state := func() map[string]string {
		orders, err := st.Orders(ctx, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, x := range decs {
			for _, o := range orders {
				if !o.FirstAt.Equal(x.at) {
					continue
				}
				switch {
				case o.DivergenceNotScored != "":
					out[x.id] = o.DivergenceNotScored
				case o.Answers == nil:
					out[x.id] = "pending"
				default:
					out[x.id] = strconv.Itoa(len(o.Answers))
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		name  string
		clock time.Time
		sc    *scoring.Scorer
		reg   *scoring.Registry
		want  DivergenceRun
		state map[string]string
	}{
		// B in service, an hour on: under-b and the legacy request are scored under its four
		// contracts; under-a (A's configuration) and old-catalog (another catalog) are stored as
		// not scored; young-a is a minute old and left pending.
		{"B in service", clock, scB, regB, DivergenceRun{Scored: 2, NotScored: map[string]int{store.DivNotScoredConfig: 1, store.DivNotScoredCatalog: 1}, LeftPending: 1},
			map[string]string{"under-a": store.DivNotScoredConfig, "legacy": "4", "under-b": "4", "old-catalog": store.DivNotScoredCatalog, "young-a": "pending"}},
		// B again: nothing new; young-a still too young.
		{"B again", clock, scB, regB, DivergenceRun{NotScored: map[string]int{}, LeftPending: 1},
			map[string]string{"under-a": store.DivNotScoredConfig, "legacy": "4", "under-b": "4", "old-catalog": store.DivNotScoredCatalog, "young-a": "pending"}},
		// Past the grace: young-a is stored as not scored too.
		{"B past the grace", clock.Add(divergenceGrace), scB, regB, DivergenceRun{NotScored: map[string]int{store.DivNotScoredConfig: 1}},
			map[string]string{"under-a": store.DivNotScoredConfig, "legacy": "4", "under-b": "4", "old-catalog": store.DivNotScoredCatalog, "young-a": store.DivNotScoredConfig}},
	} {
		clock = c.clock
		run, err := ComputePendingDivergence(ctx, st, c.sc, c.reg, "test", now)
		if err != nil || run.Scored != c.want.Scored || run.LeftPending != c.want.LeftPending || !maps.Equal(run.NotScored, c.want.NotScored) {
			t.Errorf("%s: run %+v (%v), want %+v", c.name, run, err, c.want)
		}
		if got := state(); !maps.Equal(got, c.state) {
			t.Errorf("%s: divergence per decision %v, want %v", c.name, got, c.state)
		}
	}
	// Every row names the fingerprint it was computed under: B's for the two scored, none for
	// the three not scored.
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]int{}
	rows, err := db.QueryContext(ctx, `SELECT config, not_scored FROM divergence_answers`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var config, ns string
		if err := rows.Scan(&config, &ns); err != nil {
			t.Fatal(err)
		}
		got[map[string]string{fpB: "B", "": "none"}[config]+" "+ns]++
	}
	rows.Close()
	if want := map[string]int{"B ": 2, "none " + store.DivNotScoredConfig: 2, "none " + store.DivNotScoredCatalog: 1}; !maps.Equal(got, want) {
		t.Errorf("divergence rows by (config, not scored): %v, want %v", got, want)
	}
	// The outcomes report counts the orders without answers and why: 5 orders with a request,
	// 2 scored, 2 configuration replaced, 1 catalog replaced, none pending; the same from the
	// rollup and from the orders.
	for _, rollup := range []bool{true, false} {
		f := tracking.Filter{From: at.Truncate(24 * time.Hour), To: at.Truncate(24*time.Hour).AddDate(0, 0, 1)}
		var out tracking.Outcomes
		if rollup {
			fams, err := st.FamilyMonths(ctx, aggQuery(f))
			if err != nil {
				t.Fatal(err)
			}
			pairs, err := st.DivergencePairs(ctx, aggQuery(f))
			if err != nil {
				t.Fatal(err)
			}
			out = tracking.OutcomesFromAggregates(fams, pairs, f, nil)
		} else {
			orders, err := st.Orders(ctx, f.From, f.To)
			if err != nil {
				t.Fatal(err)
			}
			out = tracking.BuildOutcomes(orders, f, nil)
		}
		g := out.DivergenceGaps
		if g.Requested != 5 || g.Scored != 2 || g.Pending != 0 || !maps.Equal(g.NotScored, map[string]int{store.DivNotScoredConfig: 2, store.DivNotScoredCatalog: 1, store.DivNotScoredFailed: 0}) {
			t.Errorf("rollup %v: divergence gaps %+v, want 5 requested, 2 scored, 2 + 1 + 0 not scored, 0 pending", rollup, g)
		}
		if len(out.Divergence) != 1 || out.Divergence[0].Requested != 5 || out.Divergence[0].NotScored != 3 || out.Divergence[0].Orders != 2 {
			t.Errorf("rollup %v: divergence rows %+v, want trastuzumab 2026-Q1: 5 requested, 2 with answers, 3 not scored", rollup, out.Divergence)
		}
	}
}
