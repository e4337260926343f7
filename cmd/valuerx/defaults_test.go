package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"valuerx/cdshooks"
	"valuerx/demo"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "valuerx.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A configuration file is production until it says demo: true: the development client, the
// embedded FHIR server, plain-http and private-address FHIR servers and CORS from anywhere are
// off unless the file turns them on; without a file (make run) they are all on.
func TestConfigDemoDefaults(t *testing.T) {
	type pieces struct {
		demo, devClient, embedded, allowHTTP, private bool
		cors                                          string
	}
	got := func(c fileConfig) pieces {
		return pieces{c.demo, c.Auth.DevClient, c.Demo.EmbeddedFHIR, c.FHIR.AllowHTTP, c.FHIR.AllowPrivateAddresses, strings.Join(c.CORS.Origins, ",")}
	}
	none, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	all := pieces{true, true, true, true, true, "*"}
	off := pieces{}
	if g := got(none); g != all {
		t.Errorf("no file: %+v, want the demo %+v", g, all)
	}
	if g := got(defaultConfig()); g != all {
		t.Errorf("defaultConfig: %+v", g)
	}
	for _, c := range []struct {
		name, body string
		want       pieces
	}{
		{"minimal production file", "listen: 127.0.0.1:8080\n", off},
		{"empty file", "", off},
		{"demo: true", "demo: true\n", all},
		{"demo mapping", "demo:\n  enabled: true\n  fhirDelay: 5ms\n", all},
		{"demo: false", "demo: false\n", off},
		{"demo with explicit keys off", "demo: true\nauth:\n  devClient: false\ncors:\n  origins: [\"https://sandbox.cds-hooks.org\"]\nfhir:\n  allowHTTP: false\n",
			pieces{true, false, true, false, true, "https://sandbox.cds-hooks.org"}},
		{"production with one piece on", "demo:\n  embeddedFHIR: true\nfhir:\n  allowPrivateAddresses: true\n",
			pieces{false, false, true, false, true, ""}},
		{"production with an explicitly empty origin list", "cors:\n  origins: []\n", off},
	} {
		cfg, err := loadConfig(writeConfig(t, c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if g := got(cfg); g != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, g, c.want)
		}
	}
	if _, err := loadConfig(writeConfig(t, "demo:\n  enabeld: true\n")); err == nil || !strings.Contains(err.Error(), "enabeld") {
		t.Errorf("a typo under demo must fail: %v", err)
	}
	if _, err := loadConfig(writeConfig(t, "demo: maybe\n")); err == nil {
		t.Errorf("demo: maybe accepted")
	}
}

// The reproduction: a minimal production file trusted the generated development key (its
// token got 200) and served the demo patients at /fhir. Now the dev token gets 401, /fhir is not
// there, CORS allows no origin, and the configured client's hooks may not name plain-http or
// loopback FHIR servers.
func TestMinimalProductionFileIsNotTheDemo(t *testing.T) {
	dir := t.TempDir()
	devKey := filepath.Join(dir, "dev-client-key.pem")
	if _, _, err := devSigner(devKey); err != nil {
		t.Fatal(err)
	}
	ehrKey, _ := cdshooks.GenerateES384()
	ehr, _ := cdshooks.NewSigner(ehrKey, "https://ehr.example.org", "")
	jwks := ehr.PublicJWKS()
	cfgPath := writeConfig(t, "listen: 127.0.0.1:0\nexternalURL: http://valuerx.test\nstore: \"\"\nauth:\n  devKeyFile: "+devKey+
		"\n  clients:\n    - issuer: https://ehr.example.org\n      jwks: '"+string(jwks)+"'\n")
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := buildApp(cfg, newLogger(&logs, "info"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if strings.Contains(logs.String(), "DEVELOPMENT CLIENT TRUSTED") {
		t.Fatal("a production file trusts the development client")
	}
	srv := httptest.NewServer(a.gw)
	defer srv.Close()
	path := "/cds-services/valuerx-order-sign"
	body, _ := demo.Request("aco-herceptin-order-sign-noprefetch")
	post := func(tok string, body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://evil.test")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("CORS allows an origin the file did not list")
		}
		return resp.StatusCode
	}
	devTok, err := mintDev(devKey, "http://valuerx.test"+path)
	if err != nil {
		t.Fatal(err)
	}
	if st := post(devTok, body); st != 401 {
		t.Fatalf("development-key token: %d, want 401", st)
	}
	// The configured EHR is trusted, but its hook names http://localhost:8080/fhir: plain http is
	// off and there is no embedded server, so the data cannot be fetched (412).
	tok, _ := ehr.Mint("http://valuerx.test"+path, time.Minute, nil)
	if st := post(tok, body); st != 412 {
		t.Fatalf("hook naming the demo's plain-http FHIR server: %d, want 412", st)
	}
	resp, err := http.Get(srv.URL + "/fhir/Patient/pat-aco")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || strings.Contains(string(out), "pat-aco") {
		t.Fatalf("demo patients served: %d %s", resp.StatusCode, out)
	}
}

// valuerx refuses to start when the development client is trusted, the demo is on, or
// authentication is off, on a non-loopback listener, from the file or from -listen; loopback
// addresses are fine.
func TestDevClientOnlyOnLoopback(t *testing.T) {
	for listen, ok := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.7:8080": false, "[::]:8080": false, "valuerx.example.org:8080": false,
	} {
		c := defaultConfig()
		c.Listen = listen
		if err := checkServe(c); (err == nil) != ok {
			t.Errorf("devClient on %s: %v", listen, err)
		}
		c.Auth.DevClient = false
		if err := checkServe(c); (err == nil) != ok || (!ok && !strings.Contains(err.Error(), "the demo is on")) {
			t.Errorf("demo without devClient on %s: %v", listen, err)
		}
		c.demo = false
		if err := checkServe(c); err != nil {
			t.Errorf("no demo, no devClient on %s: %v", listen, err)
		}
		off := false
		c.Auth.Enabled = &off
		if err := checkServe(c); (err == nil) != ok {
			t.Errorf("authentication off on %s: %v", listen, err)
		}
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "-listen", "0.0.0.0:0"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "not a loopback address and auth.devClient is on") {
		t.Fatalf("serve -listen 0.0.0.0 with the demo: code %d, %s", code, errb.String())
	}
	// The file of the security review: the demo with the development client off, on 0.0.0.0.
	out.Reset()
	errb.Reset()
	file := writeConfig(t, "demo: true\nlisten: 0.0.0.0:0\nauth:\n  devClient: false\n")
	code = run(context.Background(), []string{"serve", "-config", file}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "the demo is on") {
		t.Fatalf("serve of a demo: true file on 0.0.0.0: code %d, %s", code, errb.String())
	}
}

