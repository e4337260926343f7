package tracking

import (
	"fmt"
	"sort"
	"time"

	"valuerx/store"
)

// Outcomes follows the orders of a filter past the card (issue 16 items 2-4): projected savings
// per year of therapy, orders signed, administered and paid, realised savings, the biosimilar
// share of new starts against its target, and the divergence report. It is its own report,
// beside Build's overview, because it reads what the overview's pre-aggregated sums do not hold
// (the options offered, signatures, administrations, claims, the answers under the other
// contracts): BuildOutcomes works on the orders themselves.
type Outcomes struct {
	From       time.Time  `json:"from"`
	To         time.Time  `json:"to"`
	Contract   string     `json:"contract,omitempty"`
	Family     string     `json:"family,omitempty"`
	Prescriber string     `json:"prescriber,omitempty"`
	Client     string     `json:"client,omitempty"` // the client filter, as Report says it
	Total      OutcomeRow `json:"total"`
	// Contracts has one row per contract, Families one per (contract, family), Months one per
	// calendar month (UTC) of the orders' first decisions, all sorted.
	Contracts []OutcomeRow `json:"contracts"`
	Families  []OutcomeRow `json:"families"`
	Months    []OutcomeRow `json:"months"`
	// Divergence has one row per drug family and quarter, DivergencePairs one per (FFS contract,
	// value-based contract) of each (divergence.go).
	Divergence      []DivergenceRow  `json:"divergence"`
	DivergencePairs []DivergencePair `json:"divergencePairs"`
	// DivergenceGaps counts the orders of the filter without answers, and why.
	DivergenceGaps DivergenceGaps `json:"divergenceGaps"`
	// PayerOnAllowedUntil is Report's: payer savings, projected, realised and of the divergence,
	// of orders first seen up to then may be changes in the allowed amount (PayerBasisNote).
	PayerOnAllowedUntil *time.Time `json:"payerSavingsOnAllowedUntil,omitempty"`
}

// OutcomeRow is the figures of one contract, family within a contract, month, or the total.
type OutcomeRow struct {
	Contract    string `json:"contract,omitempty"`
	Arrangement string `json:"arrangement,omitempty"`
	Family      string `json:"family,omitempty"`
	Month       string `json:"month,omitempty"`
	// Orders counts every order of a tracked family; Cards those with a card, NoCard the others;
	// Accepted the orders whose card was accepted.
	Orders   int `json:"orders"`
	Cards    int `json:"cards"`
	NoCard   int `json:"noCard"`
	Accepted int `json:"accepted"`
	// Projected savings of the accepted suggestions per year of therapy (decisions from store
	// schema version 5 on; Build's report has them per course).
	ProjectedPayerSavedPerYearUSD   float64 `json:"projectedPayerSavedPerYearUSD"`
	ProjectedPatientSavedPerYearUSD float64 `json:"projectedPatientSavedPerYearUSD"`
	ProjectedOrgImpactPerYearUSD    float64 `json:"projectedOrgImpactPerYearUSD"`
	// Signed, Administered and Paid count orders (card or not) that reached each stage.
	Signed       int `json:"signed"`
	Administered int `json:"administered"`
	Paid         int `json:"paid"`
	// RealisedOrders are the orders with a card that were signed or administered; of them
	// RealisedSwitched ended on another product the card priced, RealisedUnpriced on a product
	// it did not. Realised savings are per year of therapy at the product actually given
	// (realised.go).
	// RealisedOverridden and RealisedUnanswered count the realised orders whose card was
	// overridden or never answered: the product given decides what is realised, not the click
	// (README "The programme report"), and these show how much of it the clicks did not say.
	RealisedOrders                 int     `json:"realisedOrders"`
	RealisedSwitched               int     `json:"realisedSwitched"`
	RealisedUnpriced               int     `json:"realisedUnpriced"`
	RealisedOverridden             int     `json:"realisedOverridden"`
	RealisedUnanswered             int     `json:"realisedUnanswered"`
	RealisedPayerSavedPerYearUSD   float64 `json:"realisedPayerSavedPerYearUSD"`
	RealisedPatientSavedPerYearUSD float64 `json:"realisedPatientSavedPerYearUSD"`
	RealisedOrgImpactPerYearUSD    float64 `json:"realisedOrgImpactPerYearUSD"`
	// PaidUSD sums the paid amounts of the claim lines joined to the orders.
	PaidUSD float64 `json:"paidUSD"`
	// NewStarts are orders of a biologic family (reference and biosimilars) with no therapy of
	// the family on record, card or not; NewStartsBiosimilar those on a biosimilar as the order
	// stands (given, else accepted, else ordered); BiosimilarShareNewStarts their share.
	NewStarts                int     `json:"newStarts"`
	NewStartsBiosimilar      int     `json:"newStartsBiosimilar"`
	BiosimilarShareNewStarts float64 `json:"biosimilarShareNewStarts"`
	// Targets: biosimilarShareNewStarts and annualRealisedPayerSavingsUSD of the contract (and
	// family) targets; acceptance and projected savings are on Build's rows.
	Targets []TargetResult `json:"targets,omitempty"`

	// sums are the per-order figures added up (store.OutcomeSums: micro-dollar money, rounded
	// to the cent once in finish, as Build's rows).
	sums store.OutcomeSums
}

