package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"valuerx/scoring"
)

// Supplementary inputs the agency files do not replace: the NADAC-derived retail prices and the
// RxNorm codes (no agency file carries RxNorm). Recognised by their headers like the rest.
const (
	KindNADAC  Kind = "nadac-extract"
	KindQUMI   Kind = "qumi-ndc-rxcui"
	KindRxNorm Kind = "rxnorm-seed"
)

// FileSummary is what the importer made of one file.
type FileSummary struct {
	File    string `json:"file"`
	Kind    Kind   `json:"kind"`
	Period  string `json:"period,omitempty"`
	Rows    int    `json:"rows"`
	Rejects int    `json:"rejects"`
}

// Report is the import's account of itself: what it read, what it built and every row it could
// not use, with why.
type Report struct {
	Files    []FileSummary `json:"files"`
	Skipped  []Reject      `json:"skipped,omitempty"` // files not recognised or superseded
	Quarters []string      `json:"quarters"`
	Products int           `json:"products"`
	Groups   []string      `json:"groups"`
	Rejects  []Reject      `json:"rejects,omitempty"` // rows that could not be read or placed
	// Excluded are decisions, not faults: curated exclusions and ESRD codes, once per code.
	Excluded []Reject `json:"excluded,omitempty"`
	// Unconfirmed are billing codes no FDA file confirms: never suggested.
	Unconfirmed []Reject `json:"unconfirmed,omitempty"`
}

// Import reads every file under the directories (recursively), recognising each by its content,
// and builds one snapshot created at now (zero: the newest payment limit file's effective date,
// for reproducible builds). Files it does not recognise are listed in the report and skipped; a
// file it recognises but cannot parse fails the import (a broken input must not silently shrink
// the catalog).
func Import(dirs []string, now time.Time) (*scoring.Snapshot, *Report, error) {
	in, rep, err := readInputs(dirs)
	if err != nil {
		return nil, rep, err
	}
	snap, err := build(in, rep)
	if err != nil {
		return nil, rep, err
	}
	if now.IsZero() {
		// Reproducible builds (make catalog): the same inputs give the same bytes, so two
		// engineers rebuilding the embedded snapshot never conflict.
		now = in.limits[len(in.limits)-1].Period.Start
	}
	snap.Created = now.UTC()
	return snap, rep, nil
}

type tableRow struct {
	m    map[string]string
	line int
	file string
}

type inputs struct {
	limits  []*PaymentLimitFile
	xwalks  []*CrosswalkFile
	purple  *PurpleBookFile
	orange  *OrangeBookFile
	acq     []*AcquisitionFile
	nadac   []tableRow
	qumi    []tableRow
	rxnorm  []tableRow
	records []scoring.SnapshotInput
}

// InputFiles lists the files Import would read under dirs (recognised ones), sorted, with their
// kind; used to hash the inputs of the embedded snapshot.
func InputFiles(dirs []string) ([]string, error) {
	var out []string
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				return nil
			}
			out = append(out, p)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// HashInputs is the InputsHash of a set of files: SHA-256 over each recognised file's base name
// and content hash, in name order. Directories and unrecognised files (a README) do not count.
func HashInputs(dirs []string) (string, error) {
	files, err := InputFiles(dirs)
	if err != nil {
		return "", err
	}
	var recs []scoring.SnapshotInput
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("catalog: %w", err)
		}
		k := detectAll(b)
		if k == KindUnknown {
			continue
		}
		sum := sha256.Sum256(b)
		recs = append(recs, scoring.SnapshotInput{File: filepath.Base(p), Kind: string(k), SHA256: hex.EncodeToString(sum[:])})
	}
	return inputsHash(recs), nil
}

