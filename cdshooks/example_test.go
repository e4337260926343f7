package cdshooks_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"valuerx/cdshooks"
)

// A card proposing a lower-cost equivalent: one suggestion per option, each
// an update of the draft order with the medication swapped.
func ExampleNewCard() {
	card := cdshooks.NewCard("Kanjinti instead of Herceptin saves the plan $4,210 per course", cdshooks.IndicatorInfo, cdshooks.Source{
		Label: "valuerx",
		Topic: &cdshooks.Coding{Code: "therapy-alternatives-opt", System: "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", Display: "Optional Therapy Alternatives"},
	})
	draft := json.RawMessage(`{"resourceType":"MedicationRequest","id":"mr-1","status":"draft","intent":"order"}`)
	card.AddSuggestion("Order Kanjinti instead", true, cdshooks.UpdateAction("Replace Herceptin with Kanjinti", draft))
	card.AddOverrideReason("patient-preference", "https://valuerx.example/override-reason", "Patient preference")
	resp := cdshooks.Response{Cards: []cdshooks.Card{*card}}

	drafts := json.RawMessage(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"mr-1"}}]}`)
	fmt.Println("valid:", resp.Validate(drafts) == nil)
	fmt.Println("selectionBehavior:", card.SelectionBehavior)
	fmt.Println("uuids:", cdshooks.LooksLikeUUID(card.UUID), cdshooks.LooksLikeUUID(card.Suggestions[0].UUID))
	// Output:
	// valid: true
	// selectionBehavior: at-most-one
	// uuids: true true
}

// Summaries longer than 139 characters are cut at a word with an ellipsis,
// never inside a number written with spaces.
func ExampleNewCard_longSummary() {
	long := "Équivalent biosimilaire moins coûteux disponible : trastuzumab-anns (Kanjinti) au lieu de Herceptin, économie estimée pour le payeur de 4 210 € par cure"
	card := cdshooks.NewCard(long, cdshooks.IndicatorInfo, cdshooks.Source{Label: "valuerx"})
	fmt.Println(utf8.RuneCountInString(long), "->", utf8.RuneCountInString(card.Summary))
	fmt.Println(card.Summary)
	// Output:
	// 152 -> 136
	// Équivalent biosimilaire moins coûteux disponible : trastuzumab-anns (Kanjinti) au lieu de Herceptin, économie estimée pour le payeur de…
}

// A rejected request answers with a FHIR OperationOutcome naming JSON paths,
// never the values in the body.
func ExampleDecodeRequest() {
	body := []byte(`{"hook":"order-select","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
	  "context":{"userId":"Practitioner/1","patientId":"Group/secret","draftOrders":{"resourceType":"Bundle"}}}`)
	_, _, err := cdshooks.DecodeRequest(body, cdshooks.HookOrderSelect)
	var e *cdshooks.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status)
		fmt.Println(string(e.OperationOutcome()))
	}
	// Output:
	// 422
	// {"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"patientId must be a bare Patient id","expression":["context.patientId"]},{"severity":"error","code":"required","diagnostics":"selections is required for order-select","expression":["context.selections"]}]}
}

// Prefetch templates expand only CDS Hooks 2.0 tokens, query-escaped.
func ExampleExpandTemplate() {
	ctx := &cdshooks.OrderContext{UserID: "PractitionerRole/r1", PatientID: "pat015"}
	q, err := cdshooks.ExpandTemplate("Coverage?patient={{context.patientId}}&status=active", ctx)
	fmt.Println(q, err)
	_, err = cdshooks.ExpandTemplate("Medication?_id={{context.draftOrders.entry.resource.id}}", ctx)
	fmt.Println(err)
	// Output:
	// Coverage?patient=pat015&status=active <nil>
	// cdshooks: prefetch token "context.draftOrders.entry.resource.id": only first-level context members are tokens in CDS Hooks 2.0
}
