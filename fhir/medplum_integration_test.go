package fhir_test

// Integration test of valuerx's FHIR client against an independent FHIR R4 server implementation:
// Medplum's @medplum/fhir-router (MemoryRepository) from the npm registry, pinned in
// integration/medplum/package.json and wrapped by integration/medplum/server.js. Nobody on the
// valuerx team wrote its search matching, paging or transaction processing, so passing here shows
// the client and the prefetch queries valuerx declares work against someone else's server.
//
// It is skipped unless VALUERX_MEDPLUM_URL (the FHIR base, e.g. http://127.0.0.1:8103/fhir/R4)
// and VALUERX_MEDPLUM_TOKEN (the bearer token the wrapper requires) are set. Locally:
//
//	export VALUERX_MEDPLUM_TOKEN=valuerx-medplum-ci-token
//	export VALUERX_MEDPLUM_URL="$(.ci/medplum.sh)"
//	go test ./fhir -run Medplum -v
//	.ci/medplum.sh stop
//
// What Medplum 4.5.2 accepts for a patient-scoped search (checked against the server, and pinned
// by the "patient search forms" subtest below): a reference search parameter matches only the
// relative literal reference as stored, so Coverage?patient=Patient/{id}, Coverage?beneficiary=
// Patient/{id} and MedicationRequest?subject=Patient/{id} match, while the bare id
// (Coverage?patient={id}, the form CDS Hooks examples expand {{context.patientId}} into and which
// FHIR R4 search allows), the type modifier (patient:Patient={id}) and the absolute URL all match
// nothing. HAPI, for one, accepts the bare id too; so when valuerx queries the EHR itself it must
// expand the patient as Patient/{id}, the one form every server matches.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"valuerx/fhir"
)

// medplumTemplates are the prefetch templates valuerx declares for the queries it falls back to
// when prefetch is absent, with {{context.patientId}} standing for the patient.
var medplumTemplates = []struct {
	name, template, wantType string
}{
	{"coverage", "Coverage?patient={{context.patientId}}&status=active", "Coverage"},
	{"medications", "MedicationRequest?patient={{context.patientId}}", "MedicationRequest"},
	{"weight", "Observation?patient={{context.patientId}}&code=" + fhir.SystemLOINC + "|" + fhir.LOINCBodyWeight, "Observation"},
}

// expandForMedplum expands a template for the FHIR query valuerx issues itself: the patient as the
// relative reference Patient/{id} (see the file comment for why not the bare id).
func expandForMedplum(tmpl, patientID string) string {
	return strings.ReplaceAll(tmpl, "{{context.patientId}}", "Patient/"+patientID)
}

// withCount adds _count to a query so the server pages.
func withCount(query string, n int) string {
	return fmt.Sprintf("%s&_count=%d", query, n)
}

// recordingTransport records each request the client makes: the URL (path and query) and whether
// it carried the expected bearer token. It never records the token itself.
type recordingTransport struct {
	token string
	mu    sync.Mutex
	reqs  []recordedRequest
}

type recordedRequest struct {
	URL       *url.URL
	WithToken bool
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, recordedRequest{URL: r.URL, WithToken: r.Header.Get("Authorization") == "Bearer "+rt.token})
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// take returns the requests recorded since the last call and forgets them.
func (rt *recordingTransport) take() []recordedRequest {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := rt.reqs
	rt.reqs = nil
	return out
}

// medplumFixture is the demo data one run loads, with the ids Medplum holds them under.
type medplumFixture struct {
	PatientID     string
	MBI           string
	CoverageID    string
	MedRequestIDs []string
	ObservationID string // assigned by Medplum (the entry is a POST create)
}

