package fhir

import (
	"bytes"
	"encoding/json"
	"testing"
)

var validBundleSeeds = []string{
	`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"s"},{"relation":"next","url":"x"},{"relation":"next","url":"y"}],"entry":[{"fullUrl":"u","resource":{"resourceType":"Patient","id":"p"}},{"resource":{"id":"no-type"}}]}`,
	`{"resourceType":"Bundle","entry":[{},{"resource":null},null,{"search":{"mode":"outcome"},"resource":{"resourceType":"OperationOutcome"}},{"search":{"mode":"match"},"request":{"method":"GET","url":"x"},"resource":{"resourceType":"Coverage"}}]}`,
	`{"resourceType":"Bundle","entry":"x"}`,
	`{"resourceType":"Bundle","entry":[1]}`,
	`{"resourceType":"Bundle","entry":[{"fullUrl":5,"resource":{"resourceType":"Patient"}}]}`,
	`{"resourceType":"Bundle","type":5,"entry":[{"fullUrl":5}]}`,
	`{"resourceType":"Bundle","link":[{"relation":"next","url":5}],"entry":[]}`,
	`{"resourceType":"Bundle","link":{"relation":"next"}}`,
	`{"resourceType":"Bundle","resourceType":null,"entry":[]}`,
	`{"resourceType":7,"resourceType":"Bundle"}`,
	`{"resourcetype":"Bundle","ENTRY":[{"Resource":{"resourceType":"Patient"}}],"Link":[null,{"RELATION":"next","URL":"n"}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"A"},"resource":{"resourceType":"B"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"A"}}],"entry":[{"resource":{"resourceType":"B"}}, {}]}`,
	`{"resourceType":"Bundle","entry":[{"search":{"mode":"outcome","mode":null},"resource":{"resourceType":"A"}}]}`,
	`{"resourceType":"Bundle","entry":[{"search":"x","resource":{"resourceType":"A"}}]}`,
	`{"resourceType":"Bundle","entry":[{"request":{"method":1},"resource":{"resourceType":"A"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":"str"},{"resource":[1]},{"resource":{"resourceType":"P","resourceType":5}}]}`,
	` {"resourceType" : "Bundle" , "entry" : [ { "resource" : { "resourceType" : "P" } } ] } `,
	`{"resource\u0054ype":"Bundle","entry":[{"resource":{"resourceType":"\u0050"}}]}`,
	`[]`, `null`, `"Bundle"`, `{}`, `{"resourceType":"Patient"}`,
}

// checkValidBundle holds ValidBundleResources to BundleResources on valid JSON.
func checkValidBundle(t *testing.T, raw []byte) {
	if !json.Valid(raw) {
		return
	}
	wantRes, wantNext, wantErr := BundleResources(raw)
	gotRes, gotNext, gotErr := ValidBundleResources(raw)
	if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
		t.Fatalf("%s: error %v, BundleResources %v", raw, gotErr, wantErr)
	}
	if gotNext != wantNext || len(gotRes) != len(wantRes) || (wantRes == nil) != (gotRes == nil) {
		t.Fatalf("%s: %d resources, next %q; BundleResources %d, %q", raw, len(gotRes), gotNext, len(wantRes), wantNext)
	}
	for i := range wantRes {
		if !bytes.Equal(gotRes[i], wantRes[i]) {
			t.Fatalf("%s: resource %d = %s, BundleResources %s", raw, i, gotRes[i], wantRes[i])
		}
	}
}

func TestValidBundleResources(t *testing.T) {
	for _, s := range validBundleSeeds {
		checkValidBundle(t, []byte(s))
	}
	// The regular case is read without encoding/json, sharing raw's memory.
	raw := []byte(validBundleSeeds[0])
	res, next, _, ok := bundleFast(raw)
	if !ok || next != "x" || len(res) != 1 || &res[0][0] != &raw[bytes.Index(raw, []byte(`{"resourceType":"Patient"`))] {
		t.Fatalf("fast path: %v %q %q", ok, next, res)
	}
}

func FuzzValidBundleResources(f *testing.F) {
	for _, s := range validBundleSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkValidBundle(t, raw)
	})
}
