package cdshooks

import (
	"encoding/json"
	"strings"
	"testing"
)

// prefetchOracle is PrefetchValue's classification as it was written first, with encoding/json:
// classifyPrefetch must give the same answer for every valid JSON object.
func prefetchOracle(raw []byte) PrefetchState {
	var res struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || strings.TrimSpace(res.ResourceType) == "" {
		return PrefetchAbsent
	}
	switch res.ResourceType {
	case "OperationOutcome":
		return PrefetchOutcome
	case "Bundle":
		if len(res.Entry) == 0 {
			return PrefetchPresent
		}
		for _, e := range res.Entry {
			if e.Resource.ResourceType != "OperationOutcome" {
				return PrefetchPresent
			}
		}
		return PrefetchOutcome
	}
	return PrefetchPresent
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

// draftOrdersOracle is cdsDraftOrdersFast as it was first written, with encoding/json.
func draftOrdersOracle(raw []byte) (map[string]bool, []string, bool) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Entry        []*struct {
			FullURL  string `json:"fullUrl"`
			Resource *struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &b) != nil || b.ResourceType != "Bundle" {
		return nil, nil, false
	}
	refs := make(map[string]bool, len(b.Entry))
	var fullURLs []string
	for _, e := range b.Entry {
		if e == nil {
			return nil, nil, false
		}
		if e.FullURL != "" {
			fullURLs = append(fullURLs, e.FullURL)
		}
		if e.Resource == nil {
			continue
		}
		if e.Resource.ResourceType == "" {
			return nil, nil, false
		}
		if e.Resource.ID != "" {
			refs[e.Resource.ResourceType+"/"+e.Resource.ID] = true
		}
	}
	return refs, fullURLs, true
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
