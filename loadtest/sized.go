package loadtest

// Sized scenarios: the same hook with more draft orders or a longer medication history, so the
// report shows how the cost of a hook grows with the patient's record (issue 15: oncology and
// chronic-care patients have histories of hundreds of orders).

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sized scenario names: "drafts-N" is N draft orders with one history entry, "history-M" one
// draft order with M history entries, "drafts-N-history-M" both. These are the ones "sizes" and
// "all" run; any N in 1..MaxSizedDrafts and M in 0..MaxSizedHistory parses.
const (
	ScenarioDrafts1            = "drafts-1"
	ScenarioDrafts5            = "drafts-5"
	ScenarioDrafts20           = "drafts-20"
	ScenarioHistory1           = "history-1"
	ScenarioHistory50          = "history-50"
	ScenarioHistory500         = "history-500"
	ScenarioDrafts20History500 = "drafts-20-history-500"

	MaxSizedDrafts  = 100
	MaxSizedHistory = 2000
)

// SizedScenarios lists the sized scenarios in the order they run.
func SizedScenarios() []string {
	return []string{ScenarioDrafts1, ScenarioDrafts5, ScenarioDrafts20,
		ScenarioHistory1, ScenarioHistory50, ScenarioHistory500, ScenarioDrafts20History500}
}

