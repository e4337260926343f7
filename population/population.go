package population

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"valuerx/fhir"
	"valuerx/measures"
)

// Input is one NDJSON file of the export. Open is called once per pass that reads the file (the
// dispense files are opened twice: once to see their type, once to read them).
type Input struct {
	Name string // shown in errors: a file name, never content
	Open func() (io.ReadCloser, error)
}

// Attribution says which contract a beneficiary is attributed to on a day (a payer's roster).
type Attribution func(mbi, memberID string, at measures.Day) (contract string, ok bool)

// Options of a run.
type Options struct {
	Year int
	AsOf measures.Day // 0 or NoDay: the day after the latest dispense, at most January 1 of Year+1
	// Today is the run's date (0: not known). A dispense dated after it has not happened: it is
	// counted (Counts.Future) and dropped, and cannot move the default as-of date, as one
	// mistyped date once moved a whole run's to December and put adherent patients below 80 %.
	Today     measures.Day
	Workers   int // <= 0: GOMAXPROCS
	ValueSet  *measures.ValueSet
	Attribute Attribution // nil: the contract named by the patient's Coverage
	// AttributionVersion names the roster behind Attribute (reported with the rates).
	AttributionVersion string
	// Terms are the contracts' quality terms (targets, bonuses, Star weights); nil: none.
	Terms *Terms
	// GapValue, when set, prices a worklist row instead of Terms' bonuses: the expected value to
	// the organisation of closing this patient's gap on the measure under the contract, as the
	// adherence and SUPD cards show it (cmd passes scoring's Contract.GapValue, so the worklist
	// and the cards agree to the cent). ok false: the contract has no terms for the measure.
	GapValue func(contract string, m measures.Measure, asOf measures.Day) (usd float64, ok bool)
	// Weights are the measures' weights in the Star Ratings, for the value of closing a gap; nil:
	// StarWeights2026.
	Weights *[measures.NumMeasures]float64
	// Shard and Shards keep only the patients whose id hashes to Shard (0 <= Shard < Shards);
	// Shards <= 1 keeps everyone.
	Shard, Shards int
	MaxLine       int // NDJSON line limit; 0: fhir.DefaultNDJSONMaxLine
}

// StarWeights2026: the three adherence measures are intermediate-outcome measures, weight 3 in the
// 2026 Star Ratings; SUPD is a process measure, weight 1 (CMS Part C & D Star Ratings Technical
// Notes, measure weights). CMS has announced single weights and risk adjustment for the adherence
// measures in later years: pass Options.Weights for those.
var StarWeights2026 = [measures.NumMeasures]float64{3, 3, 3, 1}

// Unattributed is the contract of a patient no roster or Coverage attributes.
const Unattributed = "unattributed"

// Tally is one contract's figures for one measure at the as-of date.
type Tally struct {
	Contract    string
	Measure     measures.Measure
	Weight      float64
	Denominator int // in the denominator at the as-of date
	Numerator   int // PDC to date >= 80 % (SUPD: a statin fill)
	Excluded    int // met the denominator criteria, removed by an exclusion
	// PDC measures: of the denominator below 80 %, those who can still reach it by year end and
	// those who cannot.
	BelowRedeemable, BelowLost int
	// From the contract's terms, when it has some for this measure: the target rate and how many
	// more patients must meet the measure to reach it.
	Target        float64
	HasTarget     bool
	ShortOfTarget int
}

// Rate is Numerator/Denominator, 0 without a denominator.
func (t Tally) Rate() float64 {
	if t.Denominator == 0 {
		return 0
	}
	return float64(t.Numerator) / float64(t.Denominator)
}

// WorkItem is a patient below 80 % on a PDC measure who can still reach it, or a SUPD gap
// (a patient with diabetes and no statin fill yet).
type WorkItem struct {
	Contract, PatientID, MBI string
	Measure                  measures.Measure
	PDC                      float64 // to date (SUPD: 0)
	Days, Covered            int
	GapDaysLeft              int          // days without medication still affordable this year
	OnHand                   int          // days of supply left at the as-of date
	RefillDue                measures.Day // measures.ToDate.RefillDue: as-of date + on-hand days, or past December 31 when the supply runs on
	Value                    float64      // Star weight x rate points one more adherent patient adds (100 / denominator)
	ValueUSD                 float64      // Options.GapValue, else the contract's bonus per gap closed + per adherent patient (0 without terms)
}

