package gateway

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/store"
)

// Replay protection lives in the store (issue 11 item 6): a token accepted by one instance is
// refused by a second instance that shares the store, and by the first after a restart (the
// in-memory cache is gone, the store's claim is not).
func TestReplayRefusedAcrossInstancesAndRestart(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "shared.db")
	open := func() *store.SQLite {
		st, err := store.OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	instance := func(st *store.SQLite) *Gateway {
		v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{Clients: []cdshooks.TrustedClient{e.signer.TrustedClient()}, ReplayStore: st})
		if err != nil {
			t.Fatal(err)
		}
		cfg := e.gw.cfg
		cfg.Store, cfg.Verifier = st, v
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	sendTo := func(g *Gateway, tok string) int {
		t.Helper()
		e.srv.Config.Handler = g
		s, _, _ := e.do(http.MethodPost, serviceOf("order-select"), e.demoRequest("aco-herceptin-order-select"), map[string]string{"Authorization": "Bearer " + tok})
		return s
	}
	st1, st2 := open(), open()
	one, two := instance(st1), instance(st2)
	tok, err := e.signer.Mint(e.srv.URL+serviceOf("order-select"), 5*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := sendTo(one, tok); s != 200 {
		t.Fatalf("first use: %d", s)
	}
	if s := sendTo(two, tok); s != 401 {
		t.Fatalf("the same token at a second instance sharing the store: %d, want 401", s)
	}
	one.Close()
	two.Close()
	st1.Close()
	st2.Close()
	st3 := open()
	defer st3.Close()
	three := instance(st3)
	defer three.Close()
	if s := sendTo(three, tok); s != 401 {
		t.Fatalf("the same token after a restart: %d, want 401", s)
	}
	fresh, _ := e.signer.Mint(e.srv.URL+serviceOf("order-select"), 5*time.Minute, nil)
	if s := sendTo(three, fresh); s != 200 {
		t.Fatalf("a new token after the restart: %d", s)
	}
}

// replayPair is two gateway instances on one SQLite file, each with its own store handle (as two
// processes on one file would have), each behind its own loopback listener, both answering for
// the same external URL (as behind one proxy). Hooks there write their jti claim with their
// decisions (authenticateHook), so these tests drive that path.
type replayPair struct {
	e    *testEnv
	path string
	urls [2]string
	gws  [2]*Gateway
}

func newReplayPair(t *testing.T) *replayPair {
	e := newEnv(t)
	p := &replayPair{e: e, path: filepath.Join(t.TempDir(), "shared.db")}
	for i := range 2 {
		st, err := store.OpenSQLite(p.path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		v, err := cdshooks.NewVerifier(cdshooks.VerifierConfig{Clients: []cdshooks.TrustedClient{e.signer.TrustedClient()}, ReplayStore: st})
		if err != nil {
			t.Fatal(err)
		}
		cfg := e.gw.cfg
		cfg.Store, cfg.Verifier = st, v
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		if !g.deferJTI {
			t.Fatal("the instance does not write jti claims with its decisions: this test would not test that path")
		}
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		p.urls[i], p.gws[i] = srv.URL, g
	}
	return p
}

func (p *replayPair) send(i int, path string, body []byte, tok string) int {
	p.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.urls[i]+path, bytes.NewReader(body))
	if err != nil {
		p.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.e.t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// decisions counts the decision rows in the shared file (read directly: the store's reports
// merge an order's decisions into one record).
func (p *replayPair) decisions() int {
	p.e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+p.path+"?_pragma=query_only(1)")
	if err != nil {
		p.e.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM decisions`).Scan(&n); err != nil {
		p.e.t.Fatal(err)
	}
	return n
}

func (p *replayPair) mint(path string) string {
	p.e.t.Helper()
	tok, err := p.e.signer.Mint(p.e.srv.URL+path, 5*time.Minute, nil)
	if err != nil {
		p.e.t.Fatal(err)
	}
	return tok
}

// A token replayed to the second instance is refused when the store finds its claim, which the
// first instance wrote in the same commit as its decisions; the replayed hook records nothing
// (its decisions were in the transaction the claim failed).
func TestReplayAcrossInstancesRecordsNothing(t *testing.T) {
	p := newReplayPair(t)
	path := serviceOf("order-select")
	body := p.e.demoRequest("aco-herceptin-order-select")
	tok := p.mint(path)
	if s := p.send(0, path, body, tok); s != 200 {
		t.Fatalf("first use: %d", s)
	}
	n := p.decisions()
	if n == 0 {
		t.Fatal("the hook recorded no decision: the claim was not written with decisions")
	}
	if s := p.send(1, path, body, tok); s != 401 {
		t.Fatalf("the same token at the second instance: %d, want 401", s)
	}
	if s := p.send(0, path, body, tok); s != 401 {
		t.Fatalf("the same token at the first instance again: %d, want 401", s)
	}
	if got := p.decisions(); got != n {
		t.Fatalf("decisions after two replays: %d, want still %d", got, n)
	}
	if s := p.send(1, path, body, p.mint(path)); s != 200 {
		t.Fatalf("a fresh token at the second instance: %d", s)
	}
	if got := p.decisions(); got != 2*n {
		t.Fatalf("decisions after a fresh token: %d, want %d", got, 2*n)
	}
}

// The same token sent to both instances at the same instant, eight times over: neither instance
// has seen it, both run the hook, and the shared store lets exactly one commit: one 200 and one
// 401 each time, and only the winner's decisions are recorded. Without prefetch too, where both
// instances' early replay checks (fhirguard.go) may find the jti unclaimed and fetch: the commit
// still decides.
func TestReplayAtOnceToTwoInstances(t *testing.T) {
	for _, prefetch := range []bool{true, false} {
		t.Run(map[bool]string{true: "prefetch", false: "no-prefetch"}[prefetch], func(t *testing.T) {
			p := newReplayPair(t)
			body := p.e.demoRequest("aco-herceptin-order-select")
			if !prefetch {
				body = setJSON(t, body, "prefetch", nil)
			}
			replayAtOnce(t, p, body)
		})
	}
}

func replayAtOnce(t *testing.T, p *replayPair, body []byte) {
	path := serviceOf("order-select")
	if s := p.send(0, path, body, p.mint(path)); s != 200 {
		t.Fatalf("warm-up: %d", s)
	}
	per := p.decisions()
	const rounds = 8
	for r := range rounds {
		tok := p.mint(path)
		var wg sync.WaitGroup
		var statuses [2]int
		start := make(chan struct{})
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				statuses[i] = p.send(i, path, body, tok)
			}()
		}
		close(start)
		wg.Wait()
		if ok, refused := count(statuses[:], 200), count(statuses[:], 401); ok != 1 || refused != 1 {
			t.Fatalf("round %d: statuses %v, want one 200 and one 401", r, statuses)
		}
	}
	if got := p.decisions(); got != per*(rounds+1) {
		t.Fatalf("decisions: %d, want %d (the warm-up and one hook per round, %d each)", got, per*(rounds+1), per)
	}
}

func count(xs []int, x int) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// Hooks that record nothing claim their jti on their own: a hook with no tracked order (200, no
// decision) and a hook refused with 400 both spend their token, at the other instance too.
func TestReplayOfHooksThatRecordNothing(t *testing.T) {
	p := newReplayPair(t)
	path := serviceOf("order-select")
	body := p.e.demoRequest("aco-herceptin-order-select")
	// The same hook with the draft's codes replaced by an unknown product: no tracked family, so
	// nothing is recorded.
	signPath := path
	unfocused := bytes.ReplaceAll(bytes.ReplaceAll(body, []byte(`"1922509"`), []byte(`"0000000"`)), []byte(`"J9355"`), []byte(`"J0000"`))
	unfocused = bytes.ReplaceAll(unfocused, []byte("Herceptin"), []byte("Unknown"))
	unfocused = bytes.ReplaceAll(unfocused, []byte("trastuzumab"), []byte("unknown"))
	unfocused = bytes.ReplaceAll(unfocused, []byte("Trastuzumab"), []byte("Unknown"))
	tok := p.mint(signPath)
	if s := p.send(0, signPath, unfocused, tok); s != 200 {
		t.Fatalf("a hook with no tracked order: %d", s)
	}
	if n := p.decisions(); n != 0 {
		t.Fatalf("the hook with no tracked order recorded %d decisions, want 0", n)
	}
	if s := p.send(1, signPath, unfocused, tok); s != 401 {
		t.Fatalf("its token at the other instance: %d, want 401", s)
	}
	tok = p.mint(path)
	if s := p.send(0, path, []byte("not json"), tok); s != 400 {
		t.Fatalf("an invalid hook: %d, want 400", s)
	}
	if s := p.send(1, path, body, tok); s != 401 {
		t.Fatalf("the invalid hook's token at the other instance: %d, want 401", s)
	}
	if n := p.decisions(); n != 0 {
		t.Fatalf("decisions: %d, want 0 (both replays refused)", n)
	}
}

// A token replayed to the second instance is refused before any FHIR work (issue 11 review, gap
// 4): the early replay check reads the shared jti record before the hook's first FHIR request,
// so the replay makes no request at all to the FHIR server (before, it fetched everything and was
// refused at its commit), and gets the same 401 as any replay. Both ways a hook reaches the FHIR
// server are covered: the prefetch keys' searches (no prefetch), and a read the hook's loop makes
// itself (a fully prefetched hook whose draft references its Medication).
func TestReplayOnSecondInstanceFetchesNothing(t *testing.T) {
	p := newReplayPair(t)
	if err := p.e.fhirSrv.Put(json.RawMessage(`{"resourceType":"Medication","id":"med-herceptin-150","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1922509"}]}}`)); err != nil {
		t.Fatal(err)
	}
	srv := newCountingFHIR(t, p.e.fhirSrv.ServeHTTP)
	path := serviceOf("order-select")
	full := setJSON(t, p.e.demoRequest("aco-herceptin-order-select"), "fhirServer", srv.url)
	for name, body := range map[string][]byte{
		"no-prefetch":          setJSON(t, full, "prefetch", nil),
		"medication-reference": withMedicationReference(t, full, "Medication/med-herceptin-150"),
	} {
		t.Run(name, func(t *testing.T) {
			tok := p.mint(path)
			before := len(srv.requests())
			if s := p.send(0, path, body, tok); s != 200 {
				t.Fatalf("first use: %d", s)
			}
			used := len(srv.requests())
			if used == before {
				t.Fatal("the first use made no FHIR request: this test would not test the early check")
			}
			decisions := p.decisions()
			if s := p.send(1, path, body, tok); s != 401 {
				t.Fatalf("the same token at the second instance: %d, want 401", s)
			}
			if got := srv.requests(); len(got) != used {
				t.Fatalf("the replay made %d FHIR requests %v, want none", len(got)-used, got[used:])
			}
			if got := p.decisions(); got != decisions {
				t.Fatalf("decisions after the replay: %d, want still %d", got, decisions)
			}
			// A fresh token at the second instance fetches as usual.
			if s := p.send(1, path, body, p.mint(path)); s != 200 || len(srv.requests()) == used {
				t.Fatalf("a fresh token at the second instance: %d, %d requests", s, len(srv.requests())-used)
			}
		})
	}
}
