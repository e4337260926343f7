package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"valuerx/attribution"
	"valuerx/demo"
	"valuerx/measures"
	"valuerx/measures/synth"
	"valuerx/population"
	"valuerx/scoring"
)

// runMeasures computes the Part D adherence measures and SUPD over a FHIR Bulk Data export and
// writes the rates per contract and measure and the worklist (population package documentation).
func runMeasures(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("measures", flag.ContinueOnError)
	fl.SetOutput(stderr)
	from := fl.String("from", "", "directory of the Bulk Data export: *.ndjson or *.ndjson.gz, one resource type per file")
	demoData := fl.Bool("demo", false, "measure the demo patients `make run` serves (fills dated back from today) instead of -from")
	year := fl.Int("year", time.Now().Year(), "measurement year")
	out := fl.String("out", "", "directory for rates.csv, rates.json and worklist.csv (created)")
	contractsFile := fl.String("contracts", "", "scoring configuration (contracts YAML, as serve's contracts:) whose quality terms price the worklist exactly as the adherence cards do; contracts are matched by id to the roster's or Coverage's contract; \"embedded\": the sample contracts")
	termsFile := fl.String("terms", "", "contract quality terms YAML (population.Terms: targets, bonuses per adherent patient and per gap closed, Star weights)")
	rosterFile := fl.String("roster", "", "attribution roster: CSV (attribution package: member_id,mbi,plan_member_id,contract,start,end) or a Da Vinci ATR Member Attribution List (.json Bundle or .ndjson of Group, Patient, Coverage); default: the contract of each patient's Coverage")
	rosterContract := fl.String("roster-contract", "", "ATR list: the contract its members are attributed to (default: the Group's contract identifier, else its name)")
	asOf := fl.String("asof", "", "as-of date YYYY-MM-DD (default: the day after the latest dispense, at most January 1 of year+1)")
	workers := fl.Int("workers", 0, "parse and compute workers (default GOMAXPROCS)")
	shard := fl.String("shard", "", "i/n: compute only the patients of shard i of n (ids hashed); shards' counts add up")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	memLimit := fl.Int("memlimit", 768, "soft memory limit in MiB for the Go runtime (0: none; GOMEMLIMIT, when set, wins)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: valuerx measures -from DIR -year 2026 -out DIR [flags]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if (*from == "") == !*demoData || *out == "" || fl.NArg() != 0 {
		fl.Usage()
		return 2
	}
	today := time.Now()
	opt := population.Options{Year: *year, Workers: *workers, Today: measures.Date(today.Year(), today.Month(), today.Day())}
	if *asOf != "" {
		d, err := measures.ParseDay(*asOf)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx measures: -asof:", err)
			return 2
		}
		opt.AsOf = d
	}
	if *shard != "" {
		i, n, ok := strings.Cut(*shard, "/")
		si, err1 := strconv.Atoi(i)
		sn, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || sn < 1 || si < 0 || si >= sn {
			fmt.Fprintln(stderr, "valuerx measures: -shard wants i/n with 0 <= i < n")
			return 2
		}
		opt.Shard, opt.Shards = si, sn
	}
	if *memLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		// The run's live data is about 300 MB per million patients (population docs); the limit
		// makes the collector work harder near it instead of letting the heap double.
		debug.SetMemoryLimit(int64(*memLimit) << 20)
	}
	if *demoData && *rosterFile == "" {
		// The demo's roster and the sample contracts' quality terms, so the demo's rates and
		// worklist name the contracts and values its cards show.
		ro, err := attribution.Parse(bytes.NewReader(demo.AdherenceRoster()), time.Now())
		if err != nil {
			fmt.Fprintln(stderr, "valuerx measures: demo roster:", err)
			return 1
		}
		opt.Attribute = func(mbi, memberID string, at measures.Day) (string, bool) { return ro.Lookup(mbi, memberID, at.Time()) }
		opt.AttributionVersion = ro.Version
		if *contractsFile == "" && *termsFile == "" {
			*contractsFile = "embedded"
		}
	}
	if *rosterFile != "" {
		ro, err := readRoster(*rosterFile, *rosterContract, time.Now())
		if err != nil {
			fmt.Fprintln(stderr, "valuerx measures: -roster:", err)
			return 2
		}
		opt.Attribute = func(mbi, memberID string, at measures.Day) (string, bool) { return ro.Lookup(mbi, memberID, at.Time()) }
		opt.AttributionVersion = ro.Version
		fmt.Fprintf(stdout, "roster %s: %d entries (%s)\n", filepath.Base(*rosterFile), len(ro.Entries), ro.Version)
	}
	if *contractsFile != "" {
		if *termsFile != "" {
			fmt.Fprintln(stderr, "valuerx measures: -contracts and -terms are two sources of the same terms: give one")
			return 2
		}
		scfg := scoring.DefaultConfig()
		if *contractsFile != "embedded" {
			data, err := os.ReadFile(*contractsFile)
			if err == nil {
				scfg, err = scoring.ParseConfig(data)
			}
			if err != nil {
				fmt.Fprintln(stderr, "valuerx measures: -contracts:", err)
				return 2
			}
		}
		opt.Terms, opt.GapValue = qualityTerms(scfg, *year)
	}
	if *termsFile != "" {
		data, err := os.ReadFile(*termsFile)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx measures: -terms:", err)
			return 2
		}
		if opt.Terms, err = population.ParseTerms(data); err != nil {
			fmt.Fprintln(stderr, "valuerx measures: -terms:", err)
			return 2
		}
	}
	var inputs []population.Input
	var err error
	if *demoData {
		now := time.Now()
		inputs, err = demoInputs(now)
		if *asOf == "" { // the demo's fills run through today: measure as of tomorrow
			opt.AsOf = measures.Date(now.Year(), now.Month(), now.Day()+1)
		}
	} else {
		inputs, err = exportFiles(*from)
	}
	if err != nil {
		fmt.Fprintln(stderr, "valuerx measures:", err)
		return 2
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx measures: -cpuprofile:", err)
			return 2
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintln(stderr, "valuerx measures: -cpuprofile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	rep, err := population.Run(ctx, inputs, opt)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx measures:", err)
		return 1
	}
	if err := writeReport(*out, rep); err != nil {
		fmt.Fprintln(stderr, "valuerx measures:", err)
		return 1
	}
	c := rep.Counts
	fmt.Fprintf(stdout, "measurement year %d as of %s: %d patients, %d dispenses read (%d measured fills), %d on the worklist, in %s\n",
		rep.Year, rep.AsOf, rep.Patients, c.Dispenses, c.Fills, len(rep.Worklist), time.Since(start).Round(time.Millisecond))
	if dropped := c.BadLines + c.UnknownPatient + c.NotCompleted + c.BadSupply + c.Future; dropped > 0 {
		fmt.Fprintf(stdout, "dropped: %d unreadable lines, %d dispenses of unknown patients, %d not completed, %d with an impossible days supply, %d dated after today\n", c.BadLines, c.UnknownPatient, c.NotCompleted, c.BadSupply, c.Future)
	}
	if c.NoSupply > 0 {
		fmt.Fprintf(stdout, "kept without a days supply: %d dispenses (fills for SUPD and the exclusions; they cover no day of a PDC measure)\n", c.NoSupply)
	}
	for _, t := range rep.Tallies {
		if t.Denominator > 0 {
			fmt.Fprintf(stdout, "  %-12s %-8s %6.2f %%  (%d/%d; %d below and redeemable)\n", t.Contract, t.Measure, 100*t.Rate(), t.Numerator, t.Denominator, t.BelowRedeemable)
		}
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, "{rates.csv,rates.json,worklist.csv}"))
	return 0
}

