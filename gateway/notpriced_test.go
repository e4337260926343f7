package gateway

import (
	"testing"

	"valuerx/scoring"
	"valuerx/store"
	"valuerx/tracking"
)

// The store tells a not-priced option (no figures to count a chain's shift on) by the scorer's
// exclusion code.
func TestStoreNamesTheScorersNotPricedExclusion(t *testing.T) {
	if store.OptionNotPriced != scoring.ExcludeNotPriced {
		t.Fatalf("store.OptionNotPriced %q, scoring.ExcludeNotPriced %q", store.OptionNotPriced, scoring.ExcludeNotPriced)
	}
}

// The reports tell a capitated contract by the scorer's arrangement.
func TestTrackingNamesTheCapitatedArrangement(t *testing.T) {
	if tracking.ArrangementCapitation != string(scoring.Capitation) {
		t.Fatalf("tracking %q, scoring %q", tracking.ArrangementCapitation, scoring.Capitation)
	}
}
