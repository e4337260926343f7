package catalog

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// PaymentLimitFile is one CMS "Payment Allowance Limits for Medicare Part B Drugs" file.
type PaymentLimitFile struct {
	File        string     `json:"file"`
	Period      Period     `json:"period"`      // from the preamble's "Effective ... through ..."
	DataQuarter string     `json:"dataQuarter"` // "3Q25": the quarter of manufacturers' ASP data (Note 1)
	Rows        []LimitRow `json:"rows"`
	Rejects     []Reject   `json:"rejects,omitempty"`
}

// LimitRow is one HCPCS code's payment limit for the file's period.
type LimitRow struct {
	HCPCS       string  `json:"hcpcs"`
	Description string  `json:"description"`
	Dosage      string  `json:"dosage"`      // the billing unit, "10 MG"
	Limit       float64 `json:"limit"`       // USD per billing unit (ASP + 6 %, or the add-on rule)
	LimitText   string  `json:"limitText"`   // as printed, "73.483"
	Coinsurance float64 `json:"coinsurance"` // percent, e.g. 20 (the file's "Co-insurance Percentage")
	Notes       string  `json:"notes,omitempty"`
	Line        int     `json:"line"`
}

var (
	effectiveRE = regexp.MustCompile(`(?i)effective\s+([A-Za-z]+\s+\d{1,2},\s*\d{4})\s+through\s+([A-Za-z]+\s+\d{1,2},\s*\d{4})`)
	dataQtrRE   = regexp.MustCompile(`(?i)based on\s+([1-4]Q\d{2})\s+ASP data`)
)

// parseEffective reads "Effective January 1, 2026 through March 31, 2026" from a preamble line.
func parseEffective(s string) (Period, bool) {
	m := effectiveRE.FindStringSubmatch(s)
	if m == nil {
		return Period{}, false
	}
	a, err1 := time.Parse("January 2, 2006", strings.Join(strings.Fields(m[1]), " "))
	b, err2 := time.Parse("January 2, 2006", strings.Join(strings.Fields(m[2]), " "))
	if err := errors.Join(err1, err2); err != nil || b.Before(a) {
		return Period{}, false
	}
	return Period{Start: a, End: b}, true
}

// limitHeader is what the header row of a payment limit file starts with.
var limitHeader = []string{"HCPCS Code", "Short Description", "HCPCS Code Dosage", "Payment Limit", "Co-insurance Percentage"}

func isLimitHeader(rec []string) bool {
	if len(rec) < len(limitHeader) {
		return false
	}
	for i, c := range limitHeader {
		if normCol(rec[i]) != normCol(c) {
			return false
		}
	}
	return true
}

// ParsePaymentLimits reads a CMS payment limit file. The effective period must be in the preamble
// (the file name is not trusted); a row without a usable code or limit is rejected with its line,
// not fatal. CPT codes (five digits) are read like any other; the importer drops them.
func ParsePaymentLimits(r io.Reader, name string) (*PaymentLimitFile, error) {
	b, err := readAllLimited(r)
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", name, err)
	}
	recs, err := readRecords(decodeText(b), ',')
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: not a CSV payment limit file: %w", name, err)
	}
	f := &PaymentLimitFile{File: name}
	hi := -1
	var periodOK bool
	for i, rec := range recs {
		if isLimitHeader(rec.fields) {
			hi = i
			break
		}
		line := strings.Join(rec.fields, " ")
		if p, ok := parseEffective(line); ok && !periodOK {
			f.Period, periodOK = p, true
		}
		if m := dataQtrRE.FindStringSubmatch(line); m != nil && f.DataQuarter == "" {
			f.DataQuarter = strings.ToUpper(m[1])
		}
	}
	if hi < 0 {
		return nil, fmt.Errorf("catalog: %s: no header row %q", name, strings.Join(limitHeader, ","))
	}
	if !periodOK {
		return nil, fmt.Errorf("catalog: %s: no \"Effective <date> through <date>\" in the preamble", name)
	}
	h := newHeader(recs[hi].fields)
	for _, rec := range recs[hi+1:] {
		if len(rec.fields) == 0 {
			continue
		}
		code := strings.ToUpper(h.get(rec.fields, "HCPCS Code"))
		rej := func(why string) { f.Rejects = append(f.Rejects, Reject{File: name, Line: rec.line, Reason: why}) }
		if !isHCPCS(code) {
			rej(fmt.Sprintf("HCPCS code %q is not a code", truncate(code, 20)))
			continue
		}
		lt := h.get(rec.fields, "Payment Limit")
		lim, err := parseNumber(lt)
		if err != nil || lim <= 0 {
			rej(fmt.Sprintf("%s: payment limit %q is not a positive number", code, truncate(lt, 20)))
			continue
		}
		coins, err := parseNumber(h.get(rec.fields, "Co-insurance Percentage"))
		if err != nil || coins < 0 || coins > 100 {
			rej(fmt.Sprintf("%s: coinsurance percentage %q is not 0-100", code, truncate(h.get(rec.fields, "Co-insurance Percentage"), 20)))
			continue
		}
		f.Rows = append(f.Rows, LimitRow{
			HCPCS: code, Description: h.get(rec.fields, "Short Description"), Dosage: strings.Join(strings.Fields(h.get(rec.fields, "HCPCS Code Dosage")), " "),
			Limit: lim, LimitText: lt, Coinsurance: coins, Notes: h.get(rec.fields, "Notes"), Line: rec.line,
		})
	}
	if len(f.Rows) == 0 {
		return nil, fmt.Errorf("catalog: %s: no usable rows after the header", name)
	}
	return f, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
