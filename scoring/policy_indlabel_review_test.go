package scoring

import (
	"strings"
	"testing"
)

// A card joins the short labels of the indications it names with ", " ("Labelled for: Ovarian
// cancer, frontline, Platinum-resistant ovarian cancer, Platinum-sensitive ovarian cancer" read
// as four indications, three meant), so no short label of the embedded table has a comma (card
// review, 6 December 2026).
func TestShortLabelsHaveNoComma(t *testing.T) {
	tab, err := DefaultIndications()
	if err != nil {
		t.Fatal(err)
	}
	for g, inds := range tab.byGroup {
		for _, ind := range inds {
			if strings.Contains(ind.Short, ",") {
				t.Errorf("%s %s: short label %q has a comma", g, ind.ID, ind.Short)
			}
		}
	}
}
