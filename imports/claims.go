package imports

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"valuerx/scoring"
	"valuerx/store"
)

// ClaimsHeader is the claims CSV's documented header (README "The programme report"): one paid
// claim line per row, RFC 4180, UTF-8, in any column order; other columns are ignored.
//
//	claim_id               the payer's claim number (with line: the line's identity; stored only as a keyed hash)
//	line                   the claim line number (optional; "1" when absent)
//	patient_id             the EHR's Patient id, as in the hooks' context.patientId (never stored)
//	medication_request_id  the MedicationRequest id of the order the line pays for (never stored)
//	service_date           YYYY-MM-DD
//	hcpcs                  the billed HCPCS code (J9355, Q5116, ...)
//	units                  billing units (optional)
//	allowed_usd            the allowed amount (optional)
//	paid_usd               what the payer paid
//	patient_usd            the patient's responsibility (optional)
//	ndc                    the billed NDC (optional; 11 digits or a dashed 10-digit layout), read
//	                       for the product when the HCPCS code names none
//
// Bounds (attacker review finding 4): a record (one row, quoted newlines included) is at most
// MaxClaimRecord bytes, or the import stops there (what was recorded stays); ids are at most
// MaxClaimID bytes; service_date lies between 2000-01-01 and the import's day after; amounts
// are plain decimals ("1241.68", optionally "$1241.68", at most two decimals; no "1_000",
// "1e3", "0x10", "1,000" or "Inf"), at most MaxClaimUSD in magnitude; a negative amount is a
// reversal (the payer taking back a line), accepted within the same bound, and sums with the
// line it reverses; units are plain decimals within MaxClaimUnits either way; hcpcs is a HCPCS
// Level II (letter and four digits, J9355) or CPT (five characters, four digits first) code.
var ClaimsHeader = []string{"claim_id", "line", "patient_id", "medication_request_id", "service_date", "hcpcs", "units", "allowed_usd",
	"paid_usd", "patient_usd", "ndc"}

var requiredClaimColumns = []string{"claim_id", "patient_id", "medication_request_id", "service_date", "hcpcs", "paid_usd"}

// ClaimsOptions configure ImportClaims.
type ClaimsOptions struct {
	Joiner  Joiner
	Catalog *scoring.Catalog // recognises the product an HCPCS code bills; nil records none
	Now     func() time.Time
}

// ErrClaimsHeader is returned when the header lacks a required column.
var ErrClaimsHeader = errors.New("imports: claims header")

// Bounds of a claims file (ClaimsHeader).
const (
	MaxClaimRecord = 1 << 20    // bytes of one CSV record
	MaxClaimID     = 128        // bytes of claim_id, line, patient_id, medication_request_id
	MaxClaimUSD    = 10_000_000 // magnitude of an amount: the dearest single-dose therapies cost a few million
	MaxClaimUnits  = 100_000    // magnitude of billing units
)

// ErrClaimRecordTooLong stops an import at a record longer than MaxClaimRecord.
var ErrClaimRecordTooLong = errors.New("imports: claims record longer than 1 MiB")

// recordLimiter passes a CSV stream through and fails once one record (RFC 4180: up to a line
// end outside quotes) passes max bytes, so that csv.Reader, which has no limit of its own,
// never holds more than about max bytes of one record (a 400 MiB field took 2.95 GB of RSS).
type recordLimiter struct {
	r          io.Reader
	max, n     int
	line       int // line ends seen, for the error
	quoted     bool
	quoteClose bool // a quote seen inside a quoted field: closes it unless another follows
	fieldStart bool
	err        error
}

func newRecordLimiter(r io.Reader, max int) *recordLimiter {
	return &recordLimiter{r: r, max: max, fieldStart: true}
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		b := p[i]
		if l.quoteClose {
			l.quoteClose = false
			if b == '"' { // "" inside quotes: an escaped quote
				l.n++
				continue
			}
			l.quoted = false
		}
		switch {
		case l.quoted:
			if b == '"' {
				l.quoteClose = true
			}
		case b == '"' && l.fieldStart:
			l.quoted = true
		}
		l.fieldStart = !l.quoted && (b == ',' || b == '\n')
		if b == '\n' {
			l.line++
		}
		if b == '\n' && !l.quoted {
			l.n = 0
			continue
		}
		l.n++
		if l.n > l.max {
			l.err = fmt.Errorf("%w (the record ending after line %d)", ErrClaimRecordTooLong, l.line+1)
			return i, l.err
		}
	}
	return n, err
}

