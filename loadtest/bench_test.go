package loadtest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"valuerx/demo"
	"valuerx/internal/cputime"
)

// BenchmarkFloor is the floor's per-request server work in process (verify a fresh ES384 token,
// decode the request, encode a response of a given size), the yardstick for gateway's
// BenchmarkHook. Tokens are minted before the timer starts.
func BenchmarkFloor(b *testing.B) {
	s := testSigner(b)
	const base = "http://floor.bench"
	f, err := NewFloor(FloorConfig{ExternalURL: base, Issuer: s.Issuer, Key: s.Key.Public()})
	if err != nil {
		b.Fatal(err)
	}
	body, _ := demo.Request("aco-herceptin-2024-order-sign")
	path := "/cds-services/valuerx-order-sign"
	tokens := make([]string, b.N)
	for i := range tokens {
		tok, err := s.Mint(base+path, 5*time.Minute, nil)
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = tok
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := cputime.Now()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[i])
		req.Header.Set(ResponseSizeHeader, strconv.Itoa(7000))
		w := httptest.NewRecorder()
		f.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cputime.Now()-start)/float64(b.N), "cpu-ns/op")
}