// medplumBundle builds the transaction: PUT entries with ids of our choosing (Medplum keeps them,
// so the ids are stable) and one POST create (Medplum assigns the id; we read it back from the
// transaction-response) whose subject is the Patient's urn:uuid, which Medplum must rewrite.
func medplumBundle(run string) (medplumFixture, []byte) {
	fx := medplumFixture{
		PatientID:     "vrx-" + run + "-pat",
		MBI:           "1EG4TE5MK73", // the CMS MBI format example, not a real beneficiary
		CoverageID:    "vrx-" + run + "-cov",
		MedRequestIDs: []string{"vrx-" + run + "-mr-herceptin", "vrx-" + run + "-mr-atorvastatin"},
	}
	patientURN := "urn:uuid:" + uuidV4()
	pat := "Patient/" + fx.PatientID
	put := func(res map[string]any) map[string]any {
		return map[string]any{
			"resource": res,
			"request":  map[string]any{"method": "PUT", "url": fmt.Sprintf("%s/%s", res["resourceType"], res["id"])},
		}
	}
	medReq := func(id, system, code, display, authored string) map[string]any {
		return put(map[string]any{
			"resourceType": "MedicationRequest", "id": id, "status": "active", "intent": "order",
			"subject":    map[string]any{"reference": pat},
			"authoredOn": authored,
			"medicationCodeableConcept": map[string]any{
				"coding": []any{map[string]any{"system": system, "code": code, "display": display}},
			},
		})
	}
	patient := put(map[string]any{
		"resourceType": "Patient", "id": fx.PatientID,
		"identifier": []any{map[string]any{"system": fhir.SystemMBI, "value": fx.MBI}},
		"gender":     "female",
	})
	patient["fullUrl"] = patientURN
	entries := []any{
		patient,
		put(map[string]any{
			"resourceType": "Coverage", "id": fx.CoverageID, "status": "active",
			"type": map[string]any{"coding": []any{map[string]any{
				"system": fhir.SystemSOPT, "code": "121", "display": "Medicare FFS"}}},
			"subscriberId": fx.MBI,
			"beneficiary":  map[string]any{"reference": pat},
			"relationship": map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}}},
			"period": map[string]any{"start": "2026-01-01"},
			"payor":  []any{map[string]any{"display": "Centers for Medicare & Medicaid Services"}},
		}),
		medReq(fx.MedRequestIDs[0], fhir.SystemRxNorm, "1922509", "Trastuzumab 150 MG Injection [Herceptin]", "2026-02-02"),
		medReq(fx.MedRequestIDs[1], fhir.SystemRxNorm, "617312", "atorvastatin 10 MG Oral Tablet", "2025-11-20"),
		map[string]any{
			"fullUrl": "urn:uuid:" + uuidV4(),
			"resource": map[string]any{
				"resourceType": "Observation", "status": "final",
				"subject": map[string]any{"reference": patientURN},
				"code": map[string]any{"coding": []any{map[string]any{
					"system": fhir.SystemLOINC, "code": fhir.LOINCBodyWeight, "display": "Body weight"}}},
				"effectiveDateTime": "2026-01-15",
				"valueQuantity": map[string]any{
					"value": 68.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
			},
			"request": map[string]any{"method": "POST", "url": "Observation"},
		},
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if err != nil {
		panic(err) // only maps, strings and numbers
	}
	return fx, b
}