// ImportClaims streams a claims CSV into st. A row that cannot be read (a missing id, a bad
// date or amount) is skipped and counted with its line number; a header without the required
// columns refuses the file.
func ImportClaims(ctx context.Context, r io.Reader, st store.Store, o ClaimsOptions) (Result, error) {
	var res Result
	cr := csv.NewReader(newRecordLimiter(r, MaxClaimRecord))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrClaimsHeader, err)
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	for _, c := range requiredClaimColumns {
		if _, ok := col[c]; !ok {
			return res, fmt.Errorf("%w: no %q column (required: %s)", ErrClaimsHeader, c, strings.Join(requiredClaimColumns, ", "))
		}
	}
	imported := now(o.Now)
	latest := imported.Truncate(24*time.Hour).AddDate(0, 0, 1) // a service date may be the import's day in a zone ahead of UTC
	batch := make([]store.Claim, 0, Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := st.RecordClaims(ctx, batch)
		if err != nil {
			return fmt.Errorf("imports: record claims: %w", err)
		}
		res.Recorded += n
		res.Repeated += len(batch) - n
		batch = batch[:0]
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.Read++
				res.skip("unreadable-csv-row", pe.Line)
				continue
			}
			if ferr := flush(); ferr != nil {
				return res, ferr
			}
			return res, fmt.Errorf("imports: read claims: %w", err)
		}
		res.Read++
		line := 0
		if len(rec) > 0 { // FieldPos panics on a failed read or an empty record (FuzzImportClaims)
			line, _ = cr.FieldPos(0)
		}
		c, reason := claimRow(rec, col, latest)
		if reason != "" {
			res.skip(reason, line)
			continue
		}
		c.Client, c.ImportedAt = o.Joiner.Client, imported
		c.OrderKey = o.Joiner.order(c.patient, c.request)
		c.Key = o.Joiner.own("claim", c.claimID, c.line)
		if o.Catalog != nil {
			if p, ok := o.Catalog.Lookup(scoring.HCPCS, c.HCPCS); ok {
				c.ProductID = p.ID
			} else if p, ok := o.Catalog.Lookup(scoring.NDC, c.ndc); ok && c.ndc != "" {
				c.ProductID = p.ID
			}
		}
		batch = append(batch, c.Claim)
		if len(batch) == Batch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}

type claimLine struct {
	store.Claim
	claimID, line, patient, request, ndc string
}

var (
	hcpcsCode = regexp.MustCompile(`^(?:[A-V][0-9]{4}|[0-9]{4}[0-9A-Z])$`)
	// plainDecimal is a number as a claims file writes it: digits, at most one point and four
	// decimals after it (units may be fractional), an optional minus. strconv.ParseFloat alone
	// also takes "1_000", "1e3", "0x1p3", "Inf" and "NaN".
	plainDecimal = regexp.MustCompile(`^-?[0-9]{1,12}(?:\.[0-9]{1,4})?$`)
)

// amount reads a plain decimal, "$" allowed after the sign for dollars, within bound either way.
func amount(v string, dollars bool, bound float64) (float64, bool) {
	neg := strings.HasPrefix(v, "-")
	v = strings.TrimPrefix(v, "-")
	if dollars {
		v = strings.TrimPrefix(v, "$")
		if i := strings.IndexByte(v, '.'); i >= 0 && len(v)-i-1 > 2 {
			return 0, false // cents at most
		}
	}
	if !plainDecimal.MatchString(v) {
		return 0, false
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || x > bound {
		return 0, false
	}
	if neg {
		x = -x
	}
	return x, true
}

// claimRow reads one data row; reason is "" when it is usable. latest is the latest plausible
// service date.
func claimRow(rec []string, col map[string]int, latest time.Time) (claimLine, string) {
	get := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	c := claimLine{claimID: get("claim_id"), line: get("line"), patient: get("patient_id"), request: get("medication_request_id"), ndc: get("ndc")}
	if c.line == "" {
		c.line = "1"
	}
	switch {
	case c.claimID == "":
		return c, "no-claim-id"
	case c.patient == "":
		return c, "no-patient-id"
	case c.request == "":
		return c, "no-medication-request-id"
	case len(c.claimID) > MaxClaimID || len(c.line) > MaxClaimID || len(c.patient) > MaxClaimID || len(c.request) > MaxClaimID:
		return c, "id-too-long"
	}
	day, err := time.Parse(time.DateOnly, get("service_date"))
	if err != nil {
		return c, "bad-service-date"
	}
	if day.Before(EarliestPlausible) || day.After(latest) {
		return c, "implausible-service-date"
	}
	c.ServiceDate = day
	c.HCPCS = strings.ToUpper(get("hcpcs"))
	if c.HCPCS == "" {
		return c, "no-hcpcs"
	}
	if !hcpcsCode.MatchString(c.HCPCS) {
		return c, "bad-hcpcs"
	}
	if c.ndc != "" {
		n, ok := scoring.NormalizeNDC(c.ndc)
		if !ok {
			return c, "bad-ndc"
		}
		c.ndc = n
	}
	for _, f := range []struct {
		name     string
		dst      *float64
		required bool
		dollars  bool
		bound    float64
	}{{"paid_usd", &c.PaidUSD, true, true, MaxClaimUSD}, {"allowed_usd", &c.AllowedUSD, false, true, MaxClaimUSD},
		{"patient_usd", &c.PatientUSD, false, true, MaxClaimUSD}, {"units", &c.Units, false, false, MaxClaimUnits}} {
		v := get(f.name)
		if v == "" && !f.required {
			continue
		}
		x, ok := amount(v, f.dollars, f.bound)
		if !ok {
			return c, "bad-" + strings.ReplaceAll(f.name, "_", "-")
		}
		*f.dst = x
	}
	return c, ""
}
