package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"valuerx/cdshooks"
	"valuerx/fhir"
)

// hookData is what one hook has to work with, whichever way it arrived.
type hookData struct {
	patient       json.RawMessage
	coverages     []json.RawMessage
	coverageKnown bool // prefetched (even as null), fetched, or cached: the arrangement can be decided
	meds          []json.RawMessage
	medsKnown     bool
	conditions    []json.RawMessage // the problem list (prefetch or fetch), for the order's indication
	condsKnown    bool
	fetches       int64    // FHIR round trips this hook made
	missing       []string // prefetch keys that could not be obtained
	client        *fhir.Client
	draftBundle   []json.RawMessage
}

// coverageEntry is what the coverage cache keeps per (FHIR server, patient): the Coverage and
// Patient resources, for a few minutes, so order-sign after order-select does not fetch again.
//
// Expiry is checked on read against the gateway's clock (no janitor goroutine: golang-lru's
// expirable cache starts one that cannot be stopped).
type coverageEntry struct {
	patient   json.RawMessage
	coverages []json.RawMessage
	expires   time.Time
}

func mustLRU[K comparable, V any](size int) *lru.Cache[K, V] {
	c, err := lru.New[K, V](size)
	if err != nil {
		panic(err) // only a size <= 0 fails, and the sizes here are constants
	}
	return c
}

// resolver gathers a hook's data: prefetch first, then the EHR's FHIR server for what is absent,
// concurrently and under one deadline (CDS Hooks §Prefetch: the service fetches what it lacks).
type resolver struct {
	cfg      Config
	metrics  *metrics
	covCache *lru.Cache[string, coverageEntry]
	flight   singleflight.Group

	mu       sync.Mutex
	breakers map[string]*breaker
}

// breaker keeps valuerx from hammering a FHIR server that keeps failing: after three failures in
// a row it stops calling for a while (doubling up to 30 s) and answers from what is at hand.
type breaker struct {
	failures  int
	openUntil time.Time
}

func newResolver(cfg Config, m *metrics) *resolver {
	return &resolver{
		cfg:      cfg,
		metrics:  m,
		covCache: mustLRU[string, coverageEntry](4096),
		breakers: map[string]*breaker{},
	}
}

func (r *resolver) close() { r.covCache.Purge() }

func (r *resolver) allow(server string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.breakers[server]
	return b == nil || !r.cfg.Now().Before(b.openUntil)
}

func (r *resolver) record(server string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.breakers[server]
	if b == nil {
		b = &breaker{}
		r.breakers[server] = b
	}
	// Only failures of the server count: a 404 or 401 is an answer, not an outage.
	if err == nil || !errors.Is(err, fhir.ErrUnavailable) {
		b.failures = 0
		b.openUntil = time.Time{}
		return
	}
	b.failures++
	if b.failures >= 3 {
		backoff := time.Second << min(b.failures-3, 5)
		if backoff > 30*time.Second {
			backoff = 30 * time.Second
		}
		b.openUntil = r.cfg.Now().Add(backoff)
	}
}

func cacheKey(server, patient string) string { return server + "\x00" + patient }

// tokenTag identifies a token in a singleflight key without keeping the token itself.
func tokenTag(tok string) string {
	if tok == "" {
		return ""
	}
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:8])
}

// resolvedKeys are the prefetch keys resolve gathers, from prefetch or the FHIR server.
var resolvedKeys = []string{keyPatient, keyCoverage, keyMedications, keyConditions}

