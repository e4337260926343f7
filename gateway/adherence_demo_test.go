package gateway

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/demo"
)

// demoAdherence sends one of the adherence demo requests through the real gateway (JWT, HTTP on
// loopback, the dispenses and everything else fetched from the demo FHIR server holding
// demo.AdherencePatients as of now) and returns its adherence and SUPD cards and the draft.
func demoAdherence(t *testing.T, now time.Time, name string) ([]cdshooks.Card, map[string]json.RawMessage) {
	t.Helper()
	e := newEnv(t, withNow(now))
	if err := e.fhirSrv.LoadBundle(demo.AdherencePatients(now)); err != nil {
		t.Fatal(err)
	}
	raw, ok := demo.AdherenceRequest(name)
	if !ok {
		t.Fatalf("no adherence demo request %q", name)
	}
	body := setJSON(t, raw, "fhirServer", e.fhirURL)
	var req struct {
		Context struct {
			DraftOrders struct {
				Entry []struct {
					Resource map[string]json.RawMessage `json:"resource"`
				} `json:"entry"`
			} `json:"draftOrders"`
		} `json:"context"`
	}
	if err := json.Unmarshal(raw, &req); err != nil || len(req.Context.DraftOrders.Entry) != 1 {
		t.Fatalf("demo request %s: %v", name, err)
	}
	return adherenceCardsOf(t, e, body), req.Context.DraftOrders.Entry[0].Resource
}

// TestDemoAdherence: the four patients of the adherence demo through the real gateway, on the
// days whose figures demo/adherence.go and the README work by hand (issue 17 item 4).
func TestDemoAdherence(t *testing.T) {
	jul1 := time.Date(2026, time.July, 1, 14, 0, 0, 0, time.UTC)
	dec1 := time.Date(2026, time.December, 1, 14, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name               string
		at                 time.Time
		covered, days, gap int
		redeemable         bool
	}{
		// 1 July: fills on Jan 1, Feb 10, Mar 25 and Jun 7, 30 days each: Jan 1-Jul 1 is 182 days,
		// 30+30+30+25 = 115 covered (0.63); the year needs ceil(0.8 x 365) = 292 covered, 73
		// uncovered allowed, 67 used: 6 left.
		{"1 July", jul1, 115, 182, 6, true},
		// 1 December: the pattern's cycles of 182 days back from today put fills in 2026 on
		// Jan 12, Feb 24, May 9, Jun 3, Jul 13, Aug 25 and Nov 7 (Dec 3 2025 is last year's, and
		// supply from before the year does not count). The Jun 3 fill starts when May 9's runs out
		// (Jun 8). Jan 12-Dec 1 is 324 days, 6 x 30 + 25 (Nov 7-Dec 1) = 205 covered (0.63).
		// Jan 12-Dec 31 is 354 days, ceil(0.8 x 354) = 284 must be covered: 70 uncovered allowed,
		// 119 used: -49, no longer reachable.
		{"1 December", dec1, 205, 324, -49, false},
	} {
		t.Run("PDC 0.63 on "+c.name, func(t *testing.T) {
			cards, draft := demoAdherence(t, c.at, "statin-pdc63-order-sign")
			if len(cards) != 1 {
				t.Fatalf("%d adherence cards, want 1", len(cards))
			}
			x := ext(t, cards[0])
			if x.Measure != "PDC-STA" || *x.DaysCovered != c.covered || *x.Days != c.days || *x.GapDaysLeft != c.gap || x.Redeemable != c.redeemable {
				t.Errorf("extension %+v: covered %d of %d, gap %d; want %d of %d, gap %d, redeemable %v", x, *x.DaysCovered, *x.Days, *x.GapDaysLeft, c.covered, c.days, c.gap, c.redeemable)
			}
			s := cards[0].Suggestions
			if len(s) != 1 || len(s[0].Actions) != 1 || s[0].Actions[0].Type != cdshooks.ActionUpdate {
				t.Fatalf("suggestions %+v", s)
			}
			var upd map[string]json.RawMessage
			if err := json.Unmarshal(s[0].Actions[0].Resource, &upd); err != nil {
				t.Fatal(err)
			}
			// Everything but dispenseRequest is the draft's, member for member.
			for k, v := range draft {
				if k == "dispenseRequest" {
					continue
				}
				var a, b any
				json.Unmarshal(v, &a)
				json.Unmarshal(upd[k], &b)
				if !reflect.DeepEqual(a, b) {
					t.Errorf("update changed %s: %s -> %s", k, v, upd[k])
				}
			}
			if len(upd) != len(draft) {
				t.Errorf("update has %d members, the draft %d", len(upd), len(draft))
			}
			var dr struct {
				Refills  int `json:"numberOfRepeatsAllowed"`
				Quantity struct {
					Value float64 `json:"value"`
					Unit  string  `json:"unit"`
				} `json:"quantity"`
				Duration struct {
					Value float64 `json:"value"`
					Code  string  `json:"code"`
				} `json:"expectedSupplyDuration"`
			}
			json.Unmarshal(upd["dispenseRequest"], &dr)
			// The draft: 30 tablets for 30 days, no refills -> 90 tablets for 90 days, 3 refills.
			if dr.Refills != 3 || dr.Quantity.Value != 90 || dr.Quantity.Unit != "tablet" || dr.Duration.Value != 90 || dr.Duration.Code != "d" {
				t.Errorf("dispenseRequest %s", upd["dispenseRequest"])
			}
			if q, ok := qualityOf(t, cards[0]); !ok || q.Contract != "ma-capitation" {
				t.Errorf("no quality figures of ma-capitation: %+v", q)
			}
		})
	}
	for _, at := range []time.Time{jul1, dec1} {
		if cards, _ := demoAdherence(t, at, "statin-adherent-order-sign"); len(cards) != 0 {
			t.Errorf("%s: adherent patient got %d cards: %s", at.Format(time.DateOnly), len(cards), cards[0].Summary)
		}
		cards, _ := demoAdherence(t, at, "supd-metformin-order-sign")
		if len(cards) != 1 || ext(t, cards[0]).Measure != "SUPD" {
			t.Fatalf("%s: SUPD patient: %d cards, want one SUPD card", at.Format(time.DateOnly), len(cards))
		}
		s := cards[0].Suggestions
		if len(s) != 1 || len(s[0].Actions) != 1 || s[0].Actions[0].Type != cdshooks.ActionCreate {
			t.Fatalf("SUPD suggestions %+v", s)
		}
		var mr struct {
			ResourceType string `json:"resourceType"`
			Subject      struct {
				Reference string `json:"reference"`
			} `json:"subject"`
			Med struct {
				Coding []struct{ Code, Display string } `json:"coding"`
			} `json:"medicationCodeableConcept"`
		}
		json.Unmarshal(s[0].Actions[0].Resource, &mr)
		// RxNorm 617310 atorvastatin 20 MG Oral Tablet: moderate intensity (ACC/AHA 2018: 10-20 mg).
		if mr.ResourceType != "MedicationRequest" || mr.Subject.Reference != "Patient/pat-supd" || len(mr.Med.Coding) != 1 || mr.Med.Coding[0].Code != "617310" {
			t.Errorf("SUPD create %s", s[0].Actions[0].Resource)
		}
		if cards, _ := demoAdherence(t, at, "diabetes-age30-metformin-order-sign"); len(cards) != 0 {
			t.Errorf("%s: 30-year-old with diabetes got %d cards: %s", at.Format(time.DateOnly), len(cards), cards[0].Summary)
		}
	}
}