// exportFiles lists the NDJSON files of a Bulk Data export directory, in name order.
func exportFiles(dir string) ([]population.Input, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("-from: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".ndjson") || strings.HasSuffix(e.Name(), ".ndjson.gz")) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("-from %s: no .ndjson files", dir)
	}
	slices.Sort(names)
	var inputs []population.Input
	for _, n := range names {
		path := filepath.Join(dir, n)
		inputs = append(inputs, population.Input{Name: n, Open: func() (io.ReadCloser, error) { return openNDJSON(path) }})
	}
	return inputs, nil
}

// qualityTerms turns the contracts' pay-for-performance terms into the population run's: each
// measure's target and Star weight for the rates, and scoring's GapValue for the worklist, so a
// worklist row is worth what the card for the same gap shows. A PDC row of the worklist is a gap
// that can still close (redeemable) and a SUPD row a missing statin fill: both reachable.
func qualityTerms(cfg scoring.Config, year int) (*population.Terms, func(string, measures.Measure, measures.Day) (float64, bool)) {
	terms := &population.Terms{}
	byID := map[string]scoring.Contract{}
	for _, k := range cfg.Contracts {
		if len(k.Quality) == 0 {
			continue
		}
		byID[k.ID] = k
		ct := population.ContractTerms{Contract: k.ID, Measures: map[string]population.MeasureTerm{}}
		for m, q := range k.Quality {
			mt := population.MeasureTerm{Target: q.Target, BonusPerAdherent: q.BonusPerAdherent, BonusPerGapClosed: q.BonusPerGapClosed}
			if q.StarWeight > 0 {
				w := q.StarWeight
				mt.StarWeight = &w
			}
			ct.Measures[m] = mt
		}
		terms.Contracts = append(terms.Contracts, ct)
	}
	value := func(contract string, m measures.Measure, asOf measures.Day) (float64, bool) {
		k, ok := byID[contract]
		if !ok {
			return 0, false
		}
		months := 0 // months of the measurement year from the as-of date on (programme fees)
		if asOf <= measures.YearEnd(year) {
			months = 12 - int(asOf.Time().Month()) + 1
		}
		gv, ok := k.GapValue(m.String(), true, months)
		return gv.Expected, ok
	}
	return terms, value
}

