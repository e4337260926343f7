// Package imports brings the realised side of the decision record in from the EHR and the
// payer (issue 16 item 2): MedicationAdministration resources from a FHIR Bulk Data export
// (NDJSON) and paid claim lines from a claims or remittance CSV. Each is joined to its order by
// the keyed hash the gateway stored for the draft order (store.OrderKey of the client, the
// patient id and the MedicationRequest id), so neither id is ever stored; each line's own id is
// kept only as a keyed hash, which makes a re-import of the same file a no-op.
//
// Reading is streamed with bounded memory: one line (NDJSON, at most MaxLine bytes) or one CSV
// record at a time, written in batches of Batch. Errors and skipped lines name the line number
// and a reason, never the content (it holds PHI).
//
// It imports fhir (the NDJSON reader), scoring (to recognise the product a code denotes) and
// store; never gateway.
package imports

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"valuerx/fhir"
	"valuerx/scoring"
	"valuerx/store"
)

// Batch is how many records one store write takes.
const Batch = 500

// Joiner computes the keys of the record: the order key exactly as the gateway does for the
// client, and keyed hashes of the imported lines' own ids.
type Joiner struct {
	// Secret is the gateway's order key secret (orderKeySecretFile, or the file beside the
	// SQLite store): without the same secret nothing joins.
	Secret []byte
	// Client is the CDS client the orders came from, as the gateway records it: the JWT iss,
	// plus " tenant=<tenant>" when the client's tokens carry a tenant.
	Client string
}

// ClientID is the client string the gateway records for an issuer and an optional tenant.
func ClientID(issuer, tenant string) string {
	if tenant != "" {
		return issuer + " tenant=" + tenant
	}
	return issuer
}

func (j Joiner) order(patientID, requestID string) string {
	return store.OrderKey(j.Secret, j.Client, patientID, requestID)
}

// own is the keyed hash of an imported line's id (kind separates administrations from claims).
func (j Joiner) own(kind string, parts ...string) string {
	m := hmac.New(sha256.New, j.Secret)
	m.Write([]byte(kind))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Result says what an import did.
type Result struct {
	Read     int // resources or data rows read
	Recorded int // new in the store
	Repeated int // already in the store (a re-import)
	// Skipped counts lines not recorded, by reason (e.g. "not-a-medication-administration",
	// "no-request", "line 12: bad date" is never used: reasons carry no line content).
	Skipped map[string]int
	// FirstSkipped names the line number of the first skipped line per reason, to find it.
	FirstSkipped map[string]int
}

func (r *Result) skip(reason string, line int) {
	if r.Skipped == nil {
		r.Skipped, r.FirstSkipped = map[string]int{}, map[string]int{}
	}
	if r.Skipped[reason] == 0 {
		r.FirstSkipped[reason] = line
	}
	r.Skipped[reason]++
}

// String is a one-line summary for the command line.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d, recorded %d new, %d already recorded", r.Read, r.Recorded, r.Repeated)
	keys := make([]string, 0, len(r.Skipped))
	for k := range r.Skipped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "; skipped %d %s (first at line %d)", r.Skipped[k], k, r.FirstSkipped[k])
	}
	return b.String()
}

// productOf recognises the catalog product of a coding list: RxNorm, then NDC, then HCPCS.
func productOf(cat *scoring.Catalog, codings []coding) string {
	if cat == nil {
		return ""
	}
	for _, o := range []struct {
		systems []string
		kind    scoring.CodeSystem
	}{
		{[]string{fhir.SystemRxNorm, "urn:oid:2.16.840.1.113883.6.88"}, scoring.RxNorm},
		{[]string{fhir.SystemNDC, "urn:oid:2.16.840.1.113883.6.69"}, scoring.NDC},
		{[]string{fhir.SystemHCPCS, "urn:oid:2.16.840.1.113883.6.285"}, scoring.HCPCS},
	} {
		for _, c := range codings {
			sys := strings.TrimRight(strings.TrimSpace(c.System), "/")
			for _, want := range o.systems {
				if sys == want {
					if p, ok := cat.Lookup(o.kind, strings.TrimSpace(c.Code)); ok {
						return p.ID
					}
				}
			}
		}
	}
	return ""
}

// flush writes a batch of administrations and counts what was new.
func flushAdmins(ctx context.Context, st store.Store, batch []store.Administration, res *Result) error {
	if len(batch) == 0 {
		return nil
	}
	n, err := st.RecordAdministrations(ctx, batch)
	if err != nil {
		return fmt.Errorf("imports: record administrations: %w", err)
	}
	res.Recorded += n
	res.Repeated += len(batch) - n
	return nil
}

func now(clock func() time.Time) time.Time {
	if clock == nil {
		return time.Now().UTC()
	}
	return clock().UTC()
}
