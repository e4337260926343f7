package imports_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valuerx/imports"
	"valuerx/store"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	client = imports.ClientID("https://ehr.test", "main")
	at     = time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	joiner = imports.Joiner{Secret: secret, Client: client}
)

func openStore(t *testing.T) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// decision records the card the gateway would have recorded for patient p's draft order mr.
func decision(t *testing.T, s store.Store, id, patient, mr string) {
	t.Helper()
	d := store.Decision{CardUUID: id, HookInstance: "h", ServiceID: "svc", Hook: "order-select", Client: client,
		OrderKey: store.OrderKey(secret, client, patient, mr), ContractID: "mssp-aco", GroupID: "trastuzumab",
		OrderedProductID: "herceptin", BestProductID: "trazimera", At: at,
		Suggestions: []store.Suggestion{{UUID: id + "-s1", ProductID: "trazimera", PayerSaving: 100}}}
	if err := s.RecordDecisions(context.Background(), []store.Decision{d}); err != nil {
		t.Fatal(err)
	}
}

func TestClientIDMatchesTheGateway(t *testing.T) {
	// gateway.clientOf: iss, plus " tenant=" and the tenant claim when there is one.
	if imports.ClientID("https://a", "") != "https://a" || imports.ClientID("https://a", "t1") != "https://a tenant=t1" {
		t.Fatal(imports.ClientID("https://a", "t1"))
	}
}

func TestDecodeAdministration(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		err        error
		patient    string
		request    string
		at         time.Time
		codes      int
	}{
		{"complete", `{"resourceType":"MedicationAdministration","id":"a1","status":"completed","subject":{"reference":"Patient/p1"},"request":{"reference":"MedicationRequest/mr1"},"effectiveDateTime":"2026-02-16T09:30:00+01:00","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1"}]}}`,
			nil, "p1", "mr1", time.Date(2026, 2, 16, 8, 30, 0, 0, time.UTC), 1},
		{"period and absolute references", `{"resourceType":"MedicationAdministration","id":"a2","status":"completed","subject":{"reference":"https://fhir.test/r4/Patient/p2"},"request":{"reference":"https://fhir.test/r4/MedicationRequest/mr2/_history/3"},"effectivePeriod":{"start":"2026-02-16"}}`,
			nil, "p2", "mr2", time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC), 0},
		{"contained medication", `{"resourceType":"MedicationAdministration","id":"a3","status":"completed","subject":{"reference":"Patient/p1"},"request":{"reference":"MedicationRequest/mr1"},"effectiveDateTime":"2026-02-16","medicationReference":{"reference":"#m"},"contained":[{"resourceType":"Medication","id":"m","code":{"coding":[{"system":"x","code":"y"},{"system":"x","code":"z"}]}}]}`,
			nil, "p1", "mr1", time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC), 2},
		{"another resource", `{"resourceType":"Patient","id":"p1"}`, imports.ErrNotAdministration, "", "", time.Time{}, 0},
		{"no request", `{"resourceType":"MedicationAdministration","id":"a","subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-02-16"}`, imports.ErrNoRequest, "", "", time.Time{}, 0},
		{"request not a MedicationRequest", `{"resourceType":"MedicationAdministration","id":"a","subject":{"reference":"Patient/p1"},"request":{"reference":"ServiceRequest/1"},"effectiveDateTime":"2026-02-16"}`, imports.ErrNoRequest, "", "", time.Time{}, 0},
		{"group subject", `{"resourceType":"MedicationAdministration","id":"a","subject":{"reference":"Group/g"},"request":{"reference":"MedicationRequest/1"},"effectiveDateTime":"2026-02-16"}`, imports.ErrNoPatient, "", "", time.Time{}, 0},
		{"no id", `{"resourceType":"MedicationAdministration","subject":{"reference":"Patient/p1"}}`, imports.ErrNoID, "", "", time.Time{}, 0},
		{"bad time", `{"resourceType":"MedicationAdministration","id":"a","subject":{"reference":"Patient/p1"},"request":{"reference":"MedicationRequest/1"},"effectiveDateTime":"yesterday"}`, imports.ErrNoTime, "", "", time.Time{}, 0},
		{"not json", `{"resourceType":`, imports.ErrNotJSON, "", "", time.Time{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := imports.DecodeAdministration([]byte(tc.line))
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if a.PatientID != tc.patient || a.RequestID != tc.request || !a.At.Equal(tc.at) || len(a.Codings) != tc.codes {
				t.Errorf("got %+v", a)
			}
		})
	}
}

