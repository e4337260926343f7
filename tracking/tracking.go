// Package tracking turns the decision record into the programme's own numbers: per contract and
// per drug family, the orders valuerx advised on, how many were accepted and overridden (by
// reason), the projected savings of the accepted suggestions, the acceptance rate, and the
// organisation's targets against them.
//
// It is pure: it works on the []store.OrderRecord a store returns and does no I/O, so the JSON
// API, the CSV export and the dashboard page all show the same figures from one Build. It imports
// store only (and never gateway or web).
//
// Build's report (the overview the dashboard's rollup can also make, FromAggregates) has the
// projected savings: the accepted suggestion's per-course figures against the ordered product.
// BuildOutcomes (outcomes.go) follows each order further: projected per year of therapy, signed,
// administered, paid, realised savings, the biosimilar share of new starts, and how often the
// fee-for-service and value-based answers differed (divergence.go).
package tracking

import (
	"fmt"
	"math"
	"sort"
	"time"

	"valuerx/store"
)

// Filter selects the orders a report covers: first advised in [From, To), and, when set, of one
// contract, one drug family (scoring group id), one prescriber (the hook's userId) and one client
// (the EHR: store.Decision.Client), and only of the clients Clients lists when it is not nil.
type Filter struct {
	From, To   time.Time
	Contract   string
	Family     string
	Prescriber string
	// Client is the dashboard's client filter ("" = every client the filter may see).
	Client string
	// Clients, when not nil, are the only clients whose orders the report may count (an
	// analyst's scope); empty and not nil: none.
	Clients []string
}

// Admits reports whether orders of client pass f's client filter and scope.
func (f Filter) Admits(client string) bool {
	if f.Client != "" && client != f.Client {
		return false
	}
	if f.Clients == nil {
		return true
	}
	for _, c := range f.Clients {
		if c == client {
			return true
		}
	}
	return false
}

// StoreClients is f's client filter and scope as a store.AggQuery's Clients: nil for every
// client, else the clients both admit (possibly none).
func (f Filter) StoreClients() []string {
	switch {
	case f.Client == "" && f.Clients == nil:
		return nil
	case f.Client == "":
		return append([]string{}, f.Clients...)
	case f.Admits(f.Client):
		return []string{f.Client}
	}
	return []string{}
}

// Target is one organisation target for a contract (and optionally one drug family: "" means
// the whole contract). Nil measures are not targeted.
type Target struct {
	Contract string `yaml:"contract" json:"contract"`
	Family   string `yaml:"family,omitempty" json:"family,omitempty"`
	// Arrangement is the contract's arrangement as configured, when the caller knows it (the
	// gateway fills it from the contracts in service, WithArrangements): a contract with no order
	// in the period has its row all the same (idleTargets), and that row must know whether the
	// contract is capitated, whose payer-savings targets are not measured.
	Arrangement string `yaml:"-" json:"-"`
	// AcceptanceRate is the share of answered cards that should be accepted (0..1).
	AcceptanceRate *float64 `yaml:"acceptanceRate,omitempty" json:"acceptanceRate,omitempty"`
	// AnnualPayerSavingsUSD is the payer savings a year of the programme should book; a report
	// over a shorter or longer period compares against it pro rata (each calendar year's days over
	// that year's length).
	AnnualPayerSavingsUSD *float64 `yaml:"annualPayerSavingsUSD,omitempty" json:"annualPayerSavingsUSD,omitempty"`
	// AnnualRealisedPayerSavingsUSD is the same for realised savings (signed or administered
	// orders, per year of therapy), prorated alike.
	AnnualRealisedPayerSavingsUSD *float64 `yaml:"annualRealisedPayerSavingsUSD,omitempty" json:"annualRealisedPayerSavingsUSD,omitempty"`
	// BiosimilarShareNewStarts is the share of new starts of a biologic family that should be on
	// a biosimilar (0..1), over every new start recorded, card or not (Row.NewStarts).
	BiosimilarShareNewStarts *float64 `yaml:"biosimilarShareNewStarts,omitempty" json:"biosimilarShareNewStarts,omitempty"`
}

// Measures of a TargetResult.
const (
	MeasureAcceptance     = "acceptanceRate"
	MeasureAnnualSavings  = "payerSavingsUSD"
	MeasureBiosimilarNew  = "biosimilarShareNewStarts"       // on Outcomes rows
	MeasureRealised       = "realisedPayerSavingsPerYearUSD" // on Outcomes rows
	notMeasuredBiosimilar = "no new start of a biologic family recorded in the period"
)

