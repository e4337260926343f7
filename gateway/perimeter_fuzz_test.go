package gateway

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseFHIRBase holds the allowlist's URL parser to its promises on whatever a client sends
// as fhirServer: no panic, and an accepted base is http(s) with a host, no dot segments, and
// covers itself.
func FuzzParseFHIRBase(f *testing.F) {
	for _, s := range []string{"https://ehr.example/fhir/r4", "http://127.0.0.1:8080/fhir/", "https://EHR.example.:443/a/../b",
		"https://[::1]:8443/fhir", "https://u:p@h/x", "https://h/%2e%2e/x", "https://h?x", "//h/x", "https://h:99999/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseFHIRBase(s)
		if err != nil {
			return
		}
		if (b.scheme != "https" && b.scheme != "http") || b.host == "" || b.port == "" {
			t.Fatalf("accepted %q as %+v", s, b)
		}
		if strings.Contains(b.path+"/", "/../") || strings.Contains(b.path+"/", "/./") {
			t.Fatalf("accepted dot segments in %q", s)
		}
		if !b.covers(b) {
			t.Fatalf("%+v does not cover itself", b)
		}
	})
}

// FuzzOpenSession: a session cookie is attacker input. Nothing but a cookie this key sealed for
// an existing account opens, and nothing panics.
func FuzzOpenSession(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	an, err := newAnalysts(AnalystAuth{Accounts: []AnalystAccount{{Name: "analyst", PasswordHash: testAnalystHash(f)}}}, "https://valuerx.test",
		func() time.Time { return now }, nil)
	if err != nil {
		f.Fatal(err)
	}
	good := an.sealSession("local:analyst")
	f.Add(good)
	f.Add("v1.YW5hbHlzdA.1800003600.")
	f.Add("")
	f.Add(strings.Repeat(".", 600))
	f.Fuzz(func(t *testing.T, v string) {
		name, ok := an.openSession(v)
		if ok && (v != good || name != "local:analyst") {
			t.Fatalf("opened a cookie this key did not seal: %q -> %q", v, name)
		}
	})
}
