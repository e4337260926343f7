// Package loadtest drives valuerx over loopback with real, freshly signed CDS Hooks requests and
// measures it against a floor: a minimal server doing only what every conformant CDS service must
// do per request (verify the ES384 JWT, decode the request, encode a response of the same size).
//
// Both servers run as separate processes started by the harness, and the harness alternates them
// in rounds within one run, so valuerx is reported as a ratio of the floor: a figure that holds on
// a noisy shared machine where absolute numbers do not.
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"valuerx/cdshooks"
)

// Scenario names.
const (
	ScenarioPrefetch   = "prefetch"   // full prefetch, scoring cache warm (repeats)
	ScenarioCold       = "cold"       // full prefetch, every request a new dose: every score misses
	ScenarioNoPrefetch = "noprefetch" // no prefetch: valuerx fetches from its embedded FHIR server
	ScenarioMix        = "mix"        // full prefetch with 10% malformed or unauthenticated requests
)

// Scenarios lists every scenario in the order "all" runs them: the four request mixes, then the
// sized scenarios (sized.go).
func Scenarios() []string {
	return append([]string{ScenarioPrefetch, ScenarioCold, ScenarioNoPrefetch, ScenarioMix}, SizedScenarios()...)
}

// knownScenario reports whether sc is one of Scenarios or any sized scenario ParseSized reads.
func knownScenario(sc string) bool {
	if _, _, ok := ParseSized(sc); ok {
		return true
	}
	return slices.Contains(Scenarios(), sc)
}

// Options configures a run.
type Options struct {
	// Exe is the executable both servers are started from (valuerx itself); Env is added to
	// their environment.
	Exe string
	Env []string
	// ValuerxArgs and FloorArgs give the arguments that start each server on a loopback port.
	ValuerxArgs, FloorArgs ArgsFunc
	// Signer mints the client JWTs both servers trust.
	Signer *cdshooks.Signer
	// Requests returns a demo request by name; Names lists them.
	Requests func(name string) ([]byte, bool)
	Names    []string

	Scenarios   []string
	Concurrency []int
	// Rate, when > 0, paces requests at this many per second (open loop, Concurrency caps the
	// requests in flight); 0 sends as fast as the connections allow (closed loop).
	Rate float64
	// Count is the number of requests per server per scenario and concurrency, spread over
	// Rounds; Duration bounds the same (whichever ends first).
	Count    int
	Duration time.Duration
	Rounds   int
	// FHIRDelay is the injected latency of valuerx's embedded FHIR server (reported only; the
	// caller puts it in valuerx's configuration).
	FHIRDelay time.Duration
	// NoFloor measures valuerx alone.
	NoFloor bool
	// Progress receives one line per round (nil: quiet).
	Progress io.Writer
	// MetricsAuthorization is the Authorization header for valuerx's /metrics, which needs an
	// analyst credential on the gateway's listener ("" sends none).
	MetricsAuthorization string
}

