// Package csvcell is the one place valuerx writes CSV cells for people to open in a
// spreadsheet (the report, outcomes and divergence exports, the dashboard's tables, the
// measures' rates and worklist). Every cell goes through Safe, so no export can carry a formula
// a spreadsheet would run (CWE-1236): contract ids come from configuration, but prescriber,
// location and patient ids come from the EHR.
//
// It imports nothing of the project, so every package may use it.
package csvcell

import (
	"encoding/csv"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// plainDecimal is the only kind of cell treated as a number: "-12.50", "0", "1241.68".
// strconv.ParseFloat also takes "+Inf", "-0x1p3", "1e9" and "1_000", which a spreadsheet reads as
// text or a formula.
var plainDecimal = regexp.MustCompile(`^-?[0-9]+(?:\.[0-9]+)?$`)

// triggers start a formula (or, tab and line ends, hide one behind what looks like an empty
// cell) in Excel, LibreOffice or Google Sheets; the full-width forms are read as their ASCII
// twins by spreadsheets in East Asian locales.
const triggers = "=+-@\t\r\n\uFF1D\uFF0B\uFF0D\uFF20"

// Safe returns s, prefixed with a quote when a spreadsheet would start a formula with it and
// it is not a plain decimal number. Leading spaces are looked through: some spreadsheets drop
// them before reading the cell.
func Safe(s string) string {
	t := strings.TrimLeft(s, " ")
	if t == "" {
		return s
	}
	r, _ := utf8.DecodeRuneInString(t)
	if !strings.ContainsRune(triggers, r) || plainDecimal.MatchString(s) {
		return s
	}
	return "'" + s
}

// Writer is a csv.Writer whose every cell goes through Safe.
type Writer struct {
	w   *csv.Writer
	buf []string
}

// NewWriter writes RFC 4180 CSV to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Write writes one record, each cell made Safe (rec itself is not changed).
func (w *Writer) Write(rec []string) error {
	w.buf = w.buf[:0]
	for _, c := range rec {
		w.buf = append(w.buf, Safe(c))
	}
	return w.w.Write(w.buf)
}

// Flush writes what is buffered; Error reports an error of a Write or Flush.
func (w *Writer) Flush()       { w.w.Flush() }
func (w *Writer) Error() error { return w.w.Error() }
