package gateway

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzCoverageFacts: any JSON array of Coverages gives facts or none, never a panic; the
// primary and its secondaries are at most the Coverages given.
func FuzzCoverageFacts(f *testing.F) {
	f.Add([]byte(`[` + string(coverageJSON("m", 1, "121", "", "org-cms", "")) + `,` + string(coverageJSON("g", 2, "523", "", "org-gap", "")) + `]`))
	f.Add([]byte(`[{"resourceType":"Coverage","status":"active","order":-5,"period":{"end":"2020"}},{"resourceType":"Coverage","class":[{"type":{"coding":[{"code":"plan"}]},"value":"QMB"}]}]`))
	f.Add([]byte(`[null, 1, "x", {}]`))
	on := time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		var list []json.RawMessage
		if json.Unmarshal(data, &list) != nil {
			return
		}
		cov, ok := coverageFacts(list, nil, on)
		if !ok {
			if len(cov.Secondary) != 0 {
				t.Fatal("secondaries without a primary")
			}
			return
		}
		if len(cov.Secondary)+1 > len(list) {
			t.Fatalf("%d coverages in, %d facts out", len(list), len(cov.Secondary)+1)
		}
	})
}
