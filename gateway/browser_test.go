package gateway

import (
	"bytes"
	"encoding/json"
	"flag"
	"html/template"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yuin/goldmark"
	gmext "github.com/yuin/goldmark/extension"

	"valuerx/demo"
	"valuerx/web"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "copy the physician's view of the ACO card to docs/card-physician.png")

// browserDir holds the playwright-core driver (integration/browser, npm ci) and, gitignored, the
// screenshots each run saves (artifacts/).
const browserDir = "../integration/browser"

// The sidebar an EHR gives CDS cards, about an eighth of the screen: 300 px. The card is drawn the
// way EHRs draw CDS Hooks cards: summary, markdown detail, suggestions as buttons, links.
var panelTmpl = template.Must(template.New("panel").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><style>
body { margin: 0; padding: 16px; background: #e9edf1; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; }
#panel { width: 300px; box-sizing: border-box; background: #fff; border: 1px solid #c5ccd4; border-left: 4px solid #2f6fb0; border-radius: 3px; padding: 8px 10px; }
.src { color: #5a6470; font-size: 12px; margin: 0 0 4px; }
.summary { font-weight: 600; margin: 0 0 6px; }
ul { padding-left: 18px; margin: 4px 0; }
p { margin: 6px 0; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { padding: 2px 6px; border-bottom: 1px solid #e1e5ea; text-align: left; }
td:not(:first-child), th:not(:first-child) { text-align: right; }
button { display: block; width: 100%; margin: 4px 0; padding: 5px 6px; text-align: left; white-space: normal; font: inherit; background: #f3f7fb; border: 1px solid #9fb6cf; border-radius: 3px; }
.links a { display: block; margin: 3px 0; color: #1f5f9f; }
</style></head><body><div id="panel">
<p class="src">{{.Source}}</p>
<p class="summary">{{.Summary}}</p>
<div class="detail">{{.Detail}}</div>
{{range .Suggestions}}<button type="button">{{.}}</button>{{end}}
<div class="links">{{range .Links}}<a href="{{.URL}}">{{.Label}}</a>{{end}}</div>
</div></body></html>`))

type browserCard struct {
	Name      string `json:"name"`
	HTML      string `json:"html"`
	WantTable bool   `json:"wantTable"`
}

// browserTools returns Debian's Chromium, node and the artifacts folder, or skips the test
// saying what is missing (fails instead under VALUERX_BROWSER_REQUIRED=1, as .ci/run sets).
func browserTools(t *testing.T) (chromium, node, artifacts string) {
	t.Helper()
	chromium = os.Getenv("VALUERX_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	node, err := exec.LookPath("node")
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install -y chromium)")
	}
	if err != nil {
		missing = append(missing, "node (apt-get install -y nodejs)")
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "playwright-core (cd integration/browser && npm ci)")
	}
	if len(missing) > 0 {
		if os.Getenv("VALUERX_BROWSER_REQUIRED") != "" {
			t.Fatalf("browser test required but missing: %s", strings.Join(missing, ", "))
		}
		t.Skipf("browser test skipped, missing: %s", strings.Join(missing, ", "))
	}
	artifacts, err = filepath.Abs(filepath.Join(browserDir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	return chromium, node, artifacts
}

// TestBrowser renders every demo card in a 300 px panel and opens the comparison page from a real
// card in Debian's headless Chromium, driven by playwright-core (integration/browser/run.js; what
// it checks is written there). Skipped, saying why, when Chromium, node or the npm packages are
// missing; VALUERX_BROWSER_REQUIRED=1 (set by .ci/run) turns the skip into a failure.
func TestBrowser(t *testing.T) {
	chromium, node, artifacts := browserTools(t)
	clk := &testClock{t: time.Now()}
	e := newEnv(t, func(c *Config) { c.Now = clk.now; c.CompareTTL = 10 * time.Minute })
	md := goldmark.New(goldmark.WithExtensions(gmext.GFM)) // raw HTML in a detail stays escaped

	manifest := map[string]any{"chromium": chromium, "artifacts": artifacts}
	var cards []browserCard
	for _, name := range demo.Requests() {
		status, body, _ := e.post(serviceOf(name), e.demoRequest(name))
		if status != 200 {
			t.Fatalf("%s: status %d", name, status)
		}
		for i, c := range decodeResponse(t, body).Cards {
			var detail bytes.Buffer
			if err := md.Convert([]byte(c.Detail), &detail); err != nil {
				t.Fatalf("%s: markdown: %v", name, err)
			}
			var sugg []string
			for _, s := range c.Suggestions {
				sugg = append(sugg, s.Label)
			}
			var page bytes.Buffer
			if err := panelTmpl.Execute(&page, map[string]any{"Source": c.Source.Label, "Summary": c.Summary,
				"Detail": template.HTML(detail.String()), "Suggestions": sugg, "Links": c.Links}); err != nil {
				t.Fatal(err)
			}
			n := name
			if i > 0 {
				n += "-" + string(rune('a'+i))
			}
			cards = append(cards, browserCard{Name: n, HTML: page.String(), WantTable: strings.Contains(c.Detail, "\n|---")})
		}
	}
	if len(cards) < 8 {
		t.Fatalf("only %d demo cards", len(cards))
	}
	manifest["cards"] = cards

	// The comparison page from a real card: one link that will expire, then (after the link's
	// lifetime) a fresh one from the same card, which is the one the page is checked through.
	const req = "aco-herceptin-gastric-order-select"
	link := func() (string, json.RawMessage) {
		_, body, _ := e.post(serviceOf(req), e.demoRequest(req))
		c := decodeResponse(t, body).Cards[0]
		var ext map[string]json.RawMessage
		if err := json.Unmarshal(c.Extension, &ext); err != nil {
			t.Fatal(err)
		}
		return c.Links[0].URL, ext[extensionKey]
	}
	expired, _ := link()
	clk.add(10*time.Minute + time.Second)
	url, ext := link()
	ref := []byte(url[len(url)-web.RefLen:])
	ref[20] = map[bool]byte{true: 'B', false: 'A'}[ref[20] == 'A']
	manifest["compare"] = map[string]any{"url": url, "extension": ext}
	manifest["expired"] = expired
	manifest["tampered"] = url[:len(url)-web.RefLen] + string(ref)

	mf := filepath.Join(artifacts, "manifest.json")
	b, _ := json.Marshal(manifest)
	if err := os.WriteFile(mf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "run.js", mf)
	cmd.Dir = browserDir
	out, err := cmd.CombinedOutput()
	t.Logf("run.js:\n%s", out)
	if err != nil {
		t.Fatalf("browser checks failed (%v); screenshots in %s", err, artifacts)
	}
	if *updateScreenshot {
		png, err := os.ReadFile(filepath.Join(artifacts, "card-aco-herceptin-order-select.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../docs/card-physician.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