// TargetResult is one target against the period's actual figure.
type TargetResult struct {
	Measure string  `json:"measure"`
	Target  float64 `json:"target"`
	// Actual is the period's figure; for savings, Target is already prorated to the period.
	Actual   float64 `json:"actual"`
	Measured bool    `json:"measured"`
	Met      bool    `json:"met"`
	Note     string  `json:"note,omitempty"`
}

// Row is the figures of one contract, one family within a contract, or the total.
type Row struct {
	Contract    string `json:"contract,omitempty"`
	Arrangement string `json:"arrangement,omitempty"`
	Family      string `json:"family,omitempty"`
	Prescriber  string `json:"prescriber,omitempty"`
	// Client is the client (EHR) of a prescriber row: the same userId at two EHRs is two people.
	Client string `json:"client,omitempty"`
	// Month is YYYY-MM (UTC) on the rows of Report.Months.
	Month string `json:"month,omitempty"`
	// Orders counts every order of a tracked family, card or not; Cards the orders that got a
	// card (the same order at order-select and order-sign is one), NoCard those that needed none,
	// by reason in NoCardReasons.
	Orders        int            `json:"orders"`
	NoCard        int            `json:"noCard"`
	NoCardReasons map[string]int `json:"noCardReasons,omitempty"`
	Cards         int            `json:"cards"`
	Accepted      int            `json:"accepted"`
	Overridden    int            `json:"overridden"`
	NoFeedback    int            `json:"noFeedback"`
	Overrides     map[string]int `json:"overrideReasons"`
	// AcceptanceRate is Accepted / (Accepted + Overridden); 0 when nothing was answered.
	AcceptanceRate float64 `json:"acceptanceRate"`
	// Projected per-course savings of the accepted suggestions (positive = saved): the payer's
	// own payment, the patient's cost, the organisation's net impact (scoring.Saved).
	PayerSavedUSD   float64        `json:"projectedPayerSavedUSD"`
	PatientSavedUSD float64        `json:"projectedPatientSavedUSD"`
	OrgImpactUSD    float64        `json:"projectedOrgImpactUSD"`
	Targets         []TargetResult `json:"targets,omitempty"`

	// The savings are summed exactly, in micro-dollars (store.Micro), and rounded to the cent
	// once in finish: float sums depend on the order they are added in, and figures such as a
	// 20 % coinsurance land on half cents, so two orders of summation (Build's, a store's
	// rollup) could show two different cents.
	payer, patient, org int64
}

// Report is what the analytics pages show for one filter.
type Report struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Contract   string    `json:"contract,omitempty"`
	Family     string    `json:"family,omitempty"`
	Prescriber string    `json:"prescriber,omitempty"`
	Client     string    `json:"client,omitempty"`
	Total      Row       `json:"total"`
	// Contracts has one row per contract, Families one per (contract, family), Prescribers one
	// per (client, prescriber) (NoPrescriber for hooks without a userId), all sorted.
	Contracts   []Row `json:"contracts"`
	Families    []Row `json:"families"`
	Prescribers []Row `json:"prescribers"`
	// Months has one row per calendar month (UTC) of the orders' first cards, in order: how
	// adoption and savings move over the period.
	Months []Row `json:"months"`
	// PayerOnAllowedUntil, when set, says that orders first seen up to then may book as the
	// payer's saving the change in the allowed amount, as decisions recorded before 3 December
	// 2026 did (the payer's payment and the patient's cost sharing together); the orders after
	// book the payer's own payment (scoring.Saved). Set by PayerBasisNote.
	PayerOnAllowedUntil *time.Time `json:"payerSavingsOnAllowedUntil,omitempty"`
}

// PayerBasisNote is Report.PayerOnAllowedUntil for a period [from, to) (zero bounds: open) and
// the store's store.PayerBasis answer until (zero: every decision books the payer's own
// payment): nil unless the period holds orders first seen up to until.
func PayerBasisNote(from, until time.Time) *time.Time {
	if until.IsZero() || (!from.IsZero() && from.After(until)) {
		return nil
	}
	u := until.UTC()
	return &u
}