// Counts says what the run read and dropped. Dropped lines are counted, never shown: they hold PHI.
type Counts struct {
	Files                                           int
	Patients, Coverages, Conditions, Encounters     int
	Dispenses                                       int // MedicationDispense resources and pharmacy claims read
	Fills                                           int // measured-ingredient fills of the year kept
	NotMeasured, OtherYear, NotCompleted, BadSupply int // dispenses dropped, by reason (BadSupply: negative or over 10 000 days)
	Future                                          int // dispenses dated after Options.Today, dropped
	// NoSupply counts dispenses kept without a days' supply: fills for SUPD and the exclusions,
	// covering no day of a PDC measure (measures.Fill).
	NoSupply       int
	UnknownPatient int // dispenses for a patient with no record (or another shard)
	BadLines       int // lines that are not a resource of the file's type
	SkippedFiles   int // files of a resource type the measures do not read
}

// Report is the result of a run.
type Report struct {
	Year     int
	AsOf     measures.Day
	Patients int
	Tallies  []Tally    // by contract, then measure
	Worklist []WorkItem // by value, highest first; then fewest gap days left
	Counts   Counts
	// Attribution: the roster version the contracts come from; "" when from Coverage.
	Attribution string
}

// Run computes the measures over the export.
func Run(ctx context.Context, inputs []Input, opt Options) (*Report, error) {
	if opt.Year < 1900 || opt.Year > 9998 {
		return nil, errors.New("population: year out of range")
	}
	if opt.Shards > 1 && (opt.Shard < 0 || opt.Shard >= opt.Shards) {
		return nil, fmt.Errorf("population: shard %d of %d", opt.Shard, opt.Shards)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.ValueSet == nil {
		opt.ValueSet = measures.DefaultValueSet()
	}
	if opt.ValueSet.Len() > 255 {
		return nil, errors.New("population: value set too large for the fill encoding (255 ingredients)")
	}
	if opt.Weights == nil {
		w := StarWeights2026
		opt.Weights = &w
	}
	r := &run{opt: opt, reg: newRegistry(opt), jan1: measures.YearStart(opt.Year), dec31: measures.YearEnd(opt.Year)}
	var dispenseFiles []Input
	for _, in := range inputs {
		typ, err := r.pass1(ctx, in)
		if err != nil {
			return nil, err
		}
		if typ == "MedicationDispense" || typ == "ExplanationOfBenefit" {
			dispenseFiles = append(dispenseFiles, in)
		}
	}
	for _, in := range dispenseFiles {
		if err := r.pass2(ctx, in); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	offsets := r.fills.group(r.reg.len())
	return r.compute(ctx, &r.fills, offsets)
}

type run struct {
	opt         Options
	reg         *registry
	jan1, dec31 measures.Day
	counts      Counts
	fills       fillStore
	maxDay      measures.Day
}

// firstType opens an input and returns the resourceType of its first resource ("" if empty).
func firstType(in Input, maxLine int) (string, error) {
	rc, err := in.Open()
	if err != nil {
		return "", fmt.Errorf("population: %s: %w", in.Name, err)
	}
	defer rc.Close()
	nr := fhir.NewNDJSONReader(rc, maxLine)
	for {
		line, err := nr.Next()
		if err == io.EOF {
			return "", nil
		}
		var ne *fhir.NDJSONError
		if errors.As(err, &ne) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("population: %s: %w", in.Name, err)
		}
		var probe struct {
			ResourceType string `json:"resourceType"`
		}
		if jsonv2.Unmarshal(line, &probe) == nil && probe.ResourceType != "" {
			return probe.ResourceType, nil
		}
	}
}

// batch is a block of lines handed to a parse worker: the bytes and where each line ends.
type batch struct {
	data []byte
	ends []int
}

// stream reads the NDJSON of rc and calls handle for every line on one of opt.Workers
// goroutines (worker numbers 0..Workers-1). It returns the count of framing errors.
func stream(ctx context.Context, rc io.Reader, workers, maxLine int, handle func(worker int, line []byte)) (bad int, err error) {
	const batchBytes, batchLines = 1 << 20, 4096
	work := make(chan *batch, workers*2)
	free := make(chan *batch, workers*2+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				start := 0
				for _, end := range b.ends {
					handle(w, b.data[start:end])
					start = end
				}
				b.data, b.ends = b.data[:0], b.ends[:0]
				select {
				case free <- b:
				default:
				}
			}
		}()
	}
	nr := fhir.NewNDJSONReader(rc, maxLine)
	cur := &batch{}
	send := func() bool {
		select {
		case work <- cur:
		case <-ctx.Done():
			return false
		}
		select {
		case cur = <-free:
		default:
			cur = &batch{}
		}
		return true
	}
	for err == nil {
		var line []byte
		line, err = nr.Next()
		var ne *fhir.NDJSONError
		switch {
		case err == io.EOF:
			err = nil
			if len(cur.ends) > 0 {
				send()
			}
			close(work)
			wg.Wait()
			return bad, ctx.Err()
		case errors.As(err, &ne):
			bad++
			err = nil
			continue
		case err != nil:
			continue
		}
		cur.data = append(cur.data, line...)
		cur.ends = append(cur.ends, len(cur.data))
		if len(cur.data) >= batchBytes || len(cur.ends) >= batchLines {
			if !send() {
				err = ctx.Err()
			}
		}
	}
	close(work)
	wg.Wait()
	return bad, err
}

