package gateway

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"valuerx/demo"
)

// TestAgainstMedplum runs no-prefetch hooks against an independent FHIR server (Medplum's
// fhir-router, started by .ci/medplum.sh) loaded with the demo patients, and checks that the
// cards equal those from full prefetch. Skipped unless VALUERX_MEDPLUM_URL and
// VALUERX_MEDPLUM_TOKEN are set (.ci/run sets them).
func TestAgainstMedplum(t *testing.T) {
	base, token := os.Getenv("VALUERX_MEDPLUM_URL"), os.Getenv("VALUERX_MEDPLUM_TOKEN")
	if base == "" || token == "" {
		t.Skip("VALUERX_MEDPLUM_URL / VALUERX_MEDPLUM_TOKEN not set (see .ci/medplum.sh)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base, bytes.NewReader(demo.Patients()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("loading the demo bundle into Medplum: %d", resp.StatusCode)
	}
	e := newEnv(t)
	for _, name := range []string{"aco-herceptin-order-select", "ma-capitation-herceptin-order-select", "aco-midcourse-herceptin-order-select", "commercial-ppo-herceptin-order-select"} {
		t.Run(name, func(t *testing.T) {
			full := e.demoRequest(name)
			fetched := setJSON(t, setJSON(t, full, "prefetch", nil), "fhirServer", base)
			fa := map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "valuerx"}
			fetched = setJSON(t, fetched, "fhirAuthorization", fa)
			s1, b1, _ := e.post(serviceOf(name), full)
			s2, b2, _ := e.post(serviceOf(name), fetched)
			if s1 != 200 || s2 != 200 {
				t.Fatalf("status %d / %d: %s %s", s1, s2, b1, b2)
			}
			if a, b := cardsSignature(t, b1), cardsSignature(t, b2); a != b {
				t.Fatalf("cards differ between prefetch and Medplum:\n%s\n---\n%s", a, b)
			}
		})
	}
	if bytes.Contains([]byte(e.logs.String()), []byte(token)) {
		t.Fatal("the FHIR token reached the logs")
	}
}
