package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"valuerx/store"
)

// valuerx import administrations | claims against the store and order key the gateway uses:
// one decision recorded under the key beside the store, one administration and one claim line
// joined to it; a second run records nothing new; without the key file the command refuses.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "valuerx.db")
	cfgPath := filepath.Join(dir, "valuerx.yaml")
	if err := os.WriteFile(cfgPath, []byte("store: "+dbPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}
	nd := filepath.Join(dir, "MedicationAdministration.ndjson")
	if err := os.WriteFile(nd, []byte(`{"resourceType":"MedicationAdministration","id":"ma-1","status":"completed","subject":{"reference":"Patient/p1"},"request":{"reference":"MedicationRequest/mr1"},"effectiveDateTime":"2026-02-20T10:00:00Z","medicationCodeableConcept":{"coding":[{"system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets","code":"Q5116"}]}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run1("import", "administrations", "-config", cfgPath, "-issuer", "https://ehr.test", "-from", nd); code != 1 || !strings.Contains(errs, "no order key") {
		t.Fatalf("without the gateway's order key: %d %s", code, errs)
	}
	secret, _, _, err := orderKeyBesideStore(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	client := "https://ehr.test tenant=main"
	if err := st.RecordDecisions(context.Background(), []store.Decision{{CardUUID: "c1", ServiceID: "s", Hook: "order-sign", Client: client,
		OrderKey: store.OrderKey(secret, client, "p1", "mr1"), ContractID: "mssp-aco", GroupID: "trastuzumab", OrderedProductID: "herceptin",
		At: time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	args := []string{"import", "administrations", "-config", cfgPath, "-issuer", "https://ehr.test", "-tenant", "main", "-from", nd}
	if code, out, errs := run1(args...); code != 0 || !strings.Contains(out, "read 1, recorded 1 new") {
		t.Fatalf("import: %d %q %q", code, out, errs)
	}
	if code, out, _ := run1(args...); code != 0 || !strings.Contains(out, "recorded 0 new, 1 already recorded") {
		t.Fatalf("re-import: %d %q", code, out)
	}
	claims := filepath.Join(dir, "claims.csv")
	if err := os.WriteFile(claims, []byte("claim_id,line,patient_id,medication_request_id,service_date,hcpcs,units,allowed_usd,paid_usd,patient_usd\n900,1,p1,mr1,2026-02-20,Q5116,42,344.61,270.18,68.92\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run1("import", "claims", "-config", cfgPath, "-issuer", "https://ehr.test", "-tenant", "main", "-from", claims); code != 0 || !strings.Contains(out, "recorded 1 new") {
		t.Fatalf("claims: %d %q %q", code, out, errs)
	}
	st, err = store.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orders, err := st.Orders(context.Background(), time.Time{}, time.Time{})
	if err != nil || len(orders) != 1 || orders[0].Administrations != 1 || orders[0].AdministeredProductID != "trazimera" || orders[0].PaidUSD != 270.18 {
		t.Fatalf("orders = %+v %v, want one administration of Trazimera and 270.18 paid", orders, err)
	}
	if code, _, _ := run1("import", "nonsense"); code != 2 {
		t.Fatal("an unknown import kind must be a usage error")
	}
}

// imports.administrationsPoll is parsed from the file, and an entry without its token file or
// issuer stops the start with an error naming it.
func TestAdministrationsPollConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.yaml")
	os.WriteFile(path, []byte("imports:\n  administrationsPoll:\n    - fhirServer: https://fhir.a.example/r4\n      issuer: https://ehr.a.example\n      every: 5m\n"), 0o600)
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Imports.AdministrationsPoll) != 1 || cfg.Imports.AdministrationsPoll[0].Every.Duration != 5*time.Minute {
		t.Fatalf("parsed: %+v", cfg.Imports)
	}
	st, err := store.OpenSQLite(filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = startPolls(context.Background(), cfg, &app{store: st}, nil)
	if err == nil || !strings.Contains(err.Error(), "administrationsPoll[0]: fhirServer, tokenFile and issuer are required") {
		t.Fatalf("missing token file: %v", err)
	}
}

// valuerx divergence scores a stored decision's request under every contract of the registry: a
// Herceptin order (420 mg, 17 doses, February 2026, ACO) gets five answers; a second run finds
// nothing new.
func TestDivergenceCommand(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "valuerx.db")
	cfgPath := filepath.Join(dir, "valuerx.yaml")
	os.WriteFile(cfgPath, []byte("store: "+dbPath+"\n"), 0o600)
	if _, _, _, err := orderKeyBesideStore(dbPath); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	req := `{"contract":"mssp-aco","product":"herceptin","doseMg":420,"administrations":17,"date":"2026-02-15","device":"vial"}`
	if err := st.RecordDecisions(context.Background(), []store.Decision{{CardUUID: "c1", Client: "a", OrderKey: "k", ContractID: "mssp-aco",
		GroupID: "trastuzumab", OrderedProductID: "herceptin", NoCardReason: "suppressed-after-override", ScoreRequest: []byte(req),
		At: time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"divergence", "-config", cfgPath}, &out, &errb); code != 0 || !strings.Contains(out.String(), "computed for 1 scoring requests") {
		t.Fatalf("divergence: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"divergence", "-config", cfgPath}, &out, &errb); code != 0 || !strings.Contains(out.String(), "computed for 0 scoring requests") {
		t.Fatalf("second run: %d %q", code, out.String())
	}
	st, err = store.OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orders, err := st.Orders(context.Background(), time.Time{}, time.Time{})
	if err != nil || len(orders) != 1 || len(orders[0].Answers) != 5 {
		t.Fatalf("answers: %+v %v, want five contracts", orders, err)
	}
	best := map[string]string{}
	for _, a := range orders[0].Answers {
		best[a.ContractID] = a.BestProductID
	}
	if best["mssp-aco"] != "trazimera" || best["medicare-ffs"] != "trazimera" || best["commercial-ppo"] != "kanjinti" {
		t.Errorf("answers = %v", best)
	}
}

// TestPollTokenFileMode (attacker review finding 11): a poller's tokenFile that the group or
// others may read stops the start with a message saying chmod 600, and never quotes the token;
// at 0600 the same file starts the poller.
func TestPollTokenFileMode(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenSQLite(filepath.Join(dir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok := filepath.Join(dir, "fhir-token")
	cfgPath := filepath.Join(dir, "valuerx.yaml")
	os.WriteFile(cfgPath, []byte("imports:\n  administrationsPoll:\n    - fhirServer: https://fhir.a.example/r4\n      issuer: https://ehr.a.example\n      tokenFile: "+tok+"\n      every: 5m\n"), 0o600)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o644, false}, {0o640, false}, {0o604, false}, {0o600, true}, {0o400, true}} {
		if err := os.WriteFile(tok, []byte("s3cr3t-token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(tok, tc.mode); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		err := startPolls(ctx, cfg, &app{store: st}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		cancel()
		if tc.ok != (err == nil) || (err != nil && (!strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "s3cr3t"))) {
			t.Errorf("mode %04o: %v", tc.mode, err)
		}
	}
}
