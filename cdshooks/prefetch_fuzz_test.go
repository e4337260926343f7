package cdshooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"valuerx/fhir"
	"valuerx/internal/medindex"
	"valuerx/internal/rawjson"
)

// The oracles are the encoding/json versions the rawjson walks replaced (kept as the fallback
// for objects with repeated members): for every valid JSON object the walks must agree.
var (
	prefetchOracle    = classifyPrefetchDecoded
	draftOrdersOracle = draftOrdersDecoded
)

// Repeated members are merged by encoding/json (a later null keeps the earlier value, a wrongly
// typed earlier one fails the decode, a second array decodes into the first's elements); the
// walks hand such objects to the decoders.
var repeatedMemberSeeds = []string{
	`{"resourceType":"Patient","resourceType":null}`,
	`{"resourceType":1,"resourceType":"Patient"}`,
	`{"resourceType":"Bundle","entry":5,"entry":[]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"},"resource":null}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}}],"entry":[{}]}`,
	`{"resourceType":"Bundle","resourceType":null}`,
	`{"resourceType":1,"resourceType":"Bundle"}`,
	`{"resourceType":"Bundle","entry":[{"fullUrl":"u","fullUrl":null}]}`,
	`{"resourceType":"Bundle","RESOURCETYPE":null,"entry":[{"resource":{"resourceType":"A","id":"1","id":null}}]}`,
}

func TestRepeatedMembersAsEncodingJSON(t *testing.T) {
	for _, s := range repeatedMemberSeeds {
		if got, want := classifyPrefetch([]byte(s)), prefetchOracle([]byte(s)); got != want {
			t.Errorf("classifyPrefetch(%s) = %v, encoding/json %v", s, got, want)
		}
		refs, urls, ok := cdsDraftOrdersFast([]byte(s))
		wrefs, wurls, wok := draftOrdersOracle([]byte(s))
		if ok != wok || fmt.Sprint(refs) != fmt.Sprint(wrefs) || fmt.Sprint(urls) != fmt.Sprint(wurls) {
			t.Errorf("cdsDraftOrdersFast(%s) = %v %v %q, encoding/json %v %v %q", s, ok, refs, urls, wok, wrefs, wurls)
		}
	}
}

func FuzzPrefetchClassify(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","id":"p"}`,
		`{"resourceType":"OperationOutcome","issue":[]}`,
		`{"resourceType":"Bundle","entry":[]}`,
		`{"resourceType":"Bundle","entry":null}`,
		`{"resourceType":"Bundle","entry":[null]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}},{"resource":{"resourceType":"Coverage"}}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Coverage"}},{"resource":7}]}`,
		`{"resourceType":"Bundle","entry":{"resource":{}}}`,
		`{"resourceType":"Bundle","ENTRY":[{"Resource":{"RESOURCETYPE":"OperationOutcome"}}]}`,
		`{"resourceType":" ","id":1}`, `{"resourceType":null}`, `{"resourceType":1}`, `{"id":"x"}`,
		`{"resource\u0054ype":"Bundle","entry":[{"resource":null}]}`,
	} {
		f.Add([]byte(s))
	}
	for _, s := range repeatedMemberSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) || !strings.HasPrefix(strings.TrimLeft(string(data), " \t\r\n"), "{") {
			return
		}
		if got, want := classifyPrefetch(data), prefetchOracle(data); got != want {
			t.Fatalf("classifyPrefetch(%s) = %v, encoding/json gives %v", data, got, want)
		}
		// Through the public API, validated or not, the answer is the same.
		r := &Request{Prefetch: map[string]json.RawMessage{"k": data}}
		if st, _ := r.PrefetchValue("k"); st != prefetchOracle(data) {
			t.Fatalf("PrefetchValue(%s) = %v", data, st)
		}
	})
}

func FuzzDraftOrdersOracle(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"a"}}]}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"MedicationRequest"}}]}`,
		`{"resourceType":"Bundle","entry":[null]}`, `{"resourceType":"Bundle","entry":[{"resource":null}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"id":"x"}}]}`, `{"resourceType":"Bundle"}`,
		`{"resourceType":"Bundle","entry":[{"fullUrl":1}]}`, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"A","id":2}}]}`,
		`{"RESOURCETYPE":"Bundle","Entry":[{"RESOURCE":{"resourcetype":"MedicationRequest","ID":"z"}}]}`,
		`{"resourceType":"Patient"}`, `{"resourceType":"Bundle","entry":{}}`,
	} {
		f.Add([]byte(s))
	}
	for _, s := range repeatedMemberSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) || !strings.HasPrefix(strings.TrimLeft(string(data), " \t\r\n"), "{") {
			return
		}
		refs, urls, ok := cdsDraftOrdersFast(data)
		wrefs, wurls, wok := draftOrdersOracle(data)
		if ok != wok {
			t.Fatalf("cdsDraftOrdersFast(%s) ok=%v, encoding/json %v", data, ok, wok)
		}
		if !ok {
			return
		}
		if len(refs) != len(wrefs) || len(urls) != len(wurls) {
			t.Fatalf("cdsDraftOrdersFast(%s) = %v %q, want %v %q", data, refs, urls, wrefs, wurls)
		}
		for k := range wrefs {
			if !refs[k] {
				t.Fatalf("cdsDraftOrdersFast(%s): missing ref %q", data, k)
			}
		}
		for i := range wurls {
			if urls[i] != wurls[i] {
				t.Fatalf("cdsDraftOrdersFast(%s): fullUrl %d = %q, want %q", data, i, urls[i], wurls[i])
			}
		}
	})
}

