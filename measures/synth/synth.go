// Package synth generates a synthetic but plausible year of pharmacy fills for a population, as a
// FHIR R4 Bulk Data export (NDJSON: Patient, Coverage, MedicationDispense, Condition, Encounter),
// for the tests and the demo of valuerx measures. Output is a pure function of the Config: the
// same seed gives the same bytes, and each patient draws from its own random stream (seed,
// patient number), so a patient's history does not depend on the population size.
//
// The model (no real person's data): ages mostly 65-90 with a share under 65; chronic conditions
// (hypertension, hyperlipidaemia, type 2 diabetes) with their usual classes (RAS antagonist,
// statin, non-insulin diabetes medication; some diabetics on insulin, some hypertensives on
// sacubitril/valsartan, some diabetics without a statin); per patient and class an adherence
// level drawn from the configured bands, which sets the refill delays (and some early refills
// and discontinuations); 30- or 90-day supplies; switches within a class; inpatient stays,
// hospice, ESRD, deaths and disenrollments at low rates. The identifiers are synthetic (MBIs have
// the CMS format but are random).
//
// The package writes to the io.Writers it is given and imports only measures of the project.
package synth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"valuerx/measures"
)

// Band is a share of the population whose adherence (the fraction of days they aim to have
// medication) is drawn uniformly from [Min, Max].
type Band struct {
	Share, Min, Max float64
}

// DefaultBands: 70 % of patients aiming at 85-100 % of days, 20 % at 60-85 %, 10 % at 20-60 %
// (the shape, not the figures, of published Part D adherence distributions).
var DefaultBands = []Band{{0.70, 0.85, 1.0}, {0.20, 0.60, 0.85}, {0.10, 0.20, 0.60}}

// ParseBands reads bands written as share:min-max[,share:min-max...], e.g. "0.55:0.85-1,0.45:0.2-0.85".
func ParseBands(s string) ([]Band, error) {
	var out []Band
	total := 0.0
	for _, part := range strings.Split(s, ",") {
		share, rng, ok := strings.Cut(strings.TrimSpace(part), ":")
		lo, hi, ok2 := strings.Cut(rng, "-")
		if !ok || !ok2 {
			return nil, fmt.Errorf("synth: adherence band %q: want share:min-max", part)
		}
		var b Band
		var err error
		if b.Share, err = strconv.ParseFloat(share, 64); err != nil {
			return nil, fmt.Errorf("synth: adherence band %q: %w", part, err)
		}
		if b.Min, err = strconv.ParseFloat(lo, 64); err != nil {
			return nil, fmt.Errorf("synth: adherence band %q: %w", part, err)
		}
		if b.Max, err = strconv.ParseFloat(hi, 64); err != nil {
			return nil, fmt.Errorf("synth: adherence band %q: %w", part, err)
		}
		if b.Share <= 0 || b.Min <= 0 || b.Max > 1 || b.Min > b.Max {
			return nil, fmt.Errorf("synth: adherence band %q: need share > 0 and 0 < min <= max <= 1", part)
		}
		total += b.Share
		out = append(out, b)
	}
	if math.Abs(total-1) > 1e-6 {
		return nil, fmt.Errorf("synth: adherence band shares add up to %g, want 1", total)
	}
	return out, nil
}

// Config says what to generate.
type Config struct {
	Year      int
	Patients  int
	Seed      uint64
	Through   measures.Day // last day with dispenses (NoDay or 0: December 31 of Year)
	Bands     []Band       // nil: DefaultBands
	Contracts []string     // payer contract ids, patients spread evenly; nil: H1001, H2002, S3003
}

// Writers receives each resource type's NDJSON. A nil writer drops that type.
type Writers struct {
	Patient, Coverage, MedicationDispense, Condition, Encounter io.Writer
}

// Truth is what the generator knows about one patient, for tests that check a pipeline against
// the engine run on the same history.
type Truth struct {
	ID, MBI, Contract string
	Patient           measures.Patient
}

// Stats counts what was written.
type Stats struct {
	Patients, Coverages, Dispenses, Conditions, Encounters int
}

type product struct {
	ingredient, code, display string
}

