package scoring

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Every indication of the embedded table has a short label a card's sidebar line can hold, and
// Label falls back to the label's own wording, cut, when an operator's table has none.
func TestIndicationLabels(t *testing.T) {
	tab, err := DefaultIndications()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for g, inds := range tab.byGroup {
		for _, ind := range inds {
			n++
			if ind.Short == "" || utf8.RuneCountInString(ind.Short) > 40 {
				t.Errorf("%s %s: short label %q (want 1 to 40 characters)", g, ind.ID, ind.Short)
			}
			if got := tab.Label(g, ind.ID); got != ind.Short {
				t.Errorf("Label(%s, %s) = %q, want %q", g, ind.ID, got, ind.Short)
			}
		}
	}
	if n < 50 {
		t.Errorf("%d indications in the embedded table, want at least 50", n)
	}

	own, err := ParseIndications(strings.NewReader("group,product,indication_id,indication,icd10cm_prefixes,snomed_codes,labelled,label_version,source\n" +
		"trastuzumab,herceptin,her2-breast,HER2-overexpressing breast cancer (adjuvant and metastatic),C50,,yes,v,s\n" +
		"trastuzumab,herceptin,long,Epithelial ovarian fallopian tube or primary peritoneal cancer stage III/IV,C56,,yes,v,s\n" +
		"trastuzumab,herceptin,blank,(with paclitaxel),C57,,yes,v,s\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, want string }{
		{"her2-breast", "HER2-overexpressing breast cancer"},
		{"long", "Epithelial ovarian fallopian tube or primary pe…"},
		{"blank", "(with paclitaxel)"},
		{"unlisted", "unlisted"},
	} {
		if got := own.Label("trastuzumab", c.id); got != c.want {
			t.Errorf("Label(%s) = %q, want %q", c.id, got, c.want)
		}
	}
	if got := utf8.RuneCountInString(own.Label("trastuzumab", "long")); got != maxIndicationLabel {
		t.Errorf("cut label is %d runes, want %d", got, maxIndicationLabel)
	}
	if _, err := ParseIndications(strings.NewReader("group,product,indication_id,indication,short,icd10cm_prefixes,snomed_codes,labelled,label_version,source\n" +
		"trastuzumab,herceptin,her2-breast,HER2 breast,HER2+ breast cancer,C50,,yes,v,s\n" +
		"trastuzumab,kanjinti,her2-breast,HER2 breast,Breast cancer,C50,,yes,v,s\n")); err == nil || !strings.Contains(err.Error(), "another row says") {
		t.Errorf("two rows disagreeing on the short label: err %v", err)
	}
}
