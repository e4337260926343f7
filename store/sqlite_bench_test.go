package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"valuerx/store"
)

// BenchmarkSQLiteRecordHook is one hook's write on a real SQLite file, alone (no group to share
// the commit with): its jti claim and 1 or 20 decisions shaped as the gateway records a card
// (three suggestions, five options, a scoring request).
func BenchmarkSQLiteRecordHook(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("decisions-%d", n), func(b *testing.B) {
			st, err := store.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
			opts := make([]store.Option, 5)
			for i := range opts {
				opts[i] = store.Option{ProductID: fmt.Sprintf("product-%d", i), Relationship: "biosimilar", Eligible: i%2 == 0,
					PerCourse: store.Saving{Payer: 50356.13, Patient: 1200.5, Org: -300.25}, PerYear: store.Saving{Payer: 50356.13, Patient: 1200.5, Org: -300.25}}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ds := make([]store.Decision, n)
				for j := range ds {
					id := fmt.Sprintf("%08d-%02d-0000-0000-000000000000", i, j)
					ds[j] = store.Decision{CardUUID: id, HookInstance: "h", ServiceID: "svc", Hook: "order-sign", Client: "https://ehr.test",
						OrderKey: "k" + id, Fingerprint: "fp", ContractID: "mssp-aco", Arrangement: "aco", GroupID: "trastuzumab",
						OrderedProductID: "herceptin", BestProductID: "trazimera", At: at, Options: opts,
						Suggestions:  []store.Suggestion{{UUID: id + "a", ProductID: "trazimera", PayerSaving: 50356.13}, {UUID: id + "b", ProductID: "ogivri", PayerSaving: 36742.29}, {UUID: id + "c", ProductID: "kanjinti", PayerSaving: 1}},
						ScoreRequest: []byte(`{"contract":"mssp-aco","product":"herceptin","doseMg":420,"administrations":17,"date":"2026-02-15"}`)}
				}
				jti := &store.JTI{Key: fmt.Sprintf("%064d", i), Expires: at.Add(time.Hour), Now: at}
				if err := st.RecordHook(ctx, jti, ds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
