package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func coverageJSON(id string, order int, sopt, plan, payer string, end string) json.RawMessage {
	c := map[string]any{
		"resourceType": "Coverage", "id": id, "status": "active",
		"type":  map[string]any{"coding": []any{map[string]any{"system": "https://nahdo.org/sopt", "code": sopt}}},
		"payor": []any{map[string]any{"reference": "Organization/" + payer}},
	}
	if order > 0 {
		c["order"] = order
	}
	if plan != "" {
		c["class"] = []any{map[string]any{"type": map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}}}, "value": plan}}
	}
	if end != "" {
		c["period"] = map[string]any{"start": "2024-01-01", "end": end}
	}
	b, _ := json.Marshal(c)
	return b
}

// TestCoverageFactsSecondary: every active Coverage in force is read, the lowest order is the
// primary and the others follow in their order; an ended or cancelled Coverage is not a secondary.
func TestCoverageFactsSecondary(t *testing.T) {
	on := time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
	medicare := coverageJSON("m", 1, "121", "", "org-cms", "")
	medigap := coverageJSON("g", 2, "523", "", "org-gap", "")
	qmb := coverageJSON("q", 3, "2", "QMB", "org-medicaid", "")
	ended := coverageJSON("e", 2, "523", "", "org-old", "2025-12-31")
	var cancelled map[string]any
	_ = json.Unmarshal(coverageJSON("c", 2, "2", "QMB", "org-x", ""), &cancelled)
	cancelled["status"] = "cancelled"
	cancelledRaw, _ := json.Marshal(cancelled)

	cov, ok := coverageFacts([]json.RawMessage{qmb, ended, medigap, cancelledRaw, medicare}, nil, on)
	if !ok {
		t.Fatal("no coverage")
	}
	if !cmp.Equal(cov.SOPT, []string{"121"}) {
		t.Errorf("primary %+v, want Medicare (order 1)", cov)
	}
	var got []string
	for _, s := range cov.Secondary {
		got = append(got, strings.Join(s.SOPT, ",")+"/"+strings.Join(s.PayerIDs, ",")+"/"+strings.Join(s.Plans, ","))
	}
	if want := []string{"523/org-gap/", "2/org-medicaid/QMB"}; !cmp.Equal(got, want) {
		t.Errorf("secondary %v, want %v", got, want)
	}
	reg := newEnv(t).gw.cfg.Registry
	if sc, ok := reg.ClassifySecondary(cov.Secondary); !ok || sc.ID != "medigap" {
		t.Errorf("ClassifySecondary = %q, %v; want medigap (order 2 before the QMB Medicaid)", sc.ID, ok)
	}
	cov, _ = coverageFacts([]json.RawMessage{medicare, qmb}, nil, on)
	if sc, ok := reg.ClassifySecondary(cov.Secondary); !ok || sc.ID != "medicaid-qmb" || !sc.QMB {
		t.Errorf("ClassifySecondary = %+v, %v; want medicaid-qmb", sc, ok)
	}
	if cov, _ := coverageFacts([]json.RawMessage{medicare}, nil, on); len(cov.Secondary) != 0 {
		t.Errorf("one Coverage has secondaries %+v", cov.Secondary)
	}
}

// TestHookSecondaryCoverage: pat-ffs with a Medigap Plan G or a QMB Medicaid Coverage beside
// Medicare (Herceptin 420 mg x 17, Feb 2026; figures worked in scoring's
// TestSecondaryCoverage): with Medigap the patient owes the 283.00 deductible on either
// product and Medigap pays 11,186.30 of Herceptin's cost sharing; as a QMB the patient owes
// nothing and 11,469.30 of Herceptin's cost sharing cannot be collected, so the switch is worth
// +11,654.73 to the organisation instead of +1,583.51.
func TestHookSecondaryCoverage(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name, extra         string
		summary, patientRow string
		rows                []string
	}{
		// The patient owes the same on either product, so the summary gives the total cost of
		// care (issue 14); the organisation's figures are in the extension (below).
		{"medigap", string(coverageJSON("cov-gap", 2, "523", "", "org-gap", "")), "total cost $5,858 vs $56,215/course",
			"| Patient | $283 | $283 |",
			[]string{"| Medigap (Plan G) | $11,186 | $1,115 |", "- Patient after Medigap (Plan G)"}},
		{"qmb", string(coverageJSON("cov-qmb", 2, "2", "QMB", "org-medicaid", "")), "total cost $5,858 vs $56,215/course",
			"| Patient | $0.00 | $0.00 |",
			[]string{"- QMB: no cost sharing billed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var req map[string]any
			if err := json.Unmarshal(e.demoRequest("medicare-ffs-herceptin-order-select"), &req); err != nil {
				t.Fatal(err)
			}
			bundle := req["prefetch"].(map[string]any)["coverage"].(map[string]any)
			var extra any
			_ = json.Unmarshal([]byte(c.extra), &extra)
			bundle["entry"] = append(bundle["entry"].([]any), map[string]any{"resource": extra})
			body, _ := json.Marshal(req)
			status, out, _ := e.post(serviceOf("medicare-ffs-herceptin-order-select"), body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, out)
			}
			resp := decodeResponse(t, out)
			if len(resp.Cards) != 1 {
				t.Fatalf("%d cards", len(resp.Cards))
			}
			card := resp.Cards[0]
			if !strings.Contains(card.Summary, c.summary) {
				t.Errorf("summary %q, want %q", card.Summary, c.summary)
			}
			for _, want := range append([]string{c.patientRow}, c.rows...) {
				if !strings.Contains(card.Detail, want) {
					t.Errorf("detail lacks %q:\n%s", want, card.Detail)
				}
			}
			var ext map[string]economics
			if err := json.Unmarshal(card.Extension, &ext); err != nil {
				t.Fatal(err)
			}
			x := ext[extensionKey]
			if c.name == "qmb" && (x.Ordered.PerCourse.Uncollected != 11469.30 || x.Options[0].PerCourse.Uncollected != 1398.07 ||
				x.Ordered.PerCourse.Organisation != -9182.25 || x.Options[0].PerCourse.Organisation != 2472.48) {
				t.Errorf("QMB: uncollected %v / %v, organisation %v / %v; want 11,469.30 / 1,398.07, -9,182.25 / +2,472.48",
					x.Ordered.PerCourse.Uncollected, x.Options[0].PerCourse.Uncollected, x.Ordered.PerCourse.Organisation, x.Options[0].PerCourse.Organisation)
			}
			if c.name == "medigap" && (x.Ordered.PerCourse.Secondary != 11186.30 || x.Options[0].PerCourse.Secondary != 1115.07) {
				t.Errorf("Medigap pays %v / %v, want 11,186.30 / 1,115.07", x.Ordered.PerCourse.Secondary, x.Options[0].PerCourse.Secondary)
			}
		})
	}
}
