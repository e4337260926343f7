package demo

import (
	"embed"
	"encoding/json"
	"fmt"
	"time"
)

// The adherence demo (issue 17): four patients with a year of pharmacy fills, so that `make run`
// shows the adherence and SUPD cards and `valuerx measures -demo` has something to measure.
//
//	pat-adh-statin  Medicare Advantage (ma-capitation), atorvastatin filled 30 days at a time with
//	                gaps: PDC to date about 0.63 (115 of 182 days on 1 July 2026, 205 of 324
//	                on 1 December): an atorvastatin order-sign gets the 90-day suggestion
//	pat-adh-ok      the same plan, atorvastatin 90 days every 88 days: adherent, no card
//	pat-supd        the same plan, 61 in 2026 with type 2 diabetes (E11.9) on metformin and no
//	                statin: a metformin order-sign gets the SUPD card (atorvastatin 20 mg create)
//	pat-diab-30     commercial PPO, 30 in 2026 with type 2 diabetes on metformin, no statin:
//	                SUPD does not apply under 40, and the metformin fills are adherent: no card
//
// The fills are dated backwards from the day the demo starts (the gateway measures the current
// calendar year), repeating each patient's pattern, so the figures hold all year once there are
// a few months of the year behind: the README gives the hand-worked figures for 1 July and
// 1 December 2026, which TestDemoAdherence checks through the gateway.

//go:embed adherence/*.json
var adherenceRequests embed.FS

// AdherenceRequests lists the adherence demo hook requests (order-sign, no prefetch: the gateway
// fetches the dispenses from the demo FHIR server). They are apart from Requests because their
// cards depend on the day they are sent (the fills are dated from today), which the golden
// responses of Requests cannot hold.
func AdherenceRequests() []string { return names(adherenceRequests, "adherence") }

// AdherenceRequest returns one of AdherenceRequests.
func AdherenceRequest(name string) ([]byte, bool) {
	return readRequest(adherenceRequests, "adherence", name)
}

// fillPattern is a repeating series of fills: each fill's offset (days) into a cycle of Cycle
// days and its days supply. The last cycle ends on the day the demo starts.
type fillPattern struct {
	Cycle   int
	Offsets []int
	Supply  int
}

type adherencePatient struct {
	ID, Family, Given, Birth, Gender, MBI string
	Plan                                  string // "ma" or "ppo"
	Diabetes                              bool
	RxCUI, Drug                           string
	PerDay                                int // tablets a day: the dispensed quantity is PerDay x days supply
	Fills                                 fillPattern
}

var adherencePatients = []adherencePatient{
	// Cycle 182: fills on days 0, 40, 83 and 157, 30 days each. In the cycle that ends today:
	// covered days 0-29, 40-69, 83-112, 157-181 = 30+30+30+25 = 115 of 182 (0.632).
	{ID: "pat-adh-statin", Family: "Statin", Given: "Adherence", Birth: "1952-08-19", Gender: "male", MBI: "2TK4HW7MN18", Plan: "ma",
		RxCUI: "617311", Drug: "atorvastatin 40 MG Oral Tablet", PerDay: 1, Fills: fillPattern{Cycle: 182, Offsets: []int{0, 40, 83, 157}, Supply: 30}},
	{ID: "pat-adh-ok", Family: "Adherent", Given: "Statin", Birth: "1950-02-07", Gender: "female", MBI: "4HN8CV2RT35", Plan: "ma",
		RxCUI: "617311", Drug: "atorvastatin 40 MG Oral Tablet", PerDay: 1, Fills: fillPattern{Cycle: 88, Offsets: []int{78}, Supply: 90}},
	{ID: "pat-supd", Family: "Diabetes", Given: "Supd", Birth: "1965-03-14", Gender: "female", MBI: "6JW3KD9PE47", Plan: "ma", Diabetes: true,
		RxCUI: "861007", Drug: "metformin hydrochloride 500 MG Oral Tablet", PerDay: 2, Fills: fillPattern{Cycle: 90, Offsets: []int{70}, Supply: 90}},
	{ID: "pat-diab-30", Family: "Young", Given: "Diabetes", Birth: "1996-05-20", Gender: "male", Plan: "ppo", Diabetes: true,
		RxCUI: "861007", Drug: "metformin hydrochloride 500 MG Oral Tablet", PerDay: 2, Fills: fillPattern{Cycle: 90, Offsets: []int{70}, Supply: 90}},
}

