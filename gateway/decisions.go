package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"valuerx/cdshooks"
	"valuerx/scoring"
	"valuerx/store"
)

// commitTimeout bounds the wait for a hook's decisions to be committed. It is not the hook's
// data budget: a hook whose FHIR server used the whole budget still gets its answer recorded.
const commitTimeout = 2 * time.Second

// recorder gathers one hook's decisions and commits them before the hook answers (durable before
// acknowledged: every card an EHR received is in the store, so its feedback always counts). The
// store batches concurrent hooks into one group commit (store/commit.go), which keeps the
// throughput of the old background writer without its window in which a 200 had no decision.
type recorder struct {
	g      *Gateway
	client string
	svc    *serviceDef
	req    *cdshooks.Request
	oc     *cdshooks.OrderContext
	ds     []store.Decision
}

func (g *Gateway) newRecorder(ctx context.Context, svc *serviceDef, req *cdshooks.Request, oc *cdshooks.OrderContext) *recorder {
	return &recorder{g: g, client: clientOf(ctx), svc: svc, req: req, oc: oc}
}

// suppressed reports whether the clinician already overrode valuerx's card for this same order
// (same client, patient and draft order id, at order-select or order-sign) and the advice has not
// changed since (ordered product, dose, course, contract: the fingerprint). Such an order gets no
// card again (issue 10 item 7). A store that cannot answer in time suppresses nothing: showing
// the card again is the safe failure.
func (rc *recorder) suppressed(ctx context.Context, item orderedItem, res scoring.Result) bool {
	st := rc.g.cfg.Store
	if st == nil || item.id == "" {
		return false
	}
	key := rc.g.orderKey(rc.client, rc.oc.PatientID, item.id)
	state, err := st.OrderState(ctx, rc.client, key)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			rc.g.log.Warn("order state unavailable", "service", rc.svc.ID, "hook", hookRef(rc.req.HookInstance), "error", err.Error())
		}
		return false
	}
	if state.Outcome == "overridden" && state.Fingerprint == fingerprint(res) {
		rc.g.metrics.suppressed.WithLabelValues(rc.svc.ID).Inc()
		return true
	}
	return false
}

// commit writes the hook's decisions and returns once they are committed. The hook's own
// deadline does not bound it (see commitTimeout); a failure is a 503, since a card without its
// decision would take feedback that can never count.
func (rc *recorder) commit(ctx context.Context) error {
	if rc.g.cfg.Store == nil || len(rc.ds) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := rc.g.cfg.Store.RecordDecisions(ctx, rc.ds); err != nil {
		return errorf(KindUnavailable, "record", "could not record the decision", err)
	}
	return nil
}

// inFlight limits concurrent hooks (Config.MaxInFlight). Beyond the limit a hook is refused at
// once with 503 and Retry-After: 1 rather than queued: a CDS client waits only a few hundred
// milliseconds for cards and goes on without them when a service fails (CDS Hooks: the EHR must
// not block the clinician on a service), so a prompt 503 costs the clinician nothing, while a
// queue would answer late for everyone and hold memory for each waiting body. An empty 200
// would hide the overload from operators as "nothing to suggest"; the 503 is counted in
// valuerx_hooks_overloaded_total (it never reaches handleHook and its per-service counters).
func (g *Gateway) inFlight(next http.Handler) http.Handler {
	if g.cfg.MaxInFlight <= 0 {
		return next
	}
	sem := make(chan struct{}, g.cfg.MaxInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		default:
			g.metrics.overloaded.Inc()
			w.Header().Set("Retry-After", strconv.Itoa(1))
			writeError(w, errorf(KindUnavailable, "hook", "too many hooks in flight; retry shortly", nil))
		}
	})
}

// add turns a card into its decision: who it was shown to, the order it is about (keyed, no
// patient id), what was advised (fingerprint), and every suggestion with its own figures.
func (rc *recorder) add(item orderedItem, card *cdshooks.Card, products []string, res scoring.Result) {
	g := rc.g
	if g.cfg.Store == nil {
		return
	}
	client := rc.client
	best := res.Best
	d := store.Decision{
		CardUUID: card.UUID, HookInstance: rc.req.HookInstance, ServiceID: rc.svc.ID, Hook: rc.svc.Hook, Client: client,
		OrderKey:    g.orderKey(client, rc.oc.PatientID, item.id),
		Fingerprint: fingerprint(res), UserID: rc.oc.UserID,
		ContractID: res.Contract.ID, Arrangement: string(res.Contract.Arrangement), GroupID: res.Ordered.Product.GroupID,
		OrderedProductID: res.Ordered.Product.ID, BestProductID: best.Product.ID,
		At: g.cfg.Now(),
	}
	d.PayerSaving, d.PatientSaving, d.OrgImpact = savings(res.Ordered, *best)
	d.Suggestions = make([]store.Suggestion, len(card.Suggestions))
	for i, s := range card.Suggestions {
		sg := store.Suggestion{UUID: s.UUID}
		if i < len(products) {
			sg.ProductID = products[i]
		}
		if o, ok := optionOf(res, sg.ProductID); ok {
			sg.PayerSaving, sg.PatientSaving, sg.OrgImpact = savings(res.Ordered, o)
		}
		d.Suggestions[i] = sg
	}
	rc.ds = append(rc.ds, d)
}

// savings are o's per-course figures against the ordered product (positive = saved).
func savings(ordered, o scoring.Option) (payer, patient, org float64) {
	return ordered.PerCourse.PayerAllowed - o.PerCourse.PayerAllowed,
		ordered.PerCourse.PatientOOP - o.PerCourse.PatientOOP,
		o.PerCourse.NetImpact - ordered.PerCourse.NetImpact
}

// optionOf finds the scored option for product id.
func optionOf(res scoring.Result, id string) (scoring.Option, bool) {
	if id == "" {
		return scoring.Option{}, false
	}
	if res.Best != nil && res.Best.Product.ID == id {
		return *res.Best, true
	}
	for _, o := range res.Options {
		if o.Product.ID == id {
			return o, true
		}
	}
	return scoring.Option{}, false
}

// fingerprint identifies what a card advised on: the ordered product, the dose and course scored,
// and the contract (so a change of coverage that changes the contract is a change). A card the
// clinician overrode is not shown again for the same order while this stays the same.
func fingerprint(res scoring.Result) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%g\x00%d\x00%s", res.Ordered.Product.ID, res.DoseMg, res.Administrations, res.Contract.ID)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// suggestionProducts reads, for each suggestion of a freshly built card, the catalog product its
// update action orders, recognised exactly as valuerx recognises a draft order. It runs once per
// built card (the card cache keeps the answer).
func suggestionProducts(cat *scoring.Catalog, card *cdshooks.Card) []string {
	out := make([]string, len(card.Suggestions))
	for i, s := range card.Suggestions {
		for _, a := range s.Actions {
			var mr medRequest
			if len(a.Resource) == 0 || json.Unmarshal(a.Resource, &mr) != nil {
				continue
			}
			if p, ok := productOf(cat, mr.MedicationCodeableConcept); ok {
				out[i] = p.ID
				break
			}
		}
	}
	return out
}
