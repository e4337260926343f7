package tracking

import (
	"fmt"
	"sort"

	"valuerx/store"
)

// How often the right choice differed by arrangement (issue 16 item 4), per drug family and
// calendar quarter of the order's first decision.
//
// Each order's offering decision was scored, after it was recorded, under every contract of the
// registry (store.Answer: the product a card would have suggested there, or the ordered product
// when no card would have been shown). An order is comparable when it has an answer under at
// least one fee-for-service contract (arrangement "ffs") and one value-based contract (any
// other arrangement). For each such pair (f, v) the answers diverge when the products differ;
// the order diverged when any of its pairs did. What following the value-based answer was worth
// is counted per pair, under the value-based contract's own figures for a year of therapy: the
// payer's own payment for f's product minus that for v's (store.PairPayerSaving, as
// scoring.Saved counts a payer saving; answers computed before 3 December 2026 kept only the
// allowed amount and count its change) (positive: the value-based answer costs the payer less),
// and the organisation's net impact of v's product minus that of f's.
// Worth is summed over the pair's diverging orders only, exactly (micro-dollars per order,
// rounded to the cent once).

// DivergenceRow is one drug family in one quarter.
type DivergenceRow struct {
	Family  string `json:"family"`
	Quarter string `json:"quarter"` // YYYY-Qn, UTC
	// Orders have a computed divergence; Comparable have both an FFS and a value-based answer;
	// Diverged had at least one FFS and one value-based answer name different products.
	Orders     int     `json:"orders"`
	Comparable int     `json:"comparable"`
	Diverged   int     `json:"diverged"`
	Share      float64 `json:"divergedShare"` // Diverged / Comparable
	// Requested are the orders whose offering decision carries a scoring request; NotScored those
	// of them whose request was not scored (DivergenceGaps says why), Pending those not scored yet.
	Requested int `json:"requested"`
	NotScored int `json:"notScored"`
	Pending   int `json:"pending"`
}

// DivergenceGaps says how many orders of the report have no divergence answers and why: a
// request is never scored under a configuration or catalog other than its own, so the orders of
// a configuration or catalog replaced since are counted here instead of in the rows' Orders.
type DivergenceGaps struct {
	// Requested are the orders with a scoring request, Scored those with answers.
	Requested int `json:"requested"`
	Scored    int `json:"scored"`
	// NotScored counts the orders whose request was not scored, by reason
	// (store.DivNotScoredConfig, DivNotScoredCatalog, DivNotScoredFailed; every reason present).
	NotScored map[string]int `json:"notScored"`
	// Pending are the orders whose request has not been scored yet.
	Pending int `json:"pending"`
}

// DivergencePair is one (FFS contract, value-based contract) pair of a family and quarter.
type DivergencePair struct {
	Family      string  `json:"family"`
	Quarter     string  `json:"quarter"`
	FFS         string  `json:"ffsContract"`
	ValueBased  string  `json:"valueBasedContract"`
	Arrangement string  `json:"valueBasedArrangement"`
	Orders      int     `json:"orders"`
	Diverged    int     `json:"diverged"`
	Share       float64 `json:"divergedShare"`
	// Worth of following the value-based answer on the diverging orders, per year of therapy,
	// under the value-based contract's figures.
	PayerSavedPerYearUSD float64 `json:"payerSavedPerYearUSD"`
	OrgImpactPerYearUSD  float64 `json:"orgImpactPerYearUSD"`
}

// Quarter is t's calendar quarter, "2026-Q1".
func quarterOf(o store.OrderRecord) string {
	t := o.FirstAt.UTC()
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
}

// add adds o to the family-quarter rows and pairs (the per-order rules are store.DivergenceOf,
// shared with the rollup's cubes).
func (d *divergenceAcc) add(o store.OrderRecord) {
	s, pairs := store.DivergenceState{Answers: o.Answers, NotScored: o.DivergenceNotScored}.Sums()
	if o.ScoreRequested || o.Answers != nil || o.DivergenceNotScored != "" { // answers, or a reason, imply a request
		s.DivRequests = 1
	}
	if s == (store.OutcomeSums{}) {
		return
	}
	d.addSums(o.GroupID, quarterOf(o), s, pairs)
}

