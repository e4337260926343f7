package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"valuerx/cdshooks"
)

// undated strips authoredOn from every draft order of a request: the order is dated today.
func undated(t *testing.T, body []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	for _, e := range m["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any) {
		delete(e.(map[string]any)["resource"].(map[string]any), "authoredOn")
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pricesLine is a card's "Prices:" line (the price book it quotes).
func pricesLine(cards []cdshooks.Card) string {
	for _, c := range cards {
		for _, l := range strings.Split(c.Detail, "\n") {
			if strings.Contains(l, "Prices:") {
				return strings.TrimSpace(l)
			}
		}
	}
	return "(no card)"
}

// An undated order is dated by the calendar day of the service's clock, in every part of the
// hook alike. With the clock at -05:00, 21:00 on 31 March 2025 is 02:00 UTC on 1 April: the card
// quotes the January 2025 book (31 March), the stored scoring request says 31 March (the
// divergence job scores it again on that day), and an order the next morning (April's book) is
// not given the evening's cached card, as it was when the card cache keyed the UTC day and the
// scorer the local one (found by a cache review, 3 December 2026).
func TestUndatedOrderIsDatedByTheCalendarDay(t *testing.T) {
	zone := time.FixedZone("EST", -5*3600)
	clock := time.Date(2025, 3, 31, 21, 0, 0, 0, zone)
	nowOpt := func(c *Config) { c.Now = func() time.Time { return clock } }
	advise := func(e *testEnv, body []byte) []cdshooks.Card {
		t.Helper()
		resp, err := e.gw.Advise(context.Background(), e.gw.byID[ServiceOrderSelect], body)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Cards) == 0 {
			t.Fatal("no card")
		}
		return resp.Cards
	}
	e := newEnv(t, nowOpt)
	body := undated(t, e.demoRequest("aco-herceptin-order-select"))
	evening := advise(e, body)
	if got := pricesLine(evening); !strings.Contains(got, "Jan 2025") {
		t.Errorf("31 March 21:00 -05:00: %q, want the January 2025 book", got)
	}
	if sr := recordedScoreDate(t, e, body); sr != "2025-03-31" {
		t.Errorf("stored scoring request dated %q, want 2025-03-31", sr)
	}

	clock = time.Date(2025, 4, 1, 10, 0, 0, 0, zone)
	warm := advise(e, body)
	fresh := advise(newEnv(t, nowOpt), body)
	if !strings.Contains(pricesLine(fresh), "Apr 2025") {
		t.Errorf("1 April 10:00 -05:00, fresh gateway: %q, want the April 2025 book", pricesLine(fresh))
	}
	if warm[0].Summary != fresh[0].Summary || pricesLine(warm) != pricesLine(fresh) {
		t.Errorf("1 April 10:00 -05:00, warm gateway: %q (%s)\nfresh gateway: %q (%s)",
			warm[0].Summary, pricesLine(warm), fresh[0].Summary, pricesLine(fresh))
	}
}

// recordedScoreDate sends body as an order-select hook over HTTP and returns the date of the
// scoring request its first card's decision stored.
func recordedScoreDate(t *testing.T, e *testEnv, body []byte) string {
	t.Helper()
	resp := e.hook("aco-herceptin-order-select", body)
	if len(resp.Cards) == 0 {
		t.Fatal("no card over HTTP")
	}
	d, err := e.store.Decision(context.Background(), resp.Cards[0].UUID)
	if err != nil {
		t.Fatal(err)
	}
	var sr struct {
		Date string `json:"date"`
	}
	if err := json.Unmarshal(d.ScoreRequest, &sr); err != nil {
		t.Fatalf("stored scoring request %q: %v", d.ScoreRequest, err)
	}
	return sr.Date
}
