package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "valuerx.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestSummaryCountsAcceptedSavingsOnly(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	for _, d := range []Decision{
		{CardUUID: "c1", HookInstance: "h1", ServiceID: "svc", Hook: "order-sign", ContractID: "mssp-aco", Arrangement: "shared-savings-two-sided", GroupID: "trastuzumab", OrderedProductID: "herceptin", BestProductID: "trazimera", SuggestionUUIDs: []string{"s1", "s2"}, PayerSaving: 100, PatientSaving: 20, OrgImpact: 50, At: at},
		{CardUUID: "c2", HookInstance: "h2", ServiceID: "svc", Hook: "order-sign", ContractID: "mssp-aco", Arrangement: "shared-savings-two-sided", PayerSaving: 1000, PatientSaving: 200, OrgImpact: 500, At: at},
		{CardUUID: "c3", HookInstance: "h3", ServiceID: "svc", Hook: "order-select", ContractID: "medicare-ffs", Arrangement: "ffs", PayerSaving: 7, At: at},
	} {
		if err := s.RecordDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	fb := []Feedback{
		{ServiceID: "svc", CardUUID: "c1", Outcome: "accepted", SuggestionUUID: "s1", OutcomeAt: at.Add(time.Minute)},
		{ServiceID: "svc", CardUUID: "c1", Outcome: "accepted", SuggestionUUID: "s1", OutcomeAt: at.Add(time.Minute)}, // repeat
		{ServiceID: "svc", CardUUID: "c2", Outcome: "overridden", ReasonCode: "mid-course", HasComment: true, OutcomeAt: at.Add(time.Minute)},
	}
	for _, f := range fb {
		if err := s.RecordFeedback(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordFeedback(ctx, Feedback{CardUUID: "nope", Outcome: "overridden", OutcomeAt: at}); !IsUnknownCard(err) {
		t.Fatalf("unknown card: got %v", err)
	}
	// Reopen the file: the data must be on disk, not in a connection's memory.
	s.Close()
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	sum, err := s2.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 2 {
		t.Fatalf("want 2 contracts, got %+v", sum)
	}
	ffs, aco := sum[0], sum[1]
	if ffs.ContractID != "medicare-ffs" || ffs.Cards != 1 || ffs.NoFeedback != 1 || ffs.PayerSaved != 0 {
		t.Errorf("ffs summary wrong: %+v", ffs)
	}
	if aco.Cards != 2 || aco.Accepted != 1 || aco.Overridden != 1 || aco.Acceptance != 0.5 {
		t.Errorf("aco counts wrong: %+v", aco)
	}
	if aco.PayerSaved != 100 || aco.PatientSaved != 20 || aco.OrgImpact != 50 {
		t.Errorf("aco savings must count the accepted card only: %+v", aco)
	}
	if aco.Overrides["mid-course"] != 1 {
		t.Errorf("override reasons: %+v", aco.Overrides)
	}
}

func TestRecordDecisionIdempotent(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	d := Decision{CardUUID: "c1", ContractID: "x", At: time.Now()}
	for i := 0; i < 2; i++ {
		if err := s.RecordDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 1 || sum[0].Cards != 1 {
		t.Fatalf("want one card, got %+v", sum)
	}
}

func TestRecordDecisionsBatch(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	at := time.Now()
	var ds []Decision
	for i := 0; i < 300; i++ {
		c := "mssp-aco"
		if i%3 == 0 {
			c = "medicare-ffs"
		}
		ds = append(ds, Decision{CardUUID: fmt.Sprintf("card-%d", i), ContractID: c, PayerSaving: 1, At: at})
	}
	ds = append(ds, ds[0]) // a repeat inside the batch is ignored, not an error
	if err := s.RecordDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 2 || sum[0].Cards != 100 || sum[1].Cards != 200 {
		t.Fatalf("batch summary: %+v", sum)
	}
	if err := s.RecordDecisions(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}
