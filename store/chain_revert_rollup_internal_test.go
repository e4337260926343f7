package store

import (
	"context"
	"testing"
	"time"
)

// The rollups (SQLite, PostgreSQL) follow the order of TestChainAcceptedAtSelectOverriddenAtSignThenRevertedIsNoSwitch
// incrementally: accepted at select, overridden at sign on Hercessi, it is the accepted switch
// (450 a course); the re-sign on Herceptin recorded after the first fold makes it an override
// (patient-declines), projecting 0, in the cubes as in Orders.
func TestChainRevertedRollupEqualsOrders(t *testing.T) {
	for name, open := range rollupStores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			rows := chainRows("overridden")
			var fs []Feedback
			for i := range rows {
				rows[i].Decision.ServiceID = "svc"
				r := rows[i]
				fs = append(fs, Feedback{Client: "a", ServiceID: "svc", CardUUID: r.Decision.CardUUID, OrderKey: "k1", Outcome: r.Outcome,
					ReasonCode: r.ReasonCode, SuggestionUUID: r.SuggestionUUID, OutcomeSent: r.FeedbackAt, OutcomeAt: r.FeedbackAt, ReceivedAt: r.FeedbackReceived})
			}
			if err := s.RecordDecisions(ctx, []Decision{rows[0].Decision, rows[1].Decision}); err != nil {
				t.Fatal(err)
			}
			if err := s.RecordFeedback(ctx, fs); err != nil {
				t.Fatal(err)
			}
			march := AggQuery{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
			check := func(when string, accepted, overridden int, payer int64) {
				t.Helper()
				orders, err := s.Orders(ctx, time.Time{}, time.Time{})
				if err != nil || len(orders) != 1 {
					t.Fatalf("%s: orders %d %v", when, len(orders), err)
				}
				o := orders[0]
				ag, err := s.FamilyMonths(ctx, march)
				if err != nil || len(ag) != 1 {
					t.Fatalf("%s: aggregates %+v %v", when, ag, err)
				}
				a := ag[0]
				wantOutcome := "accepted"
				if overridden == 1 {
					wantOutcome = "overridden"
				}
				if o.Outcome != wantOutcome || CentsMicro(o.PayerSaved) != payer {
					t.Errorf("%s: order %q payer %.2f; want %s, %d micro-dollars", when, o.Outcome, o.PayerSaved, wantOutcome, payer)
				}
				if a.Accepted != accepted || a.Overridden != overridden || a.PayerSaved != payer || a.Overrides["patient-declines"] != overridden {
					t.Errorf("%s: rollup accepted %d overridden %d payer %d reasons %v; want %d, %d, %d", when, a.Accepted, a.Overridden, a.PayerSaved, a.Overrides, accepted, overridden, payer)
				}
			}
			check("accepted at select, overridden at sign", 1, 0, Micro(450))
			re := rows[1].Decision
			re.CardUUID, re.OrderedProductID, re.OrderedRelationship, re.At = "resign", "herceptin", "reference", re.At.Add(10*time.Minute)
			re.Suggestions = []Suggestion{{UUID: "resign-h", ProductID: "hercessi", PayerSaving: 450, PerYear: Saving{Payer: 4500}}}
			re.Options = []Option{{ProductID: "hercessi", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 450}, PerYear: Saving{Payer: 4500}}}
			if err := s.RecordDecisions(ctx, []Decision{re}); err != nil {
				t.Fatal(err)
			}
			check("re-signed on Herceptin", 0, 1, 0)
		})
	}
}