// pass1 reads a Patient, Coverage, Condition or Encounter file into the registry and returns the
// file's resource type. MedicationDispense files are left for pass 2.
func (r *run) pass1(ctx context.Context, in Input) (string, error) {
	typ, err := firstType(in, r.opt.MaxLine)
	if err != nil {
		return "", err
	}
	var handle func(line []byte) bool
	switch typ {
	case "":
		return "", nil
	case "MedicationDispense", "ExplanationOfBenefit":
		r.counts.Files++
		return typ, nil
	case "Patient":
		handle = r.reg.patient
	case "Coverage":
		handle = r.reg.coverage
	case "Condition":
		handle = r.reg.condition
	case "Encounter":
		handle = r.reg.encounter
	default:
		r.counts.SkippedFiles++
		return typ, nil
	}
	r.counts.Files++
	rc, err := in.Open()
	if err != nil {
		return "", fmt.Errorf("population: %s: %w", in.Name, err)
	}
	defer rc.Close()
	var ok, badLines atomic.Int64
	bad, err := stream(ctx, rc, r.opt.Workers, r.opt.MaxLine, func(_ int, line []byte) {
		if handle(line) {
			ok.Add(1)
		} else {
			badLines.Add(1)
		}
	})
	if err != nil {
		return "", fmt.Errorf("population: %s: %w", in.Name, err)
	}
	r.counts.BadLines += bad + int(badLines.Load())
	n := int(ok.Load())
	switch typ {
	case "Patient":
		r.counts.Patients += n
	case "Coverage":
		r.counts.Coverages += n
	case "Condition":
		r.counts.Conditions += n
	case "Encounter":
		r.counts.Encounters += n
	}
	return typ, nil
}

// dispenseJSON is the part of a MedicationDispense the measures read.
type dispenseJSON struct {
	ResourceType              string  `json:"resourceType"`
	Status                    string  `json:"status"`
	Subject                   ref     `json:"subject"`
	MedicationCodeableConcept concept `json:"medicationCodeableConcept"`
	DaysSupply                struct {
		Value *float64 `json:"value"`
	} `json:"daysSupply"`
	WhenHandedOver string `json:"whenHandedOver"`
	WhenPrepared   string `json:"whenPrepared"`
}

// A fill word: record index (32 bits) | day of the year (9) | days supply (15) | ingredient (8).
func packFill(rec int32, doy, supply, ing int) uint64 {
	return uint64(uint32(rec))<<32 | uint64(doy)<<23 | uint64(min(supply, 1<<15-1))<<8 | uint64(ing)
}

func unpackFill(w uint64) (rec int32, doy, supply, ing int) {
	return int32(w >> 32), int(w>>23) & 511, int(w>>8) & (1<<15 - 1), int(w & 255)
}

type worker2 struct {
	block  []uint64           // current block of the fill store
	cache  map[string][]uint8 // classify's cache, by concept key
	key    []byte
	match  []int
	view   dispenseView
	counts Counts
	maxDay measures.Day
}

