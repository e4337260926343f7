package gateway

import (
	"net/http"

	"github.com/gorilla/mux"

	"valuerx/cdshooks"
	"valuerx/store"
)

// handleFeedback records what the clinician did with valuerx's cards (CDS Hooks 2.0 §Feedback).
// The handler is idempotent: EHRs batch items and may send the same one twice. Feedback for a
// card this instance never issued is kept and answered 200 like any other.
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
	if g.decisions != nil {
		g.decisions.flush(r.Context()) // the cards this feedback is about are in the store
	}
	for _, f := range fr.Feedback {
		g.metrics.feedback.WithLabelValues(id, f.Outcome).Inc()
		if g.cfg.Store == nil {
			continue
		}
		items := feedbackItems(id, f)
		for _, it := range items {
			if err := g.cfg.Store.RecordFeedback(r.Context(), it); err != nil && !store.IsUnknownCard(err) {
				g.fail(w, r, errorf(KindUnavailable, "feedback", "could not record feedback", err))
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"received": len(fr.Feedback)})
}

func feedbackItems(serviceID string, f cdshooks.Feedback) []store.Feedback {
	base := store.Feedback{ServiceID: serviceID, CardUUID: f.Card, Outcome: f.Outcome, OutcomeAt: f.OutcomeTime()}
	if f.OverrideReason != nil {
		if f.OverrideReason.Reason != nil {
			base.ReasonCode = f.OverrideReason.Reason.Code
			base.ReasonSystem = f.OverrideReason.Reason.System
		}
		base.HasComment = f.OverrideReason.UserComment != ""
	}
	if len(f.AcceptedSuggestions) == 0 {
		return []store.Feedback{base}
	}
	out := make([]store.Feedback, 0, len(f.AcceptedSuggestions))
	for _, s := range f.AcceptedSuggestions {
		it := base
		it.SuggestionUUID = s.ID
		out = append(out, it)
	}
	return out
}

// handleSummary is the analysts' view: acceptance and savings per contract.
func (g *Gateway) handleSummary(w http.ResponseWriter, r *http.Request) {
	if g.cfg.Store == nil {
		writeJSON(w, http.StatusOK, map[string]any{"contracts": []store.ContractSummary{}})
		return
	}
	g.decisions.flush(r.Context())
	sum, err := g.cfg.Store.Summary(r.Context())
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
	for _, c := range g.cfg.Registry.Contracts() {
		out = append(out, view{c.ID, c.Name, string(c.Arrangement)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"contracts": out})
}
