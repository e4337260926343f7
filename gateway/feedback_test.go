package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Feedback: accepted, overridden with and without a reason, a batch, a repeat; the summary counts
// them per contract; the override comment's text is never stored or logged.
func TestFeedbackRecordedPerContract(t *testing.T) {
	e := newEnv(t)
	status, body, _ := e.post(serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select"))
	if status != 200 {
		t.Fatalf("hook: %d %s", status, body)
	}
	card := decodeResponse(t, body).Cards[0]
	status, body2, _ := e.post(serviceOf("order-select"), e.demoRequest("ma-capitation-herceptin-order-select"))
	if status != 200 {
		t.Fatalf("hook: %d %s", status, body2)
	}
	card2 := decodeResponse(t, body2).Cards[0]
	fb := map[string]any{"feedback": []any{
		map[string]any{"card": card.UUID, "outcome": "accepted", "acceptedSuggestions": []any{map[string]any{"id": card.Suggestions[0].UUID}}, "outcomeTimestamp": "2026-02-15T10:05:31Z"},
		map[string]any{"card": card2.UUID, "outcome": "overridden", "outcomeTimestamp": "2026-02-15T10:06:00Z",
			"overrideReason": map[string]any{"reason": map[string]any{"code": "stable-mid-course", "system": overrideSystem}, "userComment": "Mrs Example is doing well"}},
	}}
	raw, _ := json.Marshal(fb)
	path := serviceOf("order-select") + "/feedback"
	for i := 0; i < 2; i++ { // the repeat must not double count
		s, out, _ := e.post(path, raw)
		if s != http.StatusOK {
			t.Fatalf("feedback: %d %s", s, out)
		}
	}
	noReason, _ := json.Marshal(map[string]any{"feedback": []any{map[string]any{"card": "5b3b3c4c-0000-4000-8000-000000000000", "outcome": "overridden", "outcomeTimestamp": "2026-02-15T10:07:00Z"}}})
	if s, out, _ := e.post(path, noReason); s != http.StatusOK {
		t.Fatalf("feedback without reason for an unknown card: %d %s", s, out)
	}
	for _, bad := range []string{`{`, `{"feedback":[{"card":"x","outcome":"ignored","outcomeTimestamp":"2026-02-15T10:07:00Z"}]}`, `{"feedback":[{"card":"x","outcome":"accepted","outcomeTimestamp":"2026-02-15T10:07:00Z"}]}`} {
		if s, _, _ := e.post(path, []byte(bad)); s/100 != 4 {
			t.Errorf("bad feedback %s: status %d", bad, s)
		}
	}
	sum, err := e.store.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, c := range sum {
		got[c.ContractID] = [2]int{c.Accepted, c.Overridden}
		if c.ContractID == "mssp-aco" && c.PayerSaved <= 0 {
			t.Errorf("accepted ACO card must count its payer saving: %+v", c)
		}
	}
	if got["mssp-aco"] != [2]int{1, 0} || got["ma-capitation"] != [2]int{0, 1} {
		t.Fatalf("summary per contract: %+v", got)
	}
	if strings.Contains(e.logs.String(), "Mrs Example") {
		t.Fatal("override comment text reached the logs")
	}
	s, out, _ := e.do(http.MethodGet, "/analytics/summary", nil, analystHeader())
	if s != 200 || !strings.Contains(string(out), "mssp-aco") {
		t.Fatalf("summary endpoint: %d %s", s, out)
	}
}