// pass2 reads a MedicationDispense file into fill words.
func (r *run) pass2(ctx context.Context, in Input) error {
	rc, err := in.Open()
	if err != nil {
		return fmt.Errorf("population: %s: %w", in.Name, err)
	}
	defer rc.Close()
	ws := make([]worker2, r.opt.Workers)
	for i := range ws {
		ws[i].cache = map[string][]uint8{}
		ws[i].maxDay = measures.NoDay
	}
	handle := r.dispense
	if typ, _ := firstType(in, r.opt.MaxLine); typ == "ExplanationOfBenefit" {
		handle = r.claim
	}
	bad, err := stream(ctx, rc, r.opt.Workers, r.opt.MaxLine, func(w int, line []byte) { handle(&ws[w], line) })
	if err != nil {
		return fmt.Errorf("population: %s: %w", in.Name, err)
	}
	r.counts.BadLines += bad
	for i := range ws {
		w := &ws[i]
		if w.block != nil {
			seal(w.block)
		}
		c := &r.counts
		c.Dispenses += w.counts.Dispenses
		c.Fills += w.counts.Fills
		c.NotMeasured += w.counts.NotMeasured
		c.OtherYear += w.counts.OtherYear
		c.NotCompleted += w.counts.NotCompleted
		c.NoSupply += w.counts.NoSupply
		c.BadSupply += w.counts.BadSupply
		c.Future += w.counts.Future
		c.UnknownPatient += w.counts.UnknownPatient
		c.BadLines += w.counts.BadLines
		if w.maxDay != measures.NoDay && (r.maxDay == 0 || w.maxDay > r.maxDay) {
			r.maxDay = w.maxDay
		}
	}
	return nil
}

func (r *run) dispense(w *worker2, line []byte) {
	d := &w.view
	if !decodeDispense(line, d) || string(d.resourceType) != "MedicationDispense" {
		w.counts.BadLines++
		return
	}
	w.counts.Dispenses++
	if string(d.status) != "completed" {
		w.counts.NotCompleted++
		return
	}
	date := d.whenHandedOver
	if len(date) == 0 {
		date = d.whenPrepared
	}
	var supply *float64
	if d.hasSupply {
		supply = &d.supply
	}
	r.addFill(w, date, supply, &d.med, d.subject)
}

// claimJSON is the part of a CARIN Blue Button pharmacy ExplanationOfBenefit
// (http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-Pharmacy) the
// measures read: the patient, the date of service (item.servicedDate, else billablePeriod.start),
// the product (item.productOrService) and the days supply (supportingInfo of category dayssupply).
type claimJSON struct {
	ResourceType   string  `json:"resourceType"`
	Status         string  `json:"status"`
	Type           concept `json:"type"`
	Patient        ref     `json:"patient"`
	BillablePeriod period  `json:"billablePeriod"`
	SupportingInfo []struct {
		Category      concept `json:"category"`
		ValueQuantity struct {
			Value *float64 `json:"value"`
		} `json:"valueQuantity"`
	} `json:"supportingInfo"`
	Item []struct {
		ProductOrService concept `json:"productOrService"`
		ServicedDate     string  `json:"servicedDate"`
	} `json:"item"`
}

// claim reads a pharmacy claim as a fill. A product coded only by NDC, with no display or text,
// cannot be classified (the value set is RxNorm ingredients; NDC lists are licensed) and is
// counted as not measured.
func (r *run) claim(w *worker2, line []byte) {
	var c claimJSON
	if jsonv2.Unmarshal(line, &c) != nil || c.ResourceType != "ExplanationOfBenefit" {
		w.counts.BadLines++
		return
	}
	pharmacy := false
	for _, cd := range c.Type.Coding {
		pharmacy = pharmacy || cd.Code == "pharmacy"
	}
	if !pharmacy {
		return // a medical claim: not a fill
	}
	w.counts.Dispenses++
	if c.Status != "active" || len(c.Item) == 0 {
		w.counts.NotCompleted++
		return
	}
	var supply *float64
	for _, si := range c.SupportingInfo {
		for _, cd := range si.Category.Coding {
			if cd.Code == "dayssupply" {
				supply = si.ValueQuantity.Value
			}
		}
	}
	date := c.Item[0].ServicedDate
	if date == "" {
		date = c.BillablePeriod.Start
	}
	product := c.Item[0].ProductOrService
	for i := range product.Coding { // NDC codes are not RxNorm codes: match their display only
		if product.Coding[i].System != fhir.SystemRxNorm {
			product.Coding[i].System, product.Coding[i].Code = "ndc-or-other", ""
		}
	}
	med := viewOf(&product)
	r.addFill(w, []byte(date), supply, &med, []byte(c.Patient.Reference))
}

