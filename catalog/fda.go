package catalog

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// PurpleBookFile is the FDA Purple Book full data download.
type PurpleBookFile struct {
	File string `json:"file"`
	// Latest is the latest approval date in the file: the Purple Book copy is as of that day.
	Latest  time.Time   `json:"latest"`
	Rows    []PurpleRow `json:"rows"`
	Rejects []Reject    `json:"rejects,omitempty"`
}

// PurpleRow is one licensed presentation of a biological product.
type PurpleRow struct {
	Applicant       string `json:"applicant"`
	BLA             string `json:"bla"`
	Proprietary     string `json:"proprietary"` // may list several names, "prolastin,prolastin-c"
	Proper          string `json:"proper"`
	BLAType         string `json:"blaType"` // "351(a)", "351(k) Biosimilar", "351(k) Interchangeable"
	Strength        string `json:"strength"`
	DosageForm      string `json:"dosageForm"`
	Route           string `json:"route"`
	Presentation    string `json:"presentation"`
	MarketingStatus string `json:"marketingStatus"` // "Rx", "Disc", ...
	RefProper       string `json:"refProper,omitempty"`
	RefProprietary  string `json:"refProprietary,omitempty"`
	Approval        string `json:"approval,omitempty"`
	Line            int    `json:"line"`
	nameList        []string
}

// names is the row's proprietary names, folded (computed once).
func (r *PurpleRow) names() []string {
	if r.nameList == nil {
		r.nameList = nameEntries(r.Proprietary)
	}
	return r.nameList
}

// Reference says whether the row is a 351(a) product (a possible reference product).
func (r PurpleRow) Reference() bool { return strings.HasPrefix(r.BLAType, "351(a)") }

// Biosimilar says whether the row is a 351(k) product (biosimilar or interchangeable).
func (r PurpleRow) Biosimilar() bool { return strings.HasPrefix(r.BLAType, "351(k)") }

// Interchangeable says whether the 351(k) row is licensed as interchangeable. (The file's first
// column, N/R/U, says whether the row is new, revised or unchanged in that release; it is not
// interchangeability.)
func (r PurpleRow) Interchangeable() bool { return strings.Contains(r.BLAType, "Interchangeable") }

var purpleCols = []string{"BLA Number", "Proprietary Name", "Proper Name", "BLA Type", "Strength", "Dosage Form", "Route of Administration", "Product Presentation", "Marketing Status"}

// ParsePurpleBook reads the Purple Book CSV (UTF-8 with a byte-order mark; quoted strengths may
// hold line breaks).
func ParsePurpleBook(r io.Reader, name string) (*PurpleBookFile, error) {
	b, err := readAllLimited(r)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", name, err)
	}
	recs, err := readRecords(decodeText(b), ',')
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: not a CSV Purple Book: %w", name, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("catalog: %s: empty", name)
	}
	h := newHeader(recs[0].fields)
	if !h.has(purpleCols...) {
		return nil, fmt.Errorf("catalog: %s: header lacks the Purple Book columns %v", name, purpleCols)
	}
	f := &PurpleBookFile{File: name}
	clean := func(rec []string, col string) string { return strings.Join(strings.Fields(h.get(rec, col)), " ") }
	for _, rec := range recs[1:] {
		if len(rec.fields) == 0 {
			continue
		}
		row := PurpleRow{
			Applicant: clean(rec.fields, "Applicant"), BLA: clean(rec.fields, "BLA Number"),
			Proprietary: clean(rec.fields, "Proprietary Name"), Proper: clean(rec.fields, "Proper Name"),
			BLAType: clean(rec.fields, "BLA Type"), Strength: clean(rec.fields, "Strength"),
			DosageForm: clean(rec.fields, "Dosage Form"), Route: clean(rec.fields, "Route of Administration"),
			Presentation: clean(rec.fields, "Product Presentation"), MarketingStatus: clean(rec.fields, "Marketing Status"),
			RefProper: clean(rec.fields, "Ref. Product Proper Name"), RefProprietary: clean(rec.fields, "Ref. Product Proprietary Name"),
			Approval: clean(rec.fields, "Approval Date"), Line: rec.line,
		}
		why := ""
		switch {
		case row.BLA == "":
			why = "no BLA number"
		case row.Proprietary == "":
			why = fmt.Sprintf("BLA %s (%s) has no proprietary name: no crosswalk row can name it", row.BLA, truncate(row.Proper, 40))
		case !strings.HasPrefix(row.BLAType, "351("):
			why = fmt.Sprintf("BLA type %q is neither 351(a) nor 351(k)", truncate(row.BLAType, 30))
		}
		if why != "" {
			f.Rejects = append(f.Rejects, Reject{File: name, Line: rec.line, Reason: why})
			continue
		}
		if t, err := time.Parse("2-Jan-06", row.Approval); err == nil && t.After(f.Latest) && t.Year() < 2069 {
			// Two-digit years: Go reads 00-68 as 20xx; the Purple Book's oldest licences
			// (1936, antivenins) are not the latest approval.
			if t.After(time.Now().AddDate(1, 0, 0)) {
				t = t.AddDate(-100, 0, 0)
			}
			if t.After(f.Latest) {
				f.Latest = t
			}
		}
		f.Rows = append(f.Rows, row)
	}
	if len(f.Rows) == 0 {
		return nil, fmt.Errorf("catalog: %s: no usable rows", name)
	}
	return f, nil
}

