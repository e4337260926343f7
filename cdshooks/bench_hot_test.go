package cdshooks

import (
	"context"
	"crypto/ecdsa"
	"testing"
	"time"
)

// Hot-path benchmarks of issue 6 for the two things every conformant CDS service pays per
// request, valuerx and the load harness's floor alike: decoding the request and verifying the
// client's ES384 JWT (replay-reject, a fresh token each time, as EHRs send them). Minting is the
// client's cost and is measured apart.

const benchAud = "https://cds.example.org/cds-services/valuerx-order-sign"

func benchSigner(tb testing.TB) (*Signer, *Verifier) {
	tb.Helper()
	key, err := GenerateES384()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := NewSigner(key, "https://ehr.bench", "")
	if err != nil {
		tb.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Clients: []TrustedClient{s.TrustedClient()}, Replay: ReplayReject})
	if err != nil {
		tb.Fatal(err)
	}
	return s, v
}

// BenchmarkVerifyFreshES384 verifies a new token per iteration with replay protection on (the
// tokens are minted before the timer starts).
func BenchmarkVerifyFreshES384(b *testing.B) {
	s, v := benchSigner(b)
	tokens := make([]string, b.N)
	for i := range tokens {
		tok, err := s.Mint(benchAud, 5*time.Minute, nil)
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = tok
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, tokens[i], benchAud); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMintES384 is the client's cost of a fresh token (the load harness pays it outside
// the timed request).
func BenchmarkMintES384(b *testing.B) {
	s, _ := benchSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Mint(benchAud, 5*time.Minute, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeOrderSign decodes a full order-sign request with prefetch (Da Vinci CRD's
// example) for the service's hook.
func BenchmarkDecodeOrderSign(b *testing.B) {
	body := exampleFile(b, "order-sign-request__HL7-davinci-crd__CRDServiceRequest.json")
	if _, _, err := DecodeRequest(body, HookOrderSign); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeRequest(body, HookOrderSign); err != nil {
			b.Fatal(err)
		}
	}
}

// Allocation budgets: decoding must not grow with a per-member copy of the body, and verifying
// a token must stay a handful of small allocations around the signature check.
const (
	decodeOrderSignAllocBudget = 150
	verifyAllocBudget          = 150
)

func TestHotPathAllocBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation budgets need a quiet runtime")
	}
	body := exampleFile(t, "order-sign-request__HL7-davinci-crd__CRDServiceRequest.json")
	dec := testing.AllocsPerRun(50, func() {
		if _, _, err := DecodeRequest(body, HookOrderSign); err != nil {
			t.Fatal(err)
		}
	})
	s, v := benchSigner(t)
	tokens := make([]string, 60)
	for i := range tokens {
		tok, err := s.Mint(benchAud, 5*time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
	}
	n := 1
	ctx := context.Background()
	// The key's first valid signature builds its comb table in the background (jwt_es384.go):
	// wait for it, so the count is the steady state's and not the build's.
	if _, err := v.Verify(ctx, tokens[0], benchAud); err != nil {
		t.Fatal(err)
	}
	enc, err := s.Key.Public().(*ecdsa.PublicKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	waitForTable(t, string(enc))
	ver := testing.AllocsPerRun(50, func() {
		if _, err := v.Verify(ctx, tokens[n], benchAud); err != nil {
			t.Fatal(err)
		}
		n++
	})
	t.Logf("DecodeRequest(order-sign): %.0f allocs; Verify: %.0f allocs", dec, ver)
	if dec > decodeOrderSignAllocBudget {
		t.Errorf("DecodeRequest: %.0f allocations, budget %d", dec, decodeOrderSignAllocBudget)
	}
	if ver > verifyAllocBudget {
		t.Errorf("Verify: %.0f allocations, budget %d", ver, verifyAllocBudget)
	}
}
