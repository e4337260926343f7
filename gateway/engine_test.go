package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"valuerx/scoring"
)

// datedOrder sets the draft order's authoredOn in a demo request.
func datedOrder(t *testing.T, body []byte, day string) []byte {
	t.Helper()
	out := bytes.ReplaceAll(body, []byte(`"authoredOn":"2026-02-15"`), []byte(`"authoredOn":"`+day+`"`))
	if bytes.Equal(out, body) {
		t.Fatal("demo request has no authoredOn 2026-02-15")
	}
	return out
}

func cardsOf(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var r struct {
		Cards []map[string]any `json:"cards"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return r.Cards
}

// An order dated after the newest price book is priced on it, marked stale and counted; more
// than maxBookAge after its end it gets no card at all.
func TestStaleOrdersCountedAndCut(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBookAge = 90 * 24 * time.Hour })
	path := "/cds-services/" + ServiceOrderSelect
	req := e.demoRequest("medicare-ffs-herceptin-order-select")
	// 2026-05-15: 45 days past the newest book (January-March 2026): stale, within 90 days.
	code, body, _ := e.post(path, datedOrder(t, req, "2026-05-15"))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	cards := cardsOf(t, body)
	if len(cards) != 1 || !strings.Contains(cards[0]["detail"].(string), "stale") || !strings.Contains(cards[0]["detail"].(string), "CMS ASP Jan 2026") {
		t.Fatalf("stale order cards: %s", body)
	}
	if got := value(t, e.gw.metrics.stalePriced); got != 1 {
		t.Errorf("stale counter %v, want 1", got)
	}
	// 2026-09-15: 168 days past: no figures quoted.
	code, body, _ = e.post(path, datedOrder(t, req, "2026-09-15"))
	if code != http.StatusOK || len(cardsOf(t, body)) != 0 {
		t.Fatalf("order past maxBookAge: status %d cards %s", code, body)
	}
	if got := value(t, e.gw.metrics.staleSuppressed); got != 1 {
		t.Errorf("suppressed counter %v, want 1", got)
	}
	// Within the books: neither counter moves.
	e.post(path, req)
	if got := value(t, e.gw.metrics.stalePriced); got != 2 {
		t.Errorf("stale counter %v, want 2 (the current order is not stale)", got)
	}
}

// Swap replaces the catalog, registry and scorer as one: the next hook uses the new ones, the
// version is exported, a nil part is refused.
func TestSwapEngine(t *testing.T) {
	e := newEnv(t)
	cat, reg, _ := defaultScoring(t, 16)
	sc, err := scoring.NewScorerWithPolicy(cat, reg, nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.gw.Swap(cat, reg, nil, "v2"); err == nil {
		t.Fatal("a swap without a scorer was accepted")
	}
	old := e.gw.current()
	if err := e.gw.Swap(cat, reg, sc, "v2"); err != nil {
		t.Fatal(err)
	}
	if e.gw.CatalogVersion() != "v2" || e.gw.current() == old || e.gw.current().scorer != sc {
		t.Fatalf("after swap: version %q", e.gw.CatalogVersion())
	}
	code, body, _ := e.post("/cds-services/"+ServiceOrderSelect, e.demoRequest("medicare-ffs-herceptin-order-select"))
	if code != http.StatusOK || len(cardsOf(t, body)) != 1 {
		t.Fatalf("after swap: %d %s", code, body)
	}
	if st := sc.Stats(); st.Misses == 0 {
		t.Error("the hook after the swap did not score on the new scorer")
	}
	if got := value(t, e.gw.metrics.catalogInfo.WithLabelValues("v2")); got != 1 {
		t.Errorf("catalog info v2 = %v", got)
	}
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
