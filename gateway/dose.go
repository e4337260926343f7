package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"valuerx/clinical"
	"valuerx/fhir"
	"valuerx/internal/jsonfast"
	"valuerx/scoring"
)

// loincBodyHeight is LOINC 8302-2 "Body height", the height a BSA dose needs.
const loincBodyHeight = "8302-2"

// limitsOf turns a group's label bounds into clinical's.
func limitsOf(g scoring.Group) clinical.Limits {
	b := g.Label
	return clinical.Limits{
		Name:      g.Name,
		MaxDoseMg: b.MaxDoseMg, MaxMgPerKg: b.MaxMgPerKg, MaxMgPerM2: b.MaxMgPerM2, MaxDailyMg: b.MaxDailyMg, FixedDose: b.FixedDose,
		MinIntervalDays: b.MinIntervalDays, LabelledIntervalDays: b.LabelledIntervalDays,
		MaxAdministrations: b.MaxAdministrations,
	}
}

// doseStrength is the strength clinical.Dose may multiply a tablet count by: tablets only. A
// biologic order written in "{pill}" (all the CDS Hooks sandbox can write) names no dose: the
// vial strength of its code is not what the patient receives.
func doseStrength(item *orderedItem) float64 {
	if item.product.MgPerUnit == 0 {
		return item.codeMg
	}
	return 0
}

// applyDose reads the order's dose and course with clinical.Dose and sets what scoring prices.
// An implausible schedule is priced on the group's labelled course, an implausible dose not at
// all; either way the card says so (doseNotes), never silently.
func applyDose(item *orderedItem, g scoring.Group, pat clinical.Patient) {
	if item.order == nil {
		return
	}
	reg := clinical.Dose(*item.order, doseStrength(item), pat, limitsOf(g))
	item.doseNotes = append(append(append([]string(nil), reg.Implausible...), reg.Unknown...), reg.Caveats...)
	item.doseAboveLabel = reg.DoseAboveLabel
	retail := item.product.MgPerUnit == 0
	mgDose := reg.Unit == clinical.Mg
	var dose, course string
	switch {
	case reg.DoseImplausible:
		item.noFigures = true
		return
	case retail:
		if mgDose && reg.DosePerDay > 0 {
			item.doseMg = reg.DosePerDay
			dose = fmt.Sprintf("%s mg a day (%s)", fmtMg(reg.DosePerDay), basisOr(reg.Basis, "from the order"))
		} else if item.itemMg > 0 {
			// No readable dose on a tablet order of known strength: price one tablet a day of that
			// strength, and say it is assumed (the group's default, 10 mg, would misstate a 40 mg
			// tablet order).
			item.doseMg = item.itemMg
			dose = fmt.Sprintf("%s mg a day (1 tablet assumed: the order gives no dose valuerx can read)", fmtMg(item.itemMg))
		}
		days := reg.DaysOfSupply
		if days == 0 {
			days = reg.CourseDays()
		}
		if !reg.ScheduleImplausible && days > 0 {
			item.admins = days
			course = fmt.Sprintf("%d days of supply (from the order)", days)
		}
	default:
		if mg := reg.MgPerAdministration(); mg > 0 {
			item.doseMg = mg
			dose = fmt.Sprintf("%s mg per dose (%s)", fmtMg(mg), basisOr(reg.Basis, "from the order"))
			if len(reg.Phases) > 1 {
				dose += fmt.Sprintf("; the course is priced at the maintenance dose (%d phases in the order)", len(reg.Phases))
			}
		}
		if !reg.ScheduleImplausible && reg.Administrations > 0 {
			item.admins = reg.Administrations
			course = fmt.Sprintf("%d administrations per course (from the order)", reg.Administrations)
		}
	}
	if reg.ScheduleImplausible {
		item.scheduleImplausible = true
		course = "the labelled course: the order's schedule is not one the label allows"
	}
	item.doseText = dose + "\x00" + course
}

// basisOr is the dose's basis when it says more than the dose itself ("6 mg/kg x 70 kg ...",
// "1 tablet x 40 mg"), else def.
func basisOr(b, def string) string {
	if !strings.Contains(b, " x ") {
		return def
	}
	return b
}

// vitals returns the latest body weight and height Observations a weight- or BSA-based dose
// needs (only those asked for), each looked up once per hook: the search resolve started beside
// the other fetches when the hook's plan foresaw it (fetchplan.go), else one search now (first
// page, newest first) under the hook's deadline.
func (lk *orderLookups) vitals(ctx context.Context, patientID string, needWeight, needHeight bool) clinical.Patient {
	var p clinical.Patient
	if needWeight {
		p.WeightKg, p.WeightDate = lk.latest(ctx, &lk.weight, patientID, keyBodyWeight, fhir.LOINCBodyWeight, clinical.KgOf)
	}
	if needHeight {
		p.HeightCm, p.HeightDate = lk.latest(ctx, &lk.height, patientID, keyBodyHeight, loincBodyHeight, clinical.CmOf)
	}
	return p
}

