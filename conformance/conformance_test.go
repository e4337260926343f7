package conformance_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"valuerx/cdshooks"
	"valuerx/conformance"
	"valuerx/conformance/conformtest"
)

const testIssuer = "urn:valuerx:conformtest-client"

// start runs a reference service (with one fault or none) that trusts a fresh ES384 signer.
func start(t *testing.T, f conformtest.Fault) (*httptest.Server, *cdshooks.Signer) {
	t.Helper()
	key, err := cdshooks.GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	sg, err := cdshooks.NewSigner(key, testIssuer, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(conformtest.New(conformtest.Config{Fault: f, Issuer: testIssuer, Key: key.Public()}))
	t.Cleanup(srv.Close)
	return srv, sg
}

func run(t *testing.T, opts conformance.Options) *conformance.Report {
	t.Helper()
	rep, err := conformance.Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func dump(t *testing.T, rep *conformance.Report) string {
	t.Helper()
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestReferenceServicePasses: the reference service passes every SHALL and, being written to the
// letter, warns about nothing; the checks that cannot apply to it are the only skips.
func TestReferenceServicePasses(t *testing.T) {
	srv, sg := start(t, conformtest.None)
	rep := run(t, conformance.Options{BaseURL: srv.URL, Signer: sg, TimingCalls: 2})
	text := dump(t, rep)
	if rep.ShallFailed() {
		t.Fatalf("reference service failed a SHALL:\n%s", text)
	}
	wantSkipped := map[string]bool{conformance.CheckTransportHTTPS: true, conformance.CheckLibraryRules: true}
	// Response times depend on the machine: the perf checks must have run, but their verdict is
	// not asserted here (the Slow fault tests the warning with a 3 s floor instead).
	timed := map[string]bool{conformance.CheckPerfSpec: true, conformance.CheckPerfCRD: true}
	for _, res := range rep.Results {
		switch {
		case timed[res.ID]:
			if res.Status == conformance.Skipped || res.Evaluations != 2 {
				t.Errorf("%s: %s after %d evaluations, want one per service", res.ID, res.Status, res.Evaluations)
			}
		case res.Status == conformance.Warning || res.Status == conformance.Fail:
			t.Errorf("%s: %s, want pass", res.ID, res.Status)
		case res.Status == conformance.Skipped && !wantSkipped[res.ID]:
			t.Errorf("%s: skipped, want pass (evidence %v)", res.ID, res.Evidence)
		case res.Status == conformance.Pass && wantSkipped[res.ID]:
			t.Errorf("%s: pass, want skipped", res.ID)
		}
	}
	if len(rep.Services) != 2 {
		t.Errorf("services tested = %d, want 2", len(rep.Services))
	}
	if len(rep.Timing) != 2 || rep.Timing[0].Calls != 3 {
		t.Errorf("timing = %+v, want 2 services with 1 built-in + 2 timed calls each", rep.Timing)
	}
	c := conformance.Counts(rep.Results)
	t.Logf("reference service: %d pass, %d fail, %d warning, %d skipped", c[conformance.Pass], c[conformance.Fail], c[conformance.Warning], c[conformance.Skipped])
	if t.Failed() {
		t.Log(text)
	}
}

// TestBrokenServices: each broken service is caught by the check meant for its fault, with the
// status its level calls for, and by no unrelated SHALL check.
func TestBrokenServices(t *testing.T) {
	cases := map[conformtest.Fault]struct {
		check string
		want  conformance.Status
	}{
		conformtest.Summary141:              {conformance.CheckCardSummary, conformance.Fail},
		conformtest.NoSelectionBehavior:     {conformance.CheckCardSelection, conformance.Fail},
		conformtest.UpdateNotDraft:          {conformance.CheckActionTarget, conformance.Fail},
		conformtest.ResourceIDArray:         {conformance.CheckActionResID, conformance.Fail},
		conformtest.OverrideNoDisplay:       {conformance.CheckCardOverride, conformance.Fail},
		conformtest.NullOptional:            {conformance.CheckJSONNoNull, conformance.Fail},
		conformtest.AppContextAbsolute:      {conformance.CheckLinkAppContext, conformance.Fail},
		conformtest.RelativeLinkURL:         {conformance.CheckCardLinks, conformance.Fail},
		conformtest.BadIndicator:            {conformance.CheckCardIndicator, conformance.Fail},
		conformtest.NoSourceLabel:           {conformance.CheckCardSource, conformance.Fail},
		conformtest.InvalidFHIR:             {conformance.CheckActionFHIR, conformance.Fail},
		conformtest.ActionTypeReplace:       {conformance.CheckActionType, conformance.Fail},
		conformtest.IsRecommendedString:     {conformance.CheckSugRecommended, conformance.Fail},
		conformtest.CardsMissing:            {conformance.CheckResponseCards, conformance.Fail},
		conformtest.DiscoveryNoDescription:  {conformance.CheckDiscoveryServiceFields, conformance.Fail},
		conformtest.BadPrefetchToken:        {conformance.CheckDiscoveryPrefetchToken, conformance.Fail},
		conformtest.AcceptAlgNone:           {conformance.CheckAuthAlgNone, conformance.Fail},
		conformtest.AcceptHS384:             {conformance.CheckAuthSymmetric, conformance.Fail},
		conformtest.AcceptExpired:           {conformance.CheckAuthExpired, conformance.Fail},
		conformtest.AcceptWrongAudience:     {conformance.CheckAuthAudience, conformance.Fail},
		conformtest.Status500Not412:         {conformance.CheckPrefetch412, conformance.Fail},
		conformtest.NoCORSPreflight:         {conformance.CheckCORSPreflight, conformance.Fail},
		conformtest.NoAllowOrigin:           {conformance.CheckCORSAllowOrigin, conformance.Fail},
		conformtest.Slow:                    {conformance.CheckPerfSpec, conformance.Warning},
		conformtest.FeedbackRejectsNoReason: {conformance.CheckFeedbackOverride, conformance.Fail},
		conformtest.FeedbackNeedsDisplay:    {conformance.CheckFeedbackReason, conformance.Fail},
		conformtest.FeedbackRejectsBatch:    {conformance.CheckFeedbackBatch, conformance.Fail},
		conformtest.FeedbackRejectsRepeat:   {conformance.CheckFeedbackRepeat, conformance.Fail},
		conformtest.NoAuth:                  {conformance.CheckAuthRequired, conformance.Warning},
		conformtest.MalformedJSON500:        {conformance.CheckMalformed400, conformance.Warning},
	}
	for _, f := range conformtest.Faults() {
		if _, ok := cases[f]; !ok {
			t.Errorf("fault %s has no expectation", f)
		}
	}
	for f, tc := range cases {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			srv, sg := start(t, f)
			rep := run(t, conformance.Options{BaseURL: srv.URL, Signer: sg, OmitJKU: true})
			res, ok := rep.Result(tc.check)
			if !ok {
				t.Fatalf("no result for %s", tc.check)
			}
			if res.Status != tc.want {
				t.Errorf("%s = %s, want %s", tc.check, res.Status, tc.want)
			}
			if tc.want != conformance.Pass && len(res.Evidence) == 0 {
				t.Errorf("%s has no evidence", tc.check)
			}
			for _, other := range rep.Results {
				if other.ID != tc.check && other.Level == conformance.Shall && other.Status == conformance.Fail {
					t.Errorf("unrelated SHALL check %s failed: %v", other.ID, other.Evidence)
				}
			}
			if got := rep.ShallFailed(); got != (tc.want == conformance.Fail) {
				t.Errorf("ShallFailed = %v", got)
			}
			if t.Failed() {
				t.Log(dump(t, rep))
			}
		})
	}
}

// TestSuiteServesItsJWKS: with no key given, the suite generates one, serves its JWKS on the
// address asked for and advertises it as jku; a service that allowlists that jku accepts the
// suite's tokens and still refuses the hostile ones.
func TestSuiteServesItsJWKS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	jku := "http://" + addr + "/jwks.json"
	srv := httptest.NewServer(conformtest.New(conformtest.Config{Issuer: conformance.DefaultIssuer, JWKSURL: jku}))
	t.Cleanup(srv.Close)
	rep := run(t, conformance.Options{BaseURL: srv.URL, JWKSListen: addr})
	if rep.Trust.JKU != jku || rep.Trust.Alg != "ES384" || rep.Trust.Issuer != conformance.DefaultIssuer {
		t.Errorf("trust = %+v", rep.Trust)
	}
	for _, id := range []string{conformance.CheckAuthRequired, conformance.CheckAuthValidToken, conformance.CheckAuthAlgNone,
		conformance.CheckAuthSymmetric, conformance.CheckAuthExpired, conformance.CheckAuthAudience, conformance.CheckServiceStatus} {
		if res, _ := rep.Result(id); res.Status != conformance.Pass {
			t.Errorf("%s = %s %v", id, res.Status, res.Evidence)
		}
	}
	if rep.ShallFailed() {
		t.Log(dump(t, rep))
	}
}

