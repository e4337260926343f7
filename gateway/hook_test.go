package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"valuerx/cdshooks"
	"valuerx/scoring"
)

// recommended returns the product name in the recommended suggestion of the only card, or "".
func recommended(t *testing.T, resp cdshooks.Response) string {
	t.Helper()
	if len(resp.Cards) == 0 {
		return ""
	}
	if len(resp.Cards) != 1 {
		t.Fatalf("want one card, got %d", len(resp.Cards))
	}
	for _, s := range resp.Cards[0].Suggestions {
		if s.IsRecommended {
			var mr struct {
				MedicationCodeableConcept struct {
					Text string `json:"text"`
				} `json:"medicationCodeableConcept"`
			}
			if len(s.Actions) != 1 {
				t.Fatalf("suggestion with %d actions", len(s.Actions))
			}
			if err := json.Unmarshal(s.Actions[0].Resource, &mr); err != nil {
				t.Fatal(err)
			}
			return mr.MedicationCodeableConcept.Text
		}
	}
	t.Fatal("card without a recommended suggestion")
	return ""
}

// The same Herceptin order, dose and date gives different answers by arrangement, and the
// answers follow the CMS data (issue: "What it must show").
func TestHerceptinByArrangement(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		request string
		want    string // recommended product; "" = no card
		anyBio  bool   // any trastuzumab biosimilar is acceptable
	}{
		{"aco-herceptin-order-select", "Trazimera", false},
		{"ma-capitation-herceptin-order-select", "Trazimera", false},
		{"medicare-ffs-herceptin-order-select", "", true},
		{"aco-herceptin-2024-order-sign", "Kanjinti", false},
		{"commercial-ppo-herceptin-order-select", "", true}, // the default PPO prefers biosimilars
		{"aco-midcourse-herceptin-order-select", "", false},
	}
	biosimilars := []string{"Trazimera", "Kanjinti", "Ogivri", "Ontruzant", "Herzuma", "Hercessi"}
	for _, c := range cases {
		t.Run(c.request, func(t *testing.T) {
			status, body, _ := e.post(serviceOf(c.request), e.demoRequest(c.request))
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			if v := cdshooks.CheckResponse(body, nil); len(v) > 0 {
				t.Fatalf("response breaks CDS Hooks rules: %v", v)
			}
			got := recommended(t, decodeResponse(t, body))
			switch {
			case c.anyBio:
				ok := false
				for _, b := range biosimilars {
					ok = ok || strings.Contains(got, b)
				}
				if !ok {
					t.Fatalf("want a biosimilar recommended, got %q", got)
				}
			case c.want == "":
				if got != "" {
					t.Fatalf("want no card, got %q", got)
				}
			default:
				if !strings.Contains(got, c.want) {
					t.Fatalf("want %s recommended, got %q", c.want, got)
				}
			}
		})
	}
}

// A commercial fee-for-service payer with no preferences: switching lowers the organisation's
// margin, so valuerx offers nothing.
func TestCommercialWithoutPreferenceGetsNoSwitch(t *testing.T) {
	e := newEnv(t, withScoringConfig(t, func(c *scoring.Config) {
		for i := range c.Contracts {
			c.Contracts[i].Preferred = nil
			c.Contracts[i].PriorAuth = nil // prior authorisation is stated for non-preferred products
		}
	}))
	status, body, _ := e.post(serviceOf("order-select"), e.demoRequest("commercial-ppo-herceptin-order-select"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	if got := recommended(t, decodeResponse(t, body)); got != "" {
		t.Fatalf("commercial FFS without preference must not be offered a margin-lowering switch; got %q", got)
	}
}

// Ordering the best option already gives {"cards": []}.
func TestAlreadyBestGetsEmptyCards(t *testing.T) {
	e := newEnv(t)
	req := e.demoRequest("aco-herceptin-order-select")
	var m map[string]any
	if err := json.Unmarshal(req, &m); err != nil {
		t.Fatal(err)
	}
	// Swap the draft order's medication for Trazimera (RxNorm from the catalog).
	traz := productNamed(t, "Trazimera")
	entry := m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)
	mr := entry["resource"].(map[string]any)
	mr["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{
		"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": traz.HCPCS}}}
	body, _ := json.Marshal(m)
	status, out, _ := e.post(serviceOf("order-select"), body)
	if status != http.StatusOK || strings.TrimSpace(string(out)) != `{"cards":[]}` {
		t.Fatalf("want 200 {\"cards\":[]}, got %d %s", status, out)
	}
}

func productNamed(t *testing.T, name string) scoring.Product {
	t.Helper()
	cat := testCatalog(t)
	for _, g := range cat.Groups() {
		for _, id := range g.ProductIDs {
			p, _ := cat.Product(id)
			if strings.Contains(p.Name, name) {
				return p
			}
		}
	}
	t.Fatalf("no product %s", name)
	return scoring.Product{}
}

// An order valuerx does not know gets no card and still a 200.
func TestUnknownOrderGetsNoCard(t *testing.T) {
	e := newEnv(t)
	req := e.demoRequest("aco-herceptin-order-select")
	req = []byte(strings.ReplaceAll(string(req), `"1922509"`, `"999999999"`))
	req = []byte(strings.ReplaceAll(string(req), `"J9355"`, `"J0000"`))
	status, out, _ := e.post(serviceOf("order-select"), req)
	if status != http.StatusOK || strings.TrimSpace(string(out)) != `{"cards":[]}` {
		t.Fatalf("want 200 {\"cards\":[]}, got %d %s", status, out)
	}
}

