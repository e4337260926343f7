package gateway

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"valuerx/demo"
	"valuerx/scoring"
)

// The summary and the table of every demo card, worked by hand from the CMS and NADAC figures
// (issue 14 items 1 and 2). Per course of 17 at CMS ASP Jan 2026, 420 mg: Herceptin 45 units x
// 73.483 = 3,306.74 a dose, 56,214.50 a course; Trazimera 42 x 8.205 = 344.61, 5,858.37.
//   - Medicare Part B (ACO, FFS): the patient owes 20 % of allowed plus 80 % of the 283.00
//     deductible (assumed unmet): Herceptin 11,242.90 + 226.40 = 11,469.30, Trazimera 1,171.67 +
//     226.40 = 1,398.07; Medicare pays (allowed - that) x 0.98: 43,850.30 and 4,371.09.
//   - MA capitation: 20 % capped at the 9,250 maximum out-of-pocket: 9,250 vs 1,171.67; no claim
//     is paid, so there is no payer row.
//   - Commercial PPO, ASP + 20 %: Herceptin 73.483 / 1.06 x 1.2 x 45 x 17 = 63,639.05, patient
//     20 % = 12,727.81, plan 50,911.24; Kanjinti (51.439 - 0.08 x 69.3236) x 1.2 x 42 x 17 =
//     39,321.22, patient 7,864.24, plan 31,456.98.
//   - Lipitor 40 mg daily x 90 (NADAC of 2025-12-24, the 10 mg tablet's price): 12.42604 x 90 =
//     1,118.34, patient 223.67, plan 894.67; generic 0.02453 x 90 = 2.21, 0.44, 1.77.
//   - Rituxan 701.56 mg (80 units of 10 mg, 9 discarded) x 4 at 74.765: 23,924.80; patient 20 %
//   - 226.40 = 5,011.36; Ruxience 13.27 x 80 x 4 = 4,246.40, patient 1,075.68.
func TestCardTextByArrangement(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		request, summary string
		rows             []string
	}{
		{"aco-herceptin-order-select",
			"Consider Trazimera (trastuzumab-qyyp), FDA biosimilar, same dose: patient cost $1,398 vs $11,469/course",
			[]string{"| Patient | $11,469 | $1,398 |", "| Medicare | $43,850 | $4,371 |", "| Total cost | $56,215 | $5,858 |", "- ACO: 2026 spend vs benchmark"}},
		{"medicare-ffs-herceptin-order-select",
			"Consider Trazimera (trastuzumab-qyyp), FDA biosimilar, same dose: patient cost $1,398 vs $11,469/course",
			[]string{"| Medicare | $43,850 | $4,371 |", "- Medicare Part B, fee-for-service"}},
		{"ma-capitation-herceptin-order-select",
			"Consider Trazimera (trastuzumab-qyyp), FDA biosimilar, same dose: patient cost $1,172 vs $9,250/course",
			[]string{"| Patient | $9,250 | $1,172 |\n| Total cost | $56,215 | $5,858 |", "- Paid from the capitated budget", "- Herceptin capped at $9,250 MOOP"}},
		{"commercial-ppo-herceptin-order-select",
			"Consider Kanjinti (trastuzumab-anns), FDA biosimilar, same dose: no prior auth; patient cost $7,864 vs $12,728/course",
			[]string{"| Patient | $12,728 | $7,864 |", "| Plan | $50,911 | $31,457 |", "| Total cost | $63,639 | $39,321 |", "- Herceptin: PA, ~7 days, 10% denied", "- Kanjinti: no prior auth"}},
		{"commercial-ppo-lipitor-order-sign",
			"Consider generic atorvastatin 40 mg, FDA AB-rated generic, same strength: patient cost $0.44 vs $224/90 days",
			[]string{"| per 90d | Lipitor | atorvastatin |", "| Patient | $224 | $0.44 |", "| Plan | $895 | $1.77 |", "| Total cost | $1,118 | $2.21 |", "- Prices: NADAC of 2025-12-24", "- 40 mg at the 10 mg tablet's price"}},
		{"aco-rituximab-order-sign",
			"Consider Ruxience (rituximab-pvvr), FDA biosimilar, same dose: patient cost $1,076 vs $5,011/course",
			[]string{"| Patient | $5,011 | $1,076 |", "| Total cost | $23,925 | $4,246 |", "| Vials/dose | 3×100 + 1×500 | 3×100 + 1×500 |", "| Discarded | 90 mg | 90 mg |", "- Same dose: 375 mg/m2 IV weekly"}},
		{"aco-herceptin-gastric-order-select",
			"Consider Trazimera (trastuzumab-qyyp), FDA biosimilar, same dose: patient cost $1,398 vs $11,469/course",
			[]string{"- Labelled for: HER2+ gastric/GEJ cancer", "  - Herzuma (not labelled for it)", "- Same dose: 6 mg/kg IV q3w", "- 420 mg per dose (6 mg/kg x 70 kg"}},
	}
	for _, c := range cases {
		t.Run(c.request, func(t *testing.T) {
			status, body, _ := e.post(serviceOf(c.request), e.demoRequest(c.request))
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			r := decodeResponse(t, body)
			if len(r.Cards) != 1 {
				t.Fatalf("want one card, got %d", len(r.Cards))
			}
			card := r.Cards[0]
			if card.Summary != c.summary {
				t.Errorf("summary\n got %q\nwant %q", card.Summary, c.summary)
			}
			for _, row := range c.rows {
				if !strings.Contains(card.Detail, row) {
					t.Errorf("detail lacks %q:\n%s", row, card.Detail)
				}
			}
			if strings.Contains(card.Detail, "Organisation") {
				t.Errorf("a prescriber sees no organisation figure by default:\n%s", card.Detail)
			}
		})
	}
}

