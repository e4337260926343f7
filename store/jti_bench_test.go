package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"valuerx/store"
)

// BenchmarkSQLiteJTIHeld is the gateway's early replay check (gateway/fhirguard.go): one
// read-only lookup of a jti key, in a table of 20,000 live claims, made once per hook that
// fetches from its FHIR server, beside that hook's ClaimJTI or RecordHook (BenchmarkSQLiteRecordHook).
func BenchmarkSQLiteJTIHeld(b *testing.B) {
	st, err := store.OpenSQLite(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	at := time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)
	key := func(i int) string { return fmt.Sprintf("%016x%048d", uint64(i)*11400714819323198485, 0) }
	for i := range 20000 {
		if _, err := st.ClaimJTI(ctx, key(i), at.Add(time.Hour), at); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		off  int
	}{{"held", 0}, {"unseen", 1 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				held, err := st.JTIHeld(ctx, key(i%20000+c.off), at)
				if err != nil || held != (c.off == 0) {
					b.Fatal(held, err)
				}
				i++
			}
		})
	}
}
