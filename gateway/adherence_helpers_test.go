package gateway

import "valuerx/measures"

func measuresValueSet() *measures.ValueSet { return measures.DefaultValueSet() }

func measuresPDCToDate(p *measures.Patient, i int) measures.ToDate {
	return measures.PDCToDate(p, 2026, measures.Adherence[i], measures.Date(2026, 7, 1))
}
