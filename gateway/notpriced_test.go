package gateway

import (
	"testing"

	"valuerx/scoring"
	"valuerx/store"
)

// The store tells a not-priced option (no figures to count a chain's shift on) by the scorer's
// exclusion code.
func TestStoreNamesTheScorersNotPricedExclusion(t *testing.T) {
	if store.OptionNotPriced != scoring.ExcludeNotPriced {
		t.Fatalf("store.OptionNotPriced %q, scoring.ExcludeNotPriced %q", store.OptionNotPriced, scoring.ExcludeNotPriced)
	}
}