// PayerSavingsTargets names the targets that set payer savings (projected or realised) of a
// contract not capitated (Target.Arrangement; WithArrangements), as
// "contract" or "contract/family": the ones to review when the store holds decisions booked on
// the allowed amount (PayerBasisNote), since a figure chosen against those reads about a fifth
// short against the payer's own payment (Medicare Part B pays 80 % of the allowed amount less
// 2 % sequestration: 0.784 of it).
func PayerSavingsTargets(ts []Target) []string {
	var out []string
	for _, t := range ts {
		if t.AnnualPayerSavingsUSD == nil && t.AnnualRealisedPayerSavingsUSD == nil || t.Arrangement == ArrangementCapitation {
			continue // a capitated contract's payer-savings target is not measured at all
		}
		name := t.Contract
		if t.Family != "" {
			name += "/" + t.Family
		}
		out = append(out, name)
	}
	return out
}

// NoReason is the override reason shown when a clinician gave none.
const NoReason = "(no reason)"

// NoPrescriber is the prescriber row of orders whose hooks carried no userId (decisions recorded
// before the store kept it).
const NoPrescriber = "(not recorded)"

// Build computes the report over orders (as the store returned them for f's period; Build
// applies the whole filter again, so a wider slice is fine) and the targets that apply.
func Build(orders []store.OrderRecord, f Filter, targets []Target) Report {
	rep := Report{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, Client: f.Client, Total: Row{Overrides: map[string]int{}}}
	contracts, months := map[string]*Row{}, map[string]*Row{}
	families, prescribers := map[[2]string]*Row{}, map[[2]string]*Row{}
	for _, o := range orders {
		if !selected(o, f) {
			continue
		}
		pr := o.Prescriber
		if pr == "" {
			pr = NoPrescriber
		}
		p := prescribers[[2]string{o.Client, pr}]
		if p == nil {
			p = &Row{Prescriber: pr, Client: o.Client, Overrides: map[string]int{}}
			prescribers[[2]string{o.Client, pr}] = p
		}
		c := contracts[o.ContractID]
		if c == nil {
			c = &Row{Contract: o.ContractID, Arrangement: o.Arrangement, Overrides: map[string]int{}}
			contracts[o.ContractID] = c
		}
		k := [2]string{o.ContractID, o.GroupID}
		fam := families[k]
		if fam == nil {
			fam = &Row{Contract: o.ContractID, Arrangement: o.Arrangement, Family: o.GroupID, Overrides: map[string]int{}}
			families[k] = fam
		}
		mk := o.FirstAt.UTC().Format("2006-01")
		m := months[mk]
		if m == nil {
			m = &Row{Month: mk, Overrides: map[string]int{}}
			months[mk] = m
		}
		for _, r := range []*Row{&rep.Total, c, fam, p, m} {
			r.add(o)
		}
	}
	idleTargets(contracts, targets, f, func(c, arr string) *Row { return &Row{Contract: c, Arrangement: arr, Overrides: map[string]int{}} })
	pd := periodOf(f.From, f.To)
	rep.Total.finish()
	for _, c := range contracts {
		c.finish()
		t := find(targets, c.Contract, "")
		c.Targets = evaluate(*c, t, pd, partOf(f, t))
		rep.Contracts = append(rep.Contracts, *c)
	}
	for _, fam := range families {
		fam.finish()
		t := find(targets, fam.Contract, fam.Family)
		fam.Targets = evaluate(*fam, t, pd, partOf(f, t))
		rep.Families = append(rep.Families, *fam)
	}
	for _, p := range prescribers {
		p.finish()
		rep.Prescribers = append(rep.Prescribers, *p)
	}
	for _, m := range months {
		m.finish()
		rep.Months = append(rep.Months, *m)
	}
	sort.Slice(rep.Months, func(i, j int) bool { return rep.Months[i].Month < rep.Months[j].Month })
	sortPrescribers(rep.Prescribers)
	sort.Slice(rep.Contracts, func(i, j int) bool { return rep.Contracts[i].Contract < rep.Contracts[j].Contract })
	sort.Slice(rep.Families, func(i, j int) bool {
		a, b := rep.Families[i], rep.Families[j]
		if a.Contract != b.Contract {
			return a.Contract < b.Contract
		}
		return a.Family < b.Family
	})
	if rep.Contracts == nil {
		rep.Contracts = []Row{}
	}
	if rep.Families == nil {
		rep.Families = []Row{}
	}
	if rep.Prescribers == nil {
		rep.Prescribers = []Row{}
	}
	if rep.Months == nil {
		rep.Months = []Row{}
	}
	return rep
}