func uuidV4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// postTransaction POSTs a transaction Bundle (test set-up, outside the client under test, which
// only reads) and returns the response's entry locations ("Type/id", without _history).
func postTransaction(ctx context.Context, t *testing.T, hc *http.Client, base, token string, body []byte) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/"), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST transaction: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read transaction-response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST transaction: status %d: %.500s", resp.StatusCode, raw)
	}
	var out struct {
		Type  string `json:"type"`
		Entry []struct {
			Response struct {
				Status   string `json:"status"`
				Location string `json:"location"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode transaction-response: %v", err)
	}
	if out.Type != "transaction-response" {
		t.Fatalf("Bundle.type = %q, want transaction-response", out.Type)
	}
	locs := make([]string, len(out.Entry))
	for i, e := range out.Entry {
		if !strings.HasPrefix(e.Response.Status, "2") {
			t.Fatalf("entry %d: status %q", i, e.Response.Status)
		}
		typ, id := fhir.SplitReference(strings.Split(e.Response.Location, "/_history/")[0])
		locs[i] = typ + "/" + id
	}
	return locs
}

func resourceIDs(t *testing.T, wantType string, res []json.RawMessage) []string {
	t.Helper()
	ids := make([]string, 0, len(res))
	for _, r := range res {
		if got := fhir.ResourceType(r); got != wantType {
			t.Errorf("resourceType = %q, want %q", got, wantType)
		}
		var probe struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r, &probe); err != nil {
			t.Fatalf("decode id: %v", err)
		}
		ids = append(ids, probe.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestMedplumIntegration(t *testing.T) {
	base, token := os.Getenv("VALUERX_MEDPLUM_URL"), os.Getenv("VALUERX_MEDPLUM_TOKEN")
	if base == "" || token == "" {
		t.Skip("VALUERX_MEDPLUM_URL and VALUERX_MEDPLUM_TOKEN not set; start the server with .ci/medplum.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	rt := &recordingTransport{token: token}
	hc := &http.Client{Transport: rt, Timeout: 15 * time.Second}
	run := uuidV4()[:8] // fresh ids per run: repeated runs against one server stay independent
	fx, bundle := medplumBundle(run)
	locs := postTransaction(ctx, t, &http.Client{Timeout: 15 * time.Second}, base, token, bundle)
	wantLocs := []string{"Patient/" + fx.PatientID, "Coverage/" + fx.CoverageID,
		"MedicationRequest/" + fx.MedRequestIDs[0], "MedicationRequest/" + fx.MedRequestIDs[1]}
	if len(locs) != 5 || !slices.Equal(locs[:4], wantLocs) {
		t.Fatalf("transaction locations = %q, want PUT ids kept %q and one Observation", locs, wantLocs)
	}
	if typ, id := fhir.SplitReference(locs[4]); typ != "Observation" || id == "" {
		t.Fatalf("Observation location = %q, want Observation/<assigned id>", locs[4])
	} else {
		fx.ObservationID = id
	}
	t.Logf("loaded 5 resources; Medplum assigned Observation/%s", fx.ObservationID)

	c, err := fhir.NewClient(base, token, hc, true)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}

	t.Run("read patient", func(t *testing.T) {
		raw, err := c.Read(ctx, "Patient", fx.PatientID)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		var p r4.Patient
		if err := fhir.Decode(raw, &p); err != nil {
			t.Fatal(err)
		}
		if p.Id == nil || *p.Id != fx.PatientID {
			t.Errorf("Patient.id = %v, want %s", p.Id, fx.PatientID)
		}
		var mbi string
		for _, id := range p.Identifier {
			if id.System != nil && *id.System == fhir.SystemMBI && id.Value != nil {
				mbi = *id.Value
			}
		}
		if mbi != fx.MBI {
			t.Errorf("MBI identifier = %q, want %q", mbi, fx.MBI)
		}
		reqs := rt.take()
		if len(reqs) != 1 || !reqs[0].WithToken || !strings.HasSuffix(reqs[0].URL.Path, "/Patient/"+fx.PatientID) {
			t.Errorf("requests = %+v, want one GET .../Patient/%s with the bearer token", reqs, fx.PatientID)
		}
	})

	// Each declared template, expanded for the patient, searched unpaged and with _count=1 so the
	// client must follow Medplum's next links; both must give the same resources.
	want := map[string][]string{
		"coverage":    {fx.CoverageID},
		"medications": slices.Sorted(slices.Values(fx.MedRequestIDs)),
		"weight":      {fx.ObservationID},
	}
	for _, tc := range medplumTemplates {
		t.Run("template "+tc.name, func(t *testing.T) {
			query := expandForMedplum(tc.template, fx.PatientID)
			res, err := c.Search(ctx, query)
			if err != nil {
				t.Fatalf("Search(%s): %v", tc.template, err)
			}
			if got := resourceIDs(t, tc.wantType, res); !slices.Equal(got, want[tc.name]) {
				t.Errorf("Search(%s) ids = %q, want %q", tc.template, got, want[tc.name])
			}
			if reqs := rt.take(); len(reqs) != 1 {
				t.Errorf("unpaged search made %d requests, want 1", len(reqs))
			}

			paged, err := c.Search(ctx, withCount(query, 1))
			if err != nil {
				t.Fatalf("Search(%s, _count=1): %v", tc.template, err)
			}
			if got := resourceIDs(t, tc.wantType, paged); !slices.Equal(got, want[tc.name]) {
				t.Errorf("paged ids = %q, want %q", got, want[tc.name])
			}
			reqs := rt.take()
			if len(reqs) != len(want[tc.name]) {
				t.Errorf("paged search made %d requests, want one per resource (%d)", len(reqs), len(want[tc.name]))
			}
			for i, r := range reqs {
				if !r.WithToken {
					t.Errorf("page %d sent without the bearer token", i+1)
				}
				if i > 0 && r.URL.Query().Get("_offset") != fmt.Sprint(i) {
					t.Errorf("page %d URL has _offset=%q, want the server's next link (_offset=%d)", i+1, r.URL.Query().Get("_offset"), i)
				}
			}
			t.Logf("%s: %d resource(s), %d page(s) at _count=1", tc.template, len(paged), len(reqs))
		})
	}

	t.Run("resource content", func(t *testing.T) {
		cov, err := c.Search(ctx, expandForMedplum(medplumTemplates[0].template, fx.PatientID))
		if err != nil || len(cov) != 1 {
			t.Fatalf("coverage search: %d resources, err %v", len(cov), err)
		}
		var cv r4.Coverage
		if err := fhir.Decode(cov[0], &cv); err != nil {
			t.Fatal(err)
		}
		if cv.Type == nil {
			t.Fatal("Coverage.type missing")
		}
		if got := fhir.Codings(*cv.Type, fhir.SystemSOPT); !slices.Equal(got, []string{"121"}) {
			t.Errorf("Coverage SOPT codes = %q, want [121]", got)
		}
		if cv.Status != r4.FinancialResourceStatusCodesActive {
			t.Errorf("Coverage.status = %v, want active", cv.Status)
		}
		obs, err := c.Read(ctx, "Observation", fx.ObservationID)
		if err != nil {
			t.Fatalf("Read Observation: %v", err)
		}
		var o r4.Observation
		if err := fhir.Decode(obs, &o); err != nil {
			t.Fatal(err)
		}
		if o.Subject == nil || o.Subject.Reference == nil || *o.Subject.Reference != "Patient/"+fx.PatientID {
			t.Errorf("Observation.subject = %v, want Medplum to rewrite the urn:uuid to Patient/%s", o.Subject, fx.PatientID)
		}
		if o.ValueQuantity == nil || o.ValueQuantity.Value == nil || o.ValueQuantity.Value.String() != "68.5" {
			t.Errorf("Observation.valueQuantity = %+v, want 68.5 kg", o.ValueQuantity)
		}
		rt.take()
	})

	t.Run("get raw bundle", func(t *testing.T) {
		query := withCount(expandForMedplum(medplumTemplates[1].template, fx.PatientID), 1)
		raw, err := c.Get(ctx, query)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		res, next, err := fhir.BundleResources(raw)
		if err != nil {
			t.Fatalf("BundleResources: %v", err)
		}
		if len(res) != 1 {
			t.Errorf("first page has %d resources, want 1", len(res))
		}
		if !strings.HasPrefix(next, strings.TrimRight(base, "/")+"/MedicationRequest?") {
			t.Errorf("next link %q is not under the base %s", next, base)
		}
		if reqs := rt.take(); len(reqs) != 1 {
			t.Errorf("Get made %d requests, want 1 (it must not follow next links)", len(reqs))
		}
	})

	t.Run("patient search forms", func(t *testing.T) {
		// Pins the behaviour described in the file comment, so a Medplum upgrade that changes it
		// shows up here rather than as an empty Coverage list in production.
		for _, tc := range []struct {
			query string
			want  int
		}{
			{"Coverage?patient=Patient/" + fx.PatientID + "&status=active", 1},
			{"Coverage?beneficiary=Patient/" + fx.PatientID, 1},
			{"MedicationRequest?subject=Patient/" + fx.PatientID, 2},
			{"Coverage?patient=" + fx.PatientID + "&status=active", 0},
			{"Coverage?patient:Patient=" + fx.PatientID, 0},
			{"Coverage?patient=" + strings.TrimRight(base, "/") + "/Patient/" + fx.PatientID, 0},
			{"Coverage?patient=Patient/" + fx.PatientID + "&status=cancelled", 0},
		} {
			res, err := c.Search(ctx, tc.query)
			if err != nil {
				t.Errorf("Search(%s): %v", tc.query, err)
				continue
			}
			if len(res) != tc.want {
				t.Errorf("Search(%s) = %d resources, want %d", tc.query, len(res), tc.want)
			}
		}
		rt.take()
	})

	t.Run("not found", func(t *testing.T) {
		_, err := c.Read(ctx, "Patient", "vrx-"+run+"-absent")
		if !errors.Is(err, fhir.ErrNotFound) {
			t.Errorf("Read of an absent Patient: err = %v, want ErrNotFound", err)
		}
		rt.take()
	})

	t.Run("wrong token", func(t *testing.T) {
		wrong := "not-the-token-" + uuidV4()
		bad, err := fhir.NewClient(base, wrong, &http.Client{Timeout: 15 * time.Second}, true)
		if err != nil {
			t.Fatalf("NewClient: %v", err)
		}
		for _, call := range []struct {
			name string
			do   func() error
		}{
			{"Read", func() error { _, err := bad.Read(ctx, "Patient", fx.PatientID); return err }},
			{"Search", func() error {
				_, err := bad.Search(ctx, expandForMedplum(medplumTemplates[0].template, fx.PatientID))
				return err
			}},
			{"Get", func() error {
				_, err := bad.Get(ctx, expandForMedplum(medplumTemplates[1].template, fx.PatientID))
				return err
			}},
		} {
			name := call.name
			err := call.do()
			if !errors.Is(err, fhir.ErrUnauthorized) {
				t.Errorf("%s with a wrong token: err = %v, want ErrUnauthorized", name, err)
				continue
			}
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Status != http.StatusUnauthorized {
				t.Errorf("%s: err = %#v, want *fhir.Error with Status 401", name, err)
			}
			msg := err.Error()
			for _, secret := range []string{wrong, token, fx.PatientID, fx.MBI} {
				if strings.Contains(msg, secret) {
					t.Errorf("%s: error message %q leaks a token or patient data", name, msg)
				}
			}
		}
	})

	t.Run("demo data", func(t *testing.T) {
		testMedplumDemoData(ctx, t, c, base, token)
	})
}

// testMedplumDemoData loads the repository's demo bundle (demo/patients.json) into Medplum and
// checks that, for every demo patient, each template finds exactly the resources the bundle holds
// for that patient, as computed here from the bundle itself.
func testMedplumDemoData(ctx context.Context, t *testing.T, c *fhir.Client, base, token string) {
	raw, err := os.ReadFile(filepath.Join("..", "demo", "patients.json"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("demo/patients.json not present")
	}
	if err != nil {
		t.Fatal(err)
	}
	postTransaction(ctx, t, &http.Client{Timeout: 15 * time.Second}, base, token, raw)

	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("decode demo bundle: %v", err)
	}
	type key struct{ template, patient string }
	want := map[key][]string{}
	var patients []string
	for _, e := range b.Entry {
		var r struct {
			ResourceType, ID, Status string
			Beneficiary, Subject     struct{ Reference string }
			Code                     struct {
				Coding []struct{ System, Code string }
			}
		}
		if err := json.Unmarshal(e.Resource, &r); err != nil {
			t.Fatalf("decode demo entry: %v", err)
		}
		_, subj := fhir.SplitReference(r.Subject.Reference)
		switch r.ResourceType {
		case "Patient":
			patients = append(patients, r.ID)
		case "Coverage":
			if _, ben := fhir.SplitReference(r.Beneficiary.Reference); r.Status == "active" {
				want[key{"coverage", ben}] = append(want[key{"coverage", ben}], r.ID)
			}
		case "MedicationRequest":
			want[key{"medications", subj}] = append(want[key{"medications", subj}], r.ID)
		case "Observation":
			for _, cd := range r.Code.Coding {
				if cd.System == fhir.SystemLOINC && cd.Code == fhir.LOINCBodyWeight {
					want[key{"weight", subj}] = append(want[key{"weight", subj}], r.ID)
				}
			}
		}
	}
	if len(patients) == 0 {
		t.Fatal("demo bundle has no Patient")
	}
	found := 0
	for _, p := range patients {
		for _, tc := range medplumTemplates {
			res, err := c.Search(ctx, withCount(expandForMedplum(tc.template, p), 1))
			if err != nil {
				t.Errorf("%s for a demo patient: %v", tc.name, err)
				continue
			}
			w := want[key{tc.name, p}]
			slices.Sort(w)
			if got := resourceIDs(t, tc.wantType, res); !slices.Equal(got, w) {
				t.Errorf("%s for Patient/%s = %q, want %q", tc.name, p, got, w)
			}
			found += len(res)
		}
	}
	t.Logf("demo data: %d patients, %d resources found through the templates", len(patients), found)
}