// Local analyst accounts need https outside the demo; the demo without analyst credentials gets
// an analyst account with a random password; a hash that is not bcrypt is an error at start.
func TestAnalystConfig(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("a long enough password"), bcrypt.MinCost)
	accounts := "analytics:\n  accounts:\n    - name: pharmacist\n      passwordHash: '" + string(hash) + "'\n"
	c, err := loadConfig(writeConfig(t, "externalURL: http://valuerx.internal\n"+accounts))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := analystAuth(c); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("local accounts over http: %v", err)
	}
	c, _ = loadConfig(writeConfig(t, "externalURL: https://valuerx.example.org\n"+accounts))
	an, pw, err := analystAuth(c)
	if err != nil || pw != "" || len(an.Accounts) != 1 || !an.SecureCookie {
		t.Fatalf("https accounts: %+v %q %v", an, pw, err)
	}
	c, _ = loadConfig(writeConfig(t, "externalURL: https://valuerx.example.org\nanalytics:\n  oidc:\n    issuer: http://idp.example.org\n    audience: a\n    values: [g]\n"))
	if _, _, err := analystAuth(c); err == nil {
		t.Fatalf("a plain-http OIDC issuer outside the demo was accepted")
	}
	d := defaultConfig()
	an, pw, err = analystAuth(d)
	if err != nil || len(pw) < 20 || len(an.Accounts) != 1 || an.Accounts[0].Name != demoAnalystName ||
		bcrypt.CompareHashAndPassword([]byte(an.Accounts[0].PasswordHash), []byte(pw)) != nil {
		t.Fatalf("demo analyst: %+v %q %v", an, pw, err)
	}
	_, pw2, _ := analystAuth(d)
	if pw2 == pw {
		t.Fatal("the demo analyst password repeats between starts")
	}
	bad := defaultConfig()
	bad.Store, bad.Auth.DevKeyFile = storeConfig{}, filepath.Join(t.TempDir(), "dev.pem")
	bad.Analytics.Accounts = append(bad.Analytics.Accounts, analyticsAccount{Name: "x", PasswordHash: "plaintext"})
	if _, err := buildApp(bad, newLogger(io.Discard, "error")); err == nil || !strings.Contains(err.Error(), "bcrypt") {
		t.Fatalf("a plaintext passwordHash: %v", err)
	}
}

// valuerx hash-password reads stdin and prints a bcrypt hash that verifies.
func TestHashPassword(t *testing.T) {
	var out, errb bytes.Buffer
	if code := hashPassword([]string{"-cost", "4"}, strings.NewReader("correct horse battery staple\n"), &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	h := strings.TrimSpace(out.String())
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse battery staple")) != nil {
		t.Fatalf("hash %q does not verify", h)
	}
	if code := hashPassword(nil, strings.NewReader("short\n"), &out, &errb); code == 0 {
		t.Fatal("a short password was hashed")
	}
}

// metricsListen serves /metrics without credentials on its own loopback listener, and /metrics
// then leaves the gateway's listener; a non-loopback metricsListen is refused.
func TestMetricsListen(t *testing.T) {
	if _, err := loadConfig(writeConfig(t, "metricsListen: 0.0.0.0:9464\n")); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("non-loopback metricsListen: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg, err := loadConfig(writeConfig(t, "demo: true\nstore: \"\"\nmetricsListen: "+addr+"\nauth:\n  devKeyFile: "+filepath.Join(t.TempDir(), "k.pem")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := buildApp(cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stop, err := serveMetrics(cfg.MetricsListen, a.gw.MetricsHandler())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "valuerx_") {
		t.Fatalf("metrics listener: %d", resp.StatusCode)
	}
	srv := httptest.NewServer(a.gw)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	req.SetBasicAuth(demoAnalystName, a.demoAnalystPassword)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Fatalf("/metrics still on the gateway with metricsListen set: %v %v", err, resp)
	}
}
