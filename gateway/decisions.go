package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"valuerx/cdshooks"
	"valuerx/scoring"
	"valuerx/store"
)

// decisionQueueSize bounds the decisions waiting to be written.
const decisionQueueSize = 4096

// maxBatch bounds the decisions written in one transaction.
const maxBatch = 256

// batchWindow is how long the writer gathers decisions after the first of a batch. A SQLite
// commit costs more than the inserts it commits, so at a few hundred hooks a second gathering
// for a moment turns one commit per hook into one per window. Nothing waits on it: a flush ends
// the window at once.
const batchWindow = 25 * time.Millisecond

// decisionLog writes decisions to the store from one background goroutine, so the SQLite insert
// (one connection, so one writer at a time) is not on the EHR's path: under load the hook waited
// for every earlier hook's insert (docs/performance.md). Nothing is dropped: when the queue is
// full the hook writes its decision itself. Readers of the store (feedback, the summary) flush
// first, so they see every decision of a card already answered.
//
// Hooks append to a slice under a mutex and wake the writer once per batch, not once per
// decision: a channel send per hook woke the writer goroutine a thousand times a second under
// load, and each wake-up jumped the run queue ahead of the hooks (docs/performance.md).
type decisionLog struct {
	st  store.Store
	log *slog.Logger

	mu      sync.Mutex
	pending []store.Decision // queued, in arrival order
	waiters []chan struct{}  // flushes waiting for everything queued before them
	closed  bool             // no more queueing; the writer drains and stops
	wake    chan struct{}    // capacity 1: there is something for the writer
	done    chan struct{}    // closed when the writer has stopped
}

func newDecisionLog(st store.Store, log *slog.Logger) *decisionLog {
	l := &decisionLog{st: st, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go l.run()
	return l
}

func (l *decisionLog) signal() {
	select {
	case l.wake <- struct{}{}:
	default: // already signalled
	}
}

// record queues d, or writes it now when the queue is full or closed.
func (l *decisionLog) record(d store.Decision) {
	l.mu.Lock()
	if l.closed || len(l.pending) >= decisionQueueSize {
		l.mu.Unlock()
		l.write(d)
		return
	}
	l.pending = append(l.pending, d)
	n := len(l.pending)
	l.mu.Unlock()
	// The first decision starts the writer's window; a full batch ends it early.
	if n == 1 || n == maxBatch {
		l.signal()
	}
}

// flush returns once every decision queued before the call is written (or ctx ends).
func (l *decisionLog) flush(ctx context.Context) {
	c := make(chan struct{})
	l.mu.Lock()
	if l.closed {
		// close is draining (or has drained) the queue: done says when it is written.
		l.mu.Unlock()
		c = l.done
	} else {
		l.waiters = append(l.waiters, c)
		l.mu.Unlock()
		l.signal()
	}
	select {
	case <-c:
	case <-ctx.Done():
	}
}

// close writes what is queued and stops the writer.
func (l *decisionLog) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.signal()
	<-l.done
}

// urgent reports whether the writer should write now rather than finish its window.
func (l *decisionLog) urgent() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed || len(l.waiters) > 0 || len(l.pending) >= maxBatch
}

// run waits for a first decision, gathers for batchWindow (less when a flush, a close or a full
// batch asks), then takes everything queued and writes it in transactions of up to maxBatch.
// Flushes waiting at the moment of the take are released once it is written.
func (l *decisionLog) run() {
	defer close(l.done)
	timer := time.NewTimer(batchWindow)
	timer.Stop()
	for {
		<-l.wake
		if !l.urgent() {
			timer.Reset(batchWindow)
		gather:
			for {
				select {
				case <-timer.C:
					break gather
				case <-l.wake:
					if l.urgent() {
						break gather
					}
				}
			}
			timer.Stop()
		}
		l.mu.Lock()
		batch, waiters, closed := l.pending, l.waiters, l.closed
		l.pending, l.waiters = nil, nil
		l.mu.Unlock()
		for rest := batch; len(rest) > 0; {
			n := min(len(rest), maxBatch)
			l.write(rest[:n]...)
			rest = rest[n:]
		}
		for _, c := range waiters {
			close(c)
		}
		if closed {
			return
		}
		l.mu.Lock()
		// Anything queued while writing started a batch of its own but its signal may have
		// been consumed above; look again.
		if len(l.pending) > 0 || len(l.waiters) > 0 || l.closed {
			l.signal()
		}
		l.mu.Unlock()
	}
}

func (l *decisionLog) write(ds ...store.Decision) {
	if len(ds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.st.RecordDecisions(ctx, ds); err != nil {
		l.log.Error("recording decisions failed", "count", len(ds), "error", err.Error())
	}
}

// record turns a card into its decision: who it was shown to, the order it is about (keyed, no
// patient id), what was advised (fingerprint), and every suggestion with its own figures.
func (g *Gateway) record(ctx context.Context, svc *serviceDef, req *cdshooks.Request, oc *cdshooks.OrderContext, item orderedItem,
	card *cdshooks.Card, products []string, res scoring.Result) {
	if g.cfg.Store == nil {
		return
	}
	client := clientOf(ctx)
	best := res.Best
	d := store.Decision{
		CardUUID: card.UUID, HookInstance: req.HookInstance, ServiceID: svc.ID, Hook: svc.Hook, Client: client,
		OrderKey:    g.orderKey(client, oc.PatientID, item.id),
		Fingerprint: fingerprint(res),
		ContractID:  res.Contract.ID, Arrangement: string(res.Contract.Arrangement), GroupID: res.Ordered.Product.GroupID,
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
	g.decisions.record(d) // written in the background (decisions.go)
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
