package imports

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
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
var ClaimsHeader = []string{"claim_id", "line", "patient_id", "medication_request_id", "service_date", "hcpcs", "units", "allowed_usd",
	"paid_usd", "patient_usd"}

var requiredClaimColumns = []string{"claim_id", "patient_id", "medication_request_id", "service_date", "hcpcs", "paid_usd"}

// ClaimsOptions configure ImportClaims.
type ClaimsOptions struct {
	Joiner  Joiner
	Catalog *scoring.Catalog // recognises the product an HCPCS code bills; nil records none
	Now     func() time.Time
}

// ErrClaimsHeader is returned when the header lacks a required column.
var ErrClaimsHeader = errors.New("imports: claims header")

// ImportClaims streams a claims CSV into st. A row that cannot be read (a missing id, a bad
// date or amount) is skipped and counted with its line number; a header without the required
// columns refuses the file.
func ImportClaims(ctx context.Context, r io.Reader, st store.Store, o ClaimsOptions) (Result, error) {
	var res Result
	cr := csv.NewReader(r)
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
			return res, fmt.Errorf("imports: read claims: %w", err)
		}
		res.Read++
		line := 0
		if len(rec) > 0 { // FieldPos panics on a failed read or an empty record (FuzzImportClaims)
			line, _ = cr.FieldPos(0)
		}
		c, reason := claimRow(rec, col)
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
	claimID, line, patient, request string
}

// claimRow reads one data row; reason is "" when it is usable.
func claimRow(rec []string, col map[string]int) (claimLine, string) {
	get := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	c := claimLine{claimID: get("claim_id"), line: get("line"), patient: get("patient_id"), request: get("medication_request_id")}
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
	}
	day, err := time.Parse(time.DateOnly, get("service_date"))
	if err != nil {
		return c, "bad-service-date"
	}
	c.ServiceDate = day
	c.HCPCS = strings.ToUpper(get("hcpcs"))
	if c.HCPCS == "" {
		return c, "no-hcpcs"
	}
	for _, f := range []struct {
		name     string
		dst      *float64
		required bool
	}{{"paid_usd", &c.PaidUSD, true}, {"allowed_usd", &c.AllowedUSD, false}, {"patient_usd", &c.PatientUSD, false}, {"units", &c.Units, false}} {
		v := get(f.name)
		if v == "" && !f.required {
			continue
		}
		x, err := strconv.ParseFloat(strings.TrimPrefix(v, "$"), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e9 {
			return c, "bad-" + strings.ReplaceAll(f.name, "_", "-")
		}
		*f.dst = x
	}
	return c, ""
}