// sortPrescribers orders prescriber rows by prescriber, then client.
func sortPrescribers(rows []Row) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Prescriber != rows[j].Prescriber {
			return rows[i].Prescriber < rows[j].Prescriber
		}
		return rows[i].Client < rows[j].Client
	})
}

func (r *Row) add(o store.OrderRecord) {
	r.Orders++
	if !o.Card() {
		r.NoCard++
		if r.NoCardReasons == nil {
			r.NoCardReasons = map[string]int{}
		}
		r.NoCardReasons[o.NoCardReason]++
		return
	}
	r.Cards++
	switch o.Outcome {
	case "accepted":
		r.Accepted++
		r.payer += store.CentsMicro(o.PayerSaved)
		r.patient += store.CentsMicro(o.PatientSaved)
		r.org += store.CentsMicro(o.OrgImpact)
	case "overridden":
		r.Overridden++
		reason := o.ReasonCode
		if reason == "" {
			reason = NoReason
		}
		r.Overrides[reason]++
	default:
		r.NoFeedback++
	}
}

func (r *Row) finish() {
	if n := r.Accepted + r.Overridden; n > 0 {
		r.AcceptanceRate = float64(r.Accepted) / float64(n)
	}
	// Cents: sums of float figures are shown and exported to the cent, and the JSON, CSV and page
	// then agree digit for digit.
	r.PayerSavedUSD, r.PatientSavedUSD, r.OrgImpactUSD = store.MicroToCents(r.payer), store.MicroToCents(r.patient), store.MicroToCents(r.org)
}

func cents(v float64) float64 { return math.Round(v*100) / 100 }

// period is the report period, for prorating annual targets: its length in days (0 when open
// at either end: annual targets are then not compared) and in years.
type period struct{ days, years float64 }

// periodOf measures [from, to): years counts each calendar year's days over that year's own
// length, so a full leap year is one year (with days / 365 the 2028 calendar year prorated a
// 1 000 000 target to 1 002 739.73: finance review, 3 December 2026).
func periodOf(from, to time.Time) period {
	if from.IsZero() || to.IsZero() || !to.After(from) {
		return period{}
	}
	pd := period{days: to.Sub(from).Hours() / 24}
	for y := from.UTC().Year(); y <= to.UTC().Year(); y++ {
		start, end := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC)
		lo, hi := start, end
		if f := from.UTC(); f.After(lo) {
			lo = f
		}
		if t := to.UTC(); t.Before(hi) {
			hi = t
		}
		if hi.After(lo) {
			pd.years += hi.Sub(lo).Hours() / end.Sub(start).Hours()
		}
	}
	return pd
}

// prorate is an annual target over the period, to the cent.
func (pd period) prorate(annual float64) float64 { return cents(annual * pd.years) }

// idleTargets gives rows (contract -> row) a blank row for each contract that has a
// contract-level target but no order in the report, when the filter could show its row (no family
// or prescriber filter, the contract's own or none, every client): a target with nothing booked
// against it is missed, not absent (finance review, 3 December 2026: a 1 000 000 target of a
// contract with no order vanished).
//
// The blank row takes the target's Arrangement (the contract's, as configured): a capitated
// contract's idle row read its payer-savings target "missed" at 0 against the prorated figure,
// where the same contract with orders reads it not measured (finance review, 6 December 2026).
func idleTargets[R any](rows map[string]*R, ts []Target, f Filter, blank func(contract, arrangement string) *R) {
	if f.Family != "" || f.Prescriber != "" || f.Client != "" || f.Clients != nil {
		return
	}
	for _, t := range ts {
		if t.Family == "" && (f.Contract == "" || f.Contract == t.Contract) && rows[t.Contract] == nil {
			rows[t.Contract] = blank(t.Contract, t.Arrangement)
		}
	}
}

// WithArrangements returns ts with each target's Arrangement set by arrangement (the contract's
// as configured: "" when it is not known), ts itself unchanged.
func WithArrangements(ts []Target, arrangement func(contract string) string) []Target {
	if len(ts) == 0 {
		return ts
	}
	out := append([]Target(nil), ts...)
	for i := range out {
		out[i].Arrangement = arrangement(out[i].Contract)
	}
	return out
}

// find returns the target for exactly (contract, family), or nil.
func find(ts []Target, contract, family string) *Target {
	for i := range ts {
		if ts[i].Contract == contract && ts[i].Family == family {
			return &ts[i]
		}
	}
	return nil
}

