package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"valuerx/cdshooks"
	"valuerx/demo"
	"valuerx/gateway"
	"valuerx/store"
)

// Durable before acknowledged (issue 11 item 6), against the real thing: `valuerx serve` as its
// own process (this test binary re-executed as the valuerx command, exactly as TestLoadSmoke
// runs it), a real SQLite file, concurrent hooks and feedback over loopback with real ES384
// JWTs, then SIGKILL mid-stream. Afterwards the file must hold the decision of every hook that
// got a 200 and every feedback item that got a 200. Three rounds on the same file, so each round
// also restarts on what the kill left behind.
func TestKill9KeepsEverythingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "client-key.pem")
	signer, err := newLoadSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "valuerx.db")
	var allCards, allFeedback []acked
	for round := 1; round <= 3; round++ {
		cards, feedback := killRound(t, exe, dir, keyFile, dbPath, signer, round)
		if len(cards) < 20 || len(feedback) < 5 {
			t.Fatalf("round %d: only %d hooks and %d feedback items were acknowledged before the kill; too few to show anything", round, len(cards), len(feedback))
		}
		allCards, allFeedback = append(allCards, cards...), append(allFeedback, feedback...)
		checkDurable(t, dbPath, allCards, allFeedback, round)
	}
}

// acked is one acknowledged write: a card (feedback "") or a feedback item on it.
type acked struct{ card, outcome, stamp string }

func killRound(t *testing.T, exe, dir, keyFile, dbPath string, signer *cdshooks.Signer, round int) (cards, feedback []acked) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	base := "http://" + listen
	cfgPath := filepath.Join(dir, fmt.Sprintf("valuerx-%d.yaml", round))
	hash, err := bcrypt.GenerateFromPassword([]byte(randomPassword()), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeLoadConfig(cfgPath, listen, base, keyFile, dbPath, "", 0, 512, string(hash)); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(exe, "-test.run=^TestLoadChildProcess$", "serve", "-config", cfgPath)
	cmd.Env = append(os.Environ(), "VALUERX_LOAD_CHILD=1")
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	client := &http.Client{Timeout: 5 * time.Second}
	ready := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(ready) {
			t.Fatalf("round %d: valuerx did not start: %v\n%s", round, err, stderr.String()+"\n"+fmt.Sprint(cmd.ProcessState))
		}
		time.Sleep(50 * time.Millisecond)
	}

	raw, _ := demo.Request("aco-herceptin-order-select")
	var req map[string]any
	_ = json.Unmarshal(raw, &req)
	req["fhirServer"] = base + "/fhir"
	reqBody, _ := json.Marshal(req)
	hookPath := "/cds-services/" + gateway.ServiceOrderSelect
	post := func(path string, body []byte) (int, []byte, error) {
		tok, err := signer.Mint(base+path, 5*time.Minute, nil)
		if err != nil {
			return 0, nil, err
		}
		hr, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		hr.Header.Set("Authorization", "Bearer "+tok)
		hr.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(hr)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		return resp.StatusCode, out, err
	}

	var mu sync.Mutex
	var stop atomic.Bool
	toFeedback := make(chan cdshooks.Card, 1024)
	var wg sync.WaitGroup
	for w := range 8 { // hooks
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				// A new draft order each time: an overridden order would (rightly) get no card again.
				body := bytes.ReplaceAll(reqBody, []byte("draft-herceptin-pat-aco"), []byte(fmt.Sprintf("draft-%d-%d-%d", round, w, i)))
				body = bytes.Replace(body, []byte(`"hookInstance":"`), []byte(fmt.Sprintf(`"hookInstance":"%08d-0000-4000-8000-%012d","x":"`, round*100+w, i)), 1)
				s, out, err := post(hookPath, body)
				if err != nil || s != 200 {
					continue // the process is gone, or this one was not acknowledged
				}
				var resp cdshooks.Response
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Errorf("a 200 that is not a response: %.200s", out)
					return
				}
				if len(resp.Cards) == 0 {
					continue // the hook's budget ran out on this busy machine: no card, nothing to record
				}
				mu.Lock()
				cards = append(cards, acked{card: resp.Cards[0].UUID})
				mu.Unlock()
				select {
				case toFeedback <- resp.Cards[0]:
				default:
				}
			}
		}()
	}
	for range 4 { // feedback on the acknowledged cards, half accepted, half overridden
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				var card cdshooks.Card
				select {
				case card = <-toFeedback:
				case <-time.After(50 * time.Millisecond):
					continue
				}
				stamp := time.Now().UTC().Format(time.RFC3339Nano)
				item := map[string]any{"card": card.UUID, "outcome": "overridden", "outcomeTimestamp": stamp,
					"overrideReason": map[string]any{"reason": map[string]any{"code": "patient-declines"}}}
				if i%2 == 0 {
					item = map[string]any{"card": card.UUID, "outcome": "accepted", "outcomeTimestamp": stamp,
						"acceptedSuggestions": []any{map[string]any{"id": card.Suggestions[0].UUID}}}
				}
				body, _ := json.Marshal(map[string]any{"feedback": []any{item}})
				if s, _, err := post(hookPath+"/feedback", body); err == nil && s == 200 {
					mu.Lock()
					feedback = append(feedback, acked{card: card.UUID, outcome: item["outcome"].(string), stamp: stamp})
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once the stream is well under way, with requests in flight.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n, f := len(cards), len(feedback)
		mu.Unlock()
		if (n >= 150 && f >= 40) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("round %d: killed after %d acknowledged hooks and %d acknowledged feedback items", round, len(cards), len(feedback))
	return cards, feedback
}

// checkDurable opens the file the killed process left and looks for every acknowledged write.
func checkDurable(t *testing.T, dbPath string, cards, feedback []acked, round int) {
	t.Helper()
	st, err := store.OpenSQLite(dbPath)
	if err != nil {
		t.Fatalf("round %d: reopening the killed process's store: %v", round, err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, c := range cards {
		if _, err := st.Decision(ctx, c.card); err != nil {
			t.Errorf("round %d: hook answered 200 but its decision %s is missing: %v", round, c.card, err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, f := range feedback {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM feedback WHERE card_uuid = ? AND outcome = ?`, f.card, f.outcome).Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("round %d: feedback %s on %s answered 200 but stored %d times: %v", round, f.outcome, f.card, n, err)
		}
	}
	t.Logf("round %d: all %d decisions and %d feedback items acknowledged so far are in the file", round, len(cards), len(feedback))
}
