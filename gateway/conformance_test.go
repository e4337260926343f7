package gateway

import (
	"context"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/conformance"
)

// TestConformanceSelfTest runs valuerx's own CDS Hooks conformance suite, black-box over HTTP,
// against a real valuerx on loopback (authentication on, trusting the suite's ES384 key) and
// requires every SHALL to pass. The suite's checks are proven to catch each broken service in
// conformance's own tests.
func TestConformanceSelfTest(t *testing.T) {
	key, err := cdshooks.GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	suite, err := cdshooks.NewSigner(key, "urn:valuerx:conformance-selftest", "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{Clients: []cdshooks.TrustedClient{suite.TrustedClient()}})
	if err != nil {
		t.Fatal(err)
	}
	e.gw.cfg.Verifier = v
	e.gw.cfg.CORSOrigins = []string{"*"}
	e.gw.handler = e.gw.routes()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := conformance.Run(ctx, conformance.Options{BaseURL: e.srv.URL, Signer: suite, OmitJKU: true, TimingCalls: 5})
	if err != nil {
		t.Fatal(err)
	}
	counts := conformance.Counts(rep.Results)
	t.Logf("conformance: %v", counts)
	executed := 0
	for _, r := range rep.Results {
		if r.Status == conformance.Pass {
			executed++
		}
		if r.Level == conformance.Shall && r.Status == conformance.Fail {
			t.Errorf("SHALL failed: %s (%s): %+v", r.ID, r.Title, r.Evidence)
		}
	}
	// The suite must really have exercised the service: cards, actions, feedback and auth.
	for _, id := range []string{"card.summary", "action.fhir-r4", "action.target-in-draft", "feedback.accepted", "auth.alg-none", "prefetch.412", "cors.preflight"} {
		found := false
		for _, r := range rep.Results {
			if r.ID == id && r.Status == conformance.Pass {
				found = true
			}
		}
		if !found {
			t.Errorf("check %s did not pass against valuerx", id)
		}
	}
	if executed < 40 {
		t.Errorf("only %d checks passed; the suite did not exercise the service", executed)
	}
}