// The card carries what the issue asks: uuid, summary ≤139 runes naming option and arrangement,
// markdown table, ≤3 suggestions each an update of the same draft id, at-most-one, override
// reasons with display, CRD topic.
func TestCardShape(t *testing.T) {
	e := newEnv(t)
	status, body, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select"))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	resp := decodeResponse(t, body)
	if len(resp.Cards) != 1 {
		t.Fatalf("want 1 card, got %d", len(resp.Cards))
	}
	c := resp.Cards[0]
	if c.UUID == "" || c.Source.Topic == nil || c.Source.Topic.Code != "therapy-alternatives-opt" {
		t.Errorf("card uuid/topic wrong: %+v", c)
	}
	// Issue 14: option, FDA relationship, dose kept, then the patient's cost (Medicare Part B:
	// coinsurance, per course of 17).
	if want := "Consider Trazimera (trastuzumab-qyyp), FDA biosimilar, same dose: patient cost $1,398 vs $11,469/course"; c.Summary != want {
		t.Errorf("summary %q, want %q", c.Summary, want)
	}
	if c.SelectionBehavior != "at-most-one" || len(c.Suggestions) == 0 || len(c.Suggestions) > 3 {
		t.Errorf("suggestions: %d, behaviour %q", len(c.Suggestions), c.SelectionBehavior)
	}
	// The reason first, then two product columns (ordered, recommended) and five rows; no
	// organisation figure for a prescriber by default; provenance on the comparison page.
	for _, want := range []string{"- FDA biosimilar to Herceptin\n- Labelled for: HER2+ breast cancer\n", "| per course | Herceptin | Trazimera |",
		"| Patient | $11,469 | $1,398 |", "| Medicare | $43,850 | $4,371 |", "| Total cost | $56,215 | $5,858 |",
		"| Vials/dose | 3×150 | 1×420 |", "| Discarded | 30 mg | none |", "- Prices: CMS ASP Jan 2026"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, c.Detail)
		}
	}
	for _, not := range []string{"Organisation", "Ontruzant", "Where the figures come from", "derived:"} {
		if strings.Contains(c.Detail, not) {
			t.Errorf("detail has %q (organisation figures, other options and provenance belong on the comparison page):\n%s", not, c.Detail)
		}
	}
	for _, s := range c.Suggestions {
		a := s.Actions[0]
		var mr map[string]any
		if err := json.Unmarshal(a.Resource, &mr); err != nil {
			t.Fatal(err)
		}
		if a.Type != "update" || mr["id"] != "draft-herceptin-pat-aco" || mr["resourceType"] != "MedicationRequest" {
			t.Errorf("suggestion must update the same draft order: %s", a.Resource)
		}
		for _, keep := range []string{"subject", "requester", "dosageInstruction", "authoredOn", "status", "intent"} {
			if _, ok := mr[keep]; !ok {
				t.Errorf("clone lost %s", keep)
			}
		}
		if strings.Contains(string(a.Resource), "1922509") {
			t.Errorf("clone still carries the Herceptin code")
		}
	}
	if len(c.OverrideReasons) < 4 {
		t.Errorf("want the domain override reasons, got %d", len(c.OverrideReasons))
	}
}

// Errors: the right status and an OperationOutcome body.
func TestRequestErrors(t *testing.T) {
	e := newEnv(t)
	good := e.demoRequest("aco-herceptin-order-select")
	noPrefetchNoServer := setJSON(t, setJSON(t, setJSON(t, good, "prefetch", nil), "fhirServer", nil), "fhirAuthorization", nil)
	cases := []struct {
		name   string
		path   string
		body   []byte
		status int
	}{
		{"not json", serviceOf("order-select"), []byte("{not json"), http.StatusBadRequest},
		{"empty body", serviceOf("order-select"), nil, http.StatusBadRequest},
		{"missing context", serviceOf("order-select"), setJSON(t, good, "context", nil), http.StatusUnprocessableEntity},
		{"hook mismatch", serviceOf("order-sign"), good, http.StatusUnprocessableEntity},
		{"unknown service", "/cds-services/nope", good, http.StatusNotFound},
		{"coverage missing and no FHIR server", serviceOf("order-select"), noPrefetchNoServer, http.StatusPreconditionFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, hdr := e.post(c.path, c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			if !strings.Contains(hdr.Get("Content-Type"), "json") || !strings.Contains(string(body), `"OperationOutcome"`) {
				t.Fatalf("want an OperationOutcome body, got %q %s", hdr.Get("Content-Type"), body)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	status, body, _ := e.do(http.MethodGet, "/cds-services", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	var d cdshooks.Discovery
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	hooks := map[string]bool{}
	for _, s := range d.Services {
		hooks[s.Hook] = true
		for k, tmpl := range s.Prefetch {
			oc := &cdshooks.OrderContext{UserID: "Practitioner/1", PatientID: "p1"}
			if _, err := cdshooks.ExpandTemplate(tmpl, oc); err != nil {
				t.Errorf("prefetch %s: %v", k, err)
			}
		}
	}
	if !hooks["order-select"] || !hooks["order-sign"] {
		t.Fatalf("want both hooks, got %v", hooks)
	}
}
