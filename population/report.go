package population

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"valuerx/csvcell"

	"valuerx/measures"
)

// WriteRatesCSV writes one row per contract and measure.
//
//	contract,measure,measure_name,star_weight,denominator,numerator,rate,target,short_of_target,excluded,below_redeemable,below_not_redeemable,as_of
//
// target and short_of_target are empty for a contract without terms for the measure.
func (rep *Report) WriteRatesCSV(w io.Writer) error {
	cw := csvcell.NewWriter(w)
	cw.Write([]string{"contract", "measure", "measure_name", "star_weight", "denominator", "numerator", "rate", "target", "short_of_target", "excluded", "below_redeemable", "below_not_redeemable", "as_of"})
	for _, t := range rep.Tallies {
		target, short := "", ""
		if t.HasTarget {
			target, short = strconv.FormatFloat(t.Target, 'f', -1, 64), strconv.Itoa(t.ShortOfTarget)
		}
		cw.Write([]string{t.Contract, t.Measure.String(), t.Measure.Name(), strconv.FormatFloat(t.Weight, 'f', -1, 64),
			strconv.Itoa(t.Denominator), strconv.Itoa(t.Numerator), strconv.FormatFloat(t.Rate(), 'f', 4, 64), target, short,
			strconv.Itoa(t.Excluded), strconv.Itoa(t.BelowRedeemable), strconv.Itoa(t.BelowLost), rep.AsOf.String()})
	}
	cw.Flush()
	return cw.Error()
}

type ratesJSON struct {
	Year     int    `json:"year"`
	AsOf     string `json:"asOf"`
	Patients int    `json:"patients"`
	// Attribution is "coverage" (the Coverage's payor) or the roster version ("sha256:...").
	Attribution string      `json:"attribution"`
	Input       Counts      `json:"input"`
	Rates       []tallyJSON `json:"rates"`
}

type tallyJSON struct {
	Contract           string   `json:"contract"`
	Measure            string   `json:"measure"`
	Name               string   `json:"name"`
	StarWeight         float64  `json:"starWeight"`
	Denominator        int      `json:"denominator"`
	Numerator          int      `json:"numerator"`
	Rate               float64  `json:"rate"`
	Excluded           int      `json:"excluded"`
	BelowRedeemable    int      `json:"belowRedeemable"`
	BelowNotRedeemable int      `json:"belowNotRedeemable"`
	Target             *float64 `json:"target,omitempty"`
	ShortOfTarget      *int     `json:"shortOfTarget,omitempty"`
}

// WriteRatesJSON writes the rates with the run's input counts.
func (rep *Report) WriteRatesJSON(w io.Writer) error {
	out := ratesJSON{Year: rep.Year, AsOf: rep.AsOf.String(), Patients: rep.Patients, Attribution: rep.Attribution, Input: rep.Counts, Rates: []tallyJSON{}}
	if out.Attribution == "" {
		out.Attribution = "coverage"
	}
	for _, t := range rep.Tallies {
		tj := tallyJSON{t.Contract, t.Measure.String(), t.Measure.Name(), t.Weight, t.Denominator, t.Numerator, t.Rate(), t.Excluded, t.BelowRedeemable, t.BelowLost, nil, nil}
		if t.HasTarget {
			target, short := t.Target, t.ShortOfTarget
			tj.Target, tj.ShortOfTarget = &target, &short
		}
		out.Rates = append(out.Rates, tj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("population: rates: %w", err)
	}
	return nil
}

// WriteWorklistCSV writes the worklist in its order (highest value first).
//
//	rank,contract,patient_id,mbi,measure,pdc_to_date,days,days_covered,gap_days_left,days_on_hand,refill_due,value,value_usd
func (rep *Report) WriteWorklistCSV(w io.Writer) error {
	cw := csvcell.NewWriter(w)
	cw.Write([]string{"rank", "contract", "patient_id", "mbi", "measure", "pdc_to_date", "days", "days_covered", "gap_days_left", "days_on_hand", "refill_due", "value", "value_usd"})
	for i, it := range rep.Worklist {
		pdc, days, covered, onHand := "", "", "", ""
		if it.Measure != measures.SUPD {
			pdc, days, covered, onHand = strconv.FormatFloat(it.PDC, 'f', 4, 64), strconv.Itoa(it.Days), strconv.Itoa(it.Covered), strconv.Itoa(it.OnHand)
		}
		cw.Write([]string{strconv.Itoa(i + 1), it.Contract, it.PatientID, it.MBI, it.Measure.String(), pdc, days, covered,
			strconv.Itoa(it.GapDaysLeft), onHand, it.RefillDue.String(), strconv.FormatFloat(it.Value, 'f', 4, 64), strconv.FormatFloat(it.ValueUSD, 'f', 2, 64)})
	}
	cw.Flush()
	return cw.Error()
}