// resolve gathers patient, coverage and medication history for a hook. It returns a
// KindPrecondition error only when the required coverage was neither prefetched nor obtainable.
func (r *resolver) resolve(ctx context.Context, req *cdshooks.Request, oc *cdshooks.OrderContext) (*hookData, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.HookBudget)
	defer cancel()
	d := &hookData{}
	if req.FHIRServer != "" {
		token := ""
		if req.FHIRAuthorization != nil {
			token = req.FHIRAuthorization.AccessToken
		}
		c, err := r.cfg.fhirAccess.client(ctx, req.FHIRServer, token) // allowlist.go: per-client allowlist, private-address guard
		if err == nil {
			d.client = c
		} else {
			r.cfg.Logger.Warn("fhirServer not usable", "hook", hookRef(req.HookInstance), "reason", err.Error())
		}
	}

	var need []string
	for _, key := range resolvedKeys {
		state, raw := req.PrefetchValue(key)
		switch state {
		case cdshooks.PrefetchPresent:
			r.metrics.prefetch.WithLabelValues(key, "present").Inc()
			if err := d.take(ctx, key, raw); err != nil {
				need = append(need, key)
			}
		case cdshooks.PrefetchNull:
			r.metrics.prefetch.WithLabelValues(key, "null").Inc()
			d.take(ctx, key, nil) //nolint:errcheck // null is "no data", a valid answer
		case cdshooks.PrefetchOutcome:
			// The client tried and could not fetch; the server may still answer us.
			r.metrics.prefetch.WithLabelValues(key, "outcome").Inc()
			need = append(need, key)
		default:
			r.metrics.prefetch.WithLabelValues(key, "absent").Inc()
			need = append(need, key)
		}
	}

	ck := cacheKey(req.FHIRServer, oc.PatientID)
	if req.FHIRServer != "" && slices.Contains(need, keyCoverage) {
		if e, ok := r.covCache.Get(ck); ok && r.cfg.Now().Before(e.expires) {
			r.metrics.coverageCache.WithLabelValues("hit").Inc()
			d.coverages, d.coverageKnown = e.coverages, true
			if slices.Contains(need, keyPatient) && e.patient != nil {
				d.patient = e.patient
				need = slices.DeleteFunc(need, func(k string) bool { return k == keyPatient })
			}
			need = slices.DeleteFunc(need, func(k string) bool { return k == keyCoverage })
		} else {
			r.metrics.coverageCache.WithLabelValues("miss").Inc()
		}
	}

	if len(need) > 0 && d.client != nil && r.allow(req.FHIRServer) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, key := range need {
			query, err := cdshooks.ExpandTemplate(fetchTemplates[key], oc)
			if err != nil {
				continue
			}
			wg.Add(1)
			go func(key, query string) {
				defer wg.Done()
				raw, err := r.fetch(ctx, d, req.FHIRServer, key, query)
				r.record(req.FHIRServer, err)
				if err != nil {
					r.metrics.fhirErrors.WithLabelValues(key).Inc()
					r.cfg.Logger.Warn("FHIR fetch failed", "key", key, "hook", hookRef(req.HookInstance), "reason", fhirReason(err))
					return
				}
				mu.Lock()
				defer mu.Unlock()
				d.take(ctx, key, raw) //nolint:errcheck // fetched bodies are decoded by take; errors leave the key missing
			}(key, query)
		}
		wg.Wait()
	}
	for _, key := range resolvedKeys {
		if !d.known(key) {
			d.missing = append(d.missing, key)
		}
	}
	if !d.coverageKnown {
		return d, errorf(KindPrecondition, "resolve", "required prefetch 'coverage' is missing and could not be obtained from the FHIR server", nil)
	}
	if req.FHIRServer != "" && d.coverageKnown {
		r.covCache.Add(ck, coverageEntry{patient: d.patient, coverages: d.coverages, expires: r.cfg.Now().Add(r.cfg.CoverageTTL)})
	}
	return d, nil
}

// fetch runs one templated query, collapsing identical concurrent fetches into one.
func (r *resolver) fetch(ctx context.Context, d *hookData, server, key, query string) (json.RawMessage, error) {
	tok := ""
	if d.client != nil {
		tok = d.client.Token
	}
	v, err, _ := r.flight.Do(server+"\x00"+tokenTag(tok)+"\x00"+query, func() (any, error) {
		atomic.AddInt64(&d.fetches, 1)
		r.metrics.fhirFetches.WithLabelValues(key).Inc()
		if strings.Contains(query, "?") {
			res, err := d.client.Search(ctx, query)
			if err != nil {
				return nil, err
			}
			return searchsetOf(res), nil
		}
		return d.client.Get(ctx, query)
	})
	if err != nil {
		return nil, err
	}
	return v.(json.RawMessage), nil
}

// searchsetOf wraps search results back into a Bundle so fetched and prefetched data take the
// same path.
func searchsetOf(res []json.RawMessage) json.RawMessage {
	type entry struct {
		Resource json.RawMessage `json:"resource"`
	}
	b := struct {
		ResourceType string  `json:"resourceType"`
		Type         string  `json:"type"`
		Entry        []entry `json:"entry,omitempty"`
	}{ResourceType: "Bundle", Type: "searchset"}
	for _, r := range res {
		b.Entry = append(b.Entry, entry{r})
	}
	out, _ := json.Marshal(b)
	return out
}

