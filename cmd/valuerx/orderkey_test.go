package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valuerx/demo"
)

// Without orderKeySecretFile the order key is drawn once and kept beside the store, so an order
// seen at order-select before a restart and at order-sign after it is one order in the record
// (it was two: each process drew its own key). The key file is 0600 and is reused, not redrawn.
func TestOrderKeySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "valuerx.db")
	devKey := filepath.Join(dir, "dev-client-key.pem")
	cfgPath := writeConfig(t, "demo: true\nlisten: 127.0.0.1:0\nexternalURL: http://valuerx.test\nstore: "+dbPath+
		"\nauth:\n  devKeyFile: "+devKey+"\nlogLevel: warn\n")
	hook := func(service, request string) {
		t.Helper()
		cfg, err := loadConfig(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		a, err := buildApp(cfg, newLogger(io.Discard, "warn"))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		srv := httptest.NewServer(a.gw)
		defer srv.Close()
		body, ok := demo.Request(request)
		if !ok {
			t.Fatalf("no demo request %s", request)
		}
		// The demo requests name the embedded FHIR server at the demo's own address.
		body = bytes.ReplaceAll(body, []byte("http://localhost:8080"), []byte(srv.URL))
		path := "/cds-services/" + service
		tok, err := mintDev(devKey, "http://valuerx.test"+path)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(out), "Trazimera") {
			t.Fatalf("%s: %d %s", request, resp.StatusCode, out)
		}
	}
	hook("valuerx-order-select", "aco-herceptin-order-select")
	fi, err := os.Stat(dbPath + ".orderkey")
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("order key beside the store: %v %v", fi, err)
	}
	first, _ := os.ReadFile(dbPath + ".orderkey")
	hook("valuerx-order-sign", "aco-herceptin-order-sign-noprefetch") // a new process: the same key
	if again, _ := os.ReadFile(dbPath + ".orderkey"); !bytes.Equal(first, again) {
		t.Fatal("the order key was drawn again at restart")
	}

	cfg, _ := loadConfig(cfgPath)
	a, err := buildApp(cfg, newLogger(io.Discard, "warn"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	orders, err := a.store.Orders(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 {
		t.Fatalf("order-select before and order-sign after a restart: %d orders in the record, want 1", len(orders))
	}

	// A short key file is refused with a message that says what to do, not silently replaced.
	if err := os.WriteFile(dbPath+".orderkey", []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := buildApp(cfg, newLogger(io.Discard, "warn")); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short order key: %v", err)
	}
}
