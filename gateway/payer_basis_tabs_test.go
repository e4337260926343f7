package gateway

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Every tab that shows a payer saving says what it is and, for a period reaching back to the
// decisions booked on the allowed amount, up to when they were (fin review of 2d439c0): the
// families, people and decisions tabs show projected payer savings too, and a recorded decision's
// page its suggestions' payer savings as recorded.
func TestEveryTabWithPayerSavingsSaysTheirBasis(t *testing.T) {
	e := newEnv(t)
	sel := e.hook("order-select", e.demoRequest("aco-herceptin-order-select"))
	if len(sel.Cards) == 0 {
		t.Fatal("no card")
	}
	card := sel.Cards[0].UUID
	d, err := e.store.Decision(t.Context(), card)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+e.storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The card was recorded before the upgrade, as far as the store says.
	until := d.At.Add(1e9).UTC()
	if _, err := db.Exec(`UPDATE payer_basis SET allowed_until = ?`, until.Format("2006-01-02T15:04:05.000000000Z07:00")); err != nil {
		t.Fatal(err)
	}
	note := "Orders first seen up to " + until.Format("2006-01-02 15:04") + " UTC may book the change in the allowed amount"
	for _, path := range []string{"/analytics/dashboard/families", "/analytics/dashboard/people", "/analytics/dashboard/decisions", "/analytics/decisions/" + card} {
		st, page, _ := e.do(http.MethodGet, path, nil, analystHeader())
		if st != 200 {
			t.Fatalf("%s: %d", path, st)
		}
		if !strings.Contains(string(page), "Payer savings are the change in the payer's own payment") {
			t.Errorf("%s shows payer savings and does not say what they are", path)
		}
		if !strings.Contains(string(page), note) {
			t.Errorf("%s does not name the earlier basis of its payer savings", path)
		}
	}
}

// The drill-down's JSON (its projectedPayerSavedUSD per order) names the earlier basis as the
// report and outcomes JSON do (payerSavingsOnAllowedUntil), for a period reaching back to it.
func TestDecisionsJSONSaysTheBasisOfItsPayerSavings(t *testing.T) {
	e := newEnv(t)
	if s, out, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select")); s != 200 {
		t.Fatal(s, string(out))
	}
	get := func() map[string]any {
		t.Helper()
		st, out, _ := e.do(http.MethodGet, "/analytics/report/decisions", nil, analystHeader())
		var m map[string]any
		if st != 200 || json.Unmarshal(out, &m) != nil {
			t.Fatalf("decisions: %d %s", st, out)
		}
		return m
	}
	if v, ok := get()["payerSavingsOnAllowedUntil"]; ok {
		t.Errorf("a store without decisions on the allowed amount: note %v", v)
	}
	setAllowedBasisUntil(t, e, "2026-11-30T09:15:00.000000000Z")
	if v := get()["payerSavingsOnAllowedUntil"]; v != "2026-11-30T09:15:00Z" {
		t.Errorf("note %v, want 2026-11-30T09:15:00Z", v)
	}
}
