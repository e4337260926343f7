package catalog

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Reject is one row (or file) the importer could not use, and why. Line is the 1-based line of
// the file the row starts on (0: the whole file).
type Reject struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Reason string `json:"reason"`
}

func (r Reject) String() string {
	if r.Line == 0 {
		return fmt.Sprintf("%s: %s", r.File, r.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason)
}

// Period is an effective period, Start to End inclusive, as calendar days (UTC midnight).
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Quarter names the calendar quarter the period starts in, e.g. "2026Q1".
func (p Period) Quarter() string {
	return fmt.Sprintf("%dQ%d", p.Start.Year(), (int(p.Start.Month())-1)/3+1)
}

// maxFileBytes bounds what the parsers read from one file (the largest crosswalk is 2.8 MB).
const maxFileBytes = 64 << 20

// decodeText turns a file's bytes into UTF-8: a UTF-8 byte-order mark is dropped, valid UTF-8 is
// kept, anything else is read as Windows-1252 (what the CMS files are written in: 0x99 is "™").
func decodeText(b []byte) string {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if utf8.Valid(b) {
		return string(b)
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil { // Windows-1252 decodes every byte; kept for the contract of Bytes
		return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
	}
	return string(s)
}

// record is one CSV record with the line it starts on.
type record struct {
	fields []string
	line   int
}

// readRecords reads every record of a CSV (or, with comma '~', tilde-separated) text. Records may
// have any number of fields (the CMS files pad lines with empty columns); quotes are strict except
// that a stray quote inside an unquoted field is kept (LazyQuotes), as the agencies' files do.
func readRecords(text string, comma rune) ([]record, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = false
	var out []record
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		line, _ := r.FieldPos(0)
		out = append(out, record{fields: trimTrailingEmpty(rec), line: line})
	}
}

// trimTrailingEmpty drops the empty columns CMS pads its lines with.
func trimTrailingEmpty(rec []string) []string {
	n := len(rec)
	for n > 0 && strings.TrimSpace(rec[n-1]) == "" {
		n--
	}
	return rec[:n]
}

// readAllLimited reads at most maxFileBytes.
func readAllLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("larger than %d MiB", maxFileBytes>>20)
	}
	return b, nil
}

// header maps normalised column names to their index.
type header map[string]int

func newHeader(fields []string) header {
	h := header{}
	for i, f := range fields {
		k := normCol(f)
		if _, dup := h[k]; !dup && k != "" {
			h[k] = i
		}
	}
	return h
}

// normCol folds a column name: case, spaces, punctuation.
func normCol(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (h header) get(rec []string, col string) string {
	i, ok := h[normCol(col)]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func (h header) has(cols ...string) bool {
	for _, c := range cols {
		if _, ok := h[normCol(c)]; !ok {
			return false
		}
	}
	return true
}

// parseNumber reads a decimal as CMS writes it ("1,234.500" included).
func parseNumber(s string) (float64, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	s = strings.TrimPrefix(s, "$")
	if s == "" {
		return 0, errors.New("empty")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v != v || v > 1e12 || v < -1e12 { // NaN or absurd
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return v, nil
}

// isHCPCS accepts a HCPCS Level II code (letter + 4 digits) or a CPT code (5 digits).
func isHCPCS(s string) bool {
	if len(s) != 5 {
		return false
	}
	for i := 1; i < 5; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	c := s[0]
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// isCPT says whether a code is an AMA CPT code (five digits, e.g. the 90xxx vaccines), which a
// product shipping these files may not redistribute (agency README, licensing).
func isCPT(s string) bool { return len(s) == 5 && s[0] >= '0' && s[0] <= '9' }
