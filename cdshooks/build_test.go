package cdshooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

func TestNewCardSummary(t *testing.T) {
	long := strings.Repeat("Économisez 1 234 € — 切换到生物类似药 ", 8) // multibyte, > 200 runes
	if utf8.RuneCountInString(long) < 200 {
		t.Fatalf("fixture too short: %d", utf8.RuneCountInString(long))
	}
	tests := []struct {
		name     string
		in       string
		want     string // exact, or "" to check only the properties
		ellipsis bool
	}{
		{"short kept", "Switch Herceptin to Kanjinti: saves $1,234 per course", "Switch Herceptin to Kanjinti: saves $1,234 per course", false},
		{"139 runes kept", strings.Repeat("é", 139), strings.Repeat("é", 139), false},
		{"140 runes cut", strings.Repeat("é", 140), strings.Repeat("é", 138) + "…", true},
		{"no spaces cut hard", strings.Repeat("药", 200), strings.Repeat("药", 138) + "…", true},
		{"200+ multibyte runes cut at a word", long, "", true},
		{"no cut inside a spaced number", strings.Repeat("a ", 62) + "économie de 4 210 € par cure", strings.TrimSpace(strings.Repeat("a ", 62)) + " économie de…", true},
		{"line breaks flattened", "Lower cost\nequivalent\tavailable", "Lower cost equivalent available", false},
		{"invalid UTF-8 repaired", "Save \xff now", "Save \uFFFD now", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCard(tt.in, IndicatorInfo, Source{Label: "valuerx"})
			got := c.Summary
			if n := utf8.RuneCountInString(got); n > 139 {
				t.Errorf("summary has %d runes", n)
			}
			if !utf8.ValidString(got) {
				t.Errorf("summary is not valid UTF-8")
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("summary = %q, want %q", got, tt.want)
			}
			if strings.HasSuffix(got, "…") != tt.ellipsis {
				t.Errorf("summary %q: ellipsis = %v, want %v", got, !tt.ellipsis, tt.ellipsis)
			}
			if tt.ellipsis && tt.want == "" {
				cut := strings.TrimSuffix(got, "…")
				if !strings.HasPrefix(tt.in, cut) || strings.HasSuffix(cut, " ") {
					t.Errorf("cut %q is not a trimmed prefix of the input", cut)
				}
				next, _ := utf8.DecodeRuneInString(tt.in[len(cut):])
				if next != ' ' {
					t.Errorf("cut inside a word: next rune %q", next)
				}
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestNewCardDefaults(t *testing.T) {
	a := NewCard("s", "hard-stop", Source{Label: "l"})
	b := NewCard("s", IndicatorWarning, Source{Label: "l"})
	if a.Indicator != IndicatorInfo || b.Indicator != IndicatorWarning {
		t.Errorf("indicators %q %q", a.Indicator, b.Indicator)
	}
	if !LooksLikeUUID(a.UUID) || a.UUID == b.UUID {
		t.Errorf("uuids %q %q", a.UUID, b.UUID)
	}
	var ve *ValidationError
	if err := NewCard("", IndicatorInfo, Source{}).Validate(); !errors.As(err, &ve) || len(ve.Violations) != 2 {
		t.Errorf("empty summary and label: Validate = %v", err)
	}
}

func TestAddSuggestion(t *testing.T) {
	c := NewCard("Lower-cost biosimilar available", IndicatorInfo, Source{Label: "valuerx"})
	s1 := c.AddSuggestion("Switch to A", true, UpdateAction("Order A instead", rawJSON(`{"resourceType":"MedicationRequest","id":"mr1"}`)))
	if c.SelectionBehavior != SelectionAtMostOne {
		t.Errorf("selectionBehavior = %q", c.SelectionBehavior)
	}
	if !s1.IsRecommended || !LooksLikeUUID(s1.UUID) {
		t.Errorf("first suggestion = %+v", s1)
	}
	c.AddSuggestion("Switch to B", true, UpdateAction("Order B instead", rawJSON(`{"resourceType":"MedicationRequest","id":"mr1"}`)))
	c.AddSuggestion("Switch to C", false, DeleteAction("Remove the draft", "MedicationRequest/mr1"),
		CreateAction("Order C", rawJSON(`{"resourceType":"MedicationRequest","status":"draft"}`)))
	if c.Suggestions[0].IsRecommended || !c.Suggestions[1].IsRecommended || c.Suggestions[2].IsRecommended {
		t.Errorf("at-most-one: recommended = %v %v %v", c.Suggestions[0].IsRecommended, c.Suggestions[1].IsRecommended, c.Suggestions[2].IsRecommended)
	}
	seen := map[string]bool{c.UUID: true}
	for _, s := range c.Suggestions {
		if seen[s.UUID] {
			t.Errorf("uuid %q repeats", s.UUID)
		}
		seen[s.UUID] = true
	}
	if len(c.Suggestions[2].Actions) != 2 || c.Suggestions[2].Actions[0].ResourceID != "MedicationRequest/mr1" || c.Suggestions[2].Actions[0].Resource != nil {
		t.Errorf("delete+create = %+v", c.Suggestions[2].Actions)
	}
	draft := rawJSON(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"mr1"}}]}`)
	if err := (&Response{Cards: []Card{*c}}).Validate(draft); err != nil {
		t.Errorf("Validate: %v", err)
	}

	any := NewCard("Options", IndicatorInfo, Source{Label: "valuerx"})
	any.SelectionBehavior = SelectionAny
	any.AddSuggestion("A", true)
	any.AddSuggestion("B", true)
	if !any.Suggestions[0].IsRecommended || !any.Suggestions[1].IsRecommended || any.SelectionBehavior != SelectionAny {
		t.Errorf("selectionBehavior any must allow several recommendations: %+v", any.Suggestions)
	}
	if any.Suggestions[0].Actions != nil {
		t.Errorf("no actions must stay nil (omitted), got %v", any.Suggestions[0].Actions)
	}
}

func TestOverrideReasonAndLinks(t *testing.T) {
	c := NewCard("s", IndicatorInfo, Source{Label: "l"})
	c.AddOverrideReason("patient-requested-brand", "http://terminology.cds-hooks.org/CodeSystem/OverrideReasons", "Patient requested brand")
	c.AddOverrideReason("stable-on-current", "https://valuerx.example/override", "")
	if c.OverrideReasons[1].Display != "stable-on-current" {
		t.Errorf("display fallback = %q", c.OverrideReasons[1].Display)
	}
	c.AddLink(AbsoluteLink("CMS ASP pricing files", "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files"))
	c.AddLink(SmartLink("Open in app", "https://app.example/launch", `{"order":"x"}`))
	if c.Links[0].AppContext != "" || c.Links[0].Type != LinkAbsolute || c.Links[1].Type != LinkSmart {
		t.Errorf("links = %+v", c.Links)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	c.Links = append(c.Links, Link{Label: "bad", URL: "https://x.example", Type: LinkAbsolute, AppContext: "ctx"})
	var ve *ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || ve.Violations[0].Rule != RuleLinkAppContext {
		t.Errorf("appContext on absolute: Validate = %v", err)
	}
}

// goldenCard builds a representative card with fixed uuids.
func goldenCard() Response {
	c := NewCard("Trastuzumab-anns (Kanjinti) costs the plan $4,210 less per course than Herceptin for this patient", IndicatorInfo, Source{
		Label: "valuerx: lower total cost equivalents",
		URL:   "https://valuerx.example/about",
		Topic: &Coding{Code: "therapy-alternatives-opt", System: "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", Display: "Optional Therapy Alternatives"},
	})
	c.UUID = "00000000-0000-4000-8000-000000000001"
	c.Detail = "| | Herceptin | Kanjinti |\n|---|---|---|\n| Payer allowed | $12,100 | $7,890 |\n\nSource: CMS ASP January 2026."
	c.AddSuggestion("Order Kanjinti instead", true, UpdateAction("Replace Herceptin with Kanjinti, same dose and schedule",
		rawJSON(`{"resourceType":"MedicationRequest","id":"mr-1","status":"draft","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"2119336"}]}}`)))
	c.Suggestions[0].UUID = "00000000-0000-4000-8000-000000000002"
	c.AddSuggestion("Order Ogivri instead", false,
		DeleteAction("Remove the Herceptin order", "MedicationRequest/mr-1"),
		CreateAction("Order Ogivri", rawJSON(`{"resourceType":"MedicationRequest","status":"draft","intent":"order"}`)))
	c.Suggestions[1].UUID = "00000000-0000-4000-8000-000000000003"
	c.AddOverrideReason("patient-requested-brand", "http://terminology.cds-hooks.org/CodeSystem/OverrideReasons", "Patient requested brand")
	c.AddLink(AbsoluteLink("CMS ASP pricing files", "https://www.cms.gov/medicare/payment/part-b-drugs/asp-pricing-files"))
	return Response{Cards: []Card{*c}}
}

func TestGoldenCardRoundTrip(t *testing.T) {
	resp := goldenCard()
	got, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", "card.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenCardRoundTrip -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("card JSON differs from %s (run with -update if intended):\n%s", path, got)
	}
	// Decoding the golden file and encoding again gives the same bytes.
	var back Response
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	again, err := json.MarshalIndent(back, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(again, '\n'), want) {
		t.Errorf("round trip changed the JSON:\n%s", again)
	}
	draft := rawJSON(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"mr-1"}}]}`)
	if vs := CheckResponse(want, draft); len(vs) != 0 {
		t.Errorf("golden card has violations: %v", vs)
	}
	for _, absent := range []string{"null", `""`, "[]", "{}", `"isRecommended": false`, `"resourceId": "",`} {
		if bytes.Contains(want, []byte(absent)) {
			t.Errorf("golden JSON contains %s", absent)
		}
	}
}
