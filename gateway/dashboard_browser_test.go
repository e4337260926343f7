package gateway

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"valuerx/internal/traffic"
	"valuerx/tracking"
)

var updateDashboardShot = flag.Bool("update-dashboard-screenshot", false, "copy the dashboard's 1280 px screenshot to docs/dashboard.png")

// handFigures are the overview's figures computed here from the generator's own ledger of what
// it decided per order, with none of the store, the rollup or package tracking: what the page,
// the JSON API and the CSV must all show.
type handFigures struct {
	Orders     int    `json:"orders"`
	NoCard     int    `json:"noCard"`
	Cards      int    `json:"cards"`
	Accepted   int    `json:"accepted"`
	Overridden int    `json:"overridden"`
	NoFeedback int    `json:"noFeedback"`
	PayerCents int64  `json:"payerCents"`
	Patient    int64  `json:"patientCents"`
	Contract   string `json:"contract,omitempty"`
	// Acceptance is accepted / (accepted + overridden) in percent.
	Acceptance float64 `json:"acceptancePct"`
}

type handReport struct {
	Total     handFigures            `json:"total"`
	Contracts map[string]handFigures `json:"contracts"`
}

// handCount sums the ledger's orders first seen in [from, to) of contract ("" = all), each order's
// dollars rounded to the cent first, halves away from zero, so that rows add up to totals (the
// programme's rule, written again here).
func handCount(ledger []traffic.Truth, from, to time.Time, contract string) handReport {
	type acc struct {
		f                handFigures
		payer, patient   int64
		answered, accept int
	}
	all := &acc{}
	per := map[string]*acc{}
	cents := func(m int64) int64 {
		if m < 0 {
			return -((-m + 5000) / 10000)
		}
		return (m + 5000) / 10000
	}
	micro := func(v float64) int64 { return cents(int64(math.Round(v*1e6))) * 10000 } // to the cent, in micro-dollars
	for _, o := range ledger {
		if o.FirstAt.Before(from) || !o.FirstAt.Before(to) || (contract != "" && o.Contract != contract) {
			continue
		}
		c := per[o.Contract]
		if c == nil {
			c = &acc{f: handFigures{Contract: o.Contract}}
			per[o.Contract] = c
		}
		for _, a := range []*acc{all, c} {
			a.f.Orders++
			switch {
			case !o.Card:
				a.f.NoCard++
			case o.Outcome == "accepted":
				a.f.Cards++
				a.f.Accepted++
				a.payer += micro(o.PayerSaved)
				a.patient += micro(o.PatientSaved)
			case o.Outcome == "overridden":
				a.f.Cards++
				a.f.Overridden++
			default:
				a.f.Cards++
				a.f.NoFeedback++
			}
		}
	}
	done := func(a *acc) handFigures {
		f := a.f
		f.PayerCents, f.Patient = cents(a.payer), cents(a.patient)
		if n := f.Accepted + f.Overridden; n > 0 {
			f.Acceptance = float64(f.Accepted) / float64(n) * 100
		}
		return f
	}
	out := handReport{Total: done(all), Contracts: map[string]handFigures{}}
	for k, a := range per {
		out.Contracts[k] = done(a)
	}
	return out
}

// TestDashboardBrowser: a year of generated traffic in a real SQLite store behind a real gateway
// on loopback; Debian's headless Chromium (playwright-core, integration/browser/dashboard.js) signs
// in as an analyst through the login form, opens the dashboard, checks that the overview's figures
// equal the JSON API's and the hand count above, uses the contract filter, downloads the
// contracts CSV and checks it, walks every tab at 1280 px and 768 px (nothing wider than the
// viewport), opens one decision and its comparison page, and sees a bad filter refused with a
// clear page. Screenshots go to integration/browser/artifacts (kept by CI);
// -update-dashboard-screenshot copies the overview to docs/dashboard.png.
func TestDashboardBrowser(t *testing.T) {
	chromium, node, artifacts := browserTools(t)
	now := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	acc, savings := 0.6, 4_000_000.0
	e := newEnv(t, func(c *Config) {
		c.Now = func() time.Time { return now }
		c.Targets = append(c.Targets, tracking.Target{Contract: "mssp-aco", AcceptanceRate: &acc, AnnualPayerSavingsUSD: &savings})
	})
	sc, reg, cat, err := traffic.DemoScorer()
	if err != nil {
		t.Fatal(err)
	}
	var ledger []traffic.Truth
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	stats, err := traffic.Generate(context.Background(), e.store, sc, reg, cat, traffic.Config{Seed: 16, Days: 365, PerDay: 10, End: end,
		Ledger: func(o traffic.Truth) { ledger = append(ledger, o) }, ScoreRequest: EncodeScoreRequest})
	if err != nil {
		t.Fatal(err)
	}
	// Every decision scored under the other contracts too, as the gateway's divergence job does
	// (once per distinct request): none is left pending.
	if run, err := ComputePendingDivergence(context.Background(), e.store, sc, reg, "test", func() time.Time { return now }); err != nil || run.Scored == 0 {
		t.Fatalf("divergence for %d requests: %v", run.Scored, err)
	}
	if pend, _, err := e.store.PendingDivergence(context.Background(), "", 10); err != nil || len(pend) != 0 {
		t.Fatalf("decisions left without divergence: %d %v", len(pend), err)
	}
	// The year folded into the rollups before the browser opens the dashboard, as the background
	// fold of a running gateway would have: the first page's read folds whatever is left, and
	// folding a whole year there took longer than the browser waits under the race detector
	// (the pure-Go SQLite runs an order of magnitude slower; CI, 2 December 2026).
	if err := e.store.RefreshRollups(context.Background()); err != nil {
		t.Fatal(err)
	}
	if stats.Orders < 2000 || len(ledger) != stats.Orders {
		t.Fatalf("generated %+v, ledger %d", stats, len(ledger))
	}
	// The dashboard's default period: the 365 days up to today, today included.
	to := end.AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -365)
	overview := handCount(ledger, from, to, "")
	filtered := handCount(ledger, from, to, "mssp-aco")
	if overview.Total.Orders == stats.Orders || filtered.Total.Accepted == 0 || len(overview.Contracts) < 4 {
		t.Fatalf("the default period should leave out the first day's orders and keep several contracts: %+v of %+v", overview.Total, stats)
	}
	manifest := map[string]any{"chromium": chromium, "artifacts": artifacts, "base": e.srv.URL,
		"user": testAnalyst, "password": testAnalystPassword, "overview": overview, "filtered": filtered, "filterContract": "mssp-aco"}
	mf := filepath.Join(artifacts, "dashboard-manifest.json")
	b, _ := json.Marshal(manifest)
	if err := os.WriteFile(mf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "dashboard.js", mf)
	cmd.Dir = browserDir
	out, err := cmd.CombinedOutput()
	t.Logf("dashboard.js:\n%s", out)
	if err != nil {
		t.Fatalf("dashboard browser checks failed (%v); screenshots in %s", err, artifacts)
	}
	if *updateDashboardShot {
		png, err := os.ReadFile(filepath.Join(artifacts, "dashboard-overview-1280.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../docs/dashboard.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
