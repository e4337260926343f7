package cdshooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedFiles adds every example JSON file in testdata to a fuzz corpus.
func seedFiles(f *testing.F, prefix string) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", prefix+"*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		var list []json.RawMessage
		if json.Unmarshal(b, &list) == nil {
			for _, r := range list {
				f.Add([]byte(r))
			}
			continue
		}
		f.Add(b)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	seedFiles(f, "order-")
	seedFiles(f, "request-")
	f.Add([]byte(`{"hook":"order-select","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea","context":{"userId":"Practitioner/1","patientId":"Patient/2","selections":["A/1"],"draftOrders":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"A","id":"1"}}]}}}`))
	f.Add([]byte(`{"hook":"order-sign","context":{"draftOrders":{"resourceType":"Bundle","entry":{}}},"fhirAuthorization":{"expires_in":-1e99}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, hook := range []string{HookOrderSelect, HookOrderSign, ""} {
			req, oc, err := DecodeRequest(body, hook)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || (e.Status != 400 && e.Status != 422) || len(e.Issues) == 0 {
					t.Fatalf("error %v is not a 400/422 *Error with issues", err)
				}
				if !json.Valid(e.OperationOutcome()) {
					t.Fatalf("OperationOutcome is not JSON")
				}
				continue
			}
			if req.Hook == "" || req.HookInstance == "" || oc.UserID == "" || oc.PatientID == "" || len(oc.DraftOrders) == 0 {
				t.Fatalf("accepted a request missing required members: %+v %+v", req, oc)
			}
			if !LooksLikeUUID(req.HookInstance) || len(req.FHIRServer) > MaxFHIRServerLen {
				t.Fatalf("accepted a hookInstance that is not a UUID or an overlong fhirServer")
			}
			if strings.Contains(oc.PatientID, "/") {
				t.Fatalf("patientId with a slash accepted")
			}
			if hook == HookOrderSelect && len(oc.Selections) == 0 {
				t.Fatalf("order-select accepted without selections")
			}
			if hook != "" && req.Hook != hook {
				t.Fatalf("hook mismatch accepted")
			}
			if req.FHIRAuthorization != nil && req.FHIRServer == "" {
				t.Fatalf("fhirAuthorization accepted without fhirServer")
			}
			for k := range req.Prefetch {
				req.PrefetchValue(k) // must not panic
			}
		}
	})
}

// FuzzDraftOrdersFastPath checks that the one-pass index of draftOrders
// agrees with the detailed checks whenever it accepts a Bundle.
func FuzzDraftOrdersFastPath(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"fullUrl":"urn:x","resource":{"resourceType":"MedicationRequest","id":"1"}},{}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[null]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"A","id":7}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // the fast path is only given parts of a body DecodeRequest validated
		}
		refs, urls, ok := cdsDraftOrdersFast(raw)
		if !ok {
			return
		}
		var c cdsIssues
		refs2, urls2, ok2 := c.draftOrdersDetailed(raw, &OrderContext{})
		if !ok2 || len(c.list) != 0 {
			t.Fatalf("fast path accepted what the detailed path rejects: %v", c.list)
		}
		if fmt.Sprint(refs) != fmt.Sprint(refs2) || fmt.Sprint(urls) != fmt.Sprint(urls2) {
			t.Fatalf("fast %v %v, detailed %v %v", refs, urls, refs2, urls2)
		}
	})
}

func FuzzDecodeFeedback(f *testing.F) {
	seedFiles(f, "feedback-")
	f.Add([]byte(`{"feedback":[{"card":"c","outcome":"accepted","acceptedSuggestions":[{"id":1}],"outcomeTimestamp":"2020-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"feedback":[{"overrideReason":{"reason":[]}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, err := DecodeFeedback(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 422) {
				t.Fatalf("error %v is not a 400/422 *Error", err)
			}
			return
		}
		for _, fb := range fr.Feedback {
			if fb.Card == "" || (fb.Outcome != OutcomeAccepted && fb.Outcome != OutcomeOverridden) || fb.OutcomeTime().IsZero() {
				t.Fatalf("accepted invalid feedback %+v", fb)
			}
			if fb.Outcome == OutcomeAccepted && len(fb.AcceptedSuggestions) == 0 {
				t.Fatalf("accepted without suggestions")
			}
		}
	})
}

func FuzzExpandTemplate(f *testing.F) {
	f.Add("Coverage?patient={{context.patientId}}&status=active", "Practitioner/p1", "pat1", "enc1")
	f.Add("PractitionerRole/{{ userPractitionerRoleId }}", "PractitionerRole/r1", "pat1", "")
	f.Add("{{{{context.userId}}}}", "Patient/x", "a&b=c", "e")
	f.Add("X/{{context.medication.id}}", "Practitioner/p1", "p", "e")
	f.Add("{{", "", "", "")
	f.Fuzz(func(t *testing.T, tmpl, user, patient, enc string) {
		ctx := &OrderContext{UserID: user, PatientID: patient, EncounterID: enc}
		out, err := ExpandTemplate(tmpl, ctx)
		if err != nil {
			return
		}
		if _, perr := cdsParseTemplate(tmpl); perr != nil {
			t.Fatalf("expanded a template that does not parse")
		}
		// Values are query-escaped and literal text cannot hold "{{", so
		// no token can survive or be injected by a value.
		if strings.Contains(out, "{{") {
			t.Fatalf("output %q still holds a token", out)
		}
	})
}

func FuzzCheckResponse(f *testing.F) {
	seedFiles(f, "response-")
	seedFiles(f, "order-sign-response")
	f.Add([]byte(checkBase))
	f.Add([]byte(`{"cards":[{"suggestions":[{"actions":[{"type":"delete","resourceId":7}]}],"links":[{"url":"::"}]}],"systemActions":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		vs := CheckResponse(body, checkDraft)
		for _, v := range vs {
			if v.Rule == "" || (v.Level != LevelSHALL && v.Level != LevelSHOULD) || v.Message == "" {
				t.Fatalf("malformed violation %+v", v)
			}
		}
		if !json.Valid(body) && len(vs) != 1 {
			t.Fatalf("invalid JSON gave %d violations", len(vs))
		}
		// A body the checker passes has cards whose summaries fit. (Decoded
		// generically: encoding/json matches struct fields case-insensitively,
		// so a typed decode would see "sourCe" as source.)
		if cdsShallError(vs) == nil {
			var r map[string]any
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("clean body does not decode: %v", err)
			}
			cards, _ := r["cards"].([]any)
			for _, c := range cards {
				card, _ := c.(map[string]any)
				s, _ := card["summary"].(string)
				if s == "" || utf8.RuneCountInString(s) > cardSummaryMaxRunes {
					t.Fatalf("bad summary passed")
				}
			}
		}
	})
}

func BenchmarkDecodeRequest(b *testing.B) {
	body := exampleRequests(b, "order-select-requests__inferno-crd-test-kit__ri_crd_server-preset.json")[0]
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeRequest(body, HookOrderSelect); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckResponse(b *testing.B) {
	body, err := json.Marshal(goldenCard())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if vs := CheckResponse(body, nil); len(vs) != 0 {
			b.Fatal(vs)
		}
	}
}
