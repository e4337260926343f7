package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// feedback exercises {service}/feedback with the bodies a CDS client may send (CDS Hooks 2.0
// §Feedback): accepted, overridden without and with a reason (the reason carries code and system
// but no display, as the Sandbox and the spec's example send it), a batch, and a repeat. The
// endpoint is optional: a 404, 405 or 501 to the first call means it is not offered.
func (s *suite) feedback(ctx context.Context) {
	ids := []string{CheckFeedbackAccepted, CheckFeedbackOverride, CheckFeedbackReason, CheckFeedbackBatch, CheckFeedbackRepeat}
	skipAll := func(msg string) {
		for _, id := range ids {
			s.rec.skip(id, Evidence{Message: msg})
		}
	}
	if len(s.svcs) == 0 {
		skipAll("no order service")
		return
	}
	// Prefer a service whose answers carried cards with uuids: some services only take
	// feedback on cards they issued.
	svc := s.svcs[0]
	for _, c := range s.svcs {
		if len(s.cards[c.key()]) > 0 {
			svc = c
			break
		}
	}
	cards := s.cards[svc.key()]
	card := func(i int) seenCard {
		if len(cards) == 0 {
			return seenCard{uuid: uuid.NewString()}
		}
		return cards[i%len(cards)]
	}
	// Each item gets its own outcome time, so that only the deliberate repeat is a repeat.
	t0 := s.now().UTC().Truncate(time.Second)
	n := 0
	stamp := func() string {
		n++
		return t0.Add(time.Duration(n) * time.Second).Format("2006-01-02T15:04:05Z")
	}
	acceptedItem := func(c seenCard) map[string]any {
		ts := stamp()
		sug := uuid.NewString()
		if len(c.suggestions) > 0 {
			sug = c.suggestions[0]
		}
		return map[string]any{"card": c.uuid, "outcome": "accepted", "acceptedSuggestions": []any{map[string]any{"id": sug}}, "outcomeTimestamp": ts}
	}
	overriddenItem := func(c seenCard, withReason bool) map[string]any {
		it := map[string]any{"card": c.uuid, "outcome": "overridden", "outcomeTimestamp": stamp()}
		if withReason {
			reason := map[string]any{"code": "patient-requested-brand", "system": "http://terminology.cds-hooks.org/CodeSystem/OverrideReasons"}
			if c.reason != nil {
				reason = map[string]any{"code": c.reason["code"], "system": c.reason["system"]}
			}
			it["overrideReason"] = map[string]any{"reason": reason, "userComment": "Conformance suite test comment."}
		}
		return it
	}
	target := svc.url + "/feedback"
	post := func(purpose string, items ...map[string]any) *exchange {
		body, _ := json.Marshal(map[string]any{"feedback": items})
		return s.send(ctx, http.MethodPost, target, body, s.mint(target), nil, "feedback, "+purpose)
	}
	first := acceptedItem(card(0))
	x := post("accepted", first)
	if x.err == nil && (x.status == http.StatusNotFound || x.status == http.StatusMethodNotAllowed || x.status == http.StatusNotImplemented) {
		skipAll(fmt.Sprintf("feedback endpoint not offered (answered %d); it is optional", x.status))
		return
	}
	if refused(x) {
		skipAll(fmt.Sprintf("the suite's token was refused (answered %d; see auth.valid-token)", x.status))
		return
	}
	s.feedbackResult(CheckFeedbackAccepted, x)
	s.feedbackResult(CheckFeedbackOverride, post("overridden without reason", overriddenItem(card(1), false)))
	s.feedbackResult(CheckFeedbackReason, post("overridden with reason", overriddenItem(card(2), true)))
	s.feedbackResult(CheckFeedbackBatch, post("batch of 2", acceptedItem(card(3)), acceptedItem(card(4))))
	s.feedbackResult(CheckFeedbackRepeat, post("repeat of the first", first))
}

func (s *suite) feedbackResult(id string, x *exchange) {
	switch {
	case x.err != nil:
		s.rec.violate(id, x.evidence("", x.err.Error()))
	case x.status >= 200 && x.status <= 299:
		s.rec.pass(id, Evidence{})
		s.allowOrigin(x)
	default:
		s.rec.violate(id, x.evidence("", fmt.Sprintf("answered %d to spec-valid feedback", x.status)))
	}
}
