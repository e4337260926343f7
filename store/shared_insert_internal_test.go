package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A hook's decisions are inserted binding the columns they share once (insertDecisionShared);
// decisions that do not share them (not one hook's: no caller sends such, but RecordHook takes
// any) take the statement binding every column. Either way every column reads back as written.
func TestRecordHookSharedColumnsReadBack(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 12, 6, 9, 0, 0, 123456789, time.UTC)
	mk := func(hook, card string, i int) Decision {
		return Decision{CardUUID: card, HookInstance: hook, ServiceID: "svc-" + hook, Hook: "order-sign", Client: "https://ehr.test/" + hook,
			OrderKey: fmt.Sprintf("k-%s-%d", hook, i), Fingerprint: "fp", ContractID: "mssp-aco", Arrangement: "two-sided", GroupID: "trastuzumab",
			OrderedProductID: "herceptin", BestProductID: "trazimera", PayerSaving: 100.5 + float64(i), PatientSaving: 20, OrgImpact: 50,
			At: at.Add(time.Duration(i) * time.Millisecond), UserID: "Practitioner/" + hook, Tenant: "t-" + hook, Location: "Location/" + hook,
			Therapy: TherapyNewStart, PricePeriod: "cms-asp-2026q1", CatalogVersion: "v1", AdministrationsPerYear: 17 + i, OrderedRelationship: "reference",
			Suggestions:  []Suggestion{{UUID: card + "-s", ProductID: "trazimera", PayerSaving: 100.5 + float64(i), PatientSaving: 20, OrgImpact: 50}},
			Options:      []Option{{ProductID: "trazimera", Relationship: "biosimilar", Eligible: true, PerCourse: Saving{Payer: 100.5 + float64(i), Patient: 20, Org: 50}}},
			ScoreRequest: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	shared := []Decision{mk("h1", "c1", 0), mk("h1", "c2", 1), mk("h1", "c3", 2)}
	mixed := []Decision{mk("h2", "c4", 3), mk("h3", "c5", 4)}
	if !sharesHookColumns(shared) || sharesHookColumns(mixed) {
		t.Fatal("sharesHookColumns")
	}
	ctx := context.Background()
	for _, ds := range [][]Decision{shared, mixed} {
		if err := s.RecordHook(ctx, nil, ds); err != nil {
			t.Fatal(err)
		}
		for _, want := range ds {
			got, err := s.Decision(ctx, want.CardUUID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s read back (-written +read):\n%s", want.CardUUID, diff)
			}
		}
	}
}