func (r *OutcomeRow) finish() {
	s := &r.sums
	r.Signed, r.Administered, r.Paid = int(s.Signed), int(s.Administered), int(s.Paid)
	r.RealisedOrders, r.RealisedSwitched, r.RealisedUnpriced = int(s.Realised), int(s.RealisedSwitched), int(s.RealisedUnpriced)
	r.RealisedOverridden, r.RealisedUnanswered = int(s.RealisedOverridden), int(s.RealisedUnanswered)
	r.NewStarts, r.NewStartsBiosimilar = int(s.NewStarts), int(s.NewStartsBiosimilar)
	r.ProjectedPayerSavedPerYearUSD, r.ProjectedPatientSavedPerYearUSD, r.ProjectedOrgImpactPerYearUSD =
		store.MicroToCents(s.ProjPayerY), store.MicroToCents(s.ProjPatientY), store.MicroToCents(s.ProjOrgY)
	r.RealisedPayerSavedPerYearUSD, r.RealisedPatientSavedPerYearUSD, r.RealisedOrgImpactPerYearUSD =
		store.MicroToCents(s.RealPayerY), store.MicroToCents(s.RealPatientY), store.MicroToCents(s.RealOrgY)
	r.PaidUSD = store.MicroToCents(s.PaidUSD)
	if r.NewStarts > 0 {
		r.BiosimilarShareNewStarts = float64(r.NewStartsBiosimilar) / float64(r.NewStarts)
	}
}

// BuildOutcomes computes the outcomes over orders (Build's filter and targets: a wider slice of
// orders is fine, the filter is applied again).
func BuildOutcomes(orders []store.OrderRecord, f Filter, targets []Target) Outcomes {
	out := Outcomes{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, Client: f.Client}
	contracts, months := map[string]*OutcomeRow{}, map[string]*OutcomeRow{}
	families := map[[2]string]*OutcomeRow{}
	div := newDivergenceAcc()
	for _, o := range orders {
		if !selected(o, f) {
			continue
		}
		c := contracts[o.ContractID]
		if c == nil {
			c = &OutcomeRow{Contract: o.ContractID, Arrangement: o.Arrangement}
			contracts[o.ContractID] = c
		}
		k := [2]string{o.ContractID, o.GroupID}
		fam := families[k]
		if fam == nil {
			fam = &OutcomeRow{Contract: o.ContractID, Arrangement: o.Arrangement, Family: o.GroupID}
			families[k] = fam
		}
		mk := o.FirstAt.UTC().Format("2006-01")
		m := months[mk]
		if m == nil {
			m = &OutcomeRow{Month: mk}
			months[mk] = m
		}
		for _, r := range []*OutcomeRow{&out.Total, c, fam, m} {
			r.add(o)
		}
		div.add(o)
	}
	idleTargets(contracts, targets, f, func(c, arr string) *OutcomeRow { return &OutcomeRow{Contract: c, Arrangement: arr} })
	pd := periodOf(f.From, f.To)
	out.Total.finish()
	out.Contracts, out.Families, out.Months = []OutcomeRow{}, []OutcomeRow{}, []OutcomeRow{}
	for _, c := range contracts {
		c.finish()
		t := find(targets, c.Contract, "")
		c.Targets = evaluateOutcomes(*c, t, pd, partOf(f, t))
		out.Contracts = append(out.Contracts, *c)
	}
	for _, fam := range families {
		fam.finish()
		t := find(targets, fam.Contract, fam.Family)
		fam.Targets = evaluateOutcomes(*fam, t, pd, partOf(f, t))
		out.Families = append(out.Families, *fam)
	}
	for _, m := range months {
		m.finish()
		out.Months = append(out.Months, *m)
	}
	sortOutcomes(&out)
	out.Divergence, out.DivergencePairs = div.finish()
	out.DivergenceGaps = div.gaps
	return out
}

