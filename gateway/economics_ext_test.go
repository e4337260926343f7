package gateway

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"valuerx/cdshooks"
	"valuerx/demo"
)

// TestEconomicsExtension: every card carries extension.valuerx-economics with the figures the
// table shows. Herceptin -> Trazimera, 420 mg x 17, Feb 2026, the ACO (hand figures: scoring's
// TestRequiredOutcomes and TestWorkedExample): Herceptin allowed 56,214.50 a course, Medicare
// pays 0.98 x (56,214.495 - 11,469.299) = 43,850.29, the patient 283 + 0.2 x 55,931.495 =
// 11,469.30, organisation (its margin) 2,287.05; Trazimera organisation 3,870.56 + 0.49 x
// (44,745.196 - 4,460.296) = 23,610.16.
func TestEconomicsExtension(t *testing.T) {
	e := newEnv(t)
	status, body, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var req struct {
		Context struct {
			DraftOrders json.RawMessage `json:"draftOrders"`
		} `json:"context"`
	}
	_ = json.Unmarshal(e.demoRequest("aco-herceptin-order-select"), &req)
	for _, v := range cdshooks.CheckResponse(body, req.Context.DraftOrders) {
		if v.Level == cdshooks.LevelSHALL {
			t.Errorf("CheckResponse: %+v", v)
		}
	}
	resp := decodeResponse(t, body)
	if len(resp.Cards) != 1 {
		t.Fatalf("%d cards", len(resp.Cards))
	}
	card := resp.Cards[0]
	var ext map[string]json.RawMessage
	if err := json.Unmarshal(card.Extension, &ext); err != nil || len(ext) != 1 || ext[extensionKey] == nil {
		t.Fatalf("extension %s: want one member %q (%v)", card.Extension, extensionKey, err)
	}
	var got economics
	dec := json.NewDecoder(strings.NewReader(string(ext[extensionKey])))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Contract != "mssp-aco" || got.Arrangement != "shared-savings-two-sided" || got.PricePeriod.ID != "cms-asp-2026q1" ||
		got.PricePeriod.Start != "2026-01-01" || got.PricePeriod.End != "2026-03-31" || got.Currency != "USD" ||
		got.AdministrationsPerCourse != 17 || got.AdministrationsPerYear != 17 || got.DoseMg != 420 {
		t.Errorf("header %+v", got)
	}
	h := got.Ordered
	if h.Product != "herceptin" || h.HCPCS != "J9355" || h.NDC != "50242013201" || h.BillingUnits != 45 || h.WastedUnits != 3 {
		t.Errorf("ordered %+v", h)
	}
	if want := (econAmounts{Allowed: 56214.50, PayerPaid: 43850.29, Patient: 11469.30, Organisation: 2287.05}); h.PerCourse != want || h.PerYear != want {
		t.Errorf("ordered per course %+v per year %+v, want %+v", h.PerCourse, h.PerYear, want)
	}
	if want := (econAmounts{Allowed: 3306.74, PayerPaid: 2592.48, Patient: 661.35, Organisation: 134.27}); h.PerAdministration != want {
		t.Errorf("ordered per administration %+v, want %+v", h.PerAdministration, want)
	}
	if len(got.Options) != len(card.Suggestions) || len(got.Options) == 0 {
		t.Fatalf("%d options for %d suggestions", len(got.Options), len(card.Suggestions))
	}
	for i, o := range got.Options {
		if !strings.Contains(card.Suggestions[i].Label, o.Name) {
			t.Errorf("option %d %s is not suggestion %d %q", i, o.Name, i, card.Suggestions[i].Label)
		}
	}
	z := got.Options[0]
	if z.Product != "trazimera" || z.HCPCS != "Q5116" || z.BillingUnits != 42 || z.WastedUnits != 0 ||
		z.PerCourse.Organisation != 23610.16 || z.PerCourse.Allowed != 5858.37 || z.PerCourse.PayerPaid != 4371.09 {
		t.Errorf("trazimera %+v", z)
	}
	if !strings.HasPrefix(z.Sources["asp"], "derived: ") || !strings.HasPrefix(z.Sources["price"], "published: ") {
		t.Errorf("provenance lost: %v", z.Sources)
	}
	joined := strings.Join(got.Assumptions, "\n")
	for _, want := range []string{"expected position above-msr", "before supplemental coverage", "x (1 - 0.02 sequestration)", "year of therapy: 17", "acquisition cost: estimated"} {
		if !strings.Contains(joined, want) {
			t.Errorf("assumptions lack %q:\n%s", want, joined)
		}
	}
	// The table prints the same numbers, in whole dollars for a sidebar (issue 14); the
	// organisation's are for the comparison page and for configured audiences.
	for _, want := range []string{"| Medicare | $43,850 | $4,371 |", "| Total cost | $56,215 | $5,858 |", "| Patient | $11,469 | $1,398 |"} {
		if !strings.Contains(card.Detail, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
}

// TestEconomicsExtensionCapitationAndPA: capitation shows no payer payment (one saving, to the
// budget); the commercial card names the ordered product's prior authorisation.
func TestEconomicsExtensionCapitationAndPA(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		request, assumption string
		check               func(t *testing.T, x economics)
	}{
		{"ma-capitation-herceptin-order-select", "one saving, to the capitated budget", func(t *testing.T, x economics) {
			if x.Ordered.PerCourse.PayerPaid != 0 || x.Ordered.PerCourse.Patient != 9250 || math.Abs(x.Options[0].PerCourse.Organisation-x.Ordered.PerCourse.Organisation-43055.61) > 0.005 {
				t.Errorf("capitation %+v / %+v", x.Ordered.PerCourse, x.Options[0].PerCourse)
			}
		}},
		{"commercial-ppo-herceptin-order-select", "prior authorisation: the ordered product needs it", func(t *testing.T, x economics) {
			if x.Ordered.PriorAuth == nil || !x.Ordered.PriorAuth.Required || x.Ordered.PriorAuth.DenialRate != 0.1 || x.Options[0].PriorAuth != nil {
				t.Errorf("prior auth ordered %+v option %+v", x.Ordered.PriorAuth, x.Options[0].PriorAuth)
			}
		}},
	} {
		status, body, _ := e.post(serviceOf(c.request), e.demoRequest(c.request))
		if status != http.StatusOK {
			t.Fatalf("%s: status %d", c.request, status)
		}
		resp := decodeResponse(t, body)
		var ext map[string]economics
		if len(resp.Cards) != 1 || json.Unmarshal(resp.Cards[0].Extension, &ext) != nil {
			t.Fatalf("%s: no card extension", c.request)
		}
		x := ext[extensionKey]
		if !strings.Contains(strings.Join(x.Assumptions, "\n"), c.assumption) {
			t.Errorf("%s: assumptions %q lack %q", c.request, x.Assumptions, c.assumption)
		}
		c.check(t, x)
	}
}

// TestEconomicsExtensionMatchesTable: on every demo card the extension's per-course figures of
// the ordered product and the recommended option are the ones the markdown table prints.
func TestEconomicsExtensionMatchesTable(t *testing.T) {
	e := newEnv(t)
	cards := 0
	for _, name := range demo.Requests() {
		status, body, _ := e.post(serviceOf(name), e.demoRequest(name))
		if status != http.StatusOK {
			t.Fatalf("%s: status %d", name, status)
		}
		for _, card := range decodeResponse(t, body).Cards {
			cards++
			var ext map[string]economics
			if err := json.Unmarshal(card.Extension, &ext); err != nil || len(ext) != 1 {
				t.Fatalf("%s: extension %s (%v)", name, card.Extension, err)
			}
			x := ext[extensionKey]
			if len(x.Options) == 0 {
				t.Fatalf("%s: no options", name)
			}
			row := func(label string) string {
				for _, l := range strings.Split(card.Detail, "\n") {
					if strings.HasPrefix(l, "| "+label+" |") {
						return l
					}
				}
				return ""
			}
			for _, c := range []struct {
				label     string
				a, b      float64
				formatter func(float64) string
			}{
				{"Total cost", x.Ordered.PerCourse.Allowed, x.Options[0].PerCourse.Allowed, cardUSD},
				{"Patient", x.Ordered.PerCourse.Patient, x.Options[0].PerCourse.Patient, cardUSD},
				{"Medicare", x.Ordered.PerCourse.PayerPaid, x.Options[0].PerCourse.PayerPaid, cardUSD},
				{"Plan", x.Ordered.PerCourse.PayerPaid, x.Options[0].PerCourse.PayerPaid, cardUSD},
			} {
				if (c.label == "Medicare" || c.label == "Plan") && row(c.label) == "" {
					continue // the payer's row has one of the two names, none under capitation
				}
				want := "| " + c.label + " | " + c.formatter(c.a) + " | " + c.formatter(c.b) + " |"
				if got := row(c.label); !strings.HasPrefix(got, want) {
					t.Errorf("%s: table row %q, extension says %q", name, got, want)
				}
			}
		}
	}
	if cards < 5 {
		t.Errorf("only %d demo cards", cards)
	}
}