// readRoster reads a payer roster: a Da Vinci ATR Member Attribution List (.json, .ndjson: a
// Group with its Patients and Coverages), else the attribution CSV.
func readRoster(path, contract string, now time.Time) (*attribution.Roster, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".json" || ext == ".ndjson" {
		return attribution.ParseATR(f, now, attribution.ATROptions{Contract: contract})
	}
	return attribution.Parse(f, now)
}

// demoInputs are the demo FHIR server's resources as an export: one NDJSON input per resource
// type, from the same bundles `make run` loads (demo.Patients, demo.AdherencePatients).
func demoInputs(today time.Time) ([]population.Input, error) {
	byType := map[string]*bytes.Buffer{}
	for _, b := range [][]byte{demo.Patients(), demo.AdherencePatients(today)} {
		var bundle struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			return nil, fmt.Errorf("demo bundle: %w", err)
		}
		for _, e := range bundle.Entry {
			var r struct {
				ResourceType string `json:"resourceType"`
			}
			if json.Unmarshal(e.Resource, &r) != nil || r.ResourceType == "" {
				continue
			}
			buf := byType[r.ResourceType]
			if buf == nil {
				buf = &bytes.Buffer{}
				byType[r.ResourceType] = buf
			}
			if err := json.Compact(buf, e.Resource); err != nil {
				return nil, fmt.Errorf("demo %s: %w", r.ResourceType, err)
			}
			buf.WriteByte('\n')
		}
	}
	types := slices.Sorted(maps.Keys(byType))
	inputs := make([]population.Input, 0, len(types))
	for _, typ := range types {
		data := byType[typ].Bytes()
		inputs = append(inputs, population.Input{Name: "demo " + typ, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
	}
	return inputs, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzipFile) Close() error { return errors.Join(g.Reader.Close(), g.f.Close()) }

func openNDJSON(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return gzipFile{zr, f}, nil
}

// writeReport writes the three outputs, each to a temporary file renamed into place, so a
// reader never sees half a file.
func writeReport(dir string, rep *population.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	for _, o := range []struct {
		name  string
		write func(io.Writer) error
	}{{"rates.csv", rep.WriteRatesCSV}, {"rates.json", rep.WriteRatesJSON}, {"worklist.csv", rep.WriteWorklistCSV}} {
		if err := writeFileAtomic(filepath.Join(dir, o.name), o.write); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// runSynth writes a synthetic population's year of fills as a Bulk Data export directory.
func runSynth(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("synth", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("out", "", "directory to write Patient.ndjson, Coverage.ndjson, MedicationDispense.ndjson, Condition.ndjson, Encounter.ndjson")
	n := fl.Int("patients", 1000, "population size")
	seed := fl.Uint64("seed", 1, "random seed: the same seed writes the same files")
	year := fl.Int("year", time.Now().Year(), "measurement year")
	through := fl.String("through", "", "last day with dispenses YYYY-MM-DD (default December 31)")
	bands := fl.String("adherence", "", "adherence distribution share:min-max,... (default 0.70:0.85-1,0.20:0.60-0.85,0.10:0.20-0.60)")
	contracts := fl.String("contracts", "", "comma-separated contract ids (default H1001,H2002,S3003)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: valuerx synth -out DIR [-patients N] [-seed S] [-year Y] [-through DATE] [-adherence BANDS]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fl.NArg() != 0 || *n < 0 {
		fl.Usage()
		return 2
	}
	cfg := synth.Config{Year: *year, Patients: *n, Seed: *seed}
	if *through != "" {
		d, err := measures.ParseDay(*through)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx synth: -through:", err)
			return 2
		}
		cfg.Through = d
	}
	if *bands != "" {
		b, err := synth.ParseBands(*bands)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx synth:", err)
			return 2
		}
		cfg.Bands = b
	}
	if *contracts != "" {
		cfg.Contracts = strings.Split(*contracts, ",")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, "valuerx synth:", err)
		return 1
	}
	var files []*os.File
	var w [5]io.Writer
	for i, name := range []string{"Patient", "Coverage", "MedicationDispense", "Condition", "Encounter"} {
		f, err := os.Create(filepath.Join(*out, name+".ndjson"))
		if err != nil {
			fmt.Fprintln(stderr, "valuerx synth:", err)
			return 1
		}
		files = append(files, f)
		w[i] = f
	}
	st, err := synth.Generate(cfg, synth.Writers{Patient: w[0], Coverage: w[1], MedicationDispense: w[2], Condition: w[3], Encounter: w[4]}, nil)
	for _, f := range files {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		fmt.Fprintln(stderr, "valuerx synth:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d patients, %d coverages, %d dispenses, %d conditions, %d encounters to %s\n", st.Patients, st.Coverages, st.Dispenses, st.Conditions, st.Encounters, *out)
	return 0
}
