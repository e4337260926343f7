package gateway

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
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
			resp, pre, err := e.gw.advise(ctx, svc, body, false)
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
				if p.tmpl != nil {
					templated++
				}
			}
		}
	}
	if templated < 40 {
		t.Errorf("only %d cards written from templates", templated)
	}
	// A card that no longer fits its template (a suggestion fewer than its holes) is written by
	// encoding/json, and what its render had written already is taken back.
	resp, pre, err := e.gw.advise(ctx, e.gw.byID[ServiceOrderSign], bodies["drafts-20"], false)
	if err != nil || len(resp.Cards) < 3 || pre[1].tmpl == nil {
		t.Fatalf("drafts-20: %v, %d cards", err, len(resp.Cards))
	}
	c := &resp.Cards[1]
	c.Suggestions = append(c.Suggestions[:0:0], c.Suggestions[:len(c.Suggestions)-1]...)
	want, err := resp.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := encodeResponse(resp, pre); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a card that does not fit its template: %v\n got %s\nwant %s", err, got, want)
	}
}

// readAllSized reads exactly what io.ReadAll reads, whatever Content-Length claims, and keeps
// the body limit's error.
func TestReadAllSized(t *testing.T) {
	body := strings.Repeat("x", 5000)
	for _, cl := range []int64{-1, 0, 1, 4999, 5000, 5001, 100000, maxSizedRead + 1} {
		got, err := readAllSized(strings.NewReader(body), cl)
		if err != nil || string(got) != body {
			t.Errorf("Content-Length %d: %d bytes, %v", cl, len(got), err)
		}
	}
	if got, _ := readAllSized(strings.NewReader(body), 5000); cap(got) != 5001 {
		t.Errorf("a body of its announced length took a buffer of %d bytes, want 5001", cap(got))
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 100)
	if _, err := readBody(r); err == nil || asGatewayError(err).Kind != KindTooLarge {
		t.Errorf("over the limit: %v, want too large", err)
	}
}
