package catalog

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// AcquisitionFile is the organisation's own acquisition costs (a wholesaler invoice export, a GPO
// or 340B price file) as CSV with this header (column order free, names case-insensitive):
//
//	ndc | hcpcs, period_start, period_end, cost_per_billing_unit | cost_per_package, source
//
// One of ndc (any NDC layout) or hcpcs names the product; period_start and period_end are
// YYYY-MM-DD, inclusive (period_end may be empty: open-ended); exactly one of the two cost columns
// is filled, in USD; source says where the figure comes from ("McKesson invoice 2026-01",
// "340B ceiling price"). A cost per package is turned into a cost per billing unit with the
// crosswalk of the period's quarter (BILLUNITSPKG of that NDC).
type AcquisitionFile struct {
	File    string           `json:"file"`
	Rows    []AcquisitionRow `json:"rows"`
	Rejects []Reject         `json:"rejects,omitempty"`
}

// AcquisitionRow is one cost of one product for one period.
type AcquisitionRow struct {
	NDC11      string    `json:"ndc11,omitempty"`
	HCPCS      string    `json:"hcpcs,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	PerUnit    float64   `json:"perUnit,omitempty"`
	PerPackage float64   `json:"perPackage,omitempty"`
	Source     string    `json:"source"`
	Line       int       `json:"line"`
}

func isAcquisitionHeader(rec []string) bool {
	h := newHeader(rec)
	return (h.has("ndc") || h.has("hcpcs")) && h.has("period_start", "period_end", "source") &&
		(h.has("cost_per_billing_unit") || h.has("cost_per_package"))
}

// normNDC returns the 11-digit NDC of any dashed layout or of 11 bare digits.
func normNDC(s string) (string, bool) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, "-")
	for _, p := range parts {
		for _, r := range p {
			if r < '0' || r > '9' {
				return "", false
			}
		}
	}
	switch len(parts) {
	case 1:
		if len(s) == 11 {
			return s, true
		}
	case 3:
		a, b, c := parts[0], parts[1], parts[2]
		switch {
		case len(a) == 5 && len(b) == 4 && len(c) == 2:
			return a + b + c, true
		case len(a) == 4 && len(b) == 4 && len(c) == 2:
			return "0" + a + b + c, true
		case len(a) == 5 && len(b) == 3 && len(c) == 2:
			return a + "0" + b + c, true
		case len(a) == 5 && len(b) == 4 && len(c) == 1:
			return a + b + "0" + c, true
		}
	}
	return "", false
}

// ParseAcquisitionCosts reads an acquisition-cost CSV (header above).
func ParseAcquisitionCosts(r io.Reader, name string) (*AcquisitionFile, error) {
	b, err := readAllLimited(r)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", name, err)
	}
	recs, err := readRecords(decodeText(b), ',')
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: not a CSV: %w", name, err)
	}
	if len(recs) == 0 || !isAcquisitionHeader(recs[0].fields) {
		return nil, fmt.Errorf("catalog: %s: header must name ndc or hcpcs, period_start, period_end, cost_per_billing_unit or cost_per_package, source", name)
	}
	h := newHeader(recs[0].fields)
	f := &AcquisitionFile{File: name}
	for _, rec := range recs[1:] {
		if len(rec.fields) == 0 {
			continue
		}
		rej := func(why string) { f.Rejects = append(f.Rejects, Reject{File: name, Line: rec.line, Reason: why}) }
		var row AcquisitionRow
		row.Line = rec.line
		if n := h.get(rec.fields, "ndc"); n != "" {
			n11, ok := normNDC(n)
			if !ok {
				rej(fmt.Sprintf("ndc %q is not an NDC (5-4-2, 4-4-2, 5-3-2, 5-4-1 or 11 digits)", truncate(n, 20)))
				continue
			}
			row.NDC11 = n11
		}
		if c := strings.ToUpper(h.get(rec.fields, "hcpcs")); c != "" {
			if !isHCPCS(c) {
				rej(fmt.Sprintf("hcpcs %q is not a code", truncate(c, 20)))
				continue
			}
			row.HCPCS = c
		}
		if (row.NDC11 == "") == (row.HCPCS == "") {
			rej("exactly one of ndc and hcpcs must be given")
			continue
		}
		var err error
		if row.Start, err = time.Parse("2006-01-02", h.get(rec.fields, "period_start")); err != nil {
			rej(fmt.Sprintf("period_start %q is not YYYY-MM-DD", truncate(h.get(rec.fields, "period_start"), 20)))
			continue
		}
		if e := h.get(rec.fields, "period_end"); e != "" {
			if row.End, err = time.Parse("2006-01-02", e); err != nil || row.End.Before(row.Start) {
				rej(fmt.Sprintf("period_end %q is not a YYYY-MM-DD day on or after period_start", truncate(e, 20)))
				continue
			}
		}
		pu, pp := h.get(rec.fields, "cost_per_billing_unit"), h.get(rec.fields, "cost_per_package")
		if (pu == "") == (pp == "") {
			rej("exactly one of cost_per_billing_unit and cost_per_package must be given")
			continue
		}
		v, err := parseNumber(pu + pp)
		if err != nil || v <= 0 {
			rej(fmt.Sprintf("cost %q is not a positive number", truncate(pu+pp, 20)))
			continue
		}
		if pu != "" {
			row.PerUnit = v
		} else {
			row.PerPackage = v
		}
		if row.NDC11 == "" && row.PerPackage > 0 {
			rej("cost_per_package needs an ndc (a HCPCS code has no package)")
			continue
		}
		row.Source = h.get(rec.fields, "source")
		if row.Source == "" {
			rej("source is empty: say where the cost comes from")
			continue
		}
		f.Rows = append(f.Rows, row)
	}
	return f, nil
}