// take stores one prefetch value (raw nil means "no data"). A paginated searchset is followed
// with the FHIR client while the budget lasts (CDS Hooks 2.0 allows paginated prefetch).
func (d *hookData) take(ctx context.Context, key string, raw json.RawMessage) error {
	switch key {
	case keyPatient:
		if raw != nil && fhir.ResourceType(raw) != "Patient" {
			return fmt.Errorf("prefetch %s: not a Patient", key)
		}
		d.patient = raw
	case keyCoverage, keyMedications, keyConditions:
		var all []json.RawMessage
		if raw != nil {
			res, next, err := fhir.BundleResources(raw)
			if err != nil {
				// A single resource instead of a Bundle is usable as is.
				if fhir.ResourceType(raw) == "" {
					return fmt.Errorf("prefetch %s: %w", key, err)
				}
				res = []json.RawMessage{raw}
			}
			all = res
			if next != "" && d.client != nil {
				if more, err := d.client.Search(ctx, next); err == nil {
					atomic.AddInt64(&d.fetches, 1)
					all = append(all, more...)
				}
			}
		}
		switch key {
		case keyCoverage:
			d.coverages, d.coverageKnown = all, true
		case keyMedications:
			d.meds, d.medsKnown = all, true
		default:
			d.conditions, d.condsKnown = all, true
		}
	}
	return nil
}

func (d *hookData) known(key string) bool {
	switch key {
	case keyPatient:
		return d.patient != nil
	case keyCoverage:
		return d.coverageKnown
	case keyMedications:
		return d.medsKnown
	case keyConditions:
		return d.condsKnown
	}
	return false
}

// medication finds a Medication by reference: in the draft orders bundle, else on the server.
func (d *hookData) medication(ctx context.Context, ref string) (json.RawMessage, bool) {
	typ, id := fhir.SplitReference(ref)
	if typ != "Medication" || id == "" {
		return nil, false
	}
	for _, raw := range d.draftBundle {
		var m medicationDoc
		if json.Unmarshal(raw, &m) == nil && m.ResourceType == "Medication" && m.ID == id {
			return raw, true
		}
	}
	if d.client == nil {
		return nil, false
	}
	atomic.AddInt64(&d.fetches, 1)
	raw, err := d.client.Read(ctx, "Medication", id)
	if err != nil {
		return nil, false
	}
	return raw, true
}

// bodyWeightKg fetches the most recent body weight (LOINC 29463-7), only when a mg/kg dose needs it.
func (d *hookData) bodyWeightKg(ctx context.Context, patientID string) (float64, bool) {
	if d.client == nil {
		return 0, false
	}
	q := "Observation?patient=" + url.QueryEscape("Patient/"+patientID) + "&code=" + url.QueryEscape("http://loinc.org|"+fhir.LOINCBodyWeight) + "&_sort=-date&_count=1"
	atomic.AddInt64(&d.fetches, 1)
	one := *d.client
	one.MaxPages = 1 // the newest weight is on the first page; do not walk the history
	res, err := one.Search(ctx, q)
	if err != nil {
		return 0, false
	}
	type obs struct {
		Status            string `json:"status"`
		EffectiveDateTime string `json:"effectiveDateTime"`
		ValueQuantity     *struct {
			Value *float64 `json:"value"`
			Unit  string   `json:"unit"`
			Code  string   `json:"code"`
		} `json:"valueQuantity"`
	}
	var all []obs
	for _, raw := range res {
		var o obs
		if json.Unmarshal(raw, &o) == nil && o.ValueQuantity != nil && o.ValueQuantity.Value != nil &&
			o.Status != "entered-in-error" && o.Status != "cancelled" {
			all = append(all, o)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].EffectiveDateTime > all[j].EffectiveDateTime })
	for _, o := range all {
		v := *o.ValueQuantity.Value
		switch strings.ToLower(firstNonEmpty(o.ValueQuantity.Code, o.ValueQuantity.Unit)) {
		case "kg":
			return v, v > 0
		case "g":
			return v / 1000, v > 0
		case "[lb_av]", "lb", "lbs":
			return v * 0.45359237, v > 0
		}
	}
	return 0, false
}

// fhirReason is a log-safe description of a FHIR error: status and kind, never a body.
func fhirReason(err error) string {
	var fe *fhir.Error
	if errors.As(err, &fe) {
		return fmt.Sprintf("FHIR status %d %s", fe.Status, fe.Code)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "time budget exhausted"
	case errors.Is(err, fhir.ErrUnavailable):
		return "FHIR server unavailable"
	}
	return "FHIR request failed"
}
