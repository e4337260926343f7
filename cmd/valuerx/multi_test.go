package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"valuerx/cdshooks"
	"valuerx/demo"
	"valuerx/gateway"
	"valuerx/store/pgtest"
	"valuerx/tracking"
)

// Two gateway instances behind one reverse proxy, sharing one PostgreSQL database and one order
// key (issue 16, "What it must show"; issue 11 item 6): hooks and feedback spread over both end
// up in one correct record, and a client JWT accepted by one instance is refused by the other.
//
// Everything is real: two `valuerx serve` processes (this test binary re-executed as valuerx, as
// the kill -9 and load smoke tests run it), a throwaway PostgreSQL server (store/pgtest), Debian's
// nginx as the reverse proxy (round robin over the two), ES384 client JWTs, analyst basic auth.
// Each hook and feedback request goes through nginx, which logs the instance that answered it.
//
// Five draft orders of the ACO patient (Herceptin ordered; the card offers Trazimera, Ontruzant
// and Hercessi with the figures of gateway/testdata/golden/aco-herceptin-order-select), each
// seen at order-select and then order-sign, every request through nginx:
//
//	order 1  accepted on its order-select card, first suggestion (Trazimera); the same feedback
//	         sent again (it lands on the other instance): no double count
//	order 2  accepted on its order-sign card, second suggestion (Ontruzant)
//	order 3  overridden on its order-sign card, patient-declines
//	order 4  no feedback
//	order 5  overridden on its order-select card (prior-reaction-or-intolerance) before its
//	         order-sign: the order-sign, on whichever instance, shows no card (the override is in
//	         the shared store)
//
// Hand count: 5 orders with a card (not 10), 2 accepted, 2 overridden, 1 without feedback;
// projected payer savings per course: Medicare's own payment, 0.8 x 0.98 of the allowed amount
// after the Part B deductible, which cancels between two products (scoring.Saved), so
// 0.784 x (56,214.495 - 5,858.37) + 0.784 x (56,214.495 - 19,472.208) = 39,479.20 + 28,805.95 =
// 68,285.15 USD (each order booked to the cent), read from either instance.
func TestTwoInstancesBehindNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, nginx and two valuerx processes")
	}
	nginx := nginxBinary(t)
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
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orderKey, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	analystPW := randomPassword()
	hash, err := bcrypt.GenerateFromPassword([]byte(analystPW), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}

	ports := freePorts(t, 3)
	proxy := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	inst := [2]string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])}
	for i, listen := range inst {
		cfgPath := filepath.Join(dir, fmt.Sprintf("valuerx-%d.yaml", i))
		writeMultiConfig(t, cfgPath, listen, proxy, keyFile, orderKey, string(hash))
		startValuerx(t, exe, cfgPath, "http://"+listen, dsn, fmt.Sprintf("instance %d", i))
	}
	accessLog := startNginx(t, nginx, dir, ports[2], inst)

	client := &http.Client{Timeout: 10 * time.Second}
	send := func(base, path string, body []byte, token string) (int, []byte) {
		t.Helper()
		if token == "" {
			var err error
			if token, err = signer.Mint(proxy+path, 5*time.Minute, nil); err != nil {
				t.Fatal(err)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s%s: %v", base, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	selectPath := "/cds-services/" + gateway.ServiceOrderSelect
	signPath := "/cds-services/" + gateway.ServiceOrderSign
	hook := func(path string, body []byte) *cdshooks.Card {
		t.Helper()
		st, out := send(proxy, path, body, "")
		if st != http.StatusOK {
			t.Fatalf("%s: %d %s", path, st, out)
		}
		var resp cdshooks.Response
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Cards) == 0 {
			return nil
		}
		return &resp.Cards[0]
	}
	feedback := func(path string, item map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"feedback": []any{item}})
		if st, out := send(proxy, path+"/feedback", body, ""); st != http.StatusOK {
			t.Fatalf("feedback %s: %d %s", path, st, out)
		}
	}
	accept := func(c *cdshooks.Card, i int) map[string]any {
		return map[string]any{"card": c.UUID, "outcome": "accepted", "outcomeTimestamp": time.Now().UTC().Format(time.RFC3339),
			"acceptedSuggestions": []any{map[string]any{"id": c.Suggestions[i].UUID}}}
	}
	override := func(c *cdshooks.Card, code string) map[string]any {
		return map[string]any{"card": c.UUID, "outcome": "overridden", "outcomeTimestamp": time.Now().UTC().Format(time.RFC3339),
			"overrideReason": map[string]any{"reason": map[string]any{"code": code,
				"system": "https://valuerx.dev/fhir/CodeSystem/override-reason"}}}
	}

	// Every request through the proxy, in order, to be matched with nginx's access log lines
	// after a marker request.
	var labels []string
	label := func(l string) { labels = append(labels, l) }
	if resp, err := client.Get(proxy + "/healthz?mark=" + logMark); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	// flip sends one request to the proxy outside the hooks, so round robin puts the next hook
	// on the other instance than strict alternation would: each service then reaches both.
	flip := func() {
		t.Helper()
		resp, err := client.Get(proxy + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		label("flip")
	}

	var sel, sign [6]*cdshooks.Card
	for n := 1; n <= 5; n++ {
		if n%2 == 0 {
			flip()
		}
		sb, gb := orderBodies(t, n)
		if sel[n] = hook(selectPath, sb); sel[n] == nil || len(sel[n].Suggestions) < 2 {
			t.Fatalf("order %d: order-select card %+v, want one with at least two suggestions", n, sel[n])
		}
		label(fmt.Sprintf("select %d", n))
		checkFigures(t, sel[n])
		if n == 5 {
			feedback(selectPath, override(sel[5], "prior-reaction-or-intolerance"))
			label("feedback 5")
		}
		sign[n] = hook(signPath, gb)
		label(fmt.Sprintf("sign %d", n))
		if n == 5 {
			if sign[5] != nil {
				t.Fatalf("order 5: overridden at order-select, yet its order-sign showed a card: %s", sign[5].Summary)
			}
			continue
		}
		if sign[n] == nil || len(sign[n].Suggestions) < 2 {
			t.Fatalf("order %d: order-sign card %+v", n, sign[n])
		}
	}
	first := accept(sel[1], 0)
	feedback(selectPath, first)
	label("feedback 1")
	feedback(signPath, accept(sign[2], 1))
	label("feedback 2")
	flip()
	feedback(selectPath, first) // the EHR retries: the same item, through the proxy to the next instance
	label("feedback 1 again")
	feedback(signPath, override(sign[3], "patient-declines"))
	label("feedback 3")
	at := servedBy(t, accessLog, labels)
	t.Logf("instances by request: %v", at)
	for _, c := range []struct{ a, b, why string }{
		{"select 1", "sign 1", "order 1's order-select and order-sign"},
		{"select 2", "sign 2", "order 2's order-select and order-sign"},
		{"select 1", "feedback 1", "order 1's card and its acceptance"},
		{"feedback 1", "feedback 1 again", "order 1's acceptance and its retry"},
		{"feedback 5", "sign 5", "order 5's override and its order-sign"},
	} {
		if at[c.a] == "" || at[c.a] == at[c.b] {
			t.Errorf("%s were both served by %q: the test must spread them over the two instances", c.why, at[c.a])
		}
	}

	// The record, from each instance directly and through the proxy.
	for _, base := range []string{"http://" + inst[0], "http://" + inst[1], proxy} {
		rep := multiReport(t, client, base, analystPW)
		tot := rep.Total
		if tot.Cards != 5 || tot.Accepted != 2 || tot.Overridden != 2 || tot.NoFeedback != 1 ||
			tot.Overrides["patient-declines"] != 1 || tot.Overrides["prior-reaction-or-intolerance"] != 1 {
			t.Errorf("%s: total %+v, want 5 orders with a card, 2 accepted, 2 overridden (patient-declines, prior-reaction-or-intolerance), 1 without feedback", base, tot)
		}
		if math.Abs(tot.PayerSavedUSD-68285.15) > 0.001 {
			t.Errorf("%s: projected payer savings %.2f, want 68,285.15 (39,479.20 Trazimera + 28,805.95 Ontruzant)", base, tot.PayerSavedUSD)
		}
		if len(rep.Contracts) != 1 || rep.Contracts[0].Contract != "mssp-aco" {
			t.Errorf("%s: contracts %+v, want mssp-aco only", base, rep.Contracts)
		}
	}

	// Replay: a token that instance 0 accepted is refused by instance 1, and by instance 0 again.
	tok, err := signer.Mint(proxy+selectPath, 5*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := orderBodies(t, 6)
	if st, out := send("http://"+inst[0], selectPath, sb, tok); st != http.StatusOK {
		t.Fatalf("fresh token on instance 0: %d %s", st, out)
	}
	if st, _ := send("http://"+inst[1], selectPath, sb, tok); st != http.StatusUnauthorized {
		t.Fatalf("the same token replayed to instance 1: %d, want 401 (jti shared in PostgreSQL)", st)
	}
	if st, _ := send(proxy, selectPath, sb, tok); st != http.StatusUnauthorized {
		t.Fatalf("the same token replayed through the proxy: %d, want 401", st)
	}
	// The same fresh token at both instances at the same instant: neither has it in memory, each
	// writes the jti claim in its hook's own commit, and PostgreSQL lets exactly one of them
	// commit (the other's insert of the key waits for the first and then fails): one 200 and one
	// 401, four times over.
	for round := range 4 {
		tok, err := signer.Mint(proxy+selectPath, 5*time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var statuses [2]int
		start := make(chan struct{})
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, "http://"+inst[i]+selectPath, bytes.NewReader(sb))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				<-start
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("POST to instance %d: %v", i, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		if (statuses != [2]int{http.StatusOK, http.StatusUnauthorized}) && (statuses != [2]int{http.StatusUnauthorized, http.StatusOK}) {
			t.Fatalf("round %d: one token at both instances at once: %v, want one 200 and one 401", round, statuses)
		}
	}

	// nginx spread the calls over both instances: each service and its feedback reached both.
	served := upstreamsByPath(t, accessLog)
	for _, p := range []string{selectPath, signPath, selectPath + "/feedback", signPath + "/feedback"} {
		if len(served[p]) != 2 {
			t.Errorf("%s was served by %v through nginx, want both instances %v", p, served[p], inst)
		}
	}
}

// orderBodies are the order-select and order-sign requests of draft order n of the ACO patient:
// the demo's order-select request with its own draft id, and the same as order-sign (no
// selections), both with prefetch so neither instance calls a FHIR server.
func orderBodies(t *testing.T, n int) (sel, sign []byte) {
	t.Helper()
	raw, ok := demo.Request("aco-herceptin-order-select")
	if !ok {
		t.Fatal("demo request aco-herceptin-order-select missing")
	}
	raw = bytes.ReplaceAll(raw, []byte("draft-herceptin-pat-aco"), []byte(fmt.Sprintf("draft-multi-%d", n)))
	var req map[string]any
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	req["hookInstance"] = uuid.NewString()
	sel, _ = json.Marshal(req)
	req["hook"] = "order-sign"
	req["hookInstance"] = uuid.NewString()
	delete(req["context"].(map[string]any), "selections")
	sign, _ = json.Marshal(req)
	return sel, sign
}

// checkFigures pins what the hand count rests on: the card prices Herceptin at 56,214.50 allowed
// per course, Trazimera (first suggestion) at 5,858.37 and Ontruzant (second) at 19,472.21.
func checkFigures(t *testing.T, c *cdshooks.Card) {
	t.Helper()
	var ext struct {
		Econ struct {
			Ordered struct {
				Product   string `json:"product"`
				PerCourse struct {
					Allowed float64 `json:"allowed"`
				} `json:"perCourse"`
			} `json:"ordered"`
			Options []struct {
				Product   string `json:"product"`
				PerCourse struct {
					Allowed float64 `json:"allowed"`
				} `json:"perCourse"`
			} `json:"options"`
		} `json:"valuerx-economics"`
	}
	if err := json.Unmarshal(c.Extension, &ext); err != nil {
		t.Fatal(err)
	}
	e := ext.Econ
	if e.Ordered.Product != "herceptin" || e.Ordered.PerCourse.Allowed != 56214.50 || len(e.Options) < 2 ||
		e.Options[0].Product != "trazimera" || e.Options[0].PerCourse.Allowed != 5858.37 ||
		e.Options[1].Product != "ontruzant" || e.Options[1].PerCourse.Allowed != 19472.21 ||
		!strings.Contains(c.Suggestions[0].Label, "Trazimera") || !strings.Contains(c.Suggestions[1].Label, "Ontruzant") {
		t.Fatalf("the card's figures moved; redo the hand count: %+v, suggestions %q / %q", e, c.Suggestions[0].Label, c.Suggestions[1].Label)
	}
}

func multiReport(t *testing.T, client *http.Client, base, pw string) tracking.Report {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/analytics/report", nil)
	req.SetBasicAuth(loadAnalyst, pw)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s/analytics/report: %d %s", base, resp.StatusCode, out)
	}
	var rep tracking.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// writeMultiConfig is one instance's configuration: the demo on loopback (development client,
// embedded FHIR), the shared PostgreSQL store (DSN from the environment), the shared order key,
// and the proxy's URL as the external URL (JWT audiences name it, whichever instance answers).
func writeMultiConfig(t *testing.T, path, listen, external, keyFile, orderKey, analystHash string) {
	t.Helper()
	c := map[string]any{
		"listen":             listen,
		"externalURL":        external,
		"orderKeySecretFile": orderKey,
		"store":              map[string]any{"driver": "postgres", "dsnEnv": "VALUERX_TEST_PG_DSN", "maxConns": 4, "retentionDays": 3650},
		"logLevel":           "warn",
		"analytics":          map[string]any{"accounts": []map[string]string{{"name": loadAnalyst, "passwordHash": analystHash}}},
		"auth":               map[string]any{"devClient": true, "devKeyFile": keyFile, "replay": "reject"},
		"fhir":               map[string]any{"allowHTTP": true},
		"demo":               map[string]any{"enabled": true, "embeddedFHIR": true},
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startValuerx runs `valuerx serve` (this binary as valuerx) until the test ends and waits for
// /healthz. The process gets SIGTERM if the test binary dies first.
func startValuerx(t *testing.T, exe, cfgPath, base, dsn, name string) {
	t.Helper()
	var logs syncBuffer
	cmd := exec.Command(exe, "-test.run=^TestLoadChildProcess$", "serve", "-config", cfgPath)
	cmd.Env = append(os.Environ(), "VALUERX_LOAD_CHILD=1", "VALUERX_TEST_PG_DSN="+dsn)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, logs.String())
		}
	})
	waitHealthy(t, base, done, name, &logs)
}

