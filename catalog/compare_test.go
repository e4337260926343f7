package catalog

import (
	"reflect"
	"testing"

	"valuerx/scoring"
)

// The snapshot imported from the agencies' files gives the six families of the hand-made extracts
// exactly what the extracts gave them (groups, products, packages, prices, ASP labels, coinsurance),
// beyond the codes and labelers of earlier quarters the extracts never held. Golden cards rest on it.
func TestSnapshotMatchesExtractCatalog(t *testing.T) {
	s, _ := importShipped(t)
	nc, err := scoring.NewCatalog(s)
	if err != nil {
		t.Fatal(err)
	}
	oc, _ := scoring.DefaultCatalog()
	for _, og := range oc.Groups() {
		ng, ok := nc.Group(og.ID)
		if !ok {
			t.Errorf("group %s missing", og.ID)
			continue
		}
		og.NotSubstitutes, ng.NotSubstitutes = nil, nil
		if !reflect.DeepEqual(og, ng) {
			t.Errorf("group %s\n extracts %+v\n snapshot %+v", og.ID, og, ng)
		}
		for _, id := range og.ProductIDs {
			op, _ := oc.Product(id)
			np, ok := nc.Product(id)
			if !ok {
				t.Errorf("product %s missing", id)
				continue
			}
			op.Source, np.Source = "", ""
			op.NDCs, np.NDCs = nil, nil
			op.Labelers, np.Labelers = nil, nil
			if !reflect.DeepEqual(op, np) {
				t.Errorf("product %s\n extracts %+v\n snapshot %+v", id, op, np)
			}
		}
	}
	ob, nb := oc.Books(), nc.Books()
	if len(ob) != len(nb) {
		t.Fatalf("%d books, extracts %d", len(nb), len(ob))
	}
	for i := range ob {
		for _, pid := range ob[i].ProductIDs() {
			op, _ := ob[i].Price(pid)
			np, ok := nb[i].Price(pid)
			if !ok {
				t.Errorf("%s: %s not priced", ob[i].ID, pid)
				continue
			}
			if !reflect.DeepEqual(op, np) {
				t.Errorf("%s %s\n extracts %+v\n snapshot %+v", ob[i].ID, pid, op, np)
			}
		}
	}
}
