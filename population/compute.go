package population

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"valuerx/measures"
)

// PatientResult is one patient's measures at the as-of date, as the run computed them.
type PatientResult struct {
	ID, MBI, Contract string
	ToDate            [3]measures.ToDate // PDC-DR, PDC-RASA, PDC-STA
	SUPD              measures.Result
}

// Evaluate is the per-patient computation of a run, exported so that tests and other callers
// compute exactly what the population run counts.
func Evaluate(p *measures.Patient, year int, asOf measures.Day) ([3]measures.ToDate, measures.Result) {
	var td [3]measures.ToDate
	for i, m := range measures.Adherence {
		td[i] = measures.PDCToDate(p, year, m, asOf)
	}
	return td, measures.SUPDAt(p, year, asOf)
}

// counts of one contract, per measure.
type contractCounts [measures.NumMeasures]Tally

type worker3 struct {
	tallies  map[string]*contractCounts
	worklist []WorkItem
	p        measures.Patient
	asOf     measures.Day
}

// add counts one patient into the worker's tallies and worklist.
func (w *worker3) add(pr *PatientResult) {
	cc := w.tallies[pr.Contract]
	if cc == nil {
		cc = &contractCounts{}
		for m := range cc {
			cc[m].Contract, cc[m].Measure = pr.Contract, measures.Measure(m)
		}
		w.tallies[pr.Contract] = cc
	}
	for i, td := range pr.ToDate {
		t := &cc[td.Measure]
		switch {
		case td.Excluded:
			t.Excluded++
		case !td.InDenominator:
		case td.Covered*5 >= td.Days*4:
			t.Denominator++
			t.Numerator++
		default:
			t.Denominator++
			if td.Redeemable {
				t.BelowRedeemable++
				w.worklist = append(w.worklist, WorkItem{
					Contract: pr.Contract, PatientID: pr.ID, MBI: pr.MBI, Measure: measures.Adherence[i],
					PDC: td.PDC(), Days: td.Days, Covered: td.Covered, GapDaysLeft: td.GapDaysLeft,
					OnHand: td.OnHand, RefillDue: td.RefillDue(),
				})
			} else {
				t.BelowLost++
			}
		}
	}
	t := &cc[measures.SUPD]
	switch s := pr.SUPD; {
	case s.Excluded:
		t.Excluded++
	case !s.InDenominator:
	case s.Met:
		t.Denominator++
		t.Numerator++
	case w.asOf > s.End:
		t.Denominator++
		t.BelowLost++
	default:
		// A statin fill by the end of the treatment period closes the gap: GapDaysLeft is the
		// days left to get it.
		t.Denominator++
		t.BelowRedeemable++
		w.worklist = append(w.worklist, WorkItem{Contract: pr.Contract, PatientID: pr.ID, MBI: pr.MBI, Measure: measures.SUPD,
			GapDaysLeft: int(s.End-w.asOf) + 1, RefillDue: w.asOf})
	}
}

// asOf is the as-of date: the option, else the day after the latest dispense, at most January 1
// of the next year (and not before January 2 of the year).
func (r *run) asOf() measures.Day {
	if r.opt.AsOf != 0 && r.opt.AsOf != measures.NoDay {
		return r.opt.AsOf
	}
	if r.maxDay == 0 || r.maxDay == measures.NoDay {
		return r.dec31 + 1
	}
	return max(r.jan1+1, min(r.maxDay+1, r.dec31+1))
}

// patientOf fills p with record i's facts and fills.
func (r *run) patientOf(p *measures.Patient, i int, rec *record, store *fillStore, from, to int, asOf measures.Day) {
	vs := r.opt.ValueSet
	*p = measures.Patient{
		BirthDate: rec.birth, DeathDate: rec.death, EnrolledThrough: rec.enrolledThrough,
		Fills: p.Fills[:0], Stays: p.Stays[:0],
		Hospice: rec.flags&flagHospice != 0, ESRD: rec.flags&flagESRD != 0, SUPDExclusion: rec.flags&flagSUPDExcl != 0,
	}
	for k := from; k < to; k++ {
		_, doy, supply, ing := unpackFill(store.at(k))
		in := vs.Ingredient(ing)
		p.Fills = append(p.Fills, measures.Fill{Date: r.jan1 + measures.Day(doy), DaysSupply: supply, Ingredient: in.Name, Class: in.Class})
	}
	for _, s := range r.reg.stays[int32(i)] {
		if s.End == measures.NoDay {
			s.End = max(s.Start, asOf-1) // still in hospital: through the day before the as-of date
		}
		p.Stays = append(p.Stays, s)
	}
}