func waitHealthy(t *testing.T, base string, done chan struct{}, name string, logs *syncBuffer) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("%s exited at start:\n%s", name, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer /healthz: %v\n%s", name, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nginxBinary finds Debian's nginx; skips without it unless VALUERX_NGINX_REQUIRED=1 (CI).
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/nginx"} {
		if executable(p) {
			return p
		}
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if os.Getenv("VALUERX_NGINX_REQUIRED") == "1" {
		t.Fatal("nginx not found (apt-get install -y nginx)")
	}
	t.Skip("nginx not found (apt-get install -y nginx); the two-instance test needs a real reverse proxy")
	return ""
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// startNginx runs nginx in the foreground (daemon off) with a generated configuration under dir:
// round robin over the instances, on 127.0.0.1:port, every path and log under its own prefix.
// It is stopped when the test ends (SIGQUIT: graceful), and gets SIGTERM if the test binary dies
// first. It returns the access log, whose lines are "path status upstream".
func startNginx(t *testing.T, bin, dir string, port int, upstreams [2]string) string {
	t.Helper()
	prefix := filepath.Join(dir, "nginx")
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(prefix, "tmp"), 0o777); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers of a root master drop to an unprivileged user; they only proxy.
		user = "user nobody nogroup;"
	}
	access := filepath.Join(prefix, "logs", "access.log")
	tmp := filepath.Join(prefix, "tmp")
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %s;
error_log %s warn;
events { worker_connections 256; }
http {
	log_format upstream '$request_uri $status $upstream_addr';
	access_log %s upstream;
	client_body_temp_path %s/body;
	proxy_temp_path %s/proxy;
	fastcgi_temp_path %s/fastcgi;
	uwsgi_temp_path %s/uwsgi;
	scgi_temp_path %s/scgi;
	upstream valuerx {
		server %s;
		server %s;
	}
	server {
		listen 127.0.0.1:%d;
		location / {
			proxy_pass http://valuerx;
			proxy_set_header Host $http_host;
			proxy_set_header X-Forwarded-For $remote_addr;
			proxy_next_upstream off;
		}
	}
}
`, user, filepath.Join(prefix, "nginx.pid"), filepath.Join(prefix, "logs", "error.log"), access, tmp, tmp, tmp, tmp, tmp,
		upstreams[0], upstreams[1], port)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(bin, "-p", prefix, "-c", confPath, "-e", filepath.Join(prefix, "logs", "error.log"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			el, _ := os.ReadFile(filepath.Join(prefix, "logs", "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", logs.String(), el)
		}
	})
	waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port), done, "nginx", &logs)
	return access
}

// upstreamsByPath reads nginx's access log: for each path, the set of instances that served it.
func upstreamsByPath(t *testing.T, accessLog string) map[string]map[string]bool {
	t.Helper()
	f, err := os.Open(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		if out[fields[0]] == nil {
			out[fields[0]] = map[string]bool{}
		}
		out[fields[0]][fields[2]] = true
	}
	return out
}

// logMark is the query of the request after which servedBy reads nginx's access log.
const logMark = "valuerx-multi-start"

// servedBy matches the lines of nginx's access log after the marker request with labels (the
// requests are sent one at a time): which instance served each request. nginx logs a request
// when it is done, possibly just after the client has its response, so it waits for the lines.
func servedBy(t *testing.T, accessLog string, labels []string) map[string]string {
	t.Helper()
	var lines []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(accessLog)
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Split(strings.TrimSpace(string(b)), "\n")
		lines = nil
		for i, l := range all {
			if strings.HasPrefix(l, "/healthz?mark="+logMark+" ") {
				lines = all[i+1:]
			}
		}
		if len(lines) >= len(labels) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(lines) != len(labels) {
		t.Fatalf("nginx logged %d requests after the marker, the test sent %d", len(lines), len(labels))
	}
	out := map[string]string{}
	for i, l := range labels {
		f := strings.Fields(lines[i])
		if len(f) != 3 {
			t.Fatalf("access log line %q", lines[i])
		}
		if (l == "flip") != (f[0] == "/healthz") {
			t.Fatalf("access log out of step: %q for %s", lines[i], l)
		}
		out[l] = f[2]
	}
	return out
}

// freePorts returns n distinct free loopback ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// syncBuffer collects a child's output from its copying goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
