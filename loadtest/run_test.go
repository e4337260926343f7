package loadtest

import (
	"context"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/demo"
)

// TestHelperFloorProcess is not a test: Run's tests start this test binary as both servers, each
// a floor (flag.Args: listen address, external URL, key file). Without the environment variable
// it does nothing.
func TestHelperFloorProcess(t *testing.T) {
	if os.Getenv("LOADTEST_HELPER_FLOOR") != "1" {
		t.Skip("helper process for TestRun")
	}
	args := flag.Args()
	if len(args) != 3 {
		os.Exit(2)
	}
	pem, err := os.ReadFile(args[2])
	if err != nil {
		os.Exit(3)
	}
	s, err := cdshooks.LoadSignerPEM(pem, "urn:test:client")
	if err != nil {
		os.Exit(4)
	}
	f, err := NewFloor(FloorConfig{ExternalURL: args[1], Issuer: s.Issuer, Key: s.Key.Public()})
	if err != nil {
		os.Exit(5)
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		os.Exit(6)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	<-ctx.Done()
	_ = srv.Close()
	os.Exit(0)
}

// TestRun drives Run end to end over loopback with two real server processes (both floors, so it
// needs nothing but this package): every scenario, closed loop and paced, and checks every
// request got the answer it should.
func TestRun(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	key, err := cdshooks.GenerateES384()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := cdshooks.MarshalPrivatePEM(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := cdshooks.LoadSignerPEM(pem, "urn:test:client")
	if err != nil {
		t.Fatal(err)
	}
	args := func(listen, base string) ([]string, error) {
		return []string{"-test.run=^TestHelperFloorProcess$", "--", listen, base, keyFile}, nil
	}
	for _, tc := range []struct {
		name      string
		rate      float64
		scenarios []string
	}{{"closed loop", 0, Scenarios()}, {"paced", 400, []string{ScenarioMix}}} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 20
			rep, err := Run(t.Context(), Options{
				Exe: exe, Env: []string{"LOADTEST_HELPER_FLOOR=1"}, ValuerxArgs: args, FloorArgs: args,
				Signer: signer, Requests: demo.Request, Names: demo.Requests(),
				Scenarios: tc.scenarios, Concurrency: []int{3}, Rate: tc.rate, Count: n, Rounds: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(rep.Results), 2*len(tc.scenarios); got != want {
				t.Fatalf("%d results, want %d", got, want)
			}
			for _, r := range rep.Results {
				if r.Requests != n || r.Unexpected != 0 {
					t.Errorf("%s/%s: %d requests, %d unexpected (%s)", r.Scenario, r.Server, r.Requests, r.Unexpected, r.Sample)
				}
				if len(r.Rounds) != 2 || len(r.Memory) != 2 {
					t.Errorf("%s/%s: %d rounds, %d memory figures", r.Scenario, r.Server, len(r.Rounds), len(r.Memory))
				}
				if r.Scenario == ScenarioMix && r.BadRefused != n/10 {
					t.Errorf("mix/%s: %d bad refused, want %d (%v)", r.Server, r.BadRefused, n/10, r.Bad)
				}
				if r.Server == "valuerx" && (r.ThroughputRatio <= 0 || r.ThroughputRatioMedian <= 0) {
					t.Errorf("%s: no ratio to the floor", r.Scenario)
				}
			}
			if rep.ValuerxMemory.Peak <= 0 || rep.FloorMemory.Peak <= 0 {
				t.Errorf("no peak RSS: %+v %+v", rep.ValuerxMemory, rep.FloorMemory)
			}
		})
	}
}

func TestStartProcessReportsExit(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The helper exits at once on bad arguments: startProcess must say so, not hang.
	_, err = startProcess(t.Context(), "broken", exe, []string{"LOADTEST_HELPER_FLOOR=1"},
		func(string, string) ([]string, error) {
			return []string{"-test.run=^TestHelperFloorProcess$", "--", "x"}, nil
		})
	if err == nil {
		t.Fatal("a server that exits was reported ready")
	}
}

// TestRSSByRound: the trend line appears from three rounds and divides the last by the second.
func TestRSSByRound(t *testing.T) {
	if got := rssByRound([]Memory{{RSS: 1 << 20}, {RSS: 2 << 20}}); got != "" {
		t.Errorf("two rounds: %q, want none", got)
	}
	got := rssByRound([]Memory{{RSS: 50 << 20}, {RSS: 60 << 20}, {RSS: 63 << 20}})
	if want := "RSS after each round: 50.0 60.0 63.0 MiB; last/second 1.05"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