// addFill keeps one dispense or claim as fill words, or counts why not.
func (r *run) addFill(w *worker2, date []byte, daysSupply *float64, med *conceptView, patientRef []byte) {
	day, err := measures.ParseDayBytes(date)
	if err != nil {
		w.counts.BadLines++
		return
	}
	if day < r.jan1 || day > r.dec31 {
		w.counts.OtherYear++
		return
	}
	if t := r.opt.Today; t != 0 && t != measures.NoDay && day > t {
		w.counts.Future++
		return
	}
	supply := 0 // none recorded: a fill for SUPD and the exclusions, no coverage (measures.Fill)
	switch {
	case daysSupply != nil && (*daysSupply < 0 || *daysSupply > 10000):
		w.counts.BadSupply++
		return
	case daysSupply == nil || *daysSupply < 0.5:
		w.counts.NoSupply++
	default:
		supply = int(*daysSupply + 0.5)
	}
	ings := r.classify(w, med)
	if len(ings) == 0 {
		w.counts.NotMeasured++
		return
	}
	rec, ok := r.reg.lookup(string(patientIDBytes(patientRef)))
	if !ok {
		w.counts.UnknownPatient++
		return
	}
	if w.maxDay == measures.NoDay || day > w.maxDay {
		w.maxDay = day
	}
	for _, ing := range ings {
		if len(w.block) == cap(w.block) {
			w.block = r.fills.block()
		}
		w.block = append(w.block, packFill(rec, int(day-r.jan1), supply, int(ing)))
		w.counts.Fills++
	}
}

// classify maps a medication concept to value-set ingredients, cached per distinct concept
// (a population has a few thousand distinct products, not millions). The cache key is the
// concept's RxNorm codes, displays and text, each prefixed by its length (so no two concepts share
// a key); the lookup of a []byte key makes no string.
func (r *run) classify(w *worker2, c *conceptView) []uint8 {
	k := w.key[:0]
	field := func(b []byte) {
		k = binary.AppendUvarint(k, uint64(len(b)))
		k = append(k, b...)
	}
	k = binary.AppendUvarint(k, uint64(c.n+len(c.extra)))
	c.each(func(cd *codingView) {
		switch {
		case isRxNormOrNone(cd.system):
			field(cd.code)
		case string(cd.system) == measures.SystemNDC:
			k = append(k, 'n') // an NDC is not an RxCUI of the same digits
			field(cd.code)
		default:
			field(nil)
		}
		field(cd.display)
	})
	field(c.text)
	w.key = k
	if ings, ok := w.cache[string(k)]; ok {
		return ings
	}
	// The whole concept at once: a weight-loss brand in one coding or the text removes the
	// incretin another coding names (measures.ValueSet.Classify).
	var codings []measures.Coding
	c.each(func(cd *codingView) {
		sys := string(cd.system)
		if isRxNormOrNone(cd.system) {
			sys = measures.SystemRxNorm
		}
		codings = append(codings, measures.Coding{System: sys, Code: string(cd.code), Display: string(cd.display)})
	})
	w.match, _ = r.opt.ValueSet.Classify(w.match[:0], codings, string(c.text))
	var ings []uint8
	for _, i := range w.match {
		if !slices.Contains(ings, uint8(i)) {
			ings = append(ings, uint8(i))
		}
	}
	if len(w.cache) < 1<<16 {
		w.cache[string(k)] = ings
	}
	return ings
}

func isRxNormOrNone(system []byte) bool {
	return len(system) == 0 || string(system) == fhir.SystemRxNorm
}

// patientIDBytes is patientID of a reference held as bytes.
func patientIDBytes(ref []byte) []byte {
	i := bytes.LastIndex(ref, []byte("Patient/"))
	if i < 0 {
		return nil
	}
	id := ref[i+len("Patient/"):]
	if j := bytes.IndexByte(id, '/'); j >= 0 {
		id = id[:j]
	}
	return id
}

// patientID is the id in a reference to a Patient ("Patient/123", "https://x/fhir/Patient/123",
// "Patient/123/_history/2"); "" otherwise.
func patientID(ref string) string {
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 {
		return ""
	}
	id := ref[i+len("Patient/"):]
	if j := strings.IndexByte(id, '/'); j >= 0 {
		id = id[:j]
	}
	return id
}