// partOf reports whether, under f, a row of t's contract (and family) holds only part of what
// t's savings are the target of: a family, prescriber or client filter (or an analyst's client
// scope) on a contract target; a prescriber or client one on a family target. Such a row cannot
// meet or miss the whole's annual savings (finance review, 6 December 2026: mssp-aco's 246,575.34
// for Q1, met at 300,000, read "missed" at the 200,000 of its trastuzumab orders under
// family=trastuzumab). A share (acceptance rate, biosimilar share) still compares.
func partOf(f Filter, t *Target) bool {
	if t == nil {
		return false
	}
	return (t.Family == "" && f.Family != "") || f.Prescriber != "" || f.Client != "" || f.Clients != nil
}

// NotePartialSavings is why a savings target is not measured on a filtered report (partOf).
const NotePartialSavings = "the filter shows part of what the target covers (family, prescriber or client): an annual savings target is measured on the unfiltered report"

func evaluate(r Row, t *Target, pd period, partial bool) []TargetResult {
	if t == nil {
		return nil
	}
	var out []TargetResult
	if t.AcceptanceRate != nil {
		res := TargetResult{Measure: MeasureAcceptance, Target: *t.AcceptanceRate, Actual: r.AcceptanceRate}
		if r.Accepted+r.Overridden > 0 {
			res.Measured, res.Met = true, r.AcceptanceRate >= *t.AcceptanceRate
		} else {
			res.Note = "no answered cards in the period"
		}
		out = append(out, res)
	}
	if t.AnnualPayerSavingsUSD != nil {
		res := TargetResult{Measure: MeasureAnnualSavings, Actual: r.PayerSavedUSD}
		if r.Arrangement == ArrangementCapitation {
			res.Target, res.Note = pd.prorateOpen(*t.AnnualPayerSavingsUSD), NoteCapitatedPayer
		} else if partial {
			res.Target, res.Note = pd.prorateOpen(*t.AnnualPayerSavingsUSD), NotePartialSavings
		} else if pd.days > 0 {
			res.Target = pd.prorate(*t.AnnualPayerSavingsUSD)
			res.Measured, res.Met = true, r.PayerSavedUSD >= res.Target
			res.Note = fmt.Sprintf("annual target %.2f prorated to %.0f days", *t.AnnualPayerSavingsUSD, pd.days)
		} else {
			res.Target = *t.AnnualPayerSavingsUSD
			res.Note = "open period: annual target not prorated"
		}
		out = append(out, res)
	}
	return out
}

// ArrangementCapitation is scoring.Capitation's arrangement (store and tracking do not import
// scoring): a capitated plan pays no claim, so no payer saving is booked under it (scoring.Saved).
const ArrangementCapitation = "capitation"

// NoteCapitatedPayer is why a payer-savings target of a capitated contract is not measured.
const NoteCapitatedPayer = "capitation: the plan pays no claim, so no payer saving is booked (since 3 December 2026); the one saving is the organisation's"

// prorateOpen is v prorated to the period, or v itself for an open one.
func (pd period) prorateOpen(v float64) float64 {
	if pd.days > 0 {
		return pd.prorate(v)
	}
	return v
}

// ValidateTargets checks configured targets: a contract on each, shares within 0..1, savings not
// negative, and at most one target per (contract, family).
func ValidateTargets(ts []Target) error {
	seen := map[[2]string]bool{}
	for i, t := range ts {
		if t.Contract == "" {
			return fmt.Errorf("targets[%d]: contract is required", i)
		}
		k := [2]string{t.Contract, t.Family}
		if seen[k] {
			return fmt.Errorf("targets[%d]: a second target for contract %q family %q", i, t.Contract, t.Family)
		}
		seen[k] = true
		for name, v := range map[string]*float64{"acceptanceRate": t.AcceptanceRate, "biosimilarShareNewStarts": t.BiosimilarShareNewStarts} {
			if v != nil && (math.IsNaN(*v) || *v < 0 || *v > 1) {
				return fmt.Errorf("targets[%d].%s = %v: a share between 0 and 1", i, name, *v)
			}
		}
		if v := t.AnnualPayerSavingsUSD; v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0) {
			return fmt.Errorf("targets[%d].annualPayerSavingsUSD = %v: dollars, not negative", i, *v)
		}
		if v := t.AnnualRealisedPayerSavingsUSD; v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0) {
			return fmt.Errorf("targets[%d].annualRealisedPayerSavingsUSD = %v: dollars, not negative", i, *v)
		}
	}
	return nil
}
