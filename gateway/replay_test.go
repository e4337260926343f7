package gateway

import (
	"net/http"
	"path/filepath"
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
