package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"valuerx/demo"
	"valuerx/scoring"
)

// lockedBuffer is a bytes.Buffer safe for the server goroutine's writes and the test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func copyDir(t *testing.T, src, dst string, skip func(rel string) bool) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if skip != nil && skip(rel) {
			return nil
		}
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

var authoredOnRE = regexp.MustCompile(`"authoredOn":\s*"2026-02-15"`)

// datedRequest writes the demo request with its draft order dated day.
func datedRequest(t *testing.T, dir, name, day string) string {
	t.Helper()
	b, ok := demo.Request(name)
	if !ok {
		t.Fatalf("no demo request %s", name)
	}
	s := authoredOnRE.ReplaceAllString(string(b), `"authoredOn": "`+day+`"`)
	if !authoredOnRE.Match(b) {
		t.Fatalf("%s: authoredOn 2026-02-15 not found", name)
	}
	p := filepath.Join(dir, name+"-"+day+".json")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The pharmacy team's quarter: the gateway serves a snapshot imported from the files up to
// October 2025; the January 2026 payment limit file is dropped into the import directory,
// re-imported, and the running gateway reloaded with SIGHUP. Orders dated in January-March 2026
// are then priced on the January 2026 book (no longer stale), while an order dated November 2025
// keeps the October 2025 prices. A broken snapshot is refused and the catalog in service stays.
func TestNewQuarterReloadedOnSIGHUP(t *testing.T) {
	// Keep SIGHUP from ever killing the test binary, whatever the server's state.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	dir := t.TempDir()
	agency := filepath.Join(dir, "agency")
	const jan2026 = "cms-asp/section 508 version of January 2026 Medicare Part B Payment Limit File 121725.csv"
	copyDir(t, "../../catalog/data/agency", agency, func(rel string) bool { return rel == jan2026 })
	snapFile := filepath.Join(dir, "catalog.json.gz")
	importNow := func() string {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"catalog", "import", "-from", agency, "-from", "../../catalog/data/supplementary", "-out", snapFile}, &out, &errb)
		if code != 0 {
			t.Fatalf("import exited %d: %s", code, errb.String())
		}
		return out.String()
	}
	if sum := importNow(); !strings.Contains(sum, "quarters (8): 2024Q1") || strings.Contains(sum, "2026Q1") {
		t.Fatalf("first import summary:\n%s", sum)
	}

	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	keyFile := filepath.Join(dir, "dev-client-key.pem")
	cfgFile := filepath.Join(dir, "valuerx.yaml")
	cfg := fmt.Sprintf("demo: true\nlisten: 127.0.0.1:%d\nexternalURL: %s\nstore: \"\"\nauth:\n  devKeyFile: %s\nlogLevel: info\ncatalog: %s\ncatalogPoll: 0s\n",
		port, base, keyFile, snapFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	serveOut, serveErr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "-config", cfgFile}, serveOut, serveErr) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, serveErr.String())
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/cds-services")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %v\n%s", err, serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The start log says how old the newest book is.
	if log := serveErr.String(); !strings.Contains(log, `"newest_book":"cms-asp-2025q4"`) || !strings.Contains(log, "days_past_newest_book") {
		t.Errorf("start log lacks the newest book and its age:\n%s", log)
	}

	const req = "medicare-ffs-herceptin-order-select"
	feb2026 := datedRequest(t, dir, req, "2026-02-15")
	nov2025 := datedRequest(t, dir, req, "2025-11-15")
	send := func(file string) string {
		var out, errb bytes.Buffer
		if code := run(ctx, []string{"send", "-json", "-url", base, "-key", keyFile, file}, &out, &errb); code != 0 {
			t.Fatalf("send %s exited %d: %s %s", filepath.Base(file), code, out.String(), errb.String())
		}
		return out.String()
	}
	// The card names the price period ("Prices: ..."); the provenance of each price is in the
	// card's valuerx-economics extension, hence -json (issue 14: provenance leaves the detail).
	// Before: February 2026 is past every book: priced on October 2025 and marked stale.
	if out := send(feb2026); !strings.Contains(out, "Prices: CMS ASP Oct 2025") || !strings.Contains(out, "stale") {
		t.Fatalf("February 2026 order before the new quarter:\n%s", out)
	}
	octHerceptin := "payment limit J9355 75.025 per 10 MG" // the October 2025 file
	if out := send(nov2025); !strings.Contains(out, "CMS ASP Oct 2025") || !strings.Contains(out, octHerceptin) {
		t.Fatalf("November 2025 order:\n%s", out)
	}

	// The new quarter's file arrives; the team re-imports and signals the gateway.
	b, err := os.ReadFile(filepath.Join("../../catalog/data/agency", jan2026))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(agency, "new-quarter-limits.csv"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if sum := importNow(); !strings.Contains(sum, "quarters (9):") || !strings.Contains(sum, "2026Q1") {
		t.Fatalf("second import summary:\n%s", sum)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var out string
	for deadline := time.Now().Add(10 * time.Second); ; {
		out = send(feb2026)
		if strings.Contains(out, "Prices: CMS ASP Jan 2026") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out, "Prices: CMS ASP Jan 2026") || !strings.Contains(out, "payment limit J9355 73.483 per 10 MG") || strings.Contains(out, "stale") {
		t.Fatalf("February 2026 order after the reload:\n%s\nlog:\n%s", out, serveErr.String())
	}
	if out := send(nov2025); !strings.Contains(out, "CMS ASP Oct 2025") || !strings.Contains(out, octHerceptin) {
		t.Fatalf("November 2025 order after the reload must keep its quarter's prices:\n%s", out)
	}
	if !strings.Contains(serveErr.String(), `"msg":"catalog reloaded`) {
		t.Errorf("no reload logged:\n%s", serveErr.String())
	}

	// A broken snapshot (half a file) is refused; the January 2026 catalog stays in service.
	full, _ := os.ReadFile(snapFile)
	if err := os.WriteFile(snapFile, full[:len(full)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(serveErr.String(), "catalog reload refused"); {
		if time.Now().After(deadline) {
			t.Fatalf("broken snapshot: no refusal logged:\n%s", serveErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := send(feb2026); !strings.Contains(out, "Prices: CMS ASP Jan 2026") {
		t.Fatalf("after a refused reload:\n%s", out)
	}
}

// A snapshot file replaced in place (catalog import writes it atomically) is picked up by the
// poller without a signal; the gateway then scores on the new version.
func TestSnapshotFileChangeReloads(t *testing.T) {
	dir := t.TempDir()
	agency := filepath.Join(dir, "agency")
	const jan2026 = "cms-asp/section 508 version of January 2026 Medicare Part B Payment Limit File 121725.csv"
	copyDir(t, "../../catalog/data/agency", agency, func(rel string) bool { return rel == jan2026 })
	snapFile := filepath.Join(dir, "catalog.json")
	imp := func() {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"catalog", "import", "-from", agency, "-from", "../../catalog/data/supplementary", "-out", snapFile}, &out, &errb); code != 0 {
			t.Fatalf("import: %s", errb.String())
		}
	}
	imp()
	cfg := defaultConfig()
	cfg.Store, cfg.Demo.EmbeddedFHIR, cfg.Catalog = storeConfig{}, false, snapFile
	cfg.Auth.DevKeyFile = filepath.Join(dir, "key.pem")
	logs := &lockedBuffer{}
	a, err := buildApp(cfg, newLogger(logs, "info"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	before := a.gw.CatalogVersion()
	if a.gw.NewestBookEnd().Format("2006-01-02") != "2025-12-31" {
		t.Fatalf("newest book ends %v", a.gw.NewestBookEnd())
	}
	rl := &catalogReloader{cfg: cfg, app: a, logger: newLogger(logs, "info"), poll: 20 * time.Millisecond, now: time.Now, reloaded: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rl.run(ctx)
	time.Sleep(50 * time.Millisecond) // the poller has its first stamp
	b, _ := os.ReadFile(filepath.Join("../../catalog/data/agency", jan2026))
	os.WriteFile(filepath.Join(agency, "limits.csv"), b, 0o644)
	imp()
	select {
	case err := <-rl.reloaded:
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no reload after the file changed:\n%s", logs.String())
	}
	if after := a.gw.CatalogVersion(); after == before || a.gw.NewestBookEnd().Format("2006-01-02") != "2026-03-31" {
		t.Fatalf("version %s -> %s, newest book ends %v", before, after, a.gw.NewestBookEnd())
	}
}

// `make run` serves the embedded snapshot: every reference biologic of the January 2026 file
// with a biosimilar there is grouped, and an order for the reference in February 2026 is priced
// with priced alternatives.
func TestEmbeddedCatalogServesEveryFamily(t *testing.T) {
	cfg := defaultConfig()
	cfg.Store, cfg.Demo.EmbeddedFHIR = storeConfig{}, false
	cfg.Auth.DevKeyFile = filepath.Join(t.TempDir(), "key.pem")
	set, err := loadScoring(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(set.source, "embedded") || set.snap == nil {
		t.Fatalf("default catalog source %q", set.source)
	}
	day := time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
	for group, ref := range map[string]string{
		"trastuzumab": "herceptin", "bevacizumab": "avastin", "rituximab": "rituxan", "infliximab": "remicade",
		"pegfilgrastim": "neulasta", "filgrastim": "neupogen", "epoetin-alfa": "epogen-procrit", "ranibizumab": "lucentis",
		"aflibercept": "eylea", "denosumab-prolia": "prolia", "denosumab-xgeva": "xgeva", "ustekinumab-iv": "stelara-iv",
		"tocilizumab-iv": "actemra", "eculizumab": "soliris",
	} {
		g, ok := set.cat.Group(group)
		if !ok || g.ReferenceID != ref {
			t.Errorf("group %s: %v reference %q", group, ok, g.ReferenceID)
			continue
		}
		res, err := set.scorer.Score(scoring.Request{ContractID: "medicare-ffs", ProductID: ref, Date: day})
		if err != nil {
			t.Errorf("%s: %v", group, err)
			continue
		}
		priced := 0
		for _, o := range res.Options {
			if o.Exclusion != scoring.ExcludeNotPriced {
				priced++
			}
		}
		if res.Reason == scoring.ReasonNotPriced || res.Book.ID != "cms-asp-2026q1" || priced == 0 {
			t.Errorf("%s: reason %q book %s, %d priced alternatives", group, res.Reason, res.Book.ID, priced)
		}
	}
}

// valuerx catalog diff in text and -json between the catalog as of October 2025 and with the
// January 2026 file: the new book, Trazimera down 70.7 %, and usage errors.
func TestCatalogDiffCommand(t *testing.T) {
	dir := t.TempDir()
	agency := filepath.Join(dir, "agency")
	const jan2026 = "cms-asp/section 508 version of January 2026 Medicare Part B Payment Limit File 121725.csv"
	copyDir(t, "../../catalog/data/agency", agency, func(rel string) bool { return rel == jan2026 })
	old, cur := filepath.Join(dir, "old.json.gz"), filepath.Join(dir, "new.json")
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"catalog", "import", "-from", agency, "-from", "../../catalog/data/supplementary", "-out", old}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	if code := run(ctx, []string{"catalog", "import", "-from", "../../catalog/data/agency", "-from", "../../catalog/data/supplementary", "-out", cur}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	out.Reset()
	if code := run(ctx, []string{"catalog", "diff", "-threshold", "50", old, cur}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	if s := out.String(); !strings.Contains(s, "price books added (1): cms-asp-2026q1") || !regexp.MustCompile(`trazimera\s+Q5116\s+27\.991 ->\s+8\.205\s+down 70\.7%`).MatchString(s) {
		t.Fatalf("text diff:\n%s", s)
	}
	out.Reset()
	if code := run(ctx, []string{"catalog", "diff", "-json", old, cur}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	var ch struct {
		NewBook string `json:"newBook"`
		Prices  []struct {
			Product string  `json:"product"`
			Percent float64 `json:"percent"`
		} `json:"prices"`
	}
	if err := json.Unmarshal(out.Bytes(), &ch); err != nil || ch.NewBook != "cms-asp-2026q1" || len(ch.Prices) == 0 {
		t.Fatalf("json diff %v: %s", err, out.String())
	}
	if code := run(ctx, []string{"catalog", "diff", old}, &out, &errb); code != 2 {
		t.Errorf("diff with one file exited %d", code)
	}
	if code := run(ctx, []string{"catalog", "import", "-out", cur}, &out, &errb); code != 2 {
		t.Errorf("import without -from exited %d", code)
	}
	errb.Reset()
	if code := run(ctx, []string{"catalog", "diff", old, filepath.Join(dir, "missing.json")}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "missing.json") {
		t.Errorf("diff with a missing file: %d %s", code, errb.String())
	}
}