// TestRS384: a team's RSA key signs RS384 tokens, which the service verifies.
func TestRS384(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := cdshooks.NewSigner(key, testIssuer, "team-key-1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(conformtest.New(conformtest.Config{Issuer: testIssuer, Key: key.Public()}))
	t.Cleanup(srv.Close)
	rep := run(t, conformance.Options{BaseURL: srv.URL, Signer: sg, OmitJKU: true})
	if rep.Trust.Alg != "RS384" || rep.Trust.KID != "team-key-1" || rep.Trust.JKU != "" {
		t.Errorf("trust = %+v", rep.Trust)
	}
	if res, _ := rep.Result(conformance.CheckAuthValidToken); res.Status != conformance.Pass || rep.ShallFailed() {
		t.Errorf("auth.valid-token = %s; ShallFailed %v\n%s", res.Status, rep.ShallFailed(), dump(t, rep))
	}
}

// TestUnreachable: a base URL nobody listens on yields a failed report, not an error.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	rep := run(t, conformance.Options{BaseURL: base, OmitJKU: true})
	if res, _ := rep.Result(conformance.CheckDiscoveryAvailable); res.Status != conformance.Fail {
		t.Errorf("discovery.available = %s", res.Status)
	}
	if !rep.ShallFailed() || len(rep.Services) != 0 {
		t.Errorf("ShallFailed %v services %v", rep.ShallFailed(), rep.Services)
	}
}
