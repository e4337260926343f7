package population

import (
	"context"
	"testing"
	"time"

	"valuerx/measures"
	"valuerx/measures/synth"
)

// BenchmarkRun: a run over 20,000 generated patients (about 12 fills each), from memory.
// The million-patient figure in the README comes from valuerx measures on files (make measures-bench).
func BenchmarkRun(b *testing.B) {
	f2, _ := population(b, synth.Config{Year: 2026, Patients: 20000, Seed: 1, Through: measures.Date(2026, time.September, 30)})
	in := f2.inputs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(context.Background(), in, Options{Year: 2026}); err != nil {
			b.Fatal(err)
		}
	}
}