func (o *Options) defaults() error {
	if o.Exe == "" || o.ValuerxArgs == nil || o.Signer == nil || o.Requests == nil || len(o.Names) == 0 {
		return errors.New("loadtest: Exe, ValuerxArgs, Signer and Requests are required")
	}
	if o.FloorArgs == nil {
		o.NoFloor = true
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = []string{ScenarioPrefetch}
	}
	for _, s := range o.Scenarios {
		if !knownScenario(s) {
			return fmt.Errorf("loadtest: unknown scenario %q (want one of %s, or drafts-N[-history-M], history-M)", s, strings.Join(Scenarios(), ", "))
		}
	}
	if len(o.Concurrency) == 0 {
		o.Concurrency = []int{4}
	}
	for _, c := range o.Concurrency {
		if c < 1 || c > 1024 {
			return fmt.Errorf("loadtest: concurrency %d out of range 1..1024", c)
		}
	}
	if o.Count <= 0 {
		o.Count = 2000
	}
	if o.Duration <= 0 {
		o.Duration = time.Minute
	}
	if o.Rounds <= 0 {
		o.Rounds = 4
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// Run starts valuerx and the floor, runs every scenario at every concurrency with the two
// servers alternating in rounds, stops them, and reports.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	vx, err := startProcess(ctx, "valuerx", o.Exe, o.Env, o.ValuerxArgs)
	if err != nil {
		return nil, err
	}
	defer vx.stop()
	var fl *process
	if !o.NoFloor {
		if fl, err = startProcess(ctx, "floor", o.Exe, o.Env, o.FloorArgs); err != nil {
			return nil, err
		}
		defer fl.stop()
	}
	// The mix scenario's bad signatures: the trusted issuer and kid, an untrusted key.
	fk, err := cdshooks.GenerateES384()
	if err != nil {
		return nil, err
	}
	foreign, err := cdshooks.NewSigner(fk, o.Signer.Issuer, o.Signer.KID)
	if err != nil {
		return nil, err
	}
	rep := &Report{Started: time.Now().UTC(), Options: reportOptions(o)}
	for _, sc := range o.Scenarios {
		for _, c := range o.Concurrency {
			res, err := runScenario(ctx, o, sc, c, vx, fl, foreign)
			if err != nil {
				return rep, fmt.Errorf("loadtest: %s c=%d: %w\n%s", sc, c, err, vx.out.String())
			}
			rep.Results = append(rep.Results, res...)
		}
	}
	if m, err := vx.memory(); err == nil {
		rep.ValuerxMemory = m
	}
	if fl != nil {
		if m, err := fl.memory(); err == nil {
			rep.FloorMemory = m
		}
	}
	if rep.Unexpected() > 0 {
		rep.ValuerxLog = vx.out.String()
	}
	rep.Elapsed = time.Since(rep.Started).Round(time.Millisecond).String()
	return rep, nil
}

// target is one server under load in a scenario.
type target struct {
	name    string // "valuerx" or "floor"
	proc    *process
	foreign *cdshooks.Signer // untrusted key for the mix scenario's bad signatures
	client  *http.Client
	entries []entry
	sizes   map[string]int // template name -> valuerx response bytes (sent to the floor)
	stats   *stats
	metrics []scrape // valuerx only: /metrics before the first and after each round
	memory  []Memory
}

func runScenario(ctx context.Context, o Options, sc string, conc int, vx, fl *process, foreign *cdshooks.Signer) ([]Result, error) {
	targets := []*target{{name: "valuerx", proc: vx, foreign: foreign}}
	if fl != nil {
		targets = append(targets, &target{name: "floor", proc: fl, foreign: foreign})
	}
	names, get := pickNames(sc, o.Names), o.Requests
	if d, h, ok := ParseSized(sc); ok {
		var err error
		if names, get, err = sizedRequests(o.Names, o.Requests, d, h); err != nil {
			return nil, err
		}
	}
	for _, t := range targets {
		entries, err := prepare(names, get, vx.base+"/fhir", sc == ScenarioNoPrefetch, sc == ScenarioCold)
		if err != nil {
			return nil, err
		}
		t.entries = entries
		tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc,
			DisableCompression: true, IdleConnTimeout: time.Minute}
		defer tr.CloseIdleConnections()
		t.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
		t.stats = newStats(o.Count)
	}
	var dose atomic.Uint64
	// Warm-up: one request per template to each server. It checks valuerx answers 200, learns
	// the response size the floor must match and warms connections (and, for valuerx, the caches
	// the scenario means to be warm).
	sizes := map[string]int{}
	for _, t := range targets {
		t.sizes = sizes
		for _, e := range t.entries {
			r := t.send(ctx, o.Signer, e, BadNone, warmDose(sc, &dose, e), "")
			if r.err != nil || r.status != http.StatusOK {
				return nil, fmt.Errorf("warm-up %s %s: status %d %v %s", t.name, e.t.Name, r.status, r.err, truncate(r.body, 300))
			}
			if t.name == "valuerx" {
				sizes[e.t.Name] = r.size
			}
		}
	}
	if s, err := scrapeMetrics(ctx, vx, o.MetricsAuthorization); err == nil {
		targets[0].metrics = append(targets[0].metrics, s)
	}
	perRound := (o.Count + o.Rounds - 1) / o.Rounds
	roundTime := o.Duration / time.Duration(o.Rounds)
	for round := 0; round < o.Rounds; round++ {
		order := targets
		if round%2 == 1 && len(targets) == 2 { // ABBA: drift on the machine hits both alike
			order = []*target{targets[1], targets[0]}
		}
		for _, t := range order {
			n := perRound
			if rest := o.Count - t.stats.count(); rest < n {
				n = rest
			}
			// The round's tokens are minted before it starts, outside its time and the
			// generator's CPU figure: on these two shared cores the generator's own signing
			// (about 200 µs a token) would otherwise be paid out of the servers' CPU, compressing
			// the throughput ratio towards one. Every token is still unique, used once, and well
			// inside its lifetime.
			toks, err := t.mintRound(o, sc, n)
			if err != nil {
				return nil, err
			}
			t.stats.beginRound()
			cpu0, cpuErr := t.proc.cpu()
			gen0, genErr := selfCPU()
			start := time.Now()
			sent := t.load(ctx, o, sc, conc, n, roundTime, &dose, toks)
			el := time.Since(start)
			// The round's CPU is read after a short pause, so the background work its requests
			// caused (the decision log's batched writes, the garbage collector) counts too; the
			// metrics scrape below comes after and does not.
			time.Sleep(cpuSettle)
			cpu1, cpuErr1 := t.proc.cpu()
			gen1, genErr1 := selfCPU()
			if cpuErr != nil || cpuErr1 != nil {
				cpu0, cpu1 = 0, -1
			}
			if genErr != nil || genErr1 != nil {
				gen0, gen1 = 0, -1
			}
			t.stats.endRound(el, cpu1-cpu0, gen1-gen0)
			if m, err := t.proc.memory(); err == nil {
				t.memory = append(t.memory, m)
			}
			if t.name == "valuerx" {
				if s, err := scrapeMetrics(ctx, vx, o.MetricsAuthorization); err == nil {
					t.metrics = append(t.metrics, s)
				}
			}
			fmt.Fprintf(o.Progress, "%-10s c=%-3d round %d/%d %-7s %6d req in %v\n", sc, conc, round+1, o.Rounds, t.name, sent, el.Round(time.Millisecond))
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	var out []Result
	for _, t := range targets {
		out = append(out, t.result(sc, conc))
	}
	if len(out) == 2 {
		compare(&out[0], out[1])
	}
	return out, nil
}

// cpuSettle is how long after a round's last answer its server's CPU time is read.
const cpuSettle = 50 * time.Millisecond

func warmDose(sc string, counter *atomic.Uint64, e entry) float64 {
	if sc == ScenarioCold {
		return coldDose(counter.Add(1))
	}
	return 0
}

// coldDose makes every request of the cold scenario a distinct scoring key (a dose in mg no
// other request has), so every score misses the cache.
func coldDose(n uint64) float64 { return 100 + float64(n)/100 }

func pickNames(sc string, names []string) []string {
	if sc == ScenarioNoPrefetch {
		return names
	}
	return prefetchNames(names)
}

// outcome is one request's result.
type outcome struct {
	status  int
	size    int
	latency time.Duration
	err     error
	body    []byte // only on unexpected statuses, for diagnosis
}

// endpoint is the service URL a request of entry e with fault bad is sent to (BadHook: the
// other hook's service).
func (t *target) endpoint(e entry, bad BadKind) string {
	svc := e.t.Service
	if bad == BadHook {
		if svc == "valuerx-order-select" {
			svc = "valuerx-order-sign"
		} else {
			svc = "valuerx-order-select"
		}
	}
	return t.proc.base + "/cds-services/" + svc
}

// tokenTTL is the lifetime of the harness's tokens: longer than any round, so a token minted
// before its round is still valid when it is sent.
const tokenTTL = 5 * time.Minute

// mint returns the token a request of e with fault bad carries ("" for BadNoToken): signed by
// the untrusted key for BadSignature, else by s, for the endpoint it is sent to, with a fresh jti.
func (t *target) mint(s *cdshooks.Signer, e entry, bad BadKind) (string, error) {
	switch bad {
	case BadNoToken:
		return "", nil
	case BadSignature:
		return t.foreign.Mint(t.endpoint(e, bad), tokenTTL, nil)
	}
	return s.Mint(t.endpoint(e, bad), tokenTTL, nil)
}

// send builds a body and sends it with tok (minted now when empty and the request carries one);
// only the HTTP exchange is timed.
func (t *target) send(ctx context.Context, s *cdshooks.Signer, e entry, bad BadKind, dose float64, tok string) outcome {
	body := e.t.Body(dose)
	if bad == BadJSON {
		body = corrupt(body)
	}
	url := t.endpoint(e, bad)
	if tok == "" && bad != BadNoToken {
		var err error
		if tok, err = t.mint(s, e, bad); err != nil {
			return outcome{err: err}
		}
	}
	var auth string
	if tok != "" {
		auth = "Bearer " + tok
		if bad == BadReplay {
			// Use the token once as a good request would, then send it again (timed below).
			if o := t.do(ctx, url, auth, body, e.t.Name); o.err != nil {
				return o
			}
			body = e.t.Body(dose)
		}
	}
	return t.do(ctx, url, auth, body, e.t.Name)
}

func (t *target) do(ctx context.Context, url, auth string, body []byte, name string) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if t.name == "floor" {
		req.Header.Set(ResponseSizeHeader, strconv.Itoa(t.sizes[name]))
	}
	start := time.Now()
	resp, err := t.client.Do(req)
	if err != nil {
		return outcome{err: err, latency: time.Since(start)}
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	o := outcome{status: resp.StatusCode, size: buf.Len(), latency: time.Since(start), err: err}
	if resp.StatusCode != http.StatusOK {
		o.body = buf.Bytes()
	}
	return o
}

// request is what the round's request of sequence number seq sends: the template entry and the
// mix scenario's fault.
func (t *target) request(sc string, seq int) (entry, BadKind) {
	e := t.entries[seq%len(t.entries)]
	bad := BadNone
	if sc == ScenarioMix && seq%10 == 9 {
		bad = BadKind(1 + (seq/10)%int(badKinds-1))
	}
	return e, bad
}

// roundTokens are the tokens of one round's requests, by sequence number from base+1.
type roundTokens struct {
	base int
	toks []string
}

// get returns the token minted for seq ("" when none was: the request mints its own).
func (r roundTokens) get(seq int) string {
	if i := seq - r.base - 1; i >= 0 && i < len(r.toks) {
		return r.toks[i]
	}
	return ""
}

// mintRound mints the tokens of the next n requests of t, as request will pick them.
func (t *target) mintRound(o Options, sc string, n int) (roundTokens, error) {
	r := roundTokens{base: int(t.stats.seq.Load()), toks: make([]string, max(n, 0))}
	for i := range r.toks {
		e, bad := t.request(sc, r.base+1+i)
		tok, err := t.mint(o.Signer, e, bad)
		if err != nil {
			return r, fmt.Errorf("loadtest: mint: %w", err)
		}
		r.toks[i] = tok
	}
	return r, nil
}

// load sends n requests (or for at most limit) with conc connections and records them, each with
// its token of toks.
func (t *target) load(ctx context.Context, o Options, sc string, conc, n int, limit time.Duration, dose *atomic.Uint64, toks roundTokens) int {
	if n <= 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var next atomic.Int64
	var pace <-chan time.Time
	if o.Rate > 0 {
		tk := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer tk.Stop()
		pace = tk.C
	}
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				if pace != nil {
					select {
					case <-pace:
					case <-ctx.Done():
						return
					}
				}
				seq := int(t.stats.seq.Add(1))
				e, bad := t.request(sc, seq)
				d := 0.0
				if sc == ScenarioCold {
					d = coldDose(dose.Add(1))
				}
				r := t.send(ctx, o.Signer, e, bad, d, toks.get(seq))
				if r.err != nil && ctx.Err() != nil {
					return // the round's time ran out mid-request: not an error of the server
				}
				t.stats.record(r, bad)
			}
		})
	}
	wg.Wait()
	return int(min(next.Load(), int64(n)))
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// scrape is the part of valuerx's /metrics the report uses.
type scrape struct {
	cacheHits, cacheMisses float64
	fhirFetches            float64
	coverageHit            float64
	coverageMiss           float64
}

// scrapeMetrics reads valuerx's Prometheus text. The scoring cache figures are gauges since start,
// so a round's hit ratio is the difference of two scrapes.
func scrapeMetrics(ctx context.Context, p *process, authorization string) (scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/metrics", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return scrape{}, fmt.Errorf("loadtest: metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("loadtest: metrics: status %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (scrape, error) {
	var s scrape
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name, val := line[:sp], line[sp+1:]
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch {
		case name == "valuerx_scoring_cache_hits":
			s.cacheHits = v
		case name == "valuerx_scoring_cache_misses":
			s.cacheMisses = v
		case name == "valuerx_fhir_round_trips_per_hook_sum":
			// Every FHIR request a hook made: the prefetch keys' fetches, the plan's searches
			// (body weight, dispenses), Medication and Condition reads and next pages.
			// valuerx_fhir_fetches_total counts only the first, so a hook that searched for the
			// body weight read 0 there.
			s.fhirFetches = v
		case strings.HasPrefix(name, "valuerx_coverage_cache_total") && strings.Contains(name, `result="hit"`):
			s.coverageHit += v
		case strings.HasPrefix(name, "valuerx_coverage_cache_total"):
			s.coverageMiss += v
		}
	}
	return s, sc.Err()
}
