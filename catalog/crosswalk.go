package catalog

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// CrosswalkFile is one CMS "ASP NDC-HCPCS Crosswalk for Medicare Part B Drugs" file.
type CrosswalkFile struct {
	File    string         `json:"file"`
	Period  Period         `json:"period"`
	Rows    []CrosswalkRow `json:"rows"`
	Rejects []Reject       `json:"rejects,omitempty"`
}

// CrosswalkRow assigns one NDC package to a HCPCS code, with its billing units.
type CrosswalkRow struct {
	HCPCS        string  `json:"hcpcs"`
	Description  string  `json:"description"`
	Labeler      string  `json:"labeler"`
	NDC          string  `json:"ndc"`   // as printed, 5-4-2
	NDC11        string  `json:"ndc11"` // 11 digits
	DrugName     string  `json:"drugName"`
	Dosage       string  `json:"dosage"`
	PkgSize      float64 `json:"pkgSize"` // amount in one item (mL, or count)
	PkgQty       int     `json:"pkgQty"`  // items in the NDC package
	BillUnits    float64 `json:"billUnits"`
	BillUnitsPkg float64 `json:"billUnitsPkg"`
	Line         int     `json:"line"`
}

var yearCodeRE = regexp.MustCompile(`^_?\d{4}_CODE$`)

func isCrosswalkHeader(rec []string) bool {
	if len(rec) < 10 || !yearCodeRE.MatchString(strings.ToUpper(strings.TrimSpace(rec[0]))) {
		return false
	}
	h := newHeader(rec)
	return h.has("NDC2", "BILLUNITS", "BILLUNITSPKG", "HCPCS dosage")
}

var ndc542RE = regexp.MustCompile(`^\d{5}-\d{4}-\d{2}$`)

// ParseCrosswalk reads a CMS NDC-HCPCS crosswalk: Windows-1252 text, a preamble with the
// effective period, a header whose first column is named for the year, lines padded with commas.
func ParseCrosswalk(r io.Reader, name string) (*CrosswalkFile, error) {
	b, err := readAllLimited(r)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", name, err)
	}
	recs, err := readRecords(decodeText(b), ',')
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: not a CSV crosswalk: %w", name, err)
	}
	f := &CrosswalkFile{File: name}
	hi := -1
	periodOK := false
	for i, rec := range recs {
		if isCrosswalkHeader(rec.fields) {
			hi = i
			break
		}
		if p, ok := parseEffective(strings.Join(rec.fields, " ")); ok && !periodOK {
			f.Period, periodOK = p, true
		}
	}
	if hi < 0 {
		return nil, fmt.Errorf("catalog: %s: no crosswalk header row (_YYYY_CODE,...,NDC2,...,BILLUNITSPKG)", name)
	}
	if !periodOK {
		return nil, fmt.Errorf("catalog: %s: no \"Effective <date> through <date>\" in the preamble", name)
	}
	h := newHeader(recs[hi].fields)
	for _, rec := range recs[hi+1:] {
		if len(rec.fields) == 0 {
			continue
		}
		rej := func(why string) { f.Rejects = append(f.Rejects, Reject{File: name, Line: rec.line, Reason: why}) }
		code := strings.ToUpper(strings.TrimSpace(rec.fields[0]))
		if !isHCPCS(code) {
			rej(fmt.Sprintf("HCPCS code %q is not a code", truncate(code, 20)))
			continue
		}
		ndc := h.get(rec.fields, "NDC2")
		if !ndc542RE.MatchString(ndc) {
			rej(fmt.Sprintf("%s: NDC %q is not 5-4-2", code, truncate(ndc, 20)))
			continue
		}
		units, err1 := parseNumber(h.get(rec.fields, "BILLUNITS"))
		pkgUnits, err2 := parseNumber(h.get(rec.fields, "BILLUNITSPKG"))
		if err1 != nil || err2 != nil || units <= 0 || pkgUnits <= 0 {
			rej(fmt.Sprintf("%s %s: billing units %q / %q are not positive numbers", code, ndc, truncate(h.get(rec.fields, "BILLUNITS"), 12), truncate(h.get(rec.fields, "BILLUNITSPKG"), 12)))
			continue
		}
		size, _ := parseNumber(h.get(rec.fields, "PKG SIZE"))
		qty, err := strconv.Atoi(h.get(rec.fields, "PKG QTY"))
		if err != nil || qty <= 0 {
			// BILLUNITSPKG / BILLUNITS is the item count when PKG QTY is blank or not whole.
			qty = int(pkgUnits/units + 0.5)
			if qty < 1 {
				qty = 1
			}
		}
		f.Rows = append(f.Rows, CrosswalkRow{
			HCPCS: code, Description: h.get(rec.fields, "Short Description"), Labeler: h.get(rec.fields, "LABELER NAME"),
			NDC: ndc, NDC11: strings.ReplaceAll(ndc, "-", ""), DrugName: strings.Join(strings.Fields(h.get(rec.fields, "Drug Name")), " "),
			Dosage:  strings.Join(strings.Fields(strings.ToUpper(h.get(rec.fields, "HCPCS dosage"))), " "),
			PkgSize: size, PkgQty: qty, BillUnits: units, BillUnitsPkg: pkgUnits, Line: rec.line,
		})
	}
	if len(f.Rows) == 0 {
		return nil, fmt.Errorf("catalog: %s: no usable rows after the header", name)
	}
	return f, nil
}