// checkPrefetchResources holds PrefetchResources (one walk for a regular Bundle) to
// PrefetchValue and fhir.ValidBundleResources called one after the other.
func checkPrefetchResources(t *testing.T, data []byte) {
	if !json.Valid(data) {
		return
	}
	r := &Request{Prefetch: map[string]json.RawMessage{"k": data}, validJSON: true}
	st, raw, res, next, err := r.PrefetchResources("k")
	wst, wraw := r.PrefetchValue("k")
	if st != wst || string(raw) != string(wraw) {
		t.Fatalf("PrefetchResources(%s) = %v, PrefetchValue %v", data, st, wst)
	}
	if st != PrefetchPresent {
		if res != nil || next != "" || err != nil {
			t.Fatalf("PrefetchResources(%s): %v with resources", data, st)
		}
		return
	}
	wres, wnext, werr := fhir.ValidBundleResources(wraw)
	if (err == nil) != (werr == nil) || next != wnext || len(res) != len(wres) {
		t.Fatalf("PrefetchResources(%s) = %d, %q, %v; ValidBundleResources %d, %q, %v", data, len(res), next, err, len(wres), wnext, werr)
	}
	for i := range res {
		if string(res[i]) != string(wres[i]) {
			t.Fatalf("PrefetchResources(%s)[%d] = %s, want %s", data, i, res[i], wres[i])
		}
	}
	checkIndexedPrefetch(t, data)
}

// checkIndexedPrefetch: a value read as DecodeRequest reads it (medindex.Indexer, as the body is
// validated) gets the same answers from PrefetchResources, and PrefetchClassified's entries are
// ClassifyResources' of its resources.
func checkIndexedPrefetch(t *testing.T, data []byte) {
	i := rawjson.SkipSpace(data, 0)
	x := medindex.NewIndexer(len(data))
	end := x.BundleAt(data, i, 2)
	if end < 0 {
		t.Fatalf("Indexer refuses valid %q", data)
	}
	v := data[i:end:end]
	r := &Request{Prefetch: map[string]json.RawMessage{"k": v}, validJSON: true}
	ri := &Request{Prefetch: map[string]json.RawMessage{"k": v}, validJSON: true, index: x.Finish()}
	st, raw, res, next, err := r.PrefetchResources("k")
	ist, iraw, ires, inext, ierr := ri.PrefetchResources("k")
	if st != ist || string(raw) != string(iraw) || next != inext || (err == nil) != (ierr == nil) || len(res) != len(ires) || (res == nil) != (ires == nil) {
		t.Fatalf("indexed PrefetchResources(%s) = %v %d %q %v, unindexed %v %d %q %v", v, ist, len(ires), inext, ierr, st, len(res), next, err)
	}
	for k := range res {
		if string(res[k]) != string(ires[k]) {
			t.Fatalf("indexed PrefetchResources(%s)[%d] = %s, want %s", v, k, ires[k], res[k])
		}
	}
	entries, refs, ok := ri.PrefetchClassified("k")
	if !ok {
		if _, _, ok := r.PrefetchClassified("k"); ok {
			t.Fatal("classified without an index")
		}
		return
	}
	if st != PrefetchPresent || err != nil {
		t.Fatalf("classified a value PrefetchResources reads as %v, %v", st, err)
	}
	want := medindex.ClassifyResources(res)
	if len(entries) != len(want) || (len(want) > 0 && !reflect.DeepEqual(entries, want)) {
		t.Fatalf("PrefetchClassified(%s) = %+v, ClassifyResources %+v", v, entries, want)
	}
	for k := range res {
		if w := bytes.Contains(res[k], []byte(`"medicationReference"`)); w != (refs != nil && refs[k]) {
			t.Fatalf("PrefetchClassified(%s): reference %d %v, bytes.Contains %v", v, k, !w, w)
		}
	}
}

func FuzzPrefetchResources(f *testing.F) {
	for _, s := range append([]string{
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"}}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"},"search":{"mode":"outcome"}},{"resource":{"resourceType":"Coverage"}}]}`,
		`{"resourceType":"Bundle","entry":[null,{"resource":{"resourceType":"OperationOutcome"}}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":7}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":5}}]}`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"A","resourceType":"OperationOutcome"}}]}`,
		`{"resourceType":"Bundle","link":[{"relation":"next","url":"n"}],"entry":[{"fullUrl":"u","resource":{"resourceType":"MedicationRequest"}}]}`,
		`{"resourceType":"Bundle"}`, `{"resourceType":"Bundle","entry":[]}`, `{"resourceType":"Coverage"}`, `null`, `[]`,
		`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":"h1","status":"active","medicationCodeableConcept":{"coding":[{"system":"s","code":"c"}]}}},{"resource":{"resourceType":"MedicationRequest","medicationReference":{"reference":"Medication/m"}}}]}`,
	}, repeatedMemberSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(checkPrefetchResources)
}
