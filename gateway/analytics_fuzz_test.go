package gateway

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"valuerx/internal/traffic"
	"valuerx/tracking"
)

// FuzzReportQuery: any query string gets a filter or a clear refusal, never a panic, and an
// accepted filter is a real period of at most ten years.
func FuzzReportQuery(f *testing.F) {
	for _, s := range []string{"", "from=2026-01-01&to=2026-03-31", "to=2026-02-29", "from=2026-03-01&to=2026-02-01",
		"from=0001-01-01&to=9999-12-31", "contract=mssp-aco&family=trastuzumab&prescriber=Practitioner%2Fx", "from=%zz"} {
		f.Add(s)
	}
	g := &Gateway{cfg: Config{Now: func() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) }}}
	sc, reg, cat, err := traffic.DemoScorer()
	if err != nil {
		f.Fatal(err)
	}
	g.eng.Store(newEngine(cat, reg, sc, "fuzz"))
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/analytics/report", nil)
		r.URL.RawQuery = raw
		rq, err := g.parseReportQuery(r)
		if err != nil {
			return
		}
		fl := rq.filter
		if !fl.To.After(fl.From) || fl.To.Sub(fl.From) > maxReportDays*24*time.Hour {
			t.Fatalf("%q: accepted period %v..%v", raw, fl.From, fl.To)
		}
		q, _ := url.ParseQuery(raw)
		if len(fl.Contract) > 128 || len(fl.Family) > 128 || len(fl.Prescriber) > 128 || (q.Get("contract") != fl.Contract) {
			t.Fatalf("%q: filter %+v", raw, fl)
		}
		// Only configured contracts, catalog families and userIds get through.
		if _, ok := reg.Contract(fl.Contract); fl.Contract != "" && !ok {
			t.Fatalf("%q: unknown contract accepted", raw)
		}
		if _, ok := cat.Group(fl.Family); fl.Family != "" && !ok {
			t.Fatalf("%q: unknown family accepted", raw)
		}
		if fl.Prescriber != "" && fl.Prescriber != tracking.NoPrescriber && !prescriberRE.MatchString(fl.Prescriber) {
			t.Fatalf("%q: prescriber %q accepted", raw, fl.Prescriber)
		}
	})
}