func inputsHash(recs []scoring.SnapshotInput) string {
	s := slices.Clone(recs)
	slices.SortFunc(s, func(a, b scoring.SnapshotInput) int { return strings.Compare(a.File+a.SHA256, b.File+b.SHA256) })
	h := sha256.New()
	for _, r := range s {
		fmt.Fprintf(h, "%s\x00%s\n", r.File, r.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// detectAll is Detect plus the supplementary tables.
func detectAll(b []byte) Kind {
	if k := Detect(b); k != KindUnknown {
		return k
	}
	head := b
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	h := newHeader(strings.Split(strings.TrimSpace(decodeText(head)), ","))
	switch {
	case h.has("group_key", "ndc", "nadac_per_unit_usd", "pricing_unit"):
		return KindNADAC
	case h.has("ndc", "rxcui", "qumi_code", "description"):
		return KindQUMI
	case h.has("rxcui", "str", "tty", "ingredient_group"):
		return KindRxNorm
	}
	return KindUnknown
}

func readInputs(dirs []string) (*inputs, *Report, error) {
	rep := &Report{}
	in := &inputs{}
	files, err := InputFiles(dirs)
	if err != nil {
		return nil, rep, err
	}
	if len(files) == 0 {
		return nil, rep, fmt.Errorf("catalog: no files under %s", strings.Join(dirs, ", "))
	}
	var purples []*PurpleBookFile
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, rep, fmt.Errorf("catalog: %w", err)
		}
		name := filepath.Base(p)
		kind := detectAll(b)
		sum := sha256.Sum256(b)
		rec := scoring.SnapshotInput{File: name, Kind: string(kind), SHA256: hex.EncodeToString(sum[:])}
		var rows, rejects int
		var period string
		switch kind {
		case KindUnknown:
			rep.Skipped = append(rep.Skipped, Reject{File: name, Reason: "not a recognised agency or organisation file"})
			continue
		case KindPaymentLimits:
			f, err := ParsePaymentLimits(bytes.NewReader(b), name)
			if err != nil {
				return nil, rep, err
			}
			in.limits = append(in.limits, f)
			rows, rejects, period = len(f.Rows), len(f.Rejects), periodText(f.Period)
			rep.Rejects = append(rep.Rejects, f.Rejects...)
		case KindCrosswalk:
			f, err := ParseCrosswalk(bytes.NewReader(b), name)
			if err != nil {
				return nil, rep, err
			}
			in.xwalks = append(in.xwalks, f)
			rows, rejects, period = len(f.Rows), len(f.Rejects), periodText(f.Period)
			rep.Rejects = append(rep.Rejects, f.Rejects...)
		case KindPurpleBook:
			f, err := ParsePurpleBook(bytes.NewReader(b), name)
			if err != nil {
				return nil, rep, err
			}
			purples = append(purples, f)
			rows, rejects = len(f.Rows), len(f.Rejects)
			period = "as of " + f.Latest.Format("2006-01-02")
			rep.Rejects = append(rep.Rejects, f.Rejects...)
		case KindOrangeBook:
			f, err := ParseOrangeBook(bytes.NewReader(b), name)
			if err != nil {
				return nil, rep, err
			}
			if in.orange != nil {
				return nil, rep, fmt.Errorf("catalog: two Orange Book files (%s, %s): keep one", in.orange.File, name)
			}
			in.orange = f
			rows, rejects = len(f.Rows), len(f.Rejects)
			rep.Rejects = append(rep.Rejects, f.Rejects...)
		case KindAcquisition:
			f, err := ParseAcquisitionCosts(bytes.NewReader(b), name)
			if err != nil {
				return nil, rep, err
			}
			in.acq = append(in.acq, f)
			rows, rejects = len(f.Rows), len(f.Rejects)
			rep.Rejects = append(rep.Rejects, f.Rejects...)
		case KindNADAC, KindQUMI, KindRxNorm:
			t, err := readTable(b, name)
			if err != nil {
				return nil, rep, err
			}
			switch kind {
			case KindNADAC:
				in.nadac = append(in.nadac, t...)
			case KindQUMI:
				in.qumi = append(in.qumi, t...)
			default:
				in.rxnorm = append(in.rxnorm, t...)
			}
			rows = len(t)
		}
		rec.Period, rec.Rows, rec.Rejects = period, rows, rejects
		in.records = append(in.records, rec)
		rep.Files = append(rep.Files, FileSummary{File: name, Kind: kind, Period: period, Rows: rows, Rejects: rejects})
	}
	// One payment limit file and one crosswalk per quarter: two would make a price ambiguous.
	seen := map[string]string{}
	for _, f := range in.limits {
		q := f.Period.Quarter()
		if prev, ok := seen[q]; ok {
			return nil, rep, fmt.Errorf("catalog: two payment limit files for %s (%s, %s): keep one", q, prev, f.File)
		}
		seen[q] = f.File
		rep.Quarters = append(rep.Quarters, q)
	}
	seenX := map[string]string{}
	for _, f := range in.xwalks {
		q := f.Period.Quarter()
		if prev, ok := seenX[q]; ok {
			return nil, rep, fmt.Errorf("catalog: two crosswalks for %s (%s, %s): keep one", q, prev, f.File)
		}
		seenX[q] = f.File
	}
	sort.Strings(rep.Quarters)
	slices.SortFunc(in.limits, func(a, b *PaymentLimitFile) int { return a.Period.Start.Compare(b.Period.Start) })
	slices.SortFunc(in.xwalks, func(a, b *CrosswalkFile) int { return a.Period.Start.Compare(b.Period.Start) })
	// The newest Purple Book wins; older copies are reported.
	slices.SortFunc(purples, func(a, b *PurpleBookFile) int { return b.Latest.Compare(a.Latest) })
	for i, p := range purples {
		if i == 0 {
			in.purple = p
			continue
		}
		rep.Skipped = append(rep.Skipped, Reject{File: p.File, Reason: "an older Purple Book than " + purples[0].File})
	}
	switch {
	case len(in.limits) == 0:
		return nil, rep, fmt.Errorf("catalog: no CMS payment limit file under %s", strings.Join(dirs, ", "))
	case len(in.xwalks) == 0:
		return nil, rep, fmt.Errorf("catalog: no CMS NDC-HCPCS crosswalk under %s", strings.Join(dirs, ", "))
	case in.purple == nil:
		return nil, rep, fmt.Errorf("catalog: no FDA Purple Book under %s", strings.Join(dirs, ", "))
	}
	return in, rep, nil
}

func periodText(p Period) string {
	return p.Start.Format("2006-01-02") + ".." + p.End.Format("2006-01-02")
}

func readTable(b []byte, name string) ([]tableRow, error) {
	recs, err := readRecords(decodeText(b), ',')
	if err != nil || len(recs) < 2 {
		return nil, fmt.Errorf("catalog: %s: not a CSV table: %v", name, err)
	}
	head := recs[0].fields
	out := make([]tableRow, 0, len(recs)-1)
	for _, r := range recs[1:] {
		m := make(map[string]string, len(head))
		for i, h := range head {
			if i < len(r.fields) {
				m[strings.TrimSpace(h)] = strings.TrimSpace(r.fields[i])
			} else {
				m[strings.TrimSpace(h)] = ""
			}
		}
		out = append(out, tableRow{m: m, line: r.line, file: name})
	}
	return out, nil
}

// Version returns the content version of a snapshot: a hash of its JSON without Version and
// Created, so that the same inputs always give the same version.
func Version(s *scoring.Snapshot) (string, error) {
	c := *s
	c.Version, c.Created = "", time.Time{}
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("catalog: version: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// WriteSummary prints the report for people: files, quarters, products, groups, then every row
// that could not be used, grouped by file.
func (r *Report) WriteSummary(w io.Writer, s *scoring.Snapshot) error {
	var b strings.Builder
	fmt.Fprintf(&b, "files read (%d):\n", len(r.Files))
	for _, f := range r.Files {
		per := ""
		if f.Period != "" {
			per = " " + f.Period
		}
		fmt.Fprintf(&b, "  %-18s %s%s: %d rows, %d rejected\n", f.Kind, f.File, per, f.Rows, f.Rejects)
	}
	for _, sk := range r.Skipped {
		fmt.Fprintf(&b, "  skipped %s\n", sk)
	}
	fmt.Fprintf(&b, "quarters (%d): %s\n", len(r.Quarters), strings.Join(r.Quarters, " "))
	fmt.Fprintf(&b, "products: %d\n", r.Products)
	fmt.Fprintf(&b, "groups (%d):\n", len(r.Groups))
	if s != nil {
		for _, g := range s.Groups {
			fmt.Fprintf(&b, "  %-18s %s\n", g.ID, strings.Join(g.ProductIDs, ", "))
		}
	}
	section := func(title string, rs []Reject) {
		if len(rs) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", title, len(rs))
		for _, x := range rs {
			fmt.Fprintf(&b, "  %s\n", x)
		}
	}
	section("billing codes no FDA file confirms (reported, never suggested)", r.Unconfirmed)
	section("excluded on purpose", r.Excluded)
	section("rows not used", r.Rejects)
	if s != nil {
		fmt.Fprintf(&b, "snapshot %s, inputs %s\n", s.Version, s.InputsHash[:16])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