// The products dispensed. Codes: the RxNorm ingredient concept where valuesets/pqa_classes.csv
// has it checked; otherwise none, and the text names the ingredient (as the value set matches).
var (
	statins  = []product{{"atorvastatin", "83367", "atorvastatin 40 MG Oral Tablet"}, {"rosuvastatin", "301542", "rosuvastatin 10 MG Oral Tablet"}, {"simvastatin", "36567", "simvastatin 20 MG Oral Tablet"}, {"pravastatin", "42463", "pravastatin 40 MG Oral Tablet"}}
	rasas    = []product{{"lisinopril", "29046", "lisinopril 10 MG Oral Tablet"}, {"losartan", "", "losartan potassium 50 MG Oral Tablet"}, {"valsartan", "", "valsartan 80 MG Oral Tablet"}, {"lisinopril", "", "hydrochlorothiazide 12.5 MG / lisinopril 20 MG Oral Tablet"}}
	diabetes = []product{{"metformin", "6809", "metformin hydrochloride 500 MG Oral Tablet"}, {"glipizide", "", "glipizide 5 MG Oral Tablet"}, {"sitagliptin", "", "sitagliptin 100 MG Oral Tablet"}, {"empagliflozin", "", "empagliflozin 10 MG Oral Tablet"}}
	insulin  = product{"insulin glargine", "274783", "insulin glargine 100 UNT/ML Injectable Solution"}
	entresto = product{"sacubitril", "", "sacubitril 49 MG / valsartan 51 MG Oral Tablet"}
)

// Generate writes the population. onPatient, when not nil, receives each patient's truth (its
// Fills as the value set expands the dispenses written) after the patient's resources are written.
func Generate(cfg Config, w Writers, onPatient func(Truth)) (Stats, error) {
	if cfg.Year < 1900 || cfg.Year > 9999 {
		return Stats{}, errors.New("synth: year out of range")
	}
	if cfg.Patients < 0 {
		return Stats{}, errors.New("synth: negative population")
	}
	bands := cfg.Bands
	if bands == nil {
		bands = DefaultBands
	}
	contracts := cfg.Contracts
	if len(contracts) == 0 {
		contracts = []string{"H1001", "H2002", "S3003"}
	}
	through := cfg.Through
	if through == measures.NoDay || through == 0 || through > measures.YearEnd(cfg.Year) {
		through = measures.YearEnd(cfg.Year)
	}
	g := &gen{cfg: cfg, bands: bands, contracts: contracts, through: through, vs: measures.DefaultValueSet()}
	outs := []*out{{w: w.Patient}, {w: w.Coverage}, {w: w.MedicationDispense}, {w: w.Condition}, {w: w.Encounter}}
	for _, o := range outs {
		if o.w != nil {
			o.bw = bufio.NewWriterSize(o.w, 1<<16)
		}
	}
	g.pat, g.cov, g.disp, g.cond, g.enc = outs[0], outs[1], outs[2], outs[3], outs[4]
	for i := range cfg.Patients {
		t := g.patient(i)
		if onPatient != nil {
			onPatient(t)
		}
	}
	var err error
	for _, o := range outs {
		if o.bw != nil {
			err = errors.Join(err, o.bw.Flush())
		}
		err = errors.Join(err, o.err)
	}
	if err != nil {
		return g.stats, fmt.Errorf("synth: write: %w", err)
	}
	return g.stats, nil
}

type out struct {
	w   io.Writer
	bw  *bufio.Writer
	err error
}

func (o *out) line(b []byte) bool {
	if o.bw == nil {
		return false
	}
	if _, err := o.bw.Write(b); err != nil && o.err == nil {
		o.err = err
	}
	return true
}

type gen struct {
	cfg                       Config
	bands                     []Band
	contracts                 []string
	through                   measures.Day
	vs                        *measures.ValueSet
	pat, cov, disp, cond, enc *out
	stats                     Stats
	buf                       []byte
}

const mbiLetters = "ACDEFGHJKMNPQRTUVWXY" // the CMS MBI alphabet (no S, L, O, I, B, Z)

func mbi(r *rand.Rand) string {
	var b [11]byte
	letter := func() byte { return mbiLetters[r.IntN(len(mbiLetters))] }
	digit := func() byte { return byte('0' + r.IntN(10)) }
	either := func() byte {
		if r.IntN(2) == 0 {
			return letter()
		}
		return digit()
	}
	b[0] = byte('1' + r.IntN(9))
	b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10] = letter(), either(), digit(), letter(), either(), digit(), letter(), letter(), digit(), digit()
	return string(b[:])
}

func (g *gen) adherence(r *rand.Rand) float64 {
	u := r.Float64()
	for _, b := range g.bands {
		if u < b.Share {
			return b.Min + r.Float64()*(b.Max-b.Min)
		}
		u -= b.Share
	}
	b := g.bands[len(g.bands)-1]
	return b.Min + r.Float64()*(b.Max-b.Min)
}