// selected applies f to one order, as Build does.
func selected(o store.OrderRecord, f Filter) bool {
	if (!f.From.IsZero() && o.FirstAt.Before(f.From)) || (!f.To.IsZero() && !o.FirstAt.Before(f.To)) {
		return false
	}
	pr := o.Prescriber
	if pr == "" {
		pr = NoPrescriber
	}
	return (f.Contract == "" || o.ContractID == f.Contract) && (f.Family == "" || o.GroupID == f.Family) &&
		(f.Prescriber == "" || pr == f.Prescriber) && f.Admits(o.Client)
}

// evaluateOutcomes compares r with the outcome targets of t: the biosimilar share of new starts
// and the realised payer savings (annual, prorated to the period).
func evaluateOutcomes(r OutcomeRow, t *Target, pd period, partial bool) []TargetResult {
	if t == nil {
		return nil
	}
	var out []TargetResult
	if t.BiosimilarShareNewStarts != nil {
		res := TargetResult{Measure: MeasureBiosimilarNew, Target: *t.BiosimilarShareNewStarts, Actual: r.BiosimilarShareNewStarts}
		if r.NewStarts > 0 {
			res.Measured, res.Met = true, r.BiosimilarShareNewStarts >= *t.BiosimilarShareNewStarts
			res.Note = fmt.Sprintf("%d of %d new starts on a biosimilar", r.NewStartsBiosimilar, r.NewStarts)
		} else {
			res.Note = notMeasuredBiosimilar
		}
		out = append(out, res)
	}
	if t.AnnualRealisedPayerSavingsUSD != nil {
		res := TargetResult{Measure: MeasureRealised, Actual: r.RealisedPayerSavedPerYearUSD}
		if r.Arrangement == ArrangementCapitation {
			res.Target, res.Note = pd.prorateOpen(*t.AnnualRealisedPayerSavingsUSD), NoteCapitatedPayer
		} else if partial {
			res.Target, res.Note = pd.prorateOpen(*t.AnnualRealisedPayerSavingsUSD), NotePartialSavings
		} else if pd.days > 0 {
			res.Target = pd.prorate(*t.AnnualRealisedPayerSavingsUSD)
			res.Measured, res.Met = true, r.RealisedPayerSavedPerYearUSD >= res.Target
			res.Note = fmt.Sprintf("annual target %.2f prorated to %.0f days; signed or administered orders, per year of therapy", *t.AnnualRealisedPayerSavingsUSD, pd.days)
		} else {
			res.Target = *t.AnnualRealisedPayerSavingsUSD
			res.Note = "open period: annual target not prorated"
		}
		out = append(out, res)
	}
	return out
}

