package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"valuerx/cdshooks"
	"valuerx/demo"
	"valuerx/loadtest"
)

// runLoad measures valuerx against the floor (see package loadtest). It starts both servers
// itself from this executable, each as its own process on a loopback port: valuerx with a
// generated configuration (embedded demo FHIR server, replay-reject JWT checks, a fresh ES384
// client key) and the floor through the hidden -floor-serve mode.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "valuerx load:", err)
		return 1
	}
	return loadWith(ctx, loadHost{exe: exe}, args, stdout, stderr)
}

// loadHost is how the harness starts the servers: exe with prefix before valuerx's own
// arguments and env added (the smoke test runs its own test binary as valuerx).
type loadHost struct {
	exe    string
	prefix []string
	env    []string
}

func (h loadHost) args(a ...string) []string { return append(append([]string(nil), h.prefix...), a...) }

func loadWith(ctx context.Context, host loadHost, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("load", flag.ContinueOnError)
	fl.SetOutput(stderr)
	scen := fl.String("scenario", loadtest.ScenarioPrefetch, "scenarios, comma-separated: "+strings.Join(loadtest.Scenarios(), ", ")+
		"; drafts-N, history-M and drafts-N-history-M for other sizes; sizes for every sized one listed; or all")
	concs := fl.String("c", "4,32", "concurrent connections, comma-separated (each is run)")
	rate := fl.Float64("rate", 0, "requests per second (open loop, -c caps those in flight); 0 = as fast as -c connections allow")
	count := fl.Int("n", 4000, "requests per server per scenario and concurrency")
	dur := fl.Duration("duration", 2*time.Minute, "time limit per server per scenario and concurrency")
	rounds := fl.Int("rounds", 4, "rounds alternating floor and valuerx")
	fhirDelay := fl.Duration("fhir-delay", 5*time.Millisecond, "latency injected into valuerx's embedded FHIR server (no-prefetch scenario)")
	scoreCache := fl.Int("score-cache", defaultConfig().ScoreCache, "valuerx scoring cache size (default: serve's)")
	withStore := fl.Bool("store", true, "record decisions in a SQLite store as `valuerx serve` does by default")
	noFloor := fl.Bool("no-floor", false, "measure valuerx alone")
	asJSON := fl.Bool("json", false, "print the report as JSON")
	quiet := fl.Bool("q", false, "no progress lines on stderr")
	debugListen := fl.String("pprof", "", "serve valuerx's pprof profiles on this loopback address (e.g. 127.0.0.1:6060)")
	// Hidden: the floor server, started by the harness itself.
	floorServe := fl.Bool("floor-serve", false, "(internal) run the floor server")
	floorKey := fl.String("floor-key", "", "(internal) the client key the floor trusts (PEM)")
	floorListen := fl.String("floor-listen", "", "(internal) floor listen address")
	floorURL := fl.String("floor-external-url", "", "(internal) floor external URL")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: valuerx load [flags]\n\nStarts valuerx and a minimal floor server on loopback, alternates them in rounds and prints valuerx as a ratio of the floor.")
		fl.VisitAll(func(f *flag.Flag) {
			if !strings.HasPrefix(f.Name, "floor-") {
				fmt.Fprintf(stderr, "  -%s\t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
			}
		})
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *floorServe {
		if err := serveFloor(ctx, *floorKey, *floorListen, *floorURL); err != nil {
			fmt.Fprintln(stderr, "valuerx load -floor-serve:", err)
			return 1
		}
		return 0
	}
	cs, err := parseInts(*concs)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx load: -c:", err)
		return 2
	}
	var scenarios []string
	for _, sc := range strings.Split(*scen, ",") {
		switch sc = strings.TrimSpace(sc); sc {
		case "all":
			scenarios = append(scenarios, loadtest.Scenarios()...)
		case "sizes":
			scenarios = append(scenarios, loadtest.SizedScenarios()...)
		default:
			scenarios = append(scenarios, sc)
		}
	}
	dir, err := os.MkdirTemp("", "valuerx-load-")
	if err != nil {
		fmt.Fprintln(stderr, "valuerx load:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "client-key.pem")
	signer, err := newLoadSigner(keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx load:", err)
		return 1
	}
	// /metrics on the gateway needs an analyst: the run's own account, at bcrypt's lowest cost
	// (checked once per scrape, between rounds).
	metricsPassword := randomPassword()
	metricsHash, err := bcrypt.GenerateFromPassword([]byte(metricsPassword), bcrypt.MinCost)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx load:", err)
		return 1
	}
	storePath := ""
	if *withStore {
		storePath = filepath.Join(dir, "valuerx.db")
	}
	opts := loadtest.Options{
		Exe:    host.exe,
		Env:    host.env,
		Signer: signer,
		ValuerxArgs: func(listen, base string) ([]string, error) {
			path := filepath.Join(dir, "valuerx.yaml")
			if err := writeLoadConfig(path, listen, base, keyFile, storePath, *debugListen, *fhirDelay, *scoreCache, string(metricsHash)); err != nil {
				return nil, err
			}
			return host.args("serve", "-config", path), nil
		},
		FloorArgs: func(listen, base string) ([]string, error) {
			return host.args("load", "-floor-serve", "-floor-key", keyFile, "-floor-listen", listen, "-floor-external-url", base), nil
		},
		Requests:    demo.Request,
		Names:       demo.Requests(),
		Scenarios:   scenarios,
		Concurrency: cs,
		Rate:        *rate,
		Count:       *count,
		Duration:    *dur,
		Rounds:      *rounds,
		FHIRDelay:   *fhirDelay,
		NoFloor:     *noFloor,

		MetricsAuthorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(loadAnalyst+":"+metricsPassword)),
	}
	if *noFloor {
		opts.FloorArgs = nil
	}
	if !*quiet {
		opts.Progress = stderr
	}
	rep, err := loadtest.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx load:", err)
		return 1
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "valuerx load:", err)
		return 1
	}
	if n := rep.Unexpected(); n > 0 {
		fmt.Fprintf(stderr, "valuerx load: %d requests did not get the answer they should\n", n)
		if rep.ValuerxLog != "" && !*asJSON {
			fmt.Fprintf(stderr, "the end of valuerx's log:\n%s\n", rep.ValuerxLog)
		}
		return 1
	}
	return 0
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// newLoadSigner generates the run's client key, writes it (0600) for the servers to trust, and
// returns the signer the harness mints with. The issuer is the development client's, which the
// generated configuration trusts through auth.devClient.
func newLoadSigner(path string) (*cdshooks.Signer, error) {
	key, err := cdshooks.GenerateES384()
	if err != nil {
		return nil, err
	}
	b, err := cdshooks.MarshalPrivatePEM(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	return cdshooks.LoadSignerPEM(b, cdshooks.DevIssuer)
}

// writeLoadConfig writes valuerx's configuration for a load run: what `valuerx serve` runs by
// default, on the given port, with replay-reject JWT checks and warn-level logs.
func writeLoadConfig(path, listen, base, keyFile, storePath, debugListen string, fhirDelay time.Duration, scoreCache int, analystHash string) error {
	c := map[string]any{
		"analytics":      map[string]any{"accounts": []map[string]string{{"name": loadAnalyst, "passwordHash": analystHash}}},
		"listen":         listen,
		"externalURL":    base,
		"store":          storePath,
		"scoreCacheSize": scoreCache,
		"logLevel":       "warn",
		"debugListen":    debugListen,
		"auth": map[string]any{
			"devClient":  true,
			"devKeyFile": keyFile,
			"replay":     "reject",
		},
		"fhir": map[string]any{"allowHTTP": true, "budget": "450ms", "timeout": "5s"},
		// The demo: the development client, the embedded FHIR server, on loopback.
		"demo": map[string]any{"enabled": true, "embeddedFHIR": true, "fhirDelay": fhirDelay.String()},
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// loadAnalyst is the analyst account a load run scrapes /metrics with.
const loadAnalyst = "load"

// serveFloor runs the floor server until ctx ends (SIGTERM from the harness).
func serveFloor(ctx context.Context, keyFile, listen, base string) error {
	if keyFile == "" || listen == "" || base == "" {
		return errors.New("-floor-key, -floor-listen and -floor-external-url are required")
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("floor key: %w", err)
	}
	s, err := cdshooks.LoadSignerPEM(b, cdshooks.DevIssuer)
	if err != nil {
		return fmt.Errorf("floor key: %w", err)
	}
	h, err := loadtest.NewFloor(loadtest.FloorConfig{ExternalURL: base, Issuer: s.Issuer, Key: s.Key.Public()})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// The same server limits as valuerx's gateway, so the transport costs alike.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