// AdherencePatients is the FHIR transaction Bundle of the adherence demo as of today's date:
// the four patients, their coverage, diabetes on the problem list and MedicationDispenses over
// the last 400 days (the current calendar year and the end of the previous one).
func AdherencePatients(today time.Time) []byte {
	day := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	var entries []map[string]any
	put := func(r map[string]any) {
		ref := fmt.Sprintf("%s/%s", r["resourceType"], r["id"])
		entries = append(entries, map[string]any{"fullUrl": "urn:valuerx:" + ref, "resource": r, "request": map[string]any{"method": "PUT", "url": ref}})
	}
	for _, p := range adherencePatients {
		pat := map[string]any{"resourceType": "Patient", "id": p.ID, "name": []any{map[string]any{"family": p.Family, "given": []string{p.Given, "Demo"}}},
			"birthDate": p.Birth, "gender": p.Gender}
		if p.MBI != "" {
			pat["identifier"] = []any{map[string]string{"system": "http://hl7.org/fhir/sid/us-mbi", "value": p.MBI}}
		} else {
			pat["identifier"] = []any{map[string]string{"system": "https://valuerx.dev/fhir/mrn", "value": "MRN-" + p.ID}}
		}
		put(pat)
		put(coverage(p))
		if p.Diabetes {
			put(map[string]any{"resourceType": "Condition", "id": "cond-" + p.ID + "-e11",
				"clinicalStatus":     concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", ""),
				"verificationStatus": concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", ""),
				"category":           []any{concept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "")},
				"code":               concept("http://hl7.org/fhir/sid/icd-10-cm", "E11.9", "Type 2 diabetes mellitus without complications"),
				"subject":            map[string]string{"reference": "Patient/" + p.ID}})
		}
		n := 0
		for _, d := range p.Fills.dates(day, 400) {
			n++
			put(map[string]any{"resourceType": "MedicationDispense", "id": fmt.Sprintf("disp-%s-%d", p.ID, n), "status": "completed",
				"medicationCodeableConcept": concept("http://www.nlm.nih.gov/research/umls/rxnorm", p.RxCUI, p.Drug),
				"subject":                   map[string]string{"reference": "Patient/" + p.ID},
				"quantity":                  map[string]any{"value": p.PerDay * p.Fills.Supply, "unit": "tablet"},
				"daysSupply":                map[string]any{"value": p.Fills.Supply, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"},
				"whenHandedOver":            d.Format(time.DateOnly)})
		}
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return b
}

// dates are the fill dates of the pattern in the span days up to today, oldest first.
func (f fillPattern) dates(today time.Time, span int) []time.Time {
	var out []time.Time
	for start := -(f.Cycle - 1); start > -span-f.Cycle; start -= f.Cycle {
		for i := len(f.Offsets) - 1; i >= 0; i-- {
			if off := start + f.Offsets[i]; off <= 0 && off > -span {
				out = append(out, today.AddDate(0, 0, off))
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func coverage(p adherencePatient) map[string]any {
	c := map[string]any{"resourceType": "Coverage", "id": "cov-" + p.ID, "status": "active",
		"beneficiary":  map[string]string{"reference": "Patient/" + p.ID},
		"relationship": concept("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self", ""),
		"period":       map[string]string{"start": "2024-01-01"}, "order": 1}
	switch p.Plan {
	case "ma":
		c["type"] = concept("https://nahdo.org/sopt", "112", "Medicare PPO")
		c["subscriberId"] = "MA-" + p.MBI
		c["payor"] = []any{map[string]any{"reference": "Organization/org-demo-ma", "display": "Demo Medicare Advantage Plan",
			"identifier": map[string]string{"system": "https://valuerx.dev/fhir/payer-id", "value": "valuerx-demo-ma"}}}
		c["class"] = []any{map[string]any{"type": concept("http://terminology.hl7.org/CodeSystem/coverage-class", "plan", ""), "value": "MA-GLOBAL-CAP", "name": "Demo MA Global Capitation"}}
	default:
		c["type"] = concept("https://nahdo.org/sopt", "512", "Commercial Managed Care - PPO")
		c["subscriberId"] = "PPO-" + p.ID
		c["payor"] = []any{map[string]any{"reference": "Organization/org-demo-ppo", "display": "Demo Commercial PPO",
			"identifier": map[string]string{"system": "https://valuerx.dev/fhir/payer-id", "value": "valuerx-demo-ppo"}}}
		c["class"] = []any{map[string]any{"type": concept("http://terminology.hl7.org/CodeSystem/coverage-class", "plan", ""), "value": "PPO-GOLD", "name": "Demo PPO Gold"}}
	}
	return c
}

func concept(system, code, display string) map[string]any {
	cd := map[string]string{"system": system, "code": code}
	if display != "" {
		cd["display"] = display
	}
	c := map[string]any{"coding": []any{cd}}
	if display != "" {
		c["text"] = display
	}
	return c
}

// AdherenceRoster is the payer's attribution roster of the adherence demo (the attribution CSV
// format): the Medicare Advantage patients by MBI to the sample contract ma-capitation, whose
// quality terms price their gaps, and the commercial patient by plan member id to
// commercial-ppo. `valuerx measures -demo` uses it, so the demo's rates and worklist name the
// same contracts and values as the demo's cards.
func AdherenceRoster() []byte {
	b := []byte("member_id,mbi,plan_member_id,contract,start,end\n")
	for _, p := range adherencePatients {
		switch p.Plan {
		case "ma":
			b = fmt.Appendf(b, "%s,%s,,ma-capitation,2024-01-01,\n", p.ID, p.MBI)
		default:
			b = fmt.Appendf(b, "%s,,PPO-%s,commercial-ppo,2024-01-01,\n", p.ID, p.ID)
		}
	}
	return b
}