// addSums adds one order's, or one cube cell's, divergence figures to family's row of quarter q.
func (d *divergenceAcc) addSums(family, q string, s store.OutcomeSums, pairs []store.PairSums) {
	k := [2]string{family, q}
	row := d.rows[k]
	if row == nil {
		row = &DivergenceRow{Family: family, Quarter: q}
		d.rows[k] = row
	}
	row.Orders += int(s.DivOrders)
	row.Comparable += int(s.DivComparable)
	row.Diverged += int(s.DivDiverged)
	row.Requested += int(s.DivRequests)
	ns := s.DivNotScoredConfig + s.DivNotScoredCatalog + s.DivNotScoredFailed
	row.NotScored += int(ns)
	d.gaps.Requested += int(s.DivRequests)
	d.gaps.Scored += int(s.DivOrders)
	for reason, n := range s.DivNotScored() {
		d.gaps.NotScored[reason] += int(n)
	}
	for _, ps := range pairs {
		pk := [4]string{family, q, ps.FFS, ps.ValueBased}
		p := d.pairs[pk]
		if p == nil {
			p = &DivergencePair{Family: family, Quarter: q, FFS: ps.FFS, ValueBased: ps.ValueBased, Arrangement: ps.Arrangement}
			d.pairs[pk] = p
			d.money[pk] = &[2]int64{}
		}
		p.Orders += int(ps.Orders)
		p.Diverged += int(ps.Diverged)
		m := d.money[pk]
		m[0] += ps.Payer
		m[1] += ps.Org
	}
}

type divergenceAcc struct {
	gaps  DivergenceGaps
	rows  map[[2]string]*DivergenceRow
	pairs map[[4]string]*DivergencePair
	money map[[4]string]*[2]int64 // micro-dollars: payer, organisation (rounded to the cent once)
}

func newDivergenceAcc() *divergenceAcc {
	d := &divergenceAcc{rows: map[[2]string]*DivergenceRow{}, pairs: map[[4]string]*DivergencePair{}, money: map[[4]string]*[2]int64{}}
	d.gaps.NotScored = map[string]int{}
	for _, r := range store.DivNotScoredReasons {
		d.gaps.NotScored[r] = 0
	}
	return d
}

func (d *divergenceAcc) finish() ([]DivergenceRow, []DivergencePair) {
	rows := make([]DivergenceRow, 0, len(d.rows))
	ns := 0
	for _, n := range d.gaps.NotScored {
		ns += n
	}
	d.gaps.Pending = d.gaps.Requested - d.gaps.Scored - ns
	for _, r := range d.rows {
		if r.Comparable > 0 {
			r.Share = float64(r.Diverged) / float64(r.Comparable)
		}
		r.Pending = r.Requested - r.Orders - r.NotScored
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Family != rows[j].Family {
			return rows[i].Family < rows[j].Family
		}
		return rows[i].Quarter < rows[j].Quarter
	})
	pairs := make([]DivergencePair, 0, len(d.pairs))
	for k, p := range d.pairs {
		if p.Orders > 0 {
			p.Share = float64(p.Diverged) / float64(p.Orders)
		}
		m := d.money[k]
		p.PayerSavedPerYearUSD, p.OrgImpactPerYearUSD = store.MicroToCents(m[0]), store.MicroToCents(m[1])
		pairs = append(pairs, *p)
	}
	sort.Slice(pairs, func(i, j int) bool {
		a, b := pairs[i], pairs[j]
		for _, c := range [][2]string{{a.Family, b.Family}, {a.Quarter, b.Quarter}, {a.FFS, b.FFS}} {
			if c[0] != c[1] {
				return c[0] < c[1]
			}
		}
		return a.ValueBased < b.ValueBased
	})
	return rows, pairs
}