// OrangeBookFile is the FDA Orange Book products.txt.
type OrangeBookFile struct {
	File    string      `json:"file"`
	Rows    []OrangeRow `json:"rows"`
	Rejects []Reject    `json:"rejects,omitempty"`
}

// OrangeRow is one approved drug product (one strength of one application).
type OrangeRow struct {
	Ingredient, DosageForm, Route, TradeName, Applicant, Strength string
	ApplType, ApplNo, ProductNo, TECode, Approval                 string
	RLD, RS                                                       bool
	Type                                                          string // RX, OTC, DISCN
	Line                                                          int
}

var orangeCols = []string{"Ingredient", "DF;Route", "Trade_Name", "Strength", "Appl_Type", "Appl_No", "Product_No", "TE_Code", "RLD", "Type"}

// ParseOrangeBook reads products.txt (tilde-separated, no quoting: a '"' is an ordinary byte).
func ParseOrangeBook(r io.Reader, name string) (*OrangeBookFile, error) {
	b, err := readAllLimited(r)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", name, err)
	}
	text := strings.ReplaceAll(decodeText(b), "\r\n", "\n")
	lines := strings.Split(text, "\n")
	if len(lines) == 0 {
		return nil, fmt.Errorf("catalog: %s: empty", name)
	}
	head := strings.Split(lines[0], "~")
	h := header{}
	for i, c := range head {
		h[strings.ToLower(strings.TrimSpace(c))] = i
	}
	for _, c := range orangeCols {
		if _, ok := h[strings.ToLower(c)]; !ok {
			return nil, fmt.Errorf("catalog: %s: header lacks the Orange Book columns %v", name, orangeCols)
		}
	}
	get := func(f []string, c string) string {
		i := h[strings.ToLower(c)]
		if i >= len(f) {
			return ""
		}
		return strings.TrimSpace(f[i])
	}
	out := &OrangeBookFile{File: name}
	for i, ln := range lines[1:] {
		if strings.TrimSpace(ln) == "" {
			continue
		}
		f := strings.Split(ln, "~")
		line := i + 2
		if len(f) < len(head)-1 {
			out.Rejects = append(out.Rejects, Reject{File: name, Line: line, Reason: fmt.Sprintf("%d fields, want %d", len(f), len(head))})
			continue
		}
		df, route, _ := strings.Cut(get(f, "DF;Route"), ";")
		out.Rows = append(out.Rows, OrangeRow{
			Ingredient: get(f, "Ingredient"), DosageForm: strings.TrimSpace(df), Route: strings.TrimSpace(route),
			TradeName: get(f, "Trade_Name"), Applicant: get(f, "Applicant"), Strength: strings.Join(strings.Fields(get(f, "Strength")), " "),
			ApplType: get(f, "Appl_Type"), ApplNo: get(f, "Appl_No"), ProductNo: get(f, "Product_No"),
			TECode: get(f, "TE_Code"), Approval: get(f, "Approval_Date"),
			RLD: strings.EqualFold(get(f, "RLD"), "Yes"), RS: strings.EqualFold(get(f, "RS"), "Yes"),
			Type: get(f, "Type"), Line: line,
		})
	}
	if len(out.Rows) == 0 {
		return nil, fmt.Errorf("catalog: %s: no usable rows", name)
	}
	return out, nil
}