// OutcomesFromAggregates makes the outcomes report for f from a store's pre-aggregated sums
// (store.Rollups: FamilyMonths rows with their outcome figures, DivergencePairs): the same rows,
// figures and targets BuildOutcomes makes from the orders themselves (TestOutcomesRollupEqualsBuild
// holds them equal), without reading an order.
func OutcomesFromAggregates(fams []store.Aggregate, pairs []store.PairAggregate, f Filter, targets []Target) Outcomes {
	out := Outcomes{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, Client: f.Client}
	// Rows take the arrangement of the contract's earliest month, as BuildOutcomes takes its
	// earliest order's.
	rows := append([]store.Aggregate(nil), fams...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Month < rows[j].Month })
	contracts, months := map[string]*OutcomeRow{}, map[string]*OutcomeRow{}
	families := map[[2]string]*OutcomeRow{}
	div := newDivergenceAcc()
	for _, a := range rows {
		c := contracts[a.Contract]
		if c == nil {
			c = &OutcomeRow{Contract: a.Contract, Arrangement: a.Arrangement}
			contracts[a.Contract] = c
		}
		k := [2]string{a.Contract, a.Family}
		fam := families[k]
		if fam == nil {
			fam = &OutcomeRow{Contract: a.Contract, Arrangement: a.Arrangement, Family: a.Family}
			families[k] = fam
		}
		m := months[a.Month]
		if m == nil {
			m = &OutcomeRow{Month: a.Month}
			months[a.Month] = m
		}
		rowSums := a.Outcome
		rowSums.DivOrders, rowSums.DivComparable, rowSums.DivDiverged = 0, 0, 0 // the divergence rows' own
		// (DivRequests is an order figure, OutcomeFigures', as BuildOutcomes adds it; the
		// not-scored counts are the divergence's.)
		rowSums.DivNotScoredConfig, rowSums.DivNotScoredCatalog, rowSums.DivNotScoredFailed = 0, 0, 0
		for _, r := range []*OutcomeRow{&out.Total, c, fam, m} {
			r.Orders += a.Cards + a.NoCard
			r.Cards += a.Cards
			r.NoCard += a.NoCard
			r.Accepted += a.Accepted
			r.sums.Add(rowSums)
		}
		var s store.OutcomeSums
		s.DivOrders, s.DivComparable, s.DivDiverged = a.Outcome.DivOrders, a.Outcome.DivComparable, a.Outcome.DivDiverged
		s.DivRequests, s.DivNotScoredConfig, s.DivNotScoredCatalog, s.DivNotScoredFailed = a.Outcome.DivRequests,
			a.Outcome.DivNotScoredConfig, a.Outcome.DivNotScoredCatalog, a.Outcome.DivNotScoredFailed
		if s != (store.OutcomeSums{}) {
			div.addSums(a.Family, quarterOfMonth(a.Month), s, nil)
		}
	}
	for _, p := range pairs {
		div.addSums(p.Family, quarterOfMonth(p.Month), store.OutcomeSums{}, []store.PairSums{p.PairSums})
	}
	idleTargets(contracts, targets, f, func(c, arr string) *OutcomeRow { return &OutcomeRow{Contract: c, Arrangement: arr} })
	pd := periodOf(f.From, f.To)
	out.Total.finish()
	out.Contracts, out.Families, out.Months = []OutcomeRow{}, []OutcomeRow{}, []OutcomeRow{}
	for _, c := range contracts {
		c.finish()
		t := find(targets, c.Contract, "")
		c.Targets = evaluateOutcomes(*c, t, pd, partOf(f, t))
		out.Contracts = append(out.Contracts, *c)
	}
	for _, fam := range families {
		fam.finish()
		t := find(targets, fam.Contract, fam.Family)
		fam.Targets = evaluateOutcomes(*fam, t, pd, partOf(f, t))
		out.Families = append(out.Families, *fam)
	}
	for _, m := range months {
		m.finish()
		out.Months = append(out.Months, *m)
	}
	sortOutcomes(&out)
	out.Divergence, out.DivergencePairs = div.finish()
	out.DivergenceGaps = div.gaps
	return out
}

// quarterOfMonth is the quarter ("2026-Q1") of a YYYY-MM month label.
func quarterOfMonth(m string) string {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m
	}
	return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
}

func sortOutcomes(out *Outcomes) {
	sort.Slice(out.Contracts, func(i, j int) bool { return out.Contracts[i].Contract < out.Contracts[j].Contract })
	sort.Slice(out.Families, func(i, j int) bool {
		a, b := out.Families[i], out.Families[j]
		if a.Contract != b.Contract {
			return a.Contract < b.Contract
		}
		return a.Family < b.Family
	})
	sort.Slice(out.Months, func(i, j int) bool { return out.Months[i].Month < out.Months[j].Month })
}
