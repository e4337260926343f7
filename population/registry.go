package population

import (
	jsonv2 "github.com/go-json-experiment/json"
	"strings"
	"sync"

	"valuerx/fhir"
	"valuerx/measures"
)

type ref struct {
	Reference string `json:"reference"`
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type concept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// Record flags.
const (
	flagPatient  = 1 << iota // a Patient resource was read
	flagCoverage             // a Coverage was read
	flagHospice
	flagESRD
	flagSUPDExcl
)

// record is what pass 1 keeps of one patient.
type record struct {
	id, mbi, memberID, contract   string
	birth, death, enrolledThrough measures.Day
	coverageEnd                   measures.Day // end of the Coverage the contract came from
	flags                         uint8
}

// registry maps patient ids to records. Pass 1 writes it under mu; pass 2 and the computation only
// read it, without the lock.
type registry struct {
	mu          sync.Mutex
	index       map[string]int32
	recs        []record
	opt         Options
	jan1, dec31 measures.Day
	contracts   map[string]string           // interned contract ids
	stays       map[int32][]measures.Period // by record; End NoDay: still in hospital (few patients have stays)
}

func newRegistry(opt Options) *registry {
	return &registry{index: map[string]int32{}, opt: opt, jan1: measures.YearStart(opt.Year), dec31: measures.YearEnd(opt.Year), contracts: map[string]string{}, stays: map[int32][]measures.Period{}}
}

func (g *registry) len() int { return len(g.recs) }

// inShard: FNV-1a of the id, modulo the shard count.
func (g *registry) inShard(id string) bool {
	if g.opt.Shards <= 1 {
		return true
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return int(h%uint64(g.opt.Shards)) == g.opt.Shard
}

// get returns the record of id, creating it; nil for an empty id or another shard. Call with mu held.
func (g *registry) get(id string) *record {
	_, r := g.getIndex(id)
	return r
}

func (g *registry) getIndex(id string) (int32, *record) {
	if id == "" || !g.inShard(id) {
		return -1, nil
	}
	if i, ok := g.index[id]; ok {
		return i, &g.recs[i]
	}
	id = strings.Clone(id) // do not keep the line buffer alive
	g.index[id] = int32(len(g.recs))
	g.recs = append(g.recs, record{id: id, birth: measures.NoDay, death: measures.NoDay, enrolledThrough: measures.NoDay, coverageEnd: measures.NoDay})
	return int32(len(g.recs) - 1), &g.recs[len(g.recs)-1]
}

func (g *registry) lookup(id string) (int32, bool) {
	i, ok := g.index[id]
	return i, ok
}

func day(s string) measures.Day {
	if s == "" {
		return measures.NoDay
	}
	d, err := measures.ParseDay(s)
	if err != nil {
		return measures.NoDay
	}
	return d
}

type patientJSON struct {
	ResourceType     string       `json:"resourceType"`
	ID               string       `json:"id"`
	Identifier       []identifier `json:"identifier"`
	BirthDate        string       `json:"birthDate"`
	DeceasedDateTime string       `json:"deceasedDateTime"`
}

func (g *registry) patient(line []byte) bool {
	var p patientJSON
	if jsonv2.Unmarshal(line, &p) != nil || p.ResourceType != "Patient" || p.ID == "" {
		return false
	}
	mbi := ""
	for _, id := range p.Identifier {
		if id.System == fhir.SystemMBI {
			mbi = strings.Clone(id.Value)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.get(p.ID)
	if r == nil {
		return true
	}
	r.flags |= flagPatient
	r.birth, r.death = day(p.BirthDate), day(p.DeceasedDateTime)
	if mbi != "" {
		r.mbi = mbi
	}
	return true
}

type coverageJSON struct {
	ResourceType string       `json:"resourceType"`
	Status       string       `json:"status"`
	SubscriberID string       `json:"subscriberId"`
	Beneficiary  ref          `json:"beneficiary"`
	Identifier   []identifier `json:"identifier"`
	Period       period       `json:"period"`
	Payor        []struct {
		Reference  string     `json:"reference"`
		Identifier identifier `json:"identifier"`
		Display    string     `json:"display"`
	} `json:"payor"`
	Class []struct {
		Type  concept `json:"type"`
		Value string  `json:"value"`
	} `json:"class"`
}

// coverage keeps the contract (payor identifier, else payor display, else the plan class value),
// the member id (subscriberId) and the end of enrollment when it falls in the year. With several
// Coverages, the one that ends last wins.
func (g *registry) coverage(line []byte) bool {
	var c coverageView
	if !decodeCoverage(line, &c) || string(c.resourceType) != "Coverage" {
		return false
	}
	if st := string(c.status); st == "entered-in-error" || st == "draft" {
		return true
	}
	contract := c.payorValue
	if len(contract) == 0 {
		contract = c.payorDisplay
	}
	if len(contract) == 0 {
		contract = c.planValue
	}
	start, end := dayBytes(c.periodStart), dayBytes(c.periodEnd)
	if start != measures.NoDay && start > g.dec31 || end != measures.NoDay && end < g.jan1 {
		return true // not this year's coverage
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.get(string(patientIDBytes(c.beneficiary)))
	if r == nil {
		return true
	}
	endKey := end
	if endKey == measures.NoDay {
		endKey = 1 << 30 // open-ended: latest
	}
	if r.flags&flagCoverage != 0 && endKey < r.coverageEnd {
		return true
	}
	r.flags |= flagCoverage
	r.coverageEnd = endKey
	r.contract = ""
	if len(contract) > 0 {
		if s, ok := g.contracts[string(contract)]; ok {
			r.contract = s
		} else {
			r.contract = string(contract)
			g.contracts[r.contract] = r.contract
		}
	}
	switch {
	case string(c.subscriberID) == r.mbi: // Medicare: the subscriber id is the MBI; keep one copy
		r.memberID = r.mbi
	default:
		r.memberID = string(c.subscriberID)
	}
	r.enrolledThrough = measures.NoDay
	if end != measures.NoDay && end < g.dec31 {
		r.enrolledThrough = end
	}
	return true
}

type conditionJSON struct {
	ResourceType       string  `json:"resourceType"`
	Subject            ref     `json:"subject"`
	Code               concept `json:"code"`
	VerificationStatus concept `json:"verificationStatus"`
	OnsetDateTime      string  `json:"onsetDateTime"`
	OnsetPeriod        period  `json:"onsetPeriod"`
	RecordedDate       string  `json:"recordedDate"`
	AbatementDateTime  string  `json:"abatementDateTime"`
}

// ESRD and the SUPD clinical exclusions as ICD-10-CM code prefixes, from the PQA exclusion value
// sets as health plans publish them (Premera "Statin Use in Persons with Diabetes" provider sheet,
// 2022: ESRD I12.0, I13.11, I13.2, N18.5, N18.6, N19, Z91.15, Z99.2; rhabdomyolysis/myopathy G72.0,
// G72.89, G72.9, M60.8x, M60.9, M62.82; cirrhosis K70.3x, K71.7, K74.3-K74.69; PCOS E28.2;
// pre-diabetes R73.03, R73.09; pregnancy, lactation, fertility: O00-O9A, Z33.1, Z34, Z39.1, N97),
// and palliative care Z51.5 (Martin's Point "Medicare Statin Use in Persons with Diabetes (SUPD)
// Quality Measure", 2025-05-08: exclusions "Hospice or Palliative Care Z51.5"; it also lists N19
// among the ESRD codes, as Premera does, so N18.5 and N19 stay although clinically CKD stage 5 and
// unspecified kidney failure are not ESRD: the measure's value set, not the clinical definition,
// decides who is counted).
var (
	esrdCodes = []string{"I12.0", "I13.11", "I13.2", "N18.5", "N18.6", "N19", "Z91.15", "Z99.2"}
	supdExcl  = []string{"G72.0", "G72.89", "G72.9", "M60.8", "M60.9", "M62.82", "K70.3", "K71.7", "K74.3", "K74.4", "K74.5", "K74.6",
		"E28.2", "R73.03", "R73.09", "O", "Z33.1", "Z34", "Z39.1", "N97", "Z51.5"}
)

// hasPrefixFold is hasPrefix of the upper-cased code, without making a string of it (prefixes are
// upper case ASCII).
func hasPrefixFold(code []byte, prefixes []string) bool {
	for _, p := range prefixes {
		if len(code) < len(p) {
			continue
		}
		match := true
		for i := 0; i < len(p) && match; i++ {
			c := code[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			match = c == p[i]
		}
		if match {
			return true
		}
	}
	return false
}

func (g *registry) condition(line []byte) bool {
	var c conditionView
	if !decodeCondition(line, &c) || string(c.resourceType) != "Condition" {
		return false
	}
	refuted := false
	c.verification.each(func(cd *codingView) {
		refuted = refuted || string(cd.code) == "entered-in-error" || string(cd.code) == "refuted"
	})
	if refuted {
		return true
	}
	start := dayBytes(c.onsetDateTime)
	if start == measures.NoDay {
		start = dayBytes(c.onsetStart)
	}
	if start == measures.NoDay {
		start = dayBytes(c.recordedDate)
	}
	end := dayBytes(c.abatementDateTime)
	if start != measures.NoDay && start > g.dec31 || end != measures.NoDay && end < g.jan1 {
		return true // not in the measurement year
	}
	var flags uint8
	c.code.each(func(cd *codingView) {
		if sys := string(cd.system); sys != "http://hl7.org/fhir/sid/icd-10-cm" && sys != "http://hl7.org/fhir/sid/icd-10" {
			return
		}
		if hasPrefixFold(cd.code, esrdCodes) {
			flags |= flagESRD
		}
		if hasPrefixFold(cd.code, supdExcl) {
			flags |= flagSUPDExcl
		}
	})
	if flags == 0 {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.get(string(patientIDBytes(c.subject))); r != nil {
		r.flags |= flags
	}
	return true
}

func dayBytes(b []byte) measures.Day {
	if len(b) == 0 {
		return measures.NoDay
	}
	d, err := measures.ParseDayBytes(b)
	if err != nil {
		return measures.NoDay
	}
	return d
}

type encounterJSON struct {
	ResourceType    string    `json:"resourceType"`
	Status          string    `json:"status"`
	Class           coding    `json:"class"`
	Type            []concept `json:"type"`
	Subject         ref       `json:"subject"`
	Period          period    `json:"period"`
	Hospitalization struct {
		DischargeDisposition concept `json:"dischargeDisposition"`
	} `json:"hospitalization"`
}

// SNOMED CT 385763009 |Hospice care (regime/therapy)|.
const snomedHospice = "385763009"

// encounter reads inpatient and skilled-nursing stays (class IMP, ACUTE or NONAC of the v3
// ActCode system: inpatient, inpatient acute, inpatient non-acute) and hospice (an Encounter typed
// hospice care, by SNOMED code or text, or a discharge to hospice: disposition code "hosp").
func (g *registry) encounter(line []byte) bool {
	var e encounterJSON
	if jsonv2.Unmarshal(line, &e) != nil || e.ResourceType != "Encounter" {
		return false
	}
	if e.Status == "cancelled" || e.Status == "entered-in-error" || e.Status == "planned" {
		return true
	}
	start, end := day(e.Period.Start), day(e.Period.End)
	if start == measures.NoDay || start > g.dec31 || end != measures.NoDay && end < g.jan1 {
		return true
	}
	hospice := false
	for _, t := range e.Type {
		if strings.Contains(strings.ToLower(t.Text), "hospice") {
			hospice = true
		}
		for _, cd := range t.Coding {
			if cd.Code == snomedHospice {
				hospice = true
			}
		}
	}
	discharged := false
	for _, cd := range e.Hospitalization.DischargeDisposition.Coding {
		if cd.Code == "hosp" {
			discharged = true
		}
	}
	stay := e.Class.Code == "IMP" || e.Class.Code == "ACUTE" || e.Class.Code == "NONAC"
	if !hospice && !stay && !discharged {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	i, r := g.getIndex(patientID(e.Subject.Reference))
	if r == nil {
		return true
	}
	if hospice || discharged {
		r.flags |= flagHospice
	}
	if stay && !hospice {
		g.stays[i] = append(g.stays[i], measures.Period{Start: start, End: end})
	}
	return true
}