func (g *gen) patient(i int) Truth {
	r := rand.New(rand.NewPCG(g.cfg.Seed, uint64(i)))
	year := g.cfg.Year
	jan1, dec31 := measures.YearStart(year), measures.YearEnd(year)
	t := Truth{ID: "p" + strconv.Itoa(i+1), MBI: mbi(r), Contract: g.contracts[i%len(g.contracts)]}
	p := &t.Patient
	p.DeathDate, p.EnrolledThrough = measures.NoDay, measures.NoDay

	// Age on Jan 1: 80 % 65-94, 20 % 30-64.
	age := 65 + r.IntN(30)
	if r.IntN(5) == 0 {
		age = 30 + r.IntN(35)
	}
	p.BirthDate = jan1 - measures.Day(age*365+r.IntN(365)+age/4)
	if r.IntN(200) == 0 {
		p.DeathDate = jan1 + measures.Day(60+r.IntN(300))
	}
	if r.IntN(50) == 0 {
		p.EnrolledThrough = jan1 + measures.Day(90+r.IntN(240))
	}
	end := min(dec31, g.through)
	if p.DeathDate != measures.NoDay {
		end = min(end, p.DeathDate)
	}
	if p.EnrolledThrough != measures.NoDay {
		end = min(end, p.EnrolledThrough)
	}

	hypertension := r.Float64() < 0.65
	lipids := r.Float64() < 0.60
	diab := r.Float64() < 0.30
	p.ESRD = r.IntN(100) == 0
	p.Hospice = r.IntN(100) == 0

	g.writePatient(&t)
	g.writeCoverage(&t, jan1, dec31)
	cond := 0
	if hypertension {
		g.writeCondition(&t, &cond, "I10", "Essential (primary) hypertension")
	}
	if lipids {
		g.writeCondition(&t, &cond, "E78.5", "Hyperlipidemia, unspecified")
	}
	if diab {
		g.writeCondition(&t, &cond, "E11.9", "Type 2 diabetes mellitus without complications")
	}
	if p.ESRD {
		g.writeCondition(&t, &cond, "N18.6", "End stage renal disease")
	}
	enc := 0
	if r.IntN(12) == 0 { // an inpatient stay of 2-10 days
		s := jan1 + measures.Day(r.IntN(340))
		stay := measures.Period{Start: s, End: s + measures.Day(1+r.IntN(9))}
		if stay.Start <= end {
			p.Stays = append(p.Stays, stay)
			g.writeEncounter(&t, &enc, "IMP", "inpatient encounter", stay, "")
		}
	}
	if p.Hospice {
		s := jan1 + measures.Day(r.IntN(330))
		g.writeEncounter(&t, &enc, "HH", "home health", measures.Period{Start: s, End: s + 20}, "hospice")
	}

	n := 0
	classes := []struct {
		on       bool
		products []product
	}{
		{lipids || (diab && r.Float64() < 0.7), statins},
		{hypertension, rasas},
		{diab, diabetes},
	}
	for ci, c := range classes {
		if !c.on {
			continue
		}
		prod := c.products[r.IntN(len(c.products))]
		if ci == 1 && r.IntN(30) == 0 {
			prod = entresto
		}
		g.series(r, &t, &n, prod, c.products, g.adherence(r), jan1, end)
		if ci == 2 && r.IntN(7) == 0 {
			g.series(r, &t, &n, insulin, nil, g.adherence(r), jan1, end)
		}
	}
	g.stats.Patients++
	return t
}

// series writes one class's fills: a start (most patients are established on therapy and fill
// in January; some start later), then refills whose delays follow the patient's adherence.
func (g *gen) series(r *rand.Rand, t *Truth, n *int, prod product, alts []product, adh float64, jan1, end measures.Day) {
	day := jan1 + measures.Day(r.IntN(30))
	if r.IntN(10) == 0 {
		day = jan1 + measures.Day(r.IntN(330))
	}
	supply := 30
	if r.IntN(10) < 4 {
		supply = 90
	}
	for day <= end {
		g.dispense(t, n, prod, day, supply)
		if r.Float64() < (1-adh)*0.08 { // stops therapy
			return
		}
		if alts != nil && r.IntN(40) == 0 { // switched to another drug of the class
			prod = alts[r.IntN(len(alts))]
		}
		next := supply
		if r.IntN(8) == 0 {
			next -= 1 + r.IntN(7) // early refill
		} else if adh < 1 {
			// Mean delay supply*(1-a)/a gives a PDC near a; exponential for long tails.
			next += int(r.ExpFloat64() * float64(supply) * (1 - adh) / adh)
		}
		day += measures.Day(next)
	}
}

