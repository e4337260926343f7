package fhir_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"

	"valuerx/fhir"
)

// The gateway's fallback when a hook arrives without prefetch: search the EHR with the request's
// token, following next links on the same server only.
func ExampleClient_Search() {
	srv := fhir.NewServer()
	for i := 1; i <= 5; i++ {
		_ = srv.Put(json.RawMessage(fmt.Sprintf(
			`{"resourceType":"MedicationRequest","id":"mr-%d","status":"active","intent":"order","subject":{"reference":"Patient/123"}}`, i)))
	}
	srv.RequireToken("short-lived-token")
	ts := httptest.NewServer(srv)
	defer ts.Close()

	c, err := fhir.NewClient(ts.URL, "short-lived-token", ts.Client(), true) // allowHTTP: loopback test only
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.Search(context.Background(), "MedicationRequest?patient=Patient/123&status=active&_count=2")
	fmt.Println(len(res), "resources in", srv.Requests(), "round trips, err:", err)

	_, err = c.Read(context.Background(), "Coverage", "absent")
	var fe *fhir.Error
	fmt.Println(errors.Is(err, fhir.ErrNotFound), errors.As(err, &fe) && fe.Status == 404, err)
	// Output:
	// 5 resources in 3 round trips, err: <nil>
	// true true fhir read Coverage: status 404 (not-found)
}

func ExampleNormalizeNDC() {
	for _, s := range []string{"0093-5056-10", "50242-132-01", "50242-0132-1", "00093505610", "0093505610"} {
		n, ok := fhir.NormalizeNDC(s)
		fmt.Printf("%-13s -> %q %v\n", s, n, ok)
	}
	// Output:
	// 0093-5056-10  -> "00093505610" true
	// 50242-132-01  -> "50242013201" true
	// 50242-0132-1  -> "50242013201" true
	// 00093505610   -> "00093505610" true
	// 0093505610    -> "" false
}

func ExampleSplitReference() {
	for _, ref := range []string{"Patient/123", "https://ehr.example/fhir/Patient/123/_history/4", "#med1", "urn:uuid:0b9a4e1c-6a8f-4f40-8d6e-3c2d1b0a0003"} {
		typ, id := fhir.SplitReference(ref)
		fmt.Printf("%q %q\n", typ, id)
	}
	// Output:
	// "Patient" "123"
	// "Patient" "123"
	// "" "#med1"
	// "" "urn:uuid:0b9a4e1c-6a8f-4f40-8d6e-3c2d1b0a0003"
}
