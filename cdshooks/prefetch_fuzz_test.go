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
