package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"valuerx/loadtest"
)

// TestLoadChildProcess is not a test: it is how the smoke test runs this test binary as the
// valuerx executable (serve, and load -floor-serve). Without the environment variable it does
// nothing.
func TestLoadChildProcess(t *testing.T) {
	if os.Getenv("VALUERX_LOAD_CHILD") != "1" {
		t.Skip("helper process for TestLoadSmoke")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, flag.Args(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// smokeCombined is the smoke test's stand-in for drafts-20-history-500.
const smokeCombined = "drafts-5-history-50"

// TestLoadSmoke is the short version of `valuerx load` CI runs so the command cannot rot: every
// scenario against real valuerx and floor processes on loopback, 320 requests. It
// asserts that the requests succeed (and the deliberately bad ones are refused with a 4xx), never
// how fast.
func TestLoadSmoke(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := loadHost{exe: exe, prefix: []string{"-test.run=^TestLoadChildProcess$"}, env: []string{"VALUERX_LOAD_CHILD=1"}}
	var stdout, stderr bytes.Buffer
	const n = 40 // per server and scenario
	// Every scenario, but the sized one that combines 20 drafts with 500 history entries (60 ms
	// of CPU per hook today, minutes under the race detector) at a smaller size: the same code
	// path. loadtest's TestRun runs it at full size against floors.
	var scenarios []string
	for _, sc := range loadtest.Scenarios() {
		if sc == loadtest.ScenarioDrafts20History500 {
			sc = smokeCombined
		}
		scenarios = append(scenarios, sc)
	}
	args := []string{"-scenario", strings.Join(scenarios, ","), "-c", "4", "-n", strconv.Itoa(n), "-rounds", "2", "-fhir-delay", "1ms", "-json", "-q"}
	code := loadWith(t.Context(), host, args, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("valuerx load exited %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	var rep loadtest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, stdout.String())
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.Scenario+"/"+r.Server] = true
		if r.Requests != n {
			t.Errorf("%s/%s: %d requests, want %d", r.Scenario, r.Server, r.Requests, n)
		}
		if r.Unexpected != 0 {
			t.Errorf("%s/%s: %d unexpected answers (first: %s)", r.Scenario, r.Server, r.Unexpected, r.Sample)
		}
		bad := 0
		if r.Scenario == loadtest.ScenarioMix {
			bad = n / 10 // every tenth request
			if r.BadRefused != bad {
				t.Errorf("%s/%s: %d bad requests refused, want %d (%v)", r.Scenario, r.Server, r.BadRefused, bad, r.Bad)
			}
		}
		if r.OK != r.Requests-bad {
			t.Errorf("%s/%s: %d of %d answered 200", r.Scenario, r.Server, r.OK, r.Requests)
		}
		// CPU time comes in clock ticks (10 ms); the 500-entry history costs both servers
		// several ticks even in this short run, so a zero there means the reading is broken.
		if r.Scenario == loadtest.ScenarioHistory500 && r.CPUPerRequest <= 0 {
			t.Errorf("%s/%s: no CPU time per request", r.Scenario, r.Server)
		}
		if r.Server != "valuerx" {
			continue
		}
		switch r.Scenario {
		case loadtest.ScenarioPrefetch:
			if r.CacheHitRatio < 0.9 {
				t.Errorf("prefetch (warm) scoring cache hit ratio %.3f, want >= 0.9", r.CacheHitRatio)
			}
			if r.FHIRFetchesPerRequest != 0 {
				t.Errorf("prefetch: %.3f FHIR fetches per request, want none", r.FHIRFetchesPerRequest)
			}
		case loadtest.ScenarioCold:
			if r.CacheHitRatio > 0.5 {
				t.Errorf("cold scoring cache hit ratio %.3f, want most scores to miss", r.CacheHitRatio)
			}
		case loadtest.ScenarioNoPrefetch:
			if r.FHIRFetchesPerRequest <= 0 {
				t.Errorf("noprefetch: %.3f FHIR fetches per request, want some", r.FHIRFetchesPerRequest)
			}
		}
		if r.ThroughputRatio <= 0 || r.P99Ratio <= 0 {
			t.Errorf("%s: no ratio to the floor", r.Scenario)
		}
		if len(r.Memory) == 0 || r.Memory[0].Peak <= 0 {
			t.Errorf("%s: no memory figures", r.Scenario)
		}
	}
	for _, sc := range scenarios {
		for _, srv := range []string{"valuerx", "floor"} {
			if !seen[sc+"/"+srv] {
				t.Errorf("no result for %s/%s", sc, srv)
			}
		}
	}
	if rep.ValuerxMemory.Peak <= 0 || rep.FloorMemory.Peak <= 0 {
		t.Errorf("peak RSS missing: %+v %+v", rep.ValuerxMemory, rep.FloorMemory)
	}
	if strings.Contains(stderr.String(), "Bearer ey") {
		t.Error("a token reached the output")
	}
}
