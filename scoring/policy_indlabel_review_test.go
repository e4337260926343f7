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

// The catalog's tocilizumab group is the IV one (tocilizumab-iv), and SSc-ILD is an indication of
// subcutaneous Actemra only (the table's own note): for the IV group Actemra is not labelled for
// it, else an IV biosimilar order for SSc-ILD could be offered IV Actemra "Labelled for: SSc-ILD".
func TestIVTocilizumabNotLabelledForSScILD(t *testing.T) {
	tab, err := DefaultIndications()
	if err != nil {
		t.Fatal(err)
	}
	ind, ok := tab.Indication("tocilizumab-iv", "ssc-ild")
	if !ok {
		t.Fatal("no ssc-ild indication for tocilizumab-iv")
	}
	if l := ind.LabelFor("actemra"); l == LabelYes {
		t.Errorf("IV Actemra labelled for SSc-ILD (%v)", l)
	}
}