func (g *gen) dispense(t *Truth, n *int, prod product, day measures.Day, supply int) {
	*n++
	t.Patient.Fills = g.vs.Fills(t.Patient.Fills, day, supply, prod.code, prod.display)
	b := g.buf[:0]
	b = append(b, `{"resourceType":"MedicationDispense","id":"`...)
	b = append(b, t.ID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(*n), 10)
	b = append(b, `","status":"completed","medicationCodeableConcept":{`...)
	if prod.code != "" {
		b = append(b, `"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"`...)
		b = append(b, prod.code...)
		b = append(b, `","display":"`...)
		b = append(b, prod.display...)
		b = append(b, `"}]`...)
	} else {
		b = append(b, `"text":"`...)
		b = append(b, prod.display...)
		b = append(b, '"')
	}
	b = append(b, `},"subject":{"reference":"Patient/`...)
	b = append(b, t.ID...)
	b = append(b, `"},"daysSupply":{"value":`...)
	b = strconv.AppendInt(b, int64(supply), 10)
	b = append(b, `,"unit":"day","system":"http://unitsofmeasure.org","code":"d"},"whenHandedOver":"`...)
	b = day.AppendFormat(b)
	b = append(b, "\"}\n"...)
	g.buf = b
	if g.disp.line(b) {
		g.stats.Dispenses++
	}
}

func (g *gen) writePatient(t *Truth) {
	b := g.buf[:0]
	b = append(b, `{"resourceType":"Patient","id":"`...)
	b = append(b, t.ID...)
	b = append(b, `","identifier":[{"system":"http://hl7.org/fhir/sid/us-mbi","value":"`...)
	b = append(b, t.MBI...)
	b = append(b, `"}],"birthDate":"`...)
	b = append(b, t.Patient.BirthDate.String()...)
	b = append(b, '"')
	if t.Patient.DeathDate != measures.NoDay {
		b = append(b, `,"deceasedDateTime":"`...)
		b = append(b, t.Patient.DeathDate.String()...)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	g.buf = b
	g.pat.line(b)
}

func (g *gen) writeCoverage(t *Truth, jan1, dec31 measures.Day) {
	end := dec31
	if t.Patient.EnrolledThrough != measures.NoDay {
		end = t.Patient.EnrolledThrough
	}
	b := g.buf[:0]
	b = append(b, `{"resourceType":"Coverage","id":"cov-`...)
	b = append(b, t.ID...)
	b = append(b, `","status":"active","subscriberId":"`...)
	b = append(b, t.MBI...)
	b = append(b, `","beneficiary":{"reference":"Patient/`...)
	b = append(b, t.ID...)
	b = append(b, `"},"period":{"start":"`...)
	b = append(b, jan1.String()...)
	b = append(b, `","end":"`...)
	b = append(b, end.String()...)
	b = append(b, `"},"payor":[{"identifier":{"value":"`...)
	b = append(b, t.Contract...)
	b = append(b, `"}}],"class":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"plan"}]},"value":"`...)
	b = append(b, t.Contract...)
	b = append(b, "-001\"}]}\n"...)
	g.buf = b
	if g.cov.line(b) {
		g.stats.Coverages++
	}
}

func (g *gen) writeCondition(t *Truth, n *int, code, display string) {
	*n++
	b := g.buf[:0]
	b = append(b, `{"resourceType":"Condition","id":"cond-`...)
	b = append(b, t.ID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(*n), 10)
	b = append(b, `","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"`...)
	b = append(b, code...)
	b = append(b, `","display":"`...)
	b = append(b, display...)
	b = append(b, `"}]},"subject":{"reference":"Patient/`...)
	b = append(b, t.ID...)
	b = append(b, "\"}}\n"...)
	g.buf = b
	if g.cond.line(b) {
		g.stats.Conditions++
	}
}

func (g *gen) writeEncounter(t *Truth, n *int, class, classDisplay string, p measures.Period, typeText string) {
	*n++
	b := g.buf[:0]
	b = append(b, `{"resourceType":"Encounter","id":"enc-`...)
	b = append(b, t.ID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(*n), 10)
	b = append(b, `","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"`...)
	b = append(b, class...)
	b = append(b, `","display":"`...)
	b = append(b, classDisplay...)
	b = append(b, '"', '}')
	if typeText != "" {
		b = append(b, `,"type":[{"coding":[{"system":"http://snomed.info/sct","code":"385763009","display":"Hospice care"}],"text":"`...)
		b = append(b, typeText...)
		b = append(b, `"}]`...)
	}
	b = append(b, `,"subject":{"reference":"Patient/`...)
	b = append(b, t.ID...)
	b = append(b, `"},"period":{"start":"`...)
	b = append(b, p.Start.String()...)
	b = append(b, `","end":"`...)
	b = append(b, p.End.String()...)
	b = append(b, "\"}}\n"...)
	g.buf = b
	if g.enc.line(b) {
		g.stats.Encounters++
	}
}
