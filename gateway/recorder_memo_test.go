package gateway

import (
	"bytes"
	"math"
	"reflect"
	"testing"
	"time"

	"valuerx/scoring"
)

// TestSameScoreRequestFields: the recorder reuses a hook's encoded scoring request only for a
// request that encodes alike. Every field of scoring.Request is compared (a field added to it must
// be added to sameScoreRequest: the count fails first), and a change to any of them is a new
// request, down to a negative zero dose.
func TestSameScoreRequestFields(t *testing.T) {
	if n := reflect.TypeOf(scoring.Request{}).NumField(); n != 18 {
		t.Fatalf("scoring.Request has %d fields; sameScoreRequest compares 18", n)
	}
	day := time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
	base := scoring.Request{ContractID: "mssp-aco", ProductID: "herceptin", DoseMg: 420, Administrations: 17, Date: day,
		CurrentProductID: "kanjinti", ItemMg: 150, Site: "site-a", Indications: []string{"her2-breast"}, IndicationKnown: true,
		SecondaryID: "medigap", Device: "vial"}
	changes := map[string]func(r *scoring.Request){
		"ContractID": func(r *scoring.Request) { r.ContractID = "ffs" }, "ProductID": func(r *scoring.Request) { r.ProductID = "ogivri" },
		"DoseMg": func(r *scoring.Request) { r.DoseMg = 440 }, "Administrations": func(r *scoring.Request) { r.Administrations = 18 },
		"Date": func(r *scoring.Request) { r.Date = day.AddDate(0, 0, 1) }, "CurrentProductID": func(r *scoring.Request) { r.CurrentProductID = "" },
		"ItemMg": func(r *scoring.Request) { r.ItemMg = 440 }, "Site": func(r *scoring.Request) { r.Site = "" },
		"Indications":     func(r *scoring.Request) { r.Indications = []string{"her2-gastric"} },
		"IndicationKnown": func(r *scoring.Request) { r.IndicationKnown = false }, "SecondaryID": func(r *scoring.Request) { r.SecondaryID = "" },
		"Device":             func(r *scoring.Request) { r.Device = "prefilled" },
		"DeductibleCounted":  func(r *scoring.Request) { r.DeductibleCounted = true },
		"LoadingDose":        func(r *scoring.Request) { r.LoadingDose = true },
		"OOPCounted":         func(r *scoring.Request) { r.OOPCounted = 881.8 },
		"LoadingDosesBeside": func(r *scoring.Request) { r.LoadingDosesBeside = 1 },
		"DeductibleMet":      func(r *scoring.Request) { r.DeductibleMet = 209.4 },
		"OOPCountedYear":     func(r *scoring.Request) { r.OOPCountedYear = 9250 },
	}
	if len(changes) != 18 {
		t.Fatalf("%d field changes, want one per field", len(changes))
	}
	for name, change := range changes {
		r := base
		r.Indications = append([]string(nil), base.Indications...)
		change(&r)
		if sameScoreRequest(base, r) {
			t.Errorf("%s changed: still the same request", name)
		}
		if bytes.Equal(encodeScoreRequest(base, "c"), encodeScoreRequest(r, "c")) {
			t.Errorf("%s changed: encodes alike (the change is not a field of the encoding)", name)
		}
	}
	zero, negZero := base, base
	zero.DoseMg, negZero.DoseMg = 0, math.Copysign(0, -1)
	if sameScoreRequest(zero, negZero) {
		t.Error("a -0 dose is not a 0 dose: it encodes otherwise")
	}
	// Alike: a copy, the same instant in another zone, nil and empty indications.
	same := base
	same.Indications = []string{"her2-breast"}
	same.Date = day.In(time.FixedZone("x", 3600))
	noInd, emptyInd := base, base
	noInd.Indications, emptyInd.Indications = nil, []string{}
	for _, p := range [][2]scoring.Request{{base, same}, {noInd, emptyInd}} {
		if !sameScoreRequest(p[0], p[1]) || !bytes.Equal(encodeScoreRequest(p[0], "c"), encodeScoreRequest(p[1], "c")) {
			t.Errorf("%+v and %+v: want the same request, encoded alike", p[0], p[1])
		}
	}
}
