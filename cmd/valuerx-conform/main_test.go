package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"valuerx/cdshooks"
	"valuerx/conformance/conformtest"
)

// conformService starts the conformance reference service (with one fault or none) trusting a
// key written to a PEM file, as a team would pass its registered key with -key.
func conformService(t *testing.T, f conformtest.Fault) (url, keyFile string) {
	t.Helper()
	key, err := cdshooks.GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := cdshooks.MarshalPrivatePEM(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "client-key.pem")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(conformtest.New(conformtest.Config{Fault: f, Issuer: "urn:test:team-client", Key: key.Public()}))
	t.Cleanup(srv.Close)
	return srv.URL, keyFile
}

func TestRunConform(t *testing.T) {
	goodURL, goodKey := conformService(t, conformtest.None)
	badURL, badKey := conformService(t, conformtest.Summary141)
	dir := t.TempDir()
	reqFile := filepath.Join(dir, "sign.json")
	if err := os.WriteFile(reqFile, []byte(`{"hook":"order-sign","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
	 "context":{"userId":"Practitioner/1","patientId":"1","draftOrders":{"resourceType":"Bundle","entry":[
	 {"resource":{"resourceType":"MedicationRequest","id":"m1","status":"draft","intent":"order","subject":{"reference":"Patient/1"},
	  "medicationCodeableConcept":{"text":"Herceptin"}}}]}},
	 "prefetch":{"coverage":{"resourceType":"Bundle","type":"searchset","entry":[]}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"-issuer", "urn:test:team-client", "-no-jku", "-timing-calls", "1"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		check    func(t *testing.T, stdout, stderr, outFile string)
	}{
		{"clean text report", append([]string{"-url", goodURL, "-key", goodKey}, common...), 0,
			func(t *testing.T, stdout, _, _ string) {
				for _, want := range []string{"PASS    card.summary", "PASS    auth.alg-none", ". PASSED"} {
					if !strings.Contains(stdout, want) {
						t.Errorf("report lacks %q:\n%s", want, stdout)
					}
				}
			}},
		{"user request and JSON to a file", append([]string{"-url", goodURL, "-key", goodKey, "-request", reqFile, "-format", "json", "-out", filepath.Join(dir, "r.json")}, common...), 0,
			func(t *testing.T, _, stderr, out string) {
				var rep struct {
					Summary struct{ Verdict string } `json:"summary"`
					Results []struct {
						ID          string `json:"id"`
						Evaluations int    `json:"evaluations"`
					} `json:"results"`
				}
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("JSON report: %v", err)
				}
				if rep.Summary.Verdict != "PASSED" {
					t.Errorf("verdict %q", rep.Summary.Verdict)
				}
				for _, r := range rep.Results {
					// built-in select + built-in sign + the user's sign request
					if r.ID == "service.status-200" && r.Evaluations != 3 {
						t.Errorf("service.status-200 evaluated %d times, want 3", r.Evaluations)
					}
				}
				if !strings.Contains(stderr, "PASSED") {
					t.Errorf("stderr summary: %q", stderr)
				}
			}},
		{"broken service fails in JUnit", append([]string{"-url", badURL, "-key", badKey, "-format", "junit"}, common...), 1,
			func(t *testing.T, stdout, _, _ string) {
				var suites struct {
					Failures int `xml:"failures,attr"`
					Suite    struct {
						Cases []struct {
							Name    string    `xml:"name,attr"`
							Failure *struct{} `xml:"failure"`
						} `xml:"testcase"`
					} `xml:"testsuite"`
				}
				if err := xml.Unmarshal([]byte(stdout), &suites); err != nil {
					t.Fatalf("JUnit: %v", err)
				}
				if suites.Failures != 1 {
					t.Errorf("failures = %d, want 1", suites.Failures)
				}
				for _, c := range suites.Suite.Cases {
					if c.Failure != nil && !strings.HasPrefix(c.Name, "card.summary ") {
						t.Errorf("unexpected failure %s", c.Name)
					}
				}
			}},
		{"untrusted key fails auth", []string{"-url", goodURL, "-no-jku", "-timing-calls", "0"}, 1,
			func(t *testing.T, stdout, _, _ string) {
				if !strings.Contains(stdout, "FAIL    auth.valid-token") {
					t.Errorf("report lacks the auth.valid-token failure:\n%s", stdout)
				}
			}},
		{"missing url", []string{"-format", "json"}, 2, nil},
		{"bad format", []string{"-url", goodURL, "-format", "xml"}, 2, nil},
		{"bad request file", []string{"-url", goodURL, "-request", filepath.Join(dir, "missing.json")}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runConform(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			if tc.check == nil {
				return
			}
			var out string
			for i, a := range tc.args {
				if a == "-out" {
					b, err := os.ReadFile(tc.args[i+1])
					if err != nil {
						t.Fatal(err)
					}
					out = string(b)
				}
			}
			tc.check(t, stdout.String(), stderr.String(), out)
		})
	}
}

func TestConformSigner(t *testing.T) {
	_, keyFile := conformService(t, conformtest.None)
	s, err := conformSigner(keyFile, "urn:iss", "team-kid", "ES384")
	if err != nil || s.Issuer != "urn:iss" || s.KID != "team-kid" || s.Alg != "ES384" {
		t.Errorf("from -key: %+v, %v", s, err)
	}
	if s, err := conformSigner("", "urn:iss", "", "ES384"); err != nil || s != nil {
		t.Errorf("default: %+v, %v; want nil (the suite generates the key)", s, err)
	}
	if s, err := conformSigner("", "urn:iss", "k1", "ES384"); err != nil || s == nil || s.KID != "k1" {
		t.Errorf("generated with kid: %+v, %v", s, err)
	}
	if _, err := conformSigner("", "urn:iss", "", "HS256"); err == nil {
		t.Error("HS256 accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := conformSigner(bad, "urn:iss", "", "ES384"); err == nil {
		t.Error("bad PEM accepted")
	}
}