var mdLinkRE = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

// Every line of prose valuerx writes on a card is no longer than the card's table (issue 14
// item 2), the table has two product columns and at most five rows, and the card's links name
// the price source actually used. The clinical package's order-check notes and the dose basis
// ("Priced as") are quoted as written.
func TestCardLinesFitTheTable(t *testing.T) {
	e := newEnv(t)
	for _, name := range demo.Requests() {
		t.Run(name, func(t *testing.T) {
			_, body, _ := e.post(serviceOf(name), e.demoRequest(name))
			for _, c := range decodeResponse(t, body).Cards {
				if n := utf8.RuneCountInString(c.Summary); n >= 140 {
					t.Errorf("summary has %d characters: %q", n, c.Summary)
				}
				lines := strings.Split(c.Detail, "\n")
				width, rows := 0, 0
				for _, l := range lines {
					if strings.HasPrefix(l, "|") {
						width = max(width, utf8.RuneCountInString(l))
						if !strings.HasPrefix(l, "|---") {
							rows++
						}
						if cols := strings.Count(l, "|") - 1; cols != 3 {
							t.Errorf("table row with %d cells, want a label and two products: %q", cols, l)
						}
					}
				}
				if rows == 0 {
					continue // the rounding-only card has its own small table
				}
				if rows-1 > 5 {
					t.Errorf("table has %d rows, want at most 5:\n%s", rows-1, c.Detail)
				}
				quoted := false
				for _, l := range lines {
					switch {
					case strings.HasPrefix(l, "**Priced as:**"), strings.HasPrefix(l, "**Order check:**"):
						quoted = true
						continue
					case l == "":
						continue
					case strings.HasPrefix(l, "|"):
						quoted = false
						continue
					}
					if quoted && strings.HasPrefix(l, "- ") {
						continue
					}
					text := mdLinkRE.ReplaceAllString(strings.TrimLeft(l, " -"), "$1")
					text = strings.ReplaceAll(text, "**", "")
					if n := utf8.RuneCountInString(text); n > width {
						t.Errorf("line of %d characters is wider than the table (%d): %q", n, width, text)
					}
				}
				for _, l := range c.Links {
					if strings.Contains(c.Detail, "NADAC") != strings.Contains(l.Label, "NADAC") && !strings.Contains(l.Label, "comparison") {
						t.Errorf("link %q does not name the price source the card used", l.Label)
					}
				}
			}
		})
	}
}

// The organisation's figure reaches a prescriber only where the configuration says so: per
// contract, or per user (a PractitionerRole reference, or a resource-type prefix). ACO: 23,610.16
// - 2,287.05 = +$21,323 a course; PPO: 6,553.54 - 10,606.51 = -$4,053 (the PA-free option costs
// the organisation margin, said to those who may see it).
func TestDisclosureOfTheOrganisationFigure(t *testing.T) {
	cases := []struct {
		name      string
		disc      Disclosure
		request   string
		user      string
		wantLine  string // "" = no organisation line
		wantExtra string
	}{
		{"default: nobody", Disclosure{}, "aco-herceptin-order-select", "", "", ""},
		{"per contract", Disclosure{Contracts: []string{"mssp-aco"}}, "aco-herceptin-order-select", "", "- Organisation: +$21,323/course", "- Org cost: estimated (derived ASP)"},
		{"another contract", Disclosure{Contracts: []string{"mssp-aco"}}, "commercial-ppo-herceptin-order-select", "", "", ""},
		{"per user", Disclosure{Users: []string{"PractitionerRole/vbc-pharmacist"}}, "commercial-ppo-herceptin-order-select", "PractitionerRole/vbc-pharmacist", "- Organisation: -$4,053/course", ""},
		{"other user", Disclosure{Users: []string{"PractitionerRole/vbc-pharmacist"}}, "commercial-ppo-herceptin-order-select", "PractitionerRole/oncologist", "", ""},
		{"per type", Disclosure{Users: []string{"PractitionerRole/"}}, "aco-herceptin-order-select", "PractitionerRole/any", "- Organisation: +$21,323/course", ""},
		{"type prefix is not a user", Disclosure{Users: []string{"PractitionerRole/"}}, "aco-herceptin-order-select", "Practitioner/dr-oncology", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *Config) { cfg.Disclosure = c.disc })
			body := e.demoRequest(c.request)
			if c.user != "" {
				body = editRequest(t, body, func(m map[string]any) { m["context"].(map[string]any)["userId"] = c.user })
			}
			// Twice: the second answer comes from the card cache, which must keep audiences apart.
			for range 2 {
				status, out, _ := e.post(serviceOf(c.request), body)
				if status != http.StatusOK {
					t.Fatalf("status %d: %s", status, out)
				}
				detail := decodeResponse(t, out).Cards[0].Detail
				has := strings.Contains(detail, "Organisation")
				if (c.wantLine != "") != has || (c.wantLine != "" && !strings.Contains(detail, c.wantLine)) {
					t.Fatalf("want organisation line %q:\n%s", c.wantLine, detail)
				}
				if c.wantExtra != "" && !strings.Contains(detail, c.wantExtra) {
					t.Fatalf("want %q:\n%s", c.wantExtra, detail)
				}
			}
		})
	}
	// One gateway, two users: the cached card of one is not shown to the other.
	e := newEnv(t, func(cfg *Config) { cfg.Disclosure = Disclosure{Users: []string{"PractitionerRole/vbc"}} })
	req := e.demoRequest("aco-herceptin-order-select")
	vbc := editRequest(t, req, func(m map[string]any) { m["context"].(map[string]any)["userId"] = "PractitionerRole/vbc" })
	for i, b := range [][]byte{vbc, req, vbc, req} {
		_, out, _ := e.post(serviceOf("aco-herceptin-order-select"), b)
		if has := strings.Contains(decodeResponse(t, out).Cards[0].Detail, "Organisation"); has != (i%2 == 0) {
			t.Fatalf("answer %d: organisation line %v", i, has)
		}
	}
}