func (r *run) contractOf(rec *record, asOf measures.Day) string {
	if r.opt.Attribute != nil {
		if c, ok := r.opt.Attribute(rec.mbi, rec.memberID, asOf-1); ok {
			return c
		}
		return Unattributed
	}
	if rec.contract == "" {
		return Unattributed
	}
	return rec.contract
}

// compute runs the per-patient measures on a worker pool and aggregates.
func (r *run) compute(ctx context.Context, fills *fillStore, offsets []int) (*Report, error) {
	asOf := r.asOf()
	n := r.reg.len()
	workers := make([]worker3, r.opt.Workers)
	var next atomic.Int64
	const chunk = 2048
	var wg sync.WaitGroup
	for k := range workers {
		w := &workers[k]
		w.tallies = map[string]*contractCounts{}
		w.asOf = asOf
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					rec := &r.reg.recs[i]
					r.patientOf(&w.p, i, rec, fills, offsets[i], offsets[i+1], asOf)
					pr := PatientResult{ID: rec.id, MBI: rec.mbi, Contract: r.contractOf(rec, asOf)}
					pr.ToDate, pr.SUPD = Evaluate(&w.p, r.opt.Year, asOf)
					w.add(&pr)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &Report{Year: r.opt.Year, AsOf: asOf, Patients: n, Counts: r.counts, Attribution: r.opt.AttributionVersion}
	all := map[string]*contractCounts{}
	for k := range workers {
		for c, cc := range workers[k].tallies {
			sum := all[c]
			if sum == nil {
				sum = &contractCounts{}
				all[c] = sum
			}
			for m := range cc {
				s, t := &sum[m], cc[m]
				s.Contract, s.Measure = t.Contract, t.Measure
				s.Denominator += t.Denominator
				s.Numerator += t.Numerator
				s.Excluded += t.Excluded
				s.BelowRedeemable += t.BelowRedeemable
				s.BelowLost += t.BelowLost
			}
		}
		rep.Worklist = append(rep.Worklist, workers[k].worklist...)
		workers[k].worklist = nil
	}
	weight := func(contract string, m measures.Measure) float64 {
		if t, ok := r.opt.Terms.term(contract, m); ok && t.StarWeight != nil {
			return *t.StarWeight
		}
		return r.opt.Weights[m]
	}
	for c, cc := range all {
		for m := range cc {
			cc[m].Weight = weight(c, measures.Measure(m))
			if t, ok := r.opt.Terms.term(c, measures.Measure(m)); ok && t.Target > 0 {
				cc[m].Target, cc[m].HasTarget = t.Target, true
				cc[m].ShortOfTarget = ShortOfTarget(t.Target, cc[m].Denominator, cc[m].Numerator)
			}
			rep.Tallies = append(rep.Tallies, cc[m])
		}
	}
	slices.SortFunc(rep.Tallies, func(a, b Tally) int {
		return cmp.Or(cmp.Compare(a.Contract, b.Contract), cmp.Compare(a.Measure, b.Measure))
	})
	// Value of closing a gap: the measure's Star weight (the contract's terms may set it) times the rate points one more adherent
	// patient adds to the contract's measure rate (100 / denominator). Within equal value, the
	// patients with the fewest gap days left first (they become unredeemable soonest), then by the
	// refill due date, then by id for a stable order.
	for i := range rep.Worklist {
		it := &rep.Worklist[i]
		if den := all[it.Contract][it.Measure].Denominator; den > 0 {
			it.Value = weight(it.Contract, it.Measure) * 100 / float64(den)
		}
		if r.opt.GapValue != nil {
			if v, ok := r.opt.GapValue(it.Contract, it.Measure, rep.AsOf); ok {
				it.ValueUSD = v
			}
		} else if t, ok := r.opt.Terms.term(it.Contract, it.Measure); ok {
			it.ValueUSD = t.BonusPerGapClosed + t.BonusPerAdherent
		}
	}
	// With contract terms the dollars come first (what closing this gap earns the organisation),
	// then the Star value.
	slices.SortFunc(rep.Worklist, func(a, b WorkItem) int {
		return cmp.Or(cmp.Compare(b.ValueUSD, a.ValueUSD), cmp.Compare(b.Value, a.Value), cmp.Compare(a.GapDaysLeft, b.GapDaysLeft),
			cmp.Compare(a.RefillDue, b.RefillDue), cmp.Compare(a.PatientID, b.PatientID), cmp.Compare(a.Measure, b.Measure))
	})
	return rep, nil
}