// ParseSized reads a sized scenario name: the number of draft orders and of history entries
// each request carries.
func ParseSized(sc string) (drafts, history int, ok bool) {
	num := func(s string, lo, hi int) (int, bool) {
		if s == "" || (len(s) > 1 && s[0] == '0') {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi || strconv.Itoa(n) != s {
			return 0, false
		}
		return n, true
	}
	switch {
	case strings.HasPrefix(sc, "drafts-"):
		rest := sc[len("drafts-"):]
		h := 1
		if d, hs, both := strings.Cut(rest, "-history-"); both {
			var ok bool
			if h, ok = num(hs, 0, MaxSizedHistory); !ok {
				return 0, 0, false
			}
			rest = d
		}
		d, ok := num(rest, 1, MaxSizedDrafts)
		return d, h, ok
	case strings.HasPrefix(sc, "history-"):
		h, ok := num(sc[len("history-"):], 0, MaxSizedHistory)
		return 1, h, ok
	}
	return 0, 0, false
}

// sizedBudget is issue 15's CPU budget per hook, everything included, for a sized scenario (0:
// none): with 500 history entries at most 1.5 ms, with 20 draft orders at most 1 ms, with both
// at most 2.5 ms.
func sizedBudget(drafts, history int) time.Duration {
	switch {
	case drafts >= 20 && history >= 500:
		return 2500 * time.Microsecond
	case history >= 500:
		return 1500 * time.Microsecond
	case drafts >= 20:
		return time.Millisecond
	}
	return 0
}

// sizedPools are the demo requests' draft orders and history MedicationRequests, the material
// the sized requests are made of.
type sizedPools struct {
	drafts  []map[string]any
	history []map[string]any
}

// sizedBases returns the order-sign demo requests that carry prefetch (the bases of the sized
// requests: order-select's selections would name only one draft) and the pools from every demo
// request.
func sizedBases(names []string, get func(string) ([]byte, bool)) ([]string, sizedPools, error) {
	var bases []string
	var pools sizedPools
	seen := map[string]bool{}
	for _, n := range names {
		raw, ok := get(n)
		if !ok {
			return nil, pools, fmt.Errorf("loadtest: no request %q", n)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, pools, fmt.Errorf("loadtest: request %s: %w", n, err)
		}
		for _, r := range draftResources(m) {
			if id, _ := r["id"].(string); !seen["d:"+id] {
				seen["d:"+id] = true
				pools.drafts = append(pools.drafts, r)
			}
		}
		for _, r := range historyResources(m) {
			if id, _ := r["id"].(string); !seen["h:"+id] {
				seen["h:"+id] = true
				pools.history = append(pools.history, r)
			}
		}
		if m["hook"] == "order-sign" && m["prefetch"] != nil && historyBundle(m) != nil {
			bases = append(bases, n)
		}
	}
	if len(bases) == 0 || len(pools.drafts) == 0 || len(pools.history) == 0 {
		return nil, pools, errors.New("loadtest: the demo requests hold no order-sign request with a medication history to size")
	}
	return bases, pools, nil
}

func draftResources(m map[string]any) []map[string]any {
	ctx, _ := m["context"].(map[string]any)
	b, _ := ctx["draftOrders"].(map[string]any)
	return bundleResources(b, "MedicationRequest")
}

// historyBundle is the prefetch member holding the patient's MedicationRequests ("medications"
// in every demo request and in valuerx's discovery document).
func historyBundle(m map[string]any) map[string]any {
	pf, _ := m["prefetch"].(map[string]any)
	b, _ := pf["medications"].(map[string]any)
	if b == nil || b["resourceType"] != "Bundle" {
		return nil
	}
	return b
}

func historyResources(m map[string]any) []map[string]any {
	return bundleResources(historyBundle(m), "MedicationRequest")
}

func bundleResources(b map[string]any, typ string) []map[string]any {
	entries, _ := b["entry"].([]any)
	var out []map[string]any
	for _, e := range entries {
		em, _ := e.(map[string]any)
		r, _ := em["resource"].(map[string]any)
		if r != nil && r["resourceType"] == typ {
			out = append(out, r)
		}
	}
	return out
}

// historyStatuses cycles the copies of the history through the statuses a real record holds.
var historyStatuses = [...]string{"active", "completed", "stopped", "completed", "on-hold", "cancelled"}

// resize returns raw (an order-sign request) with exactly drafts draft orders and history entries
// in its medication history. The base request's own draft comes first, then copies of the pool's
// drafts; history copies cycle through the pool with statuses cycling too and authoredOn 30 days
// earlier for each pass through the pool. Every copy gets its own id and the base patient as
// subject, so nothing else about the request changes.
func resize(raw []byte, drafts, history int, pools sizedPools) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("loadtest: resize: %w", err)
	}
	ctx, _ := m["context"].(map[string]any)
	patient, _ := ctx["patientId"].(string)
	bundle, _ := ctx["draftOrders"].(map[string]any)
	hb := historyBundle(m)
	own := draftResources(m)
	if patient == "" || bundle == nil || hb == nil || len(own) == 0 {
		return nil, errors.New("loadtest: resize: request has no patientId, draft order or medication history")
	}
	subject := map[string]any{"reference": "Patient/" + patient}
	fhirServer, _ := m["fhirServer"].(string)

	pool := append([]map[string]any{own[0]}, pools.drafts...)
	var de []any
	for i := range drafts {
		r := cloneJSON(pool[i%len(pool)])
		if i > 0 {
			r["id"] = fmt.Sprintf("%v-d%d", r["id"], i)
		}
		r["subject"] = subject
		de = append(de, map[string]any{"resource": r})
	}
	bundle["entry"] = de

	var he []any
	for i := range history {
		src := pools.history[i%len(pools.history)]
		r := cloneJSON(src)
		pass := i / len(pools.history)
		r["id"] = fmt.Sprintf("%v-h%d", src["id"], i)
		r["subject"] = subject
		if pass > 0 {
			r["status"] = historyStatuses[pass%len(historyStatuses)]
			if d, err := time.Parse(time.DateOnly, fmt.Sprint(src["authoredOn"])); err == nil {
				r["authoredOn"] = d.AddDate(0, 0, -30*pass).Format(time.DateOnly)
			}
		}
		he = append(he, map[string]any{
			"fullUrl":  strings.TrimRight(fhirServer, "/") + "/MedicationRequest/" + fmt.Sprint(r["id"]),
			"resource": r,
		})
	}
	hb["entry"] = he
	hb["total"] = history
	return json.Marshal(m)
}

func cloneJSON(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// sizedRequests returns the names and the request source of a sized scenario: the sized bases,
// each resized.
func sizedRequests(names []string, get func(string) ([]byte, bool), drafts, history int) ([]string, func(string) ([]byte, bool), error) {
	bases, pools, err := sizedBases(names, get)
	if err != nil {
		return nil, nil, err
	}
	bodies := map[string][]byte{}
	for _, n := range bases {
		raw, _ := get(n)
		b, err := resize(raw, drafts, history, pools)
		if err != nil {
			return nil, nil, fmt.Errorf("loadtest: %s: %w", n, err)
		}
		bodies[n] = b
	}
	return bases, func(n string) ([]byte, bool) {
		b, ok := bodies[n]
		return b, ok
	}, nil
}

// SizedRequest returns one sized request body (drafts draft orders, history history entries)
// built from the named base requests exactly as the sized load scenarios build theirs, for
// benchmarks that drive a gateway in process.
func SizedRequest(names []string, get func(string) ([]byte, bool), drafts, history int) ([]byte, error) {
	bases, src, err := sizedRequests(names, get, drafts, history)
	if err != nil {
		return nil, err
	}
	b, _ := src(bases[0])
	return b, nil
}
