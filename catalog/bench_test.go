package catalog

import (
	"testing"
	"time"

	"valuerx/scoring"
)

// BenchmarkLoadEmbedded is what a gateway does at start (and on every reload): decode the
// snapshot, check it, build the catalog. The budget is 200 ms.
func BenchmarkLoadEmbedded(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s, err := Embedded()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := scoring.NewCatalog(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportShipped imports the shipped agency copies (nine quarters of limits and
// crosswalks, the Purple Book, the Orange Book extract).
func BenchmarkImportShipped(b *testing.B) {
	for b.Loop() {
		if _, _, err := Import([]string{shipped, supplemental}, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
