package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"valuerx/internal/rawjson"
)

// largePage is a searchset of n MedicationRequests, about 330 bytes an entry.
func largePage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"fullUrl":"http://x/MedicationRequest/m%d","resource":{"resourceType":"MedicationRequest","id":"m%d","status":"completed","intent":"order","subject":{"reference":"Patient/p1"},"authoredOn":"2019-01-01","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"197361","display":"Amlodipine 5 MG Oral Tablet"}],"text":"amlodipine"}},"search":{"mode":"match"}}`, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// padded puts v past largeBody, where validBody checks in steps: inside an array after 300 kB of
// whitespace, so the whole is valid exactly when "[" + v + "]" is.
func padded(v string) []byte {
	return []byte("[" + strings.Repeat(" ", largeBody+1) + v + "]")
}

// validBody's stepwise check accepts exactly what rawjson.Valid (json.Valid) accepts.
func TestValidBodySteps(t *testing.T) {
	page := string(largePage(2000))
	cases := []string{
		`{}`, `[]`, `null`, `1`, `"s"`, `{"a":1,"a":2}`, "\"\xff\"", `{"a":[1,2,{"b":[3,[4,[5,[6]]]]}]}`,
		`{"a":1,}`, `[1,2`, `{"a" 1}`, `1 2`, `[1]]`, `{"a":[}`, `tru`, `{"a":"\x"}`, `]`, `}`,
		page, page[:len(page)-1], page + "x", strings.Replace(page, `},{`, `}{`, 1), strings.Replace(page, `"id":"m7"`, `"id":m7`, 1),
	}
	for i, c := range cases {
		for _, raw := range [][]byte{[]byte(c), padded(c), []byte(strings.Repeat(" ", largeBody) + c)} {
			want := rawjson.Valid(raw)
			got := validBody(context.Background(), raw) == nil
			if got != want {
				t.Errorf("case %d (%d bytes): validBody %v, rawjson.Valid %v", i, len(raw), got, want)
			}
		}
	}
	if err := validBody(context.Background(), []byte(page)); err != nil {
		t.Fatalf("the large page: %v", err)
	}
}

func FuzzValidBodySteps(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}]}`, `[1,2`, `{"a":1}{}`, "\"\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := padded(s)
		if got, want := validBody(context.Background(), raw) == nil, rawjson.Valid(raw); got != want {
			t.Fatalf("validBody %v, rawjson.Valid %v for %q", got, want, s)
		}
	})
}

// A large page is split as ValidBundleResources splits it, and neither its check nor its split
// goes on once the context has ended.
func TestLargePageUnderContext(t *testing.T) {
	raw := largePage(4000)
	res, next, err := pageResources(context.Background(), raw)
	want, wantNext, _ := ValidBundleResources(raw)
	if err != nil || next != wantNext || len(res) != len(want) || !bytes.Equal(res[len(res)-1], want[len(want)-1]) {
		t.Fatalf("pageResources: %d resources, %v; want %d", len(res), err, len(want))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := validBody(ctx, raw); err != context.Canceled {
		t.Errorf("validBody after the end: %v", err)
	}
	if _, _, err := pageResources(ctx, raw); err != context.Canceled {
		t.Errorf("pageResources after the end: %v", err)
	}
	// A small body is one step, as before: split whatever the context says (its caller looked).
	if _, _, err := pageResources(ctx, largePage(3)); err != nil {
		t.Errorf("a small page: %v", err)
	}
}

// A large page that only encoding/json can split (a duplicate member name) is split by its rules,
// and the split does not hold its caller past the context's end: the decode, held here until the
// context has ended, would have kept pageResources waiting.
func TestLargeIrregularPageUnderContext(t *testing.T) {
	raw := largePage(2000)
	irregular := append([]byte(`{"entry":[],`), raw[1:]...) // a duplicate "entry": the last wins
	if _, _, _, ok := bundleFastUntil(irregular, nil); ok {
		t.Fatal("the stepwise split took the duplicate member: the test needs an irregular page")
	}
	res, _, err := pageResources(context.Background(), irregular)
	want, _, _ := BundleResources(irregular)
	if err != nil || len(res) != 2000 || len(want) != 2000 || !bytes.Equal(res[1999], want[1999]) {
		t.Fatalf("pageResources of the irregular page: %d resources, %v; want %d", len(res), err, len(want))
	}

	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	decodeIrregular = func(raw json.RawMessage) ([]json.RawMessage, string, error) {
		close(started)
		<-release
		return BundleResources(raw)
	}
	defer func() { decodeIrregular = BundleResources }()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	if res, _, err := pageResources(ctx, irregular); err != context.Canceled {
		t.Errorf("pageResources whose context ended during the decode: %d resources, %v; want context.Canceled", len(res), err)
	}
}

// Search of a page that arrives in full as the deadline passes gives the deadline's error, and
// the resources of the pages before it, instead of splitting the page after the deadline.
func TestSearchLargePageAtTheDeadline(t *testing.T) {
	page := largePage(20000)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		if r.URL.Query().Get("page") == "" {
			fmt.Fprintf(w, `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"%s/MedicationRequest?page=2"}],"entry":[{"resource":{"resourceType":"MedicationRequest","id":"first"}}]}`, srv.URL)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		_, _ = w.Write(page)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "", srv.Client(), true)
	if err != nil {
		t.Fatal(err)
	}
	// The context ends as soon as the large page is read: the split must not run on.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.HTTP = &http.Client{Transport: cancelAfterBody{base: srv.Client().Transport, min: len(page), cancel: cancel}}
	res, err := c.Search(ctx, "MedicationRequest?patient=p1")
	if err == nil {
		t.Fatalf("Search after its context ended: %d resources, no error", len(res))
	}
	var fe *Error
	if !errors.As(err, &fe) || fe.Code != "canceled" || !errors.Is(err, ErrUnavailable) {
		t.Errorf("error %v, want the context's (canceled)", err)
	}
	if len(res) != 1 {
		t.Errorf("%d resources, want the first page's 1", len(res))
	}
}

// cancelAfterBody calls cancel as a response body of at least min bytes reaches its end: the
// context ends after the page has arrived, before valuerx has checked and split it.
type cancelAfterBody struct {
	base   http.RoundTripper
	min    int
	cancel context.CancelFunc
}

func (c cancelAfterBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err == nil && resp.ContentLength >= int64(c.min) {
		resp.Body = &atEOF{ReadCloser: resp.Body, fn: c.cancel}
	}
	return resp, err
}

type atEOF struct {
	io.ReadCloser
	fn func()
}

func (a *atEOF) Read(p []byte) (int, error) {
	n, err := a.ReadCloser.Read(p)
	if err == io.EOF {
		a.fn()
	}
	return n, err
}
