package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a throwaway certificate for 127.0.0.1 and returns the file paths and a pool
// that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "valuerx test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With a certificate configured valuerx serves HTTPS and refuses TLS below 1.2 (Inferno's
// tls_version_test), then shuts down when its context ends.
func TestServeTLSMinimumVersion(t *testing.T) {
	e := newEnv(t)
	certFile, keyFile, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.gw.Serve(ctx, ln, certFile, keyFile) }()
	url := "https://" + ln.Addr().String() + "/cds-services"
	get := func(minV, maxV uint16) error {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, MinVersion: minV, MaxVersion: maxV}}}
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(tls.VersionTLS12, tls.VersionTLS12); err != nil {
		t.Fatalf("TLS 1.2 refused: %v", err)
	}
	if err := get(tls.VersionTLS13, tls.VersionTLS13); err != nil {
		t.Fatalf("TLS 1.3 refused: %v", err)
	}
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if err := get(v, v); err == nil {
			t.Fatalf("TLS version %x accepted", v)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// A full hook with prefetch, FHIR token and client JWT leaves none of them, nor the patient's
// name, identifiers or birth date, in the log output.
func TestLogsCarryNoPHIOrTokens(t *testing.T) {
	e := newEnv(t)
	path := serviceOf("order-sign")
	tok := e.token(path)
	body := e.demoRequest("aco-herceptin-2024-order-sign")
	s, out, _ := e.do(http.MethodPost, path, body, map[string]string{"Authorization": "Bearer " + tok})
	if s != 200 {
		t.Fatalf("status %d: %s", s, out)
	}
	// and a failing one, whose error paths log too
	e.do(http.MethodPost, path, []byte(`{"hook":"order-sign","hookInstance":"x","context":{"patientId":"pat-aco","userId":"bad"}}`), map[string]string{"Authorization": "Bearer " + e.token(path)})
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"/cds-services/valuerx-order-sign"`) {
		t.Fatalf("expected access log lines, got %q", logs)
	}
	// The hook line names the hook by its hash and the number of cards (issue 14 item 5), never
	// the hookInstance itself.
	var hookInstance struct{ HookInstance string }
	_ = json.Unmarshal(body, &hookInstance)
	if !strings.Contains(logs, `"msg":"hook answered"`) || !strings.Contains(logs, `"cards":1`) || strings.Contains(logs, hookInstance.HookInstance) {
		t.Errorf("want a hook line with the card count and no hookInstance: %q", logs)
	}
	for _, secret := range []string{tok, tok[strings.LastIndex(tok, ".")+1:], "demo-fhir-token", "1EG4TE5MK73", "pat-aco", "1948-09-17", "Aco", "Practitioner/dr-oncology", "draft-herceptin"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}
