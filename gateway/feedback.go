package gateway

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"valuerx/cdshooks"
	"valuerx/store"
	"valuerx/tracking"
)

// feedbackSkew is how far past its arrival an outcomeTimestamp may lie (clocks differ); later
// ones are clamped to it, so no timestamp can fix a card's latest outcome for good.
const feedbackSkew = time.Minute

// maxFeedbackItems caps the items of one feedback request. Each item costs a store read, and the
// body limit alone let a trusted client send 9,203 invented card ids in one request, 1.9 s of
// server time (security review, 2 December 2026). An EHR reports feedback as clinicians act on
// cards, a handful at a time; a larger batch gets 413 naming the cap, and nothing of it is stored.
const maxFeedbackItems = 256

// handleFeedback records what the clinician did with valuerx's cards (CDS Hooks 2.0 §Feedback).
// The handler is idempotent: EHRs batch items and may send the same one twice.
//
// An item counts only when it is about a card valuerx showed to this same verified client, on
// this same service, and (when accepted) names suggestions of that card; its outcomeTimestamp is
// clamped to [card time, now + feedbackSkew]; override codes outside valuerx's list are stored as
// "other" and a comment only as "a comment was given". Items that fail a check are answered like
// the others (the spec leaves feedback status codes open, and a different answer would tell a
// caller which card uuids exist) but are not stored: they are counted in
// valuerx_feedback_refused_total by reason and logged without their content. The 200 leaves
// only after the items are committed. Decisions are committed before their hook answers, so
// no flush is needed to see the card a feedback is about.
func (g *Gateway) handleFeedback(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if _, ok := g.byID[id]; !ok {
		writeError(w, errorf(KindNotFound, "feedback", "no such CDS service", nil))
		return
	}
	body, err := readBody(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	fr, err := cdshooks.DecodeFeedback(body)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if len(fr.Feedback) > maxFeedbackItems {
		g.fail(w, r, errorf(KindTooLarge, "feedback", "at most "+strconv.Itoa(maxFeedbackItems)+" feedback items per request: send the others in further requests", nil))
		return
	}
	if g.cfg.Store == nil {
		for _, f := range fr.Feedback {
			g.metrics.feedback.WithLabelValues(id, f.Outcome).Inc()
		}
		writeJSON(w, http.StatusOK, map[string]int{"received": len(fr.Feedback)})
		return
	}
	client := clientOf(r.Context())
	now := g.cfg.Now()
	var keep []store.Feedback
	refused := map[string]int{}
	for _, f := range fr.Feedback {
		d, err := g.cfg.Store.Decision(r.Context(), f.Card)
		if errors.Is(err, store.ErrNotFound) {
			refused["unknown-card"]++
			continue
		}
		if err != nil {
			g.fail(w, r, errorf(KindUnavailable, "feedback", "could not read the decision store", err))
			return
		}
		items, reason := checkedFeedback(d, client, id, f, now)
		if reason != "" {
			refused[reason]++
			continue
		}
		g.metrics.feedback.WithLabelValues(id, f.Outcome).Inc()
		keep = append(keep, items...)
	}
	for reason, n := range refused {
		g.metrics.feedbackRefused.WithLabelValues(id, reason).Add(float64(n))
		g.log.Warn("feedback refused", "service", id, "request_id", requestID(r.Context()), "reason", reason, "items", n)
	}
	if err := g.cfg.Store.RecordFeedback(r.Context(), keep); err != nil {
		g.fail(w, r, errorf(KindUnavailable, "feedback", "could not record feedback", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"received": len(fr.Feedback)})
}

// checkedFeedback turns one feedback item about decision d into the rows to store, or names why
// it must not be stored.
func checkedFeedback(d store.Decision, client, serviceID string, f cdshooks.Feedback, now time.Time) ([]store.Feedback, string) {
	switch {
	case d.Client != client:
		return nil, "other-client"
	case d.ServiceID != serviceID:
		return nil, "other-service"
	}
	sent := f.OutcomeTime()
	at := sent
	if at.Before(d.At) {
		at = d.At
	}
	if limit := now.Add(feedbackSkew); at.After(limit) {
		at = limit
	}
	base := store.Feedback{Client: client, ServiceID: serviceID, CardUUID: f.Card, OrderKey: d.OrderKey, Fingerprint: d.Fingerprint, Outcome: f.Outcome,
		OutcomeSent: sent, OutcomeAt: at, ReceivedAt: now}
	if f.OverrideReason != nil {
		if f.OverrideReason.Reason != nil {
			base.ReasonCode = storedReason(f.OverrideReason.Reason.Code, f.OverrideReason.Reason.System)
			if base.ReasonCode != "" {
				base.ReasonSystem = overrideSystem
			}
		}
		base.HasComment = f.OverrideReason.UserComment != ""
	}
	if f.Outcome != "accepted" {
		return []store.Feedback{base}, ""
	}
	out := make([]store.Feedback, 0, len(f.AcceptedSuggestions))
	for _, s := range f.AcceptedSuggestions {
		if !d.HasSuggestion(s.ID) {
			return nil, "unknown-suggestion"
		}
		it := base
		it.SuggestionUUID = s.ID
		out = append(out, it)
	}
	if len(out) == 0 {
		return nil, "unknown-suggestion"
	}
	return out, ""
}

// handleSummary is the analysts' view: acceptance and savings per contract.
func (g *Gateway) handleSummary(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Store == nil {
		writeJSON(w, http.StatusOK, map[string]any{"contracts": []store.ContractSummary{}})
		return
	}
	var sum []store.ContractSummary
	var err error
	if scope := AnalystClients(r.Context()); scope != nil {
		// An analyst limited to some clients: the summary of their orders only (read whole:
		// this older endpoint has no rollup; the dashboard's report is the fast one).
		var orders []store.OrderRecord
		if orders, err = g.cfg.Store.Orders(r.Context(), time.Time{}, time.Time{}); err == nil {
			f := tracking.Filter{Clients: scope}
			orders = slices.DeleteFunc(orders, func(o store.OrderRecord) bool { return !f.Admits(o.Client) })
			sum = store.SummarizeOrders(orders)
		}
	} else {
		sum, err = g.cfg.Store.Summary(r.Context())
	}
	if err != nil {
		g.fail(w, r, errorf(KindUnavailable, "summary", "could not read the decision store", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"contracts": sum})
}

// handleContracts lists the configured contracts (no patient data: the roster is not shown).
func (g *Gateway) handleContracts(w http.ResponseWriter, _ *http.Request) {
	type view struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Arrangement string `json:"arrangement"`
	}
	var out []view
	for _, c := range g.current().reg.Contracts() {
		out = append(out, view{c.ID, c.Name, string(c.Arrangement)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"contracts": out})
}
