package imports_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"valuerx/imports"
	"valuerx/store"
)

// FuzzDecodeAdministration: any line decodes to an administration that can be joined and dated,
// or to one of the documented reasons; never a panic, and the reason never quotes the line.
func FuzzDecodeAdministration(f *testing.F) {
	f.Add([]byte(`{"resourceType":"MedicationAdministration","id":"a1","status":"completed","subject":{"reference":"Patient/p1"},"request":{"reference":"MedicationRequest/mr1"},"effectiveDateTime":"2026-02-16T09:30:00+01:00"}`))
	f.Add([]byte(`{"resourceType":"MedicationAdministration","id":"a3","subject":{"reference":"Patient/p1"},"request":{"reference":"MedicationRequest/mr1"},"effectivePeriod":{"start":"2026-02-16"},"medicationReference":{"reference":"#m"},"contained":[{"resourceType":"Medication","id":"m","code":{"coding":[{"system":"x","code":"y"}]}}]}`))
	f.Add([]byte(`{"resourceType":"Patient"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, line []byte) {
		a, err := imports.DecodeAdministration(line)
		if err != nil {
			if len(line) > 8 && strings.Contains(err.Error(), string(line)) {
				t.Fatalf("the error quotes the line: %v", err)
			}
			return
		}
		if a.ID == "" || a.PatientID == "" || a.RequestID == "" || a.At.IsZero() {
			t.Fatalf("accepted an administration that cannot be joined or dated: %+v", a)
		}
	})
}

// discard is a store that keeps nothing: the claims fuzz target exercises the parser, not SQLite.
// (A fake: the claims parser is what is fuzzed; the real store is tested in imports_test.go.)
type discard struct{ store.Store }

func (discard) RecordClaims(_ context.Context, cs []store.Claim) (int, error) {
	for _, c := range cs {
		if c.Key == "" || c.OrderKey == "" || c.ServiceDate.IsZero() || c.HCPCS == "" {
			panic("a claim line without its keys, date or code was accepted")
		}
		if math.Abs(c.PaidUSD) > imports.MaxClaimUSD || math.Abs(c.AllowedUSD) > imports.MaxClaimUSD || math.Abs(c.Units) > imports.MaxClaimUnits ||
			c.ServiceDate.Before(imports.EarliestPlausible) || len(c.HCPCS) != 5 || strings.ContainsAny(c.HCPCS[:1], "=+-@") {
			panic("a claim line out of its bounds was accepted")
		}
	}
	return len(cs), nil
}

// FuzzImportClaims: any CSV is read, skipped row by row or refused at the header; never a panic.
func FuzzImportClaims(f *testing.F) {
	f.Add("claim_id,line,patient_id,medication_request_id,service_date,hcpcs,units,allowed_usd,paid_usd,patient_usd\n900,1,p1,mr1,2026-02-16,Q5116,42,1583.78,1241.68,316.76\n")
	f.Add("paid_usd,claim_id,patient_id,medication_request_id,service_date,hcpcs\n\"1,0\",1,2,3,2026-01-01,j9355\n")
	f.Add("claim_id\n\"unterminated\n")
	f.Fuzz(func(t *testing.T, file string) {
		res, err := imports.ImportClaims(context.Background(), strings.NewReader(file), discard{}, imports.ClaimsOptions{Joiner: joiner})
		if err == nil && res.Recorded+res.Repeated+sum(res.Skipped) != res.Read {
			t.Fatalf("rows read %d, but recorded %d + repeated %d + skipped %v", res.Read, res.Recorded, res.Repeated, res.Skipped)
		}
	})
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
