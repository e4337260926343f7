package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Pre-aggregated dashboard tables (issue 16 item 6: "dashboard queries read from indexes or
// pre-aggregated tables so they stay fast as the record grows").
//
// Orders returns every order of a period and package tracking sums them in Go: right, but at a
// million decisions it reads and decodes a million rows per page view. The rollup keeps each
// order's record (rollup_orders: the record Orders makes, by the same AssembleOrders over the
// order's own rows) and sums of those records per day and per calendar month (UTC) in small
// cubes:
//
//	cube 1: contract, arrangement, drug family               (overview, families, months)
//	cube 2: prescriber, contract, arrangement, drug family   (any prescriber filter)
//	cube 3: prescriber                                       (the per-prescriber table)
//	cube 4: location, contract, arrangement, drug family     (locations under a contract or family filter)
//	cube 5: location                                         (the per-location table)
//	cube 6: prescriber, location, contract, arrangement, family (locations under a prescriber filter)
//
// A report over [from, to) reads the month rows of the whole months inside the period and the day
// rows of the days before and after them: at most 12 month rows and about 60 day rows per cube
// key, whatever the number of orders.
//
// Maintenance is incremental and off the hook path: on the next read, the orders that new
// decisions and feedback rows (by rowid), imports, divergence and retention deletes (queued by
// triggers) touched are assembled again from their rows, and each changed order moves its
// contribution in the cubes (the old out, the new in) in the same transaction. Nothing is added
// to the hook's own commit.
//
// Override reasons and no-card reasons are counted in fixed slots (16 columns each) assigned on
// first sight: the gateway stores its own lists of codes, so 16 is room to spare. A seventeenth
// code makes the rollup refuse (ErrRollupUnavailable) and the caller falls back to Orders.

// AggQuery selects the aggregates of one report: orders first advised in [From, To) (both at
// 00:00 UTC: the dashboard filters by date), optionally of one contract, family and prescriber
// ("" = all; NoPrescriberID selects orders whose hook carried no userId).
type AggQuery struct {
	From, To   time.Time
	Contract   string
	Family     string
	Prescriber string
	// PrescriberFilter is true when Prescriber is a filter (so "" selects orders without one).
	PrescriberFilter bool
	// Clients, when not nil, selects only the orders of these clients (Decision.Client): the
	// dashboard's client filter and an analyst's scope. An empty, non-nil slice selects nothing.
	Clients []string
}

// clientsFilter reports whether q selects by client, and the clients it selects (never empty
// when true: a query that selects no client is answered without reading, see selectsNothing).
func (q AggQuery) clientsFilter() bool { return q.Clients != nil }

// selectsNothing reports whether q's client filter admits no client at all.
func (q AggQuery) selectsNothing() bool { return q.Clients != nil && len(q.Clients) == 0 }

// Aggregate is the sum of the order records of one group: per (month, contract, arrangement,
// family) for FamilyMonths, per prescriber for Prescribers. Its figures are sums of the
// OrderRecord fields of the same name; package tracking turns them into a report exactly as it
// turns orders into one.
type Aggregate struct {
	Month       string // YYYY-MM (UTC) of the orders' first cards; "" on prescriber rows
	Contract    string
	Arrangement string
	Family      string
	Prescriber  string // the stored userId ("" when none); "" on family rows
	Location    string // the stored location ("" when none); set on location rows only
	// Client is the orders' client (EHR) on prescriber and location rows: a userId or Location
	// reference names a person or place of one client's EHR only. "" on family rows.
	Client string
	// NoCard counts orders that needed no card, by reason in NoCardReasons; Cards those with one.
	NoCard        int
	NoCardReasons map[string]int
	Cards         int
	Accepted      int
	Overridden    int
	NoFeedback    int
	// OnBest counts orders that ended on the product valuerx recommended: accepted onto it, or
	// ordered as it (the adoption of the lowest-cost product under the arrangement).
	OnBest int
	// Savings of the accepted orders, in micro-dollars (Micro of each order's figure, summed):
	// exact, so any order of summation gives the same cents.
	PayerSaved   int64
	PatientSaved int64
	OrgImpact    int64
	// Overrides counts overridden orders by stored reason code ("" = none given).
	Overrides map[string]int
	// Outcome sums the orders' outcome figures (OrderRecord.OutcomeFigures) and divergence
	// (DivergenceOf): the outcomes report's (FamilyMonths rows; zero elsewhere).
	Outcome OutcomeSums
}

// PairAggregate sums the divergence pairs (DivergenceOf) of one month and family.
type PairAggregate struct {
	Month  string // YYYY-MM (UTC) of the orders' first cards
	Family string
	PairSums
}

// Rollups is implemented by stores that keep the dashboard's pre-aggregated tables.
type Rollups interface {
	// RefreshRollups folds every decision and feedback recorded so far into the rollup.
	RefreshRollups(ctx context.Context) error
	// FamilyMonths returns q's aggregates per (month, contract, arrangement, family), refreshed
	// first.
	FamilyMonths(ctx context.Context, q AggQuery) ([]Aggregate, error)
	// Prescribers returns q's aggregates per prescriber, refreshed first.
	Prescribers(ctx context.Context, q AggQuery) ([]Aggregate, error)
	// Locations returns q's aggregates per location, refreshed first.
	Locations(ctx context.Context, q AggQuery) ([]Aggregate, error)
	// DivergencePairs returns q's divergence pairs per (month, family, FFS contract, value-based
	// contract), refreshed first.
	DivergencePairs(ctx context.Context, q AggQuery) ([]PairAggregate, error)
	// RecentOrders returns up to limit order records of q newest first (by first card), skipping
	// offset, with the uuid of each order's deciding card: the dashboard's drill-down.
	RecentOrders(ctx context.Context, q AggQuery, offset, limit int) ([]DecidedOrder, error)
	// OrderOf returns the order of (client, order key) (a decision's), or ErrNotFound.
	OrderOf(ctx context.Context, client, orderKey string) (DecidedOrder, error)
}

// DecidedOrder is an order record with its offering decision (the deciding card, or the first
// decision when no card was shown): the drill-down's link to the decision and its comparison.
type DecidedOrder struct {
	OrderRecord
	CardUUID string
	CardAt   time.Time
}

// offeringDecision is the decision AssembleOrders takes an order's record from: the card that
// decides it (decidesRow), or the first decision when none was a card.
func offeringDecision(rows []DecisionRow) *DecisionRow {
	var first, deciding *DecisionRow
	for i := range rows {
		r := &rows[i]
		d := &r.Decision
		if first == nil || d.At.Before(first.Decision.At) || (d.At.Equal(first.Decision.At) && d.CardUUID < first.Decision.CardUUID) {
			first = r
		}
		if d.NoCardReason == "" && (deciding == nil || decidesRow(r, deciding)) {
			deciding = r
		}
	}
	if deciding != nil {
		return deciding
	}
	return first
}

// ErrRollupUnavailable says the rollup cannot answer this query (bounds not on a day, more
// override codes than slots); the caller falls back to Orders.
var ErrRollupUnavailable = errors.New("store: rollup cannot answer this query")

// Micro is a dollar figure in whole micro-dollars (rounded to nearest): what rollups and reports
// sum, exactly. A per-order figure carries float noise far below a micro-dollar
// (1461.6000000000004), and int64 micro-dollars hold nine trillion dollars.
func Micro(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

// MicroToCents rounds a micro-dollar sum to the cent, halves away from zero, exactly, and returns
// it in dollars.
func MicroToCents(m int64) float64 { return float64(centsOfMicro(m)) / 100 }

// CentsMicro is usd rounded to the cent (halves away from zero), in micro-dollars: what an order's
// figure adds to a report's sums. Every row and total is then a sum of whole cents and the rows
// add up to the total: booked unrounded, a 2 962.125 saving showed as 2 962.13 in each of two
// contract rows whose total read 5 924.25 (finance review, 3 December 2026).
func CentsMicro(usd float64) int64 { return centsOfMicro(Micro(usd)) * 10000 }

func centsOfMicro(m int64) int64 {
	if m < 0 {
		return -((-m + 5000) / 10000)
	}
	return (m + 5000) / 10000
}

// reasonSlots is the number of override-reason columns in the cubes.
const reasonSlots = 16

// NoCardAlreadyBest is the scorer's reason for no card when the ordered product is already the
// best permitted one (scoring.ReasonAlreadyBest; store does not import scoring).
const NoCardAlreadyBest = "already-best"

// OnBest reports whether the order ended on the product valuerx recommends (CurrentProduct: the
// product given or signed, else the one accepted, else the one ordered), or was ordered as the
// best product already (no card, "already-best"): the adoption of the lowest-cost product under
// the arrangement. The product given decides, not the click, as for realised savings: an order
// accepted onto the biosimilar but given the reference product counted as adopted, and one
// overridden but given the biosimilar did not (finance review, 3 December 2026).
func (o OrderRecord) OnBest() bool {
	if !o.Card() {
		return o.NoCardReason == NoCardAlreadyBest
	}
	final := o.CurrentProduct()
	return final != "" && final == o.RecommendedProductID
}

// cubeKey is one cell of a cube.
type cubeKey struct {
	cube, grain int // grain 0: day (period = days since 1970-01-01), 1: month (period = year*12 + month-1)
	period      int64
	month       int64
	client      string
	contract    string
	arrangement string
	family      string
	prescriber  string
	location    string
}

// cubeDelta is what one or more orders add to (sign +1) or take from (-1) a cell.
type cubeDelta struct {
	cards, noCard, accepted, overridden, noFeedback, onBest int64
	payer, patient, org                                     int64 // micro-dollars
	reasons, noCardReasons                                  [reasonSlots]int64
	// out are the outcome figures (store.OutcomeSums; the divergence ones once the order's
	// answers are in).
	out OutcomeSums
}

// values are c's measures in the order of cubeCols.
func (c *cubeDelta) values() []int64 {
	v := make([]int64, 0, len(cubeCols))
	v = append(v, c.cards, c.noCard, c.accepted, c.overridden, c.noFeedback, c.onBest, c.payer, c.patient, c.org)
	v = append(v, c.reasons[:]...)
	v = append(v, c.noCardReasons[:]...)
	for _, f := range c.out.fields() {
		v = append(v, *f)
	}
	return v
}

// pairKey is one cell of the divergence pairs (rollup_divpairs): cubes 1 and 2 only (the
// outcomes report filters by contract, family and prescriber, and groups by family).
type pairKey struct {
	cube, grain                 int
	period, month               int64
	client                      string
	contract, arrangement       string
	family, prescriber          string
	ffs, valueBased, vbArrangem string
}

// pairDelta is what orders add to a pair cell.
type pairDelta struct{ orders, diverged, payer, org int64 }

func dayIndex(t time.Time) int64 { return int64(t.UTC().Unix()) / 86400 }

func monthIndex(t time.Time) int64 {
	u := t.UTC()
	return int64(u.Year())*12 + int64(u.Month()) - 1
}

func monthLabel(m int64) string {
	return time.Date(int(m/12), time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

// slotter maps a code of a kind ("override", "nocard") to its column; false: no column left.
type slotter func(kind, code string) (int, bool)

// orderDelta is what order r adds to each of its cells (sign +1): fig its OutcomeFigures (kept
// beside the rollup's record, which holds no options to compute them again), answers its
// offering decision's divergence answers (nil when none are stored yet); false: no slot left for
// a code.
func orderDelta(r OrderRecord, fig OutcomeSums, answers DivergenceState, sign int64, slot slotter) (cubeDelta, []PairSums, bool) {
	var d cubeDelta
	if !r.Card() {
		d.noCard = sign
		i, ok := slot("nocard", r.NoCardReason)
		if !ok {
			return d, nil, false
		}
		d.noCardReasons[i] = sign
	} else {
		d.cards = sign
		switch r.Outcome {
		case "accepted":
			d.accepted = sign
			d.payer, d.patient, d.org = sign*CentsMicro(r.PayerSaved), sign*CentsMicro(r.PatientSaved), sign*CentsMicro(r.OrgImpact)
		case "overridden":
			d.overridden = sign
			i, ok := slot("override", r.ReasonCode)
			if !ok {
				return d, nil, false
			}
			d.reasons[i] = sign
		default:
			d.noFeedback = sign
		}
	}
	if r.OnBest() {
		d.onBest = sign
	}
	d.out.addScaled(fig, sign)
	div, pairs := answers.Sums()
	d.out.addScaled(div, sign)
	return d, pairs, true
}

// fold gathers what a chunk of orders moves in the cubes and the divergence pairs.
type fold struct {
	cells map[cubeKey]*cubeDelta
	pairs map[pairKey]*pairDelta
	slot  slotter
}

func newFold(slot slotter) *fold {
	return &fold{cells: map[cubeKey]*cubeDelta{}, pairs: map[pairKey]*pairDelta{}, slot: slot}
}

// order adds sign times order r's contribution (answers: its divergence, nil when none) to the
// cells it belongs to; false when a reason code has no slot left.
func (f *fold) order(r OrderRecord, fig OutcomeSums, answers DivergenceState, sign int64) bool {
	d, pairs, ok := orderDelta(r, fig, answers, sign, f.slot)
	if !ok {
		return false
	}
	f.add(r, d, pairs, sign)
	return true
}

// divergence adds sign times only the divergence part of order r's contribution: its answers
// came after the order was folded.
func (f *fold) divergence(r OrderRecord, answers DivergenceState, sign int64) {
	div, pairs := answers.Sums()
	if div == (OutcomeSums{}) {
		return
	}
	var d cubeDelta
	d.out.addScaled(div, sign)
	f.add(r, d, pairs, sign)
}

func (f *fold) add(r OrderRecord, d cubeDelta, pairs []PairSums, sign int64) {
	day, month := dayIndex(r.FirstAt), monthIndex(r.FirstAt)
	c, a, fam, p, l := r.ContractID, r.Arrangement, r.GroupID, r.Prescriber, r.Location
	for grain, period := range [2]int64{day, month} {
		for _, k := range []cubeKey{
			{cube: 1, contract: c, arrangement: a, family: fam},
			{cube: 2, contract: c, arrangement: a, family: fam, prescriber: p},
			{cube: 3, prescriber: p},
			{cube: 4, contract: c, arrangement: a, family: fam, location: l},
			{cube: 5, location: l},
			{cube: 6, contract: c, arrangement: a, family: fam, prescriber: p, location: l},
		} {
			k.grain, k.period, k.month, k.client = grain, period, month, r.Client
			cell := f.cells[k]
			if cell == nil {
				cell = &cubeDelta{}
				f.cells[k] = cell
			}
			cell.add(d)
		}
		for _, ps := range pairs {
			for _, cp := range [2]struct {
				cube int
				pr   string
			}{{1, ""}, {2, p}} {
				cube, pr := cp.cube, cp.pr
				k := pairKey{cube: cube, grain: grain, period: period, month: month, client: r.Client, contract: c, arrangement: a, family: fam, prescriber: pr,
					ffs: ps.FFS, valueBased: ps.ValueBased, vbArrangem: ps.Arrangement}
				pd := f.pairs[k]
				if pd == nil {
					pd = &pairDelta{}
					f.pairs[k] = pd
				}
				pd.orders += sign * ps.Orders
				pd.diverged += sign * ps.Diverged
				pd.payer += sign * ps.Payer
				pd.org += sign * ps.Org
			}
		}
	}
}

// sameContribution reports whether two records of one order (each with its answers) add the same
// to every cell.
func sameContribution(a OrderRecord, aFig OutcomeSums, aAns DivergenceState, b OrderRecord, bFig OutcomeSums, bAns DivergenceState, slot slotter) bool {
	if !(dayIndex(a.FirstAt) == dayIndex(b.FirstAt) && a.Client == b.Client && a.ContractID == b.ContractID && a.Arrangement == b.Arrangement &&
		a.GroupID == b.GroupID && a.Prescriber == b.Prescriber && a.Location == b.Location) {
		return false
	}
	da, pa, oka := orderDelta(a, aFig, aAns, 1, slot)
	db, pb, okb := orderDelta(b, bFig, bAns, 1, slot)
	if !oka || !okb || da != db || len(pa) != len(pb) {
		return false
	}
	for i := range pa {
		if pa[i] != pb[i] {
			return false
		}
	}
	return true
}

func (c *cubeDelta) add(d cubeDelta) {
	c.cards += d.cards
	c.noCard += d.noCard
	c.accepted += d.accepted
	c.overridden += d.overridden
	c.noFeedback += d.noFeedback
	c.onBest += d.onBest
	c.payer += d.payer
	c.patient += d.patient
	c.org += d.org
	for i := range c.reasons {
		c.reasons[i] += d.reasons[i]
		c.noCardReasons[i] += d.noCardReasons[i]
	}
	c.out.Add(d.out)
}

// periodPlan splits [from, to) into the whole months inside it and the days outside those:
// months [m0, m1) and days [d0, d1) ∪ [d2, d3) (empty ranges have lo >= hi).
type periodPlan struct {
	m0, m1, d0, d1, d2, d3 int64
}

// periodRange is one index range of a plan: grain 1 (months) or 0 (days), periods [lo, hi).
type periodRange struct {
	grain  int
	lo, hi int64
}

// ranges are the non-empty ranges of the plan.
func (p periodPlan) ranges() []periodRange {
	var out []periodRange
	for _, r := range []periodRange{{1, p.m0, p.m1}, {0, p.d0, p.d1}, {0, p.d2, p.d3}} {
		if r.lo < r.hi {
			out = append(out, r)
		}
	}
	return out
}

const (
	pairGroup  = "month, family, ffs, value_based, vb_arrangement"
	pairSelect = pairGroup + ", SUM(orders), SUM(diverged), SUM(payer), SUM(org)"
)

// scanPairs reads the rows of a pairs query (pairSelect) on either store.
func scanPairs(rows queryRows) ([]PairAggregate, error) {
	var out []PairAggregate
	for rows.Next() {
		var p PairAggregate
		var month int64
		if err := rows.Scan(&month, &p.Family, &p.FFS, &p.ValueBased, &p.Arrangement, &p.Orders, &p.Diverged, &p.Payer, &p.Org); err != nil {
			return nil, fmt.Errorf("store: rollup pairs: %w", err)
		}
		p.Month = monthLabel(month)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rollup pairs: %w", err)
	}
	return out, nil
}

// planPeriod requires both bounds at 00:00 UTC (ErrRollupUnavailable otherwise) and to > from.
func planPeriod(from, to time.Time) (periodPlan, error) {
	from, to = from.UTC(), to.UTC()
	if from.IsZero() || to.IsZero() || !to.After(from) || !from.Equal(from.Truncate(24*time.Hour)) || !to.Equal(to.Truncate(24*time.Hour)) {
		return periodPlan{}, ErrRollupUnavailable
	}
	firstFull := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	if firstFull.Before(from) {
		firstFull = firstFull.AddDate(0, 1, 0)
	}
	lastEnd := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !firstFull.Before(lastEnd) {
		return periodPlan{m0: 0, m1: 0, d0: dayIndex(from), d1: dayIndex(to), d2: 0, d3: 0}, nil
	}
	return periodPlan{m0: monthIndex(firstFull), m1: monthIndex(lastEnd), d0: dayIndex(from), d1: dayIndex(firstFull),
		d2: dayIndex(lastEnd), d3: dayIndex(to)}, nil
}

// queryRows is the rows of a query on either store: *sql.Rows and pgx.Rows both are one.
type queryRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanAggregates reads the rows of a cube query (the groupBy columns, then aggCols) on either
// store: one reading of the cube's columns and reason slots, so the two stores cannot differ.
func scanAggregates(rows queryRows, groupBy []string, slots *slotTable) ([]Aggregate, error) {
	overrideCodes, overrideUsed := slots.codes("override")
	noCardCodes, noCardUsed := slots.codes("nocard")
	var out []Aggregate
	for rows.Next() {
		var a Aggregate
		var month int64
		var r, n [reasonSlots]int64
		var cards, noCard, acc, ovr, nofb, best int64
		dst := make([]any, 0, len(groupBy)+len(cubeCols))
		for _, c := range groupBy {
			switch c {
			case "month":
				dst = append(dst, &month)
			case "contract":
				dst = append(dst, &a.Contract)
			case "arrangement":
				dst = append(dst, &a.Arrangement)
			case "family":
				dst = append(dst, &a.Family)
			case "prescriber":
				dst = append(dst, &a.Prescriber)
			case "location":
				dst = append(dst, &a.Location)
			case "client":
				dst = append(dst, &a.Client)
			}
		}
		dst = append(dst, &cards, &noCard, &acc, &ovr, &nofb, &best, &a.PayerSaved, &a.PatientSaved, &a.OrgImpact)
		for i := range r {
			dst = append(dst, &r[i])
		}
		for i := range n {
			dst = append(dst, &n[i])
		}
		for _, f := range a.Outcome.fields() {
			dst = append(dst, f)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: rollup row: %w", err)
		}
		a.Cards, a.NoCard, a.Accepted, a.Overridden, a.NoFeedback, a.OnBest = int(cards), int(noCard), int(acc), int(ovr), int(nofb), int(best)
		if month != 0 {
			a.Month = monthLabel(month)
		}
		for i := range r {
			if r[i] != 0 && overrideUsed[i] {
				if a.Overrides == nil {
					a.Overrides = map[string]int{}
				}
				a.Overrides[overrideCodes[i]] = int(r[i])
			}
			if n[i] != 0 && noCardUsed[i] {
				if a.NoCardReasons == nil {
					a.NoCardReasons = map[string]int{}
				}
				a.NoCardReasons[noCardCodes[i]] = int(n[i])
			}
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rollup rows: %w", err)
	}
	return out, nil
}

// The cube that answers each read, by the filter it has to apply (the cubes are listed with the
// rollup's schema): both stores read the same cube for the same query.
func familyMonthsCube(q AggQuery) int {
	if q.PrescriberFilter {
		return 2
	}
	return 1
}

func prescribersCube(q AggQuery) int {
	if q.Contract != "" || q.Family != "" {
		return 2
	}
	return 3
}

func locationsCube(q AggQuery) int {
	switch {
	case q.PrescriberFilter:
		return 6
	case q.Contract != "" || q.Family != "":
		return 4
	}
	return 5
}

// collectDecisions reads every row of a decisions query on either store with that store's
// scanner (scanDecision, pgScanDecision: they differ only in how times and JSON come back).
func collectDecisions(rows queryRows, scan func(*Decision) ([]any, func() error), what string) ([]Decision, error) {
	var out []Decision
	for rows.Next() {
		var d Decision
		dst, finish := scan(&d)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: %s row: %w", what, err)
		}
		if err := finish(); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s rows: %w", what, err)
	}
	return out, nil
}
