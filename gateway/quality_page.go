package gateway

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"valuerx/web"
)

// The quality page, GET /analytics/measures (issue 17 item 5: "the dashboard shows the rates and
// the worklist"): the output of the latest `valuerx measures` run in Config.MeasuresDir
// (rates.json and worklist.csv, written atomically by the run), read at each request so a new
// run shows without a restart. Behind analyst authentication like the rest of /analytics: the
// worklist names patients.

const (
	measuresPagePath = "/analytics/measures"
	// worklistShown is how many worklist rows the page shows (the CSV has them all).
	worklistShown = 200
	// measuresFileLimit bounds what the page reads of rates.json.
	measuresFileLimit = 16 << 20
)

// ratesFile is rates.json as population.Report.WriteRatesJSON writes it.
type ratesFile struct {
	Year        int    `json:"year"`
	AsOf        string `json:"asOf"`
	Patients    int    `json:"patients"`
	Attribution string `json:"attribution"`
	Rates       []struct {
		Contract           string   `json:"contract"`
		Measure            string   `json:"measure"`
		Name               string   `json:"name"`
		StarWeight         float64  `json:"starWeight"`
		Denominator        int      `json:"denominator"`
		Numerator          int      `json:"numerator"`
		Rate               float64  `json:"rate"`
		Excluded           int      `json:"excluded"`
		BelowRedeemable    int      `json:"belowRedeemable"`
		BelowNotRedeemable int      `json:"belowNotRedeemable"`
		Target             *float64 `json:"target"`
		ShortOfTarget      *int     `json:"shortOfTarget"`
	} `json:"rates"`
}

func (g *Gateway) handleMeasuresPage(w http.ResponseWriter, r *http.Request) {
	if AnalystClients(r.Context()) != nil {
		// The measures and their worklist come from a FHIR export, not from any one client's
		// decisions: nothing here can be limited to the clients an account may see, and the
		// worklist names patients. An account limited to some clients is not shown it.
		g.pageFail(w, r, errorf(KindNotFound, "measures", "no measures page for this account: it is limited to some clients (EHRs), and the measures cover the whole organisation's export", nil))
		return
	}
	p := web.QualityPage{CSS: dashboardCSSPath, DashboardPath: dashboardPath,
		RunCommand: "valuerx measures -from EXPORT -year YEAR -out " + displayDir(g.cfg.MeasuresDir)}
	if g.cfg.MeasuresDir == "" {
		p.Missing = "No measures directory is configured (analytics.measuresDir in the gateway configuration)."
		p.RunCommand = "valuerx measures ... -out DIR, and set analytics.measuresDir: DIR"
		web.RenderQuality(w, p)
		return
	}
	if err := g.readMeasures(&p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			p.Missing = "No valuerx measures run has written its results to the measures directory yet."
			web.RenderQuality(w, p)
			return
		}
		g.log.Warn("measures page", "error", err.Error()) // file names and parse positions, no content
		writeError(w, errorf(KindInternal, "measures", "the measures run's files could not be read", nil))
		return
	}
	web.RenderQuality(w, p)
}

func displayDir(d string) string {
	if d == "" {
		return "DIR"
	}
	return d
}

func (g *Gateway) readMeasures(p *web.QualityPage) error {
	f, err := os.Open(filepath.Join(g.cfg.MeasuresDir, "rates.json"))
	if err != nil {
		return err
	}
	defer f.Close()
	var rf ratesFile
	if err := json.NewDecoder(io.LimitReader(f, measuresFileLimit)).Decode(&rf); err != nil {
		return fmt.Errorf("rates.json: %w", err)
	}
	p.Year, p.AsOf, p.Patients = rf.Year, rf.AsOf, rf.Patients
	if rf.Attribution != "" && rf.Attribution != "coverage" {
		p.Attribution = "roster " + rf.Attribution
	}
	for _, t := range rf.Rates {
		if t.Denominator == 0 && t.Excluded == 0 {
			continue // a measure nobody of the contract is in
		}
		p.Rates = append(p.Rates, web.QualityRate{Contract: t.Contract, Measure: t.Measure, Name: t.Name, StarWeight: t.StarWeight,
			Denominator: t.Denominator, Numerator: t.Numerator, Rate: t.Rate, Target: t.Target, ShortOfTarget: t.ShortOfTarget,
			Excluded: t.Excluded, BelowRedeemable: t.BelowRedeemable, Lost: t.BelowNotRedeemable})
	}
	wf, err := os.Open(filepath.Join(g.cfg.MeasuresDir, "worklist.csv"))
	if err != nil {
		return err
	}
	defer wf.Close()
	cr := csv.NewReader(wf)
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("worklist.csv header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, c := range []string{"rank", "contract", "patient_id", "mbi", "measure", "pdc_to_date", "gap_days_left", "refill_due", "value", "value_usd"} {
		if _, ok := col[c]; !ok {
			return fmt.Errorf("worklist.csv: no column %s", c)
		}
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("worklist.csv: %w", err) // csv.ParseError: line and column, no field
		}
		p.WorklistTotal++
		if len(p.Worklist) < worklistShown {
			get := func(c string) string { return rec[col[c]] }
			p.Worklist = append(p.Worklist, web.QualityRow{Rank: get("rank"), Contract: get("contract"), PatientID: get("patient_id"), MBI: get("mbi"),
				Measure: get("measure"), PDC: get("pdc_to_date"), GapDaysLeft: get("gap_days_left"), RefillDue: get("refill_due"),
				Value: get("value"), ValueUSD: get("value_usd")})
		}
	}
	return nil
}