// An order for the best product already, with a whole-vial dose the policy allows, gets the
// rounding card (issue 10 item 6), written for the sidebar too. Ruxience 375 mg/m2 x BSA 1.87 m2
// = 701.56 mg needs 3 x 100 mg + 1 x 500 mg (80 units of 10 mg billed, 9 discarded); 700 mg is
// 2 x 100 + 1 x 500, one vial fewer: 70 units. At 13.27 a unit, 4 doses: 4,246.40 vs 3,715.60.
func TestRoundingCardFitsTheSidebar(t *testing.T) {
	e := newEnv(t)
	rux := productNamed(t, "Ruxience")
	body := editRequest(t, e.demoRequest("aco-rituximab-order-sign"), func(m map[string]any) {
		draftOf(m)["medicationCodeableConcept"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": rux.HCPCS}}}
	})
	status, out, _ := e.post(serviceOf("aco-rituximab-order-sign"), body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, out)
	}
	r := decodeResponse(t, out)
	if len(r.Cards) != 1 {
		t.Fatalf("want the rounding card, got %d cards", len(r.Cards))
	}
	c := r.Cards[0]
	for _, want := range []string{"- Same product: Ruxience", "- 700 mg is -0.2% of 701.56 mg", "| Dose | 701.56 mg | 700 mg |", "| Total cost | $4,246 | $3,716 |", "- Confirm it suits the patient"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("rounding card lacks %q:\n%s", want, c.Detail)
		}
	}
	width := 0
	for _, l := range strings.Split(c.Detail, "\n") {
		if strings.HasPrefix(l, "|") {
			width = max(width, utf8.RuneCountInString(l))
		}
	}
	for _, l := range strings.Split(c.Detail, "\n") {
		if !strings.HasPrefix(l, "|") && utf8.RuneCountInString(strings.TrimLeft(l, "- ")) > width {
			t.Errorf("line wider than the table (%d): %q", width, l)
		}
	}
}

// The summary stays under 140 characters for the longest wording (interchangeable biosimilar,
// next cycle, prior authorisation) by dropping, in turn, the FDA relationship and the proper
// name; it never cuts a figure.
func TestCardSummaryFallsBackWithoutCuttingFigures(t *testing.T) {
	long := scoring.Product{ID: "x", Name: "Averylongbrandnamezumab", ProperName: "averylongproperinnamezumab-abcd",
		Relationship: scoring.RelInterchangeable, MgPerUnit: 10}
	ref := scoring.Product{ID: "r", Name: "Referencezumab", MgPerUnit: 10}
	best := scoring.Option{Product: long, PerCourse: scoring.Figures{PatientOOP: 123456.78, PayerAllowed: 999999.99}}
	res := scoring.Result{
		Contract:        scoring.Contract{Reimbursement: scoring.Reimbursement{Basis: scoring.BasisMedicareASP}, Arrangement: scoring.FFS},
		Ordered:         scoring.Option{Product: ref, PerCourse: scoring.Figures{PatientOOP: 234567.89, PayerAllowed: 1999999.99}},
		Best:            &best,
		MidCourse:       scoring.MidCourseNextCycle,
		AvoidsPriorAuth: true,
	}
	s := cardSummary(res)
	if n := utf8.RuneCountInString(s); n >= 140 || !strings.Contains(s, "$123,457 vs $234,568/course") || strings.Contains(s, "…") {
		t.Fatalf("summary (%d): %q", n, s)
	}
	if strings.Contains(s, "FDA interchangeable") {
		t.Errorf("the longest form should not fit: %q", s)
	}
}
