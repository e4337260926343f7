package gateway

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"valuerx/demo"
	"valuerx/loadtest"
)

// TestResponseBytesFromTemplates: a response written from the card templates is byte for byte
// what encoding/json writes for it, for every demo request (cold and warm: the template is built
// on the miss and used on both) and for twenty drafts in one hook; and the templates are used.
func TestResponseBytesFromTemplates(t *testing.T) {
	e := newBenchEnv(t, false, 64)
	ctx := context.Background()
	bodies := map[string][]byte{}
	for _, name := range demo.Requests() {
		bodies[name] = e.request(t, name, true)
	}
	big, err := loadtest.SizedRequest(demo.Requests(), demo.Request, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	bodies["drafts-20"] = setJSON(t, big, "fhirServer", e.fhirURL)
	templated := 0
	for name, body := range bodies {
		svcID := ServiceOrderSign
		if strings.Contains(string(body), `"hook":"order-select"`) {
			svcID = ServiceOrderSelect
		}
		svc := e.gw.byID[svcID]
		if svc == nil {
			t.Fatalf("%s: no service %s", name, svcID)
		}
		for round := range 2 {
			resp, pre, err := e.gw.advise(ctx, svc, body)
			if err != nil {
				continue // requests the demo means to be refused (wrong hook, no coverage)
			}
			want, err := resp.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeResponse(resp, pre)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s round %d: template encoding differs\n got %s\nwant %s", name, round, got, want)
			}
			for _, p := range pre {
				if p != nil {
					templated++
				}
			}
		}
	}
	if templated < 40 {
		t.Errorf("only %d cards written from templates", templated)
	}
}