// TestImportAdministrationsJoins: patient p1's order mr1 has a card. The export holds two
// completed administrations of it (one line twice), one not done, one of another patient's
// order, a Patient, one without a request, a line too long and a line that is no object:
// 8 lines read, 4 recorded (a1, a2, a3, a4), the repeat counted as repeated, 4 skipped. The order
// then shows 2 completed administrations; a second import of the same file records nothing.
func TestImportAdministrationsJoins(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	decision(t, s, "c1", "p1", "mr1")
	ma := func(id, patient, mr, status, day string) string {
		return `{"resourceType":"MedicationAdministration","id":"` + id + `","status":"` + status + `","subject":{"reference":"Patient/` + patient +
			`"},"request":{"reference":"MedicationRequest/` + mr + `"},"effectiveDateTime":"` + day + `T10:00:00Z"}`
	}
	lines := []string{
		ma("a1", "p1", "mr1", "completed", "2026-02-16"),
		ma("a2", "p1", "mr1", "completed", "2026-03-09"),
		ma("a1", "p1", "mr1", "completed", "2026-02-16"),
		ma("a3", "p1", "mr1", "not-done", "2026-03-30"),
		ma("a4", "p2", "mr1", "completed", "2026-02-16"), // same MedicationRequest id, other patient: another order
		`{"resourceType":"Patient","id":"p1"}`,
		`{"resourceType":"MedicationAdministration","id":"a5","subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-02-16"}`,
		`{"resourceType":"MedicationAdministration","id":"a6","note":"` + strings.Repeat("x", 600) + `"}`,
		`[1,2]`,
	}
	file := strings.Join(lines, "\n") + "\n"
	opts := imports.AdministrationOptions{Joiner: joiner, MaxLine: 512, Now: func() time.Time { return at.AddDate(0, 2, 0) }}
	res, err := imports.ImportAdministrations(ctx, strings.NewReader(file), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 9 || res.Recorded != 4 || res.Repeated != 1 || res.Skipped["not-a-medication-administration"] != 1 ||
		res.Skipped["no-medication-request"] != 1 || res.Skipped["line-too-long"] != 1 || res.Skipped["not-a-json-object"] != 1 ||
		res.FirstSkipped["line-too-long"] != 8 {
		t.Fatalf("result = %+v (%s)", res, res)
	}
	if strings.Contains(res.String(), "p1") || strings.Contains(res.String(), "mr1") {
		t.Fatalf("the summary quotes an id: %s", res)
	}
	orders, err := s.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 || orders[0].Administrations != 2 || !orders[0].FirstAdministeredAt.Equal(time.Date(2026, 2, 16, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("orders = %+v, want one with 2 completed administrations from Feb 16", orders)
	}
	again, err := imports.ImportAdministrations(ctx, strings.NewReader(file), s, opts)
	if err != nil || again.Recorded != 0 || again.Repeated != 5 {
		t.Fatalf("re-import: %+v %v, want nothing new", again, err)
	}
	// Another secret (another installation's key) joins nothing.
	other := opts
	other.Joiner.Secret = []byte("another key, another installation!")
	if _, err := imports.ImportAdministrations(ctx, strings.NewReader(ma("b1", "p1", "mr1", "completed", "2026-04-01")), s, other); err != nil {
		t.Fatal(err)
	}
	orders, _ = s.Orders(ctx, time.Time{}, time.Time{})
	if orders[0].Administrations != 2 {
		t.Fatalf("an administration keyed under another secret joined: %+v", orders[0])
	}
}

// TestImportClaims: two lines of claim 900 for p1's order mr1 (paid 1,241.68 and 310.42), a
// repeat of the first, a row without a date and one with a bad amount: 5 read, 2 recorded, 1
// repeated, 2 skipped; the order sums 1,552.10 paid over 2 lines.
func TestImportClaims(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	decision(t, s, "c1", "p1", "mr1")
	file := "Paid_USD,claim_id,line,patient_id,medication_request_id,service_date,hcpcs,units,allowed_usd,patient_usd,payer_note\n" +
		"1241.68,900,1,p1,mr1,2026-02-16,Q5116,42,1583.78,316.76,x\n" +
		"310.42,900,2,p1,mr1,2026-02-16,J2405,1,396.00,79.20,\n" +
		"1241.68,900,1,p1,mr1,2026-02-16,Q5116,42,1583.78,316.76,x\n" +
		"10,901,1,p1,mr1,,Q5116,1,,,\n" +
		"ten,902,1,p1,mr1,2026-02-16,Q5116,1,,,\n"
	res, err := imports.ImportClaims(ctx, strings.NewReader(file), s, imports.ClaimsOptions{Joiner: joiner})
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 5 || res.Recorded != 2 || res.Repeated != 1 || res.Skipped["bad-service-date"] != 1 || res.Skipped["bad-paid-usd"] != 1 ||
		res.FirstSkipped["bad-service-date"] != 5 {
		t.Fatalf("result = %+v", res)
	}
	orders, err := s.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 || orders[0].ClaimLines != 2 || orders[0].PaidUSD != 1552.10 {
		t.Fatalf("orders = %+v, want 2 claim lines, 1552.10 paid", orders)
	}
	if _, err := imports.ImportClaims(ctx, strings.NewReader("claim_id,patient_id\n1,2\n"), s, imports.ClaimsOptions{Joiner: joiner}); err == nil ||
		!strings.Contains(err.Error(), "medication_request_id") {
		t.Fatalf("a header without the required columns: %v", err)
	}
}

// TestImportAdministrationsDates: the card of p1's order mr1 is at 2026-02-15 10:00, the import
// at 2026-04-15 10:00. Of seven completed administrations, 1990-01-01 and 0001-01-01 are refused
// (before 2000), 9999-12-31 and 10:20 on the import's day (20 minutes ahead, past the 10-minute
// skew) refused (in the future): 7 read, 3 recorded. Of those, 2026-02-10 is five days before
// the card: recorded, but out of the order's window; 2026-02-14 (a date the day before the
// card's, as an EHR a day behind UTC writes it) and 10:05 on the import's day count: the order
// shows 2 administrations, 1 out of window.
func TestImportAdministrationsDates(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	decision(t, s, "c1", "p1", "mr1")
	ma := func(id, when string) string {
		return `{"resourceType":"MedicationAdministration","id":"` + id + `","status":"completed","subject":{"reference":"Patient/p1"},` +
			`"request":{"reference":"MedicationRequest/mr1"},"effectiveDateTime":"` + when + `"}`
	}
	lines := []string{ma("d1", "1990-01-01"), ma("d2", "0001-01-01"), ma("d3", "9999-12-31"), ma("d4", "2026-04-15T10:20:00Z"),
		ma("d5", "2026-04-15T10:05:00Z"), ma("d6", "2026-02-10"), ma("d7", "2026-02-14")}
	opts := imports.AdministrationOptions{Joiner: joiner, Now: func() time.Time { return time.Date(2026, 4, 15, 10, 0, 0, 0, time.UTC) }}
	res, err := imports.ImportAdministrations(ctx, strings.NewReader(strings.Join(lines, "\n")+"\n"), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 7 || res.Recorded != 3 || res.Skipped["effective-time-before-2000"] != 2 || res.Skipped["effective-time-in-future"] != 2 ||
		res.FirstSkipped["effective-time-in-future"] != 3 {
		t.Fatalf("result = %s", res)
	}
	orders, err := s.Orders(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 || orders[0].Administrations != 2 || orders[0].AdministrationsOutOfWindow != 1 ||
		!orders[0].FirstAdministeredAt.Equal(time.Date(2026, 2, 14, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("orders = %+v, want 2 administrations from 2026-02-14, 1 out of window", orders)
	}
}

// TestImportClaimsBounds: one row per case, each refused for its reason or recorded, against a
// real SQLite store; the import is on 2026-04-15.
func TestImportClaimsBounds(t *testing.T) {
	head := "claim_id,line,patient_id,medication_request_id,service_date,hcpcs,units,allowed_usd,paid_usd,patient_usd,ndc\n"
	long := strings.Repeat("9", imports.MaxClaimID+1)
	for _, tc := range []struct {
		name, row, reason string
		paid              float64
	}{
		{"plain", "900,1,p1,mr1,2026-02-16,Q5116,42,1583.78,1241.68,316.76,", "", 1241.68},
		{"dollar sign", "900,1,p1,mr1,2026-02-16,Q5116,42,,$1241.68,,", "", 1241.68},
		{"reversal within the bound", "900,2,p1,mr1,2026-02-16,Q5116,-42,,-1241.68,,", "", -1241.68},
		{"reversal past the bound", "900,2,p1,mr1,2026-02-16,Q5116,,,-999999999,,", "bad-paid-usd", 0},
		{"amount past the bound", "900,1,p1,mr1,2026-02-16,Q5116,,,10000000.01,,", "bad-paid-usd", 0},
		{"underscores", "900,1,p1,mr1,2026-02-16,Q5116,,,1_000,,", "bad-paid-usd", 0},
		{"exponent", "900,1,p1,mr1,2026-02-16,Q5116,,,1e3,,", "bad-paid-usd", 0},
		{"hex float", "900,1,p1,mr1,2026-02-16,Q5116,,,-0x1p3,,", "bad-paid-usd", 0},
		{"infinity", "900,1,p1,mr1,2026-02-16,Q5116,,,+Inf,,", "bad-paid-usd", 0},
		{"thousands comma", `900,1,p1,mr1,2026-02-16,Q5116,,,"1,000",,`, "bad-paid-usd", 0},
		{"fractions of a cent", "900,1,p1,mr1,2026-02-16,Q5116,,,10.005,,", "bad-paid-usd", 0},
		{"units underscore", "900,1,p1,mr1,2026-02-16,Q5116,1_0,,10,,", "bad-units", 0},
		{"year 1", "900,1,p1,mr1,0001-01-01,Q5116,,,10,,", "implausible-service-date", 0},
		{"year 9999", "900,1,p1,mr1,9999-12-31,Q5116,,,10,,", "implausible-service-date", 0},
		{"two days ahead", "900,1,p1,mr1,2026-04-17,Q5116,,,10,,", "implausible-service-date", 0},
		{"a day ahead (a zone ahead of UTC)", "900,1,p1,mr1,2026-04-16,Q5116,,,10,,", "", 10},
		{"formula in hcpcs", `900,1,p1,mr1,2026-02-16,"=cmd|' /C calc'!A0",,,10,,`, "bad-hcpcs", 0},
		{"hcpcs too short", "900,1,p1,mr1,2026-02-16,Q511,,,10,,", "bad-hcpcs", 0},
		{"cpt code", "900,1,p1,mr1,2026-02-16,96413,,,10,,", "", 10},
		{"ndc 5-4-2", "900,1,p1,mr1,2026-02-16,J9355,,,10,,50242-0134-01", "", 10},
		{"ndc formula", "900,1,p1,mr1,2026-02-16,J9355,,,10,,@SUM(1)", "bad-ndc", 0},
		{"ndc bare 10 digits (ambiguous)", "900,1,p1,mr1,2026-02-16,J9355,,,10,,5024201341", "bad-ndc", 0},
		{"claim id too long", long + ",1,p1,mr1,2026-02-16,Q5116,,,10,,", "id-too-long", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			ctx := context.Background()
			decision(t, s, "c1", "p1", "mr1")
			res, err := imports.ImportClaims(ctx, strings.NewReader(head+tc.row+"\n"), s, imports.ClaimsOptions{Joiner: joiner,
				Now: func() time.Time { return time.Date(2026, 4, 15, 10, 0, 0, 0, time.UTC) }})
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason != "" {
				if res.Recorded != 0 || res.Skipped[tc.reason] != 1 {
					t.Fatalf("result = %s, want skipped %s", res, tc.reason)
				}
				return
			}
			orders, err := s.Orders(ctx, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Recorded != 1 || len(orders) != 1 || orders[0].PaidUSD != tc.paid {
				t.Fatalf("result = %s, orders %+v; want one line paying %.2f", res, orders, tc.paid)
			}
		})
	}
}

// endless is a claims file whose second record never ends: a header, one good row, then the
// opening quote of a field that goes on forever (with line ends inside when nl). It counts what
// was read of it.
type endless struct {
	prefix string
	nl     bool
	read   int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if e.read < len(e.prefix) {
			p[n] = e.prefix[e.read]
		} else if e.nl && e.read%64 == 0 {
			p[n] = '\n'
		} else {
			p[n] = 'x'
		}
		n++
		e.read++
	}
	return n, nil
}

// TestImportClaimsRecordBounded: a field without end (the reviewer's was 400 MiB and took
// 2.95 GB of RSS) stops the import with ErrClaimRecordTooLong after about MaxClaimRecord bytes
// read, quoted line ends or not; the good row before it is recorded.
func TestImportClaimsRecordBounded(t *testing.T) {
	for _, nl := range []bool{false, true} {
		s := openStore(t)
		ctx := context.Background()
		decision(t, s, "c1", "p1", "mr1")
		src := &endless{prefix: "claim_id,patient_id,medication_request_id,service_date,hcpcs,paid_usd\n" +
			"900,p1,mr1,2026-02-16,Q5116,10\n\"", nl: nl}
		res, err := imports.ImportClaims(ctx, src, s, imports.ClaimsOptions{Joiner: joiner,
			Now: func() time.Time { return time.Date(2026, 4, 15, 10, 0, 0, 0, time.UTC) }})
		if !errors.Is(err, imports.ErrClaimRecordTooLong) {
			t.Fatalf("newlines %v: err = %v, want ErrClaimRecordTooLong", nl, err)
		}
		if src.read > imports.MaxClaimRecord+64<<10 {
			t.Fatalf("newlines %v: read %d bytes of one record, want about %d", nl, src.read, imports.MaxClaimRecord)
		}
		if res.Recorded != 1 {
			t.Fatalf("newlines %v: the row before the long record: %s", nl, res)
		}
	}
}