// weightOnHand is the body weight when the hook has it without a search of its own: prefetched,
// already read for another draft, or searched by the hook's plan. An order written in mg is
// checked against the label's mg/kg maximum with it (clinical.Dose), never at the cost of one
// more FHIR round trip for every mg order.
func (lk *orderLookups) weightOnHand(ctx context.Context, patientID string) clinical.Patient {
	d := lk.data
	if _, prefetched := d.prefetchedVitals(keyBodyWeight); !prefetched && !lk.weight.done && !d.hasPlannedSearch(keyBodyWeight) {
		return clinical.Patient{}
	}
	return lk.vitals(ctx, patientID, true, false)
}

// latest looks up m (the Observation of LOINC code, planned as key) once: the newest usable
// value in a unit conv reads.
func (lk *orderLookups) latest(ctx context.Context, m *measurement, patientID, key, code string, conv func(float64, string) (float64, bool)) (float64, time.Time) {
	if m.done {
		return m.value, m.date
	}
	d := lk.data
	res, prefetched := d.prefetchedVitals(key)
	if !prefetched && (d.client == nil || patientID == "") {
		return 0, time.Time{}
	}
	var err error
	if !prefetched {
		res, err = d.searchObservation(ctx, key, patientID, code)
	}
	if err == errNotSearched {
		return 0, time.Time{} // the budget is spent: not looked up (a later order may not try either)
	}
	m.done = true
	if err != nil {
		return 0, time.Time{}
	}
	type obs struct {
		ResourceType string `json:"resourceType"`
		Status       string `json:"status"`
		Code         struct {
			Coding []coding `json:"coding"`
		} `json:"code"`
		EffectiveDateTime string `json:"effectiveDateTime"`
		ValueQuantity     *struct {
			Value *float64 `json:"value"`
			Unit  string   `json:"unit"`
			Code  string   `json:"code"`
		} `json:"valueQuantity"`
	}
	var all []obs
	for _, raw := range res {
		var o obs
		// The code is checked, not trusted to the search: a server (or an EHR's prefetch) that
		// ignored the code parameter must not have a height read as a weight.
		if jsonfast.Unmarshal(raw, &o) == nil && o.ResourceType == "Observation" && o.ValueQuantity != nil && o.ValueQuantity.Value != nil &&
			o.Status != "entered-in-error" && o.Status != "cancelled" &&
			slices.ContainsFunc(o.Code.Coding, func(c coding) bool { return c.System == fhir.SystemLOINC && c.Code == code }) {
			all = append(all, o)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].EffectiveDateTime > all[j].EffectiveDateTime })
	for _, o := range all {
		if v, ok := conv(*o.ValueQuantity.Value, strings.TrimSpace(firstNonEmpty(o.ValueQuantity.Code, o.ValueQuantity.Unit))); ok {
			t, _ := parseFHIRDate(o.EffectiveDateTime)
			m.value, m.date = v, t
			return v, t
		}
	}
	return 0, time.Time{}
}

// errNotSearched: the hook's deadline passed before an unplanned search could start.
var errNotSearched = errors.New("not searched: the hook's budget is spent")

// searchObservation is the body measurement search of key: resolve's answer when it made it, else
// one search now.
func (d *hookData) searchObservation(ctx context.Context, key, patientID, code string) ([]json.RawMessage, error) {
	if res, err, ok := d.plannedSearch(ctx, key); ok {
		return res, err
	}
	if ctx.Err() != nil {
		return nil, errNotSearched
	}
	atomic.AddInt64(&d.fetches, 1)
	one := *d.client
	one.MaxPages = 1
	return one.Search(ctx, vitalsQuery(patientID, code))
}

// unitDosed reports a product billed per units of activity (epoetin alfa: "1000 UNITS"), whose
// doses are not in mg.
func unitDosed(p scoring.Product) bool {
	return strings.Contains(strings.ToUpper(p.BillingUnit), "UNIT")
}

// singleDose reports whether an order is one administration (its one dosage's timing.repeat.count
// is 1), as applyDose would find it, for a draft not yet dosed: a loading dose beside the order
// being scored (scoring.Request.LoadingDosesBeside).
func singleDose(o *clinical.Order) bool {
	if o == nil || len(o.DosageInstruction) != 1 {
		return false
	}
	t := o.DosageInstruction[0].Timing
	return t != nil && onceOnly(t.Repeat)
}

// onceOnly reports whether a timing.repeat is one administration in all (count 1, no larger
// countMax): a loading dose, which a card's schedule reads "once" (scheduleOf).
func onceOnly(r *clinical.Repeat) bool {
	return r != nil && r.Count != nil && *r.Count == 1 && (r.CountMax == nil || *r.CountMax <= 1)
}
