package medindex

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"valuerx/fhir"
	"valuerx/internal/cputime"
	"valuerx/internal/rawjson"
)

var bundleSeeds = []string{
	`{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":"u","resource":{"resourceType":"MedicationRequest","id":"a","status":"active","authoredOn":"2025-01-01","medicationCodeableConcept":{"coding":[{"system":"s","code":"c","display":"d"},null],"text":"t"}}}]}`,
	`{"resourceType":"Bundle","link":[{"relation":"self","url":"x"},{"relation":"next","url":"y"},{"relation":"next","url":"z"}],"entry":[null,{"resource":null},{"search":{"mode":"outcome"},"resource":{"resourceType":"OperationOutcome"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome","id":"o"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","medicationReference":{"reference":"Medication/m"}}},{"resource":{"resourceType":"X","note":"a\"medicationReference"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","ID":"a"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"a","id":"b"}}]}`,
	`{"resourceType":"Bundle","Entry":[]}`, `{"resourceType":"Bundle","entry":null,"link":null,"type":null}`,
	`{"resourceType":"Bundl\u0065","entry":[]}`, `{"resourceType":"Patient","id":"p"}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"\u00e9\n","medicationCodeableConcept":{"coding":null}}},{"resource":{"id":"x"}},{"resource":{"resourceType":null}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","status":7}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","medicationCodeableConcept":{"coding":[{"code":1}]}}}]}`,
	`{"resourceType":"Bundle","entry":[{"request":{"method":"GET","url":"x"},"resource":{"resourceType":"A","contained":[{"medicationReference":1}]}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"A"}}],"entry":[]}`,
	` {"resourceType" : "Bundle" , "entry" : [ { "resource" : { "resourceType" : "A" , "x" : [ 1 , 2 ] } } ] } `,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"A"}},]}`, `{"resourceType":"Bundle","entry":[1]}`,
	`{"resourceType":"Bundle","entry":[{"resource":[]}]}`, `{"resourceType":"Bundle","link":[{"relation":"next","url":null}]}`,
}

// checkIndexed holds one Bundle an Indexer read to the walks it replaces: fhir.ScanValidBundle,
// ClassifyResources and bytes.Contains for a medication reference.
func checkIndexed(t *testing.T, v []byte, got Bundle) {
	t.Helper()
	res, next, scan, ok := fhir.ScanValidBundle(v)
	if !ok {
		t.Fatalf("indexed %q, which ScanValidBundle does not read", v)
	}
	if !bytes.Equal(got.Raw, v) {
		t.Fatalf("Raw %q, want %q", got.Raw, v)
	}
	if len(got.Resources) != len(res) || got.Resources == nil {
		t.Fatalf("%d resources (nil %v), ScanValidBundle %d", len(got.Resources), got.Resources == nil, len(res))
	}
	for j := range res {
		if !bytes.Equal(got.Resources[j], res[j]) || cap(got.Resources[j]) != len(got.Resources[j]) {
			t.Fatalf("resource %d %q, want %q", j, got.Resources[j], res[j])
		}
	}
	if got.Next != next || got.Entries != scan.Entries || got.OnlyOutcomes != scan.OnlyOutcomes {
		t.Fatalf("next %q entries %d outcomes %v, want %q %d %v", got.Next, got.Entries, got.OnlyOutcomes, next, scan.Entries, scan.OnlyOutcomes)
	}
	want := ClassifyResources(res)
	if len(want) == 0 {
		want = nil
	}
	gotC := got.Classified
	if len(gotC) == 0 {
		gotC = nil
	}
	if !reflect.DeepEqual(gotC, want) {
		t.Fatalf("classified %+v, ClassifyResources %+v", gotC, want)
	}
	any := false
	for j, r := range res {
		w := bytes.Contains(r, []byte(refNeedle))
		any = any || w
		if g := got.Refs != nil && got.Refs[j]; g != w {
			t.Fatalf("resource %d %q: reference %v, bytes.Contains %v", j, r, g, w)
		}
	}
	if !any && got.Refs != nil {
		t.Fatalf("Refs %v without a reference", got.Refs)
	}
}

// FuzzIndexerMatchesWalks: BundleAt validates as rawjson.ValidValueAt does, on any input, and
// what it indexes is what ScanValidBundle, ClassifyResources and bytes.Contains give; reading the
// value twice with one Indexer (two prefetch keys sharing its buffer) gives the same twice.
func FuzzIndexerMatchesWalks(f *testing.F) {
	for _, s := range bundleSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		i := rawjson.SkipSpace(data, 0)
		x := NewIndexer(len(data))
		end := x.BundleAt(data, i, 2)
		if want := rawjson.ValidValueAt(data, i, 2); end != want {
			t.Fatalf("BundleAt %d, ValidValueAt %d", end, want)
		}
		if end >= 0 {
			x.BundleAt(data, i, 2)
		}
		bs := x.Finish()
		if end < 0 {
			if len(bs) != 0 {
				t.Fatalf("indexed invalid JSON %q", data)
			}
			return
		}
		if len(bs) != 0 && len(bs) != 2 {
			t.Fatalf("%d Bundles indexed from two reads", len(bs))
		}
		for _, b := range bs {
			checkIndexed(t, data[i:end], b)
		}
	})
}

// TestIndexerSharesBuffer: Bundles read one after another, with values that are not indexed in
// between (their entries rolled back), each answer as the walks give it; a regular history is
// indexed.
func TestIndexerSharesBuffer(t *testing.T) {
	vals := append([]string(nil), bundleSeeds...)
	vals = append(vals, bundleSeeds...)
	var b strings.Builder
	starts := make([]int, len(vals))
	for k, v := range vals {
		b.WriteString(" ")
		starts[k] = b.Len()
		b.WriteString(v)
	}
	data := []byte(b.String())
	x := NewIndexer(len(data))
	var indexed []string
	for k, v := range vals {
		end := x.BundleAt(data, starts[k], 2)
		if want := rawjson.ValidValueAt(data, starts[k], 2); end != want {
			t.Fatalf("%s: BundleAt %d, ValidValueAt %d", v, end, want)
		}
		if end >= 0 {
			if _, _, _, ok := fhir.ScanValidBundle([]byte(v)); ok {
				indexed = append(indexed, v)
			}
		}
	}
	bs := x.Finish()
	n := 0
	for _, bun := range bs {
		for n < len(indexed) && indexed[n] != string(bun.Raw) {
			n++ // ScanValidBundle reads it, the Indexer left it to the fallback
		}
		if n == len(indexed) {
			t.Fatalf("indexed %q out of order", bun.Raw)
		}
		checkIndexed(t, bun.Raw, bun)
		n++
	}
	if len(bs) < 10 {
		t.Fatalf("only %d of the seeds indexed", len(bs))
	}
}

// historyBundle is a prefetch Bundle of n MedicationRequests shaped like the load harness's.
func historyBundle(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","total":500,"entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"fullUrl":"http://localhost:8080/fhir/MedicationRequest/hist-midcourse-herceptin-h1","resource":{"authoredOn":"2026-01-05","id":"hist-midcourse-herceptin-h1","intent":"order","medicationCodeableConcept":{"coding":[{"code":"1922509","display":"Trastuzumab 150 mg Vial [Herceptin]","system":"http://www.nlm.nih.gov/research/umls/rxnorm"},{"code":"J9355","system":"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"}],"text":"Herceptin"},"requester":{"reference":"Practitioner/dr-oncology"},"resourceType":"MedicationRequest","status":"active","subject":{"reference":"Patient/pat-aco"}}}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkIndexer is the one walk over a 500-entry history: validated, split, classified.
func BenchmarkIndexer(b *testing.B) {
	data := historyBundle(500)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	start, n := cputime.Now(), 0
	for b.Loop() {
		x := NewIndexer(len(data))
		if x.BundleAt(data, 0, 2) < 0 || len(x.Finish()) != 1 {
			b.Fatal("not indexed")
		}
		n++
	}
	b.ReportMetric(float64(cputime.Now()-start)/float64(n), "cpu-ns/op")
}
