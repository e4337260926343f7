package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The documented configuration files parse, and a typo is an error rather than a silent default.
func TestConfigFiles(t *testing.T) {
	for _, f := range []string{"../../config/example.yaml", "../../config/sandbox.yaml"} {
		if _, err := loadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Both files are production: no demo piece on, and the sandbox file builds and may listen on
	// every interface because it does not trust the development client.
	for _, f := range []string{"../../config/example.yaml", "../../config/sandbox.yaml"} {
		c, _ := loadConfig(f)
		if c.demo || c.Auth.DevClient || c.Demo.EmbeddedFHIR || c.FHIR.AllowHTTP || c.FHIR.AllowPrivateAddresses || slices.Contains(c.CORS.Origins, "*") {
			t.Errorf("%s turns a demo piece on: %+v", f, c)
		}
	}
	sb, _ := loadConfig("../../config/sandbox.yaml")
	sb.Store = storeConfig{}
	a, err := buildApp(sb, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatalf("sandbox.yaml does not build: %v", err)
	}
	a.Close()
	two := filepath.Join(t.TempDir(), "two.yaml")
	if err := os.WriteFile(two, []byte("auth:\n  clients:\n    - issuer: https://a.test\n      jwks: '{\"keys\":[]}'\n      fhirServers: [\"https://fhir.a.test/r4\", \"https://10.0.0.5/fhir\"]\n    - issuer: https://b.test\n      jku: [\"https://b.test/jwks.json\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(two)
	if err != nil {
		t.Fatal(err)
	}
	if got := fhirServers(c); len(got) != 1 || len(got["https://a.test"]) != 2 || got["https://a.test"][1] != "https://10.0.0.5/fhir" {
		t.Fatalf("fhirServers = %v", got)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("auth:\n  enabeld: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(bad); err == nil || !strings.Contains(err.Error(), "enabeld") {
		t.Fatalf("unknown key must fail, got %v", err)
	}
	for addr, ok := range map[string]bool{
		"": true, "127.0.0.1:6060": true, "[::1]:6060": true, "localhost:6060": true,
		"0.0.0.0:6060": false, ":6060": false, "10.1.2.3:6060": false, "example.org:6060": false, "127.0.0.1": false,
	} {
		if err := checkDebugListen(addr); (err == nil) != ok {
			t.Errorf("debugListen %q: error %v, want accepted=%v", addr, err, ok)
		}
	}
}

// freePort is one free loopback port. A test that needs two takes them from one freePorts call:
// a port freed by one call may be the next call's answer (TestServeThenSend's gateway and debug
// listener were once given the same port: "bind: address already in use").
func freePort(t *testing.T) int { return freePorts(t, 1)[0] }

// The newcomer's path: `valuerx serve` on its embedded defaults (dev key generated on first
// start, demo FHIR server), then `valuerx send` of a demo request without prefetch prints the card.
func TestServeThenSend(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 2)
	port := ports[0]
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	keyFile := filepath.Join(dir, "dev-client-key.pem")
	cfgFile := filepath.Join(dir, "valuerx.yaml")
	debugAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	cfg := fmt.Sprintf("demo: true\nlisten: 127.0.0.1:%d\nexternalURL: %s\nstore: %s\nauth:\n  devKeyFile: %s\nlogLevel: warn\ndebugListen: %s\n",
		port, base, filepath.Join(dir, "valuerx.db"), keyFile, debugAddr)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var serveOut, serveErr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "-config", cfgFile}, &serveOut, &serveErr) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, serveErr.String())
		}
	}()
	// Wait until it answers discovery (bounded).
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/cds-services")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %v\n%s", err, serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// pprof answers on its own loopback listener and nowhere on the gateway's routes.
	for url, want := range map[string]int{"http://" + debugAddr + "/debug/pprof/": 200, base + "/debug/pprof/": 404} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
		}
	}
	if !strings.Contains(serveErr.String(), "DEVELOPMENT CLIENT TRUSTED") {
		t.Errorf("serve must say loudly that it trusts the development key")
	}
	// The embedded demo FHIR server is read-only; /metrics and /analytics need the demo analyst,
	// whose password serve printed.
	req, _ := http.NewRequest(http.MethodPut, base+"/fhir/Patient/pat-aco", strings.NewReader(`{"resourceType":"Patient","id":"pat-aco"}`))
	req.Header.Set("Origin", "https://sandbox.cds-hooks.org")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("PUT on the demo FHIR server: %v %v", err, resp)
	}
	_, line, ok := strings.Cut(serveOut.String(), "name analyst  password ")
	pw, _, _ := strings.Cut(line, "\n")
	if !ok || len(pw) < 20 {
		t.Fatalf("serve did not print the demo analyst account:\n%s", serveOut.String())
	}
	for _, c := range []struct {
		path string
		pw   string
		want int
	}{{"/metrics", "", 401}, {"/analytics/summary", "", 401}, {"/metrics", pw, 200}, {"/analytics/summary", pw, 200}, {"/analytics/summary", pw + "x", 401}} {
		req, _ := http.NewRequest(http.MethodGet, base+c.path, nil)
		if c.pw != "" {
			req.SetBasicAuth("analyst", c.pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s (password given: %v): %d, want %d", c.path, c.pw != "", resp.StatusCode, c.want)
		}
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev key not generated with mode 0600: %v", err)
	}
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"send", "-url", base, "-key", keyFile, "aco-herceptin-order-sign-noprefetch"}, &out, &errb); code != 0 {
		t.Fatalf("send exited %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "HTTP 200") || !strings.Contains(out.String(), "Consider Trazimera (trastuzumab-qyyp)") {
		t.Fatalf("send output:\n%s", out.String())
	}
	// Without a token the same request is refused.
	out.Reset()
	if code := run(ctx, []string{"send", "-url", base, "-key", "", "aco-herceptin-order-sign-noprefetch"}, &out, &errb); code == 0 || !strings.Contains(out.String(), "HTTP 401") {
		t.Fatalf("unsigned send: code %d output %s", code, out.String())
	}
	// A minted token for the exact URL works with any HTTP client.
	out.Reset()
	if code := run(ctx, []string{"token", "-key", keyFile, "-aud", base + "/cds-services/valuerx-order-select"}, &out, &errb); code != 0 || strings.Count(out.String(), ".") != 2 {
		t.Fatalf("token: %d %q", code, out.String())
	}
}
