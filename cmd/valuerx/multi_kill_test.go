package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"valuerx/cdshooks"
	"valuerx/demo"
	"valuerx/gateway"
	"valuerx/store"
	"valuerx/store/pgtest"
)

// Durable before acknowledged on PostgreSQL (issue 11 item 6), as TestKill9KeepsEverythingAcknowledged
// shows it for SQLite: a real `valuerx serve` on a real PostgreSQL, concurrent hooks and
// feedback with real JWTs, then SIGKILL mid-stream; afterwards the database holds the decision
// of every hook that got a 200 and every feedback item that got a 200. Two rounds on the same
// database, the second restarting on what the first left.
func TestKill9PostgresKeepsEverythingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and kills a real process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pg := pgtest.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	dsn, err := pg.CreateDatabase(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "client-key.pem")
	signer, err := newLoadSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	orderKey := filepath.Join(dir, "order.key")
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if err := os.WriteFile(orderKey, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(randomPassword()), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var cards, feedback []acked
	for round := 1; round <= 2; round++ {
		c, f := pgKillRound(t, exe, dir, keyFile, orderKey, string(hash), dsn, signer, round)
		if len(c) < 20 || len(f) < 5 {
			t.Fatalf("round %d: only %d hooks and %d feedback items acknowledged before the kill; too few to show anything", round, len(c), len(f))
		}
		cards, feedback = append(cards, c...), append(feedback, f...)
		checkDurablePG(t, dsn, cards, feedback, round)
	}
}

func pgKillRound(t *testing.T, exe, dir, keyFile, orderKey, hash, dsn string, signer *cdshooks.Signer, round int) (cards, feedback []acked) {
	t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	base := "http://" + listen
	cfgPath := filepath.Join(dir, fmt.Sprintf("kill-%d.yaml", round))
	writeMultiConfig(t, cfgPath, listen, base, keyFile, orderKey, hash)
	var logs syncBuffer
	cmd := exec.Command(exe, "-test.run=^TestLoadChildProcess$", "serve", "-config", cfgPath)
	cmd.Env = append(os.Environ(), "VALUERX_LOAD_CHILD=1", "VALUERX_TEST_PG_DSN="+dsn)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	waitHealthy(t, base, done, fmt.Sprintf("round %d", round), &logs)

	raw, _ := demo.Request("aco-herceptin-order-select")
	client := &http.Client{Timeout: 5 * time.Second}
	hookPath := "/cds-services/" + gateway.ServiceOrderSelect
	post := func(path string, body []byte) (int, []byte, error) {
		tok, err := signer.Mint(base+path, 5*time.Minute, nil)
		if err != nil {
			return 0, nil, err
		}
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
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
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				body := bytes.ReplaceAll(raw, []byte("draft-herceptin-pat-aco"), []byte(fmt.Sprintf("draft-pg-%d-%d-%d", round, w, i)))
				body = bytes.Replace(body, []byte(`"hookInstance":"`), []byte(fmt.Sprintf(`"hookInstance":"%08d-0000-4000-8000-%012d","x":"`, round*100+w, i)), 1)
				s, out, err := post(hookPath, body)
				if err != nil || s != http.StatusOK {
					continue
				}
				var resp cdshooks.Response
				if err := json.Unmarshal(out, &resp); err != nil || len(resp.Cards) == 0 {
					continue
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
	for range 3 {
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
				if s, _, err := post(hookPath+"/feedback", body); err == nil && s == http.StatusOK {
					mu.Lock()
					feedback = append(feedback, acked{card: card.UUID, outcome: item["outcome"].(string), stamp: stamp})
					mu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n, f := len(cards), len(feedback)
		mu.Unlock()
		if (n >= 100 && f >= 30) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("round %d: killed after %d acknowledged hooks and %d acknowledged feedback items", round, len(cards), len(feedback))
	return cards, feedback
}

// checkDurablePG looks in the database for every acknowledged write.
func checkDurablePG(t *testing.T, dsn string, cards, feedback []acked, round int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{MaxConns: 2})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	defer st.Close()
	for _, c := range cards {
		if _, err := st.Decision(ctx, c.card); err != nil {
			t.Errorf("round %d: hook answered 200 but its decision %s is missing: %v", round, c.card, err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stored := 0
	for _, f := range feedback {
		var k int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM feedback WHERE card_uuid = $1 AND outcome = $2`, f.card, f.outcome).Scan(&k); err != nil {
			t.Fatal(err)
		}
		if k != 1 {
			t.Errorf("round %d: feedback %s on %s answered 200 but stored %d times", round, f.outcome, f.card, k)
			continue
		}
		stored++
	}
	t.Logf("round %d: %d decisions and %d of %d feedback items acknowledged so far are in PostgreSQL", round, len(cards), stored, len(feedback))
}
