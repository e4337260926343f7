package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"valuerx/scoring"
	"valuerx/store"
	"valuerx/tracking"
	"valuerx/web"
)

// The programme report (issue 16): GET /analytics/report (JSON), /analytics/report.csv (every
// table, or one with ?table=), /analytics/report/decisions (JSON, the drill-down) and the
// dashboard pages /analytics/dashboard[/families|/people|/decisions] and
// /analytics/decisions/{card}, all behind analyst authentication (the /analytics subrouter) and
// all from one tracking.FromAggregates over the store's rollup (or its orders, summed the same
// way), so the pages, the API and the exports show the same figures.
//
// Query parameters: from and to are dates (YYYY-MM-DD, UTC), to inclusive; contract and family
// are ids (a configured contract id, a drug family's group id), prescriber a userId
// (Practitioner/{id} or PractitionerRole/{id}; "(not recorded)" for hooks without one). The
// default period is the 365 days up to today. A bad value is a 400: an OperationOutcome (JSON)
// for the API, a page saying what is wrong for a browser.

const (
	reportPath       = "/analytics/report"
	reportCSVPath    = "/analytics/report.csv"
	decisionsAPIPath = "/analytics/report/decisions"
	dashboardPath    = "/analytics/dashboard"
	dashboardCSSPath = "/analytics/dashboard.css"
	decisionPagePath = "/analytics/decisions/"
	dateLayout       = "2006-01-02"
	// maxReportDays bounds a report's period: ten years is more than any contract runs.
	maxReportDays = 3660
	// decisionsPage is the drill-down's page size; maxDecisionsOffset how far back it pages.
	decisionsPage      = 50
	maxDecisionsOffset = 1_000_000
	// maxDecisionsCSV bounds the drill-down's CSV export.
	maxDecisionsCSV = 10_000
	// maxOutcomeOrders is the default of Config.MaxOutcomeOrders (the outcomes tab of a store
	// without the rollup reads every order: about 4 KB of heap each, measured over a million).
	maxOutcomeOrders = 250_000
)

// maxClientParam bounds the client filter (a JWT issuer URL, and a tenant).
const maxClientParam = 512

// prescriberRE is a userId as the hook sends it (CDS Hooks: Practitioner/{id} or
// PractitionerRole/{id}, FHIR ids).
var prescriberRE = regexp.MustCompile(`^(Practitioner|PractitionerRole)/[A-Za-z0-9\-.]{1,64}$`)

// The years a report may cover.
const (
	minReportYear = 2000
	maxReportYear = 2100
)

// reportQuery is a parsed report request.
type reportQuery struct {
	filter   tracking.Filter
	from, to string // as entered (or defaulted), to inclusive
	offset   int    // the drill-down's first row
}

func (g *Gateway) parseReportQuery(r *http.Request) (reportQuery, error) {
	q := r.URL.Query()
	var rq reportQuery
	today := g.cfg.Now().UTC().Truncate(24 * time.Hour)
	to := today.AddDate(0, 0, 1)
	if s := q.Get("to"); s != "" {
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			return rq, errorf(KindInvalid, "report", "to must be a date (YYYY-MM-DD)", nil)
		}
		to = t.AddDate(0, 0, 1)
	}
	from := to.AddDate(0, 0, -365)
	if s := q.Get("from"); s != "" {
		t, err := time.Parse(dateLayout, s)
		if err != nil {
			return rq, errorf(KindInvalid, "report", "from must be a date (YYYY-MM-DD)", nil)
		}
		from = t
	}
	// Years a programme can have data for; beyond them the period's end (to + 1 day) or start
	// leaves what a JSON time can hold, and the answer was a 500 (analytics review finding 6).
	if from.Year() < minReportYear || to.AddDate(0, 0, -1).Year() > maxReportYear {
		return rq, errorf(KindInvalid, "report", fmt.Sprintf("from and to must be dates from %d to %d", minReportYear, maxReportYear), nil)
	}
	if !to.After(from) {
		return rq, errorf(KindInvalid, "report", "from must not be after to", nil)
	}
	if to.Sub(from) > maxReportDays*24*time.Hour {
		return rq, errorf(KindInvalid, "report", "the period may not exceed ten years", nil)
	}
	contract, family, prescriber := q.Get("contract"), q.Get("family"), q.Get("prescriber")
	if len(contract) > 128 || len(family) > 128 || len(prescriber) > 128 {
		return rq, errorf(KindInvalid, "report", "contract, family and prescriber are ids of at most 128 characters", nil)
	}
	eng := g.current()
	if _, ok := eng.reg.Contract(contract); contract != "" && !ok {
		return rq, errorf(KindInvalid, "report", "contract is not the id of a configured contract", nil)
	}
	if _, ok := eng.cat.Group(family); family != "" && !ok {
		return rq, errorf(KindInvalid, "report", "family is not the id of a drug family of the catalog", nil)
	}
	if prescriber != "" && prescriber != tracking.NoPrescriber && !prescriberRE.MatchString(prescriber) {
		return rq, errorf(KindInvalid, "report", "prescriber must be Practitioner/{id} or PractitionerRole/{id}, or (not recorded)", nil)
	}
	client := q.Get("client")
	if len(client) > maxClientParam || strings.ContainsFunc(client, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return rq, errorf(KindInvalid, "report", "client is a client's identity (its JWT issuer, and tenant) of at most 512 characters", nil)
	}
	if t := q.Get("table"); t != "" && !slices.Contains(web.CSVTables, t) {
		return rq, errorf(KindInvalid, "report", "table must be one of "+strings.Join(web.CSVTables, ", "), nil)
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxDecisionsOffset {
			return rq, errorf(KindInvalid, "report", "offset must be a whole number from 0 to 1000000", nil)
		}
		rq.offset = n
	}
	// The analyst's scope (AnalystAccount.Clients, AnalystOIDC.ClientScopes) limits every page,
	// JSON answer and CSV export made from this query to the clients it may see.
	rq.filter = tracking.Filter{From: from, To: to, Contract: contract, Family: family, Prescriber: prescriber, Client: client,
		Clients: AnalystClients(r.Context())}
	rq.from, rq.to = from.Format(dateLayout), to.AddDate(0, 0, -1).Format(dateLayout)
	return rq, nil
}

// report reads the period's sums and builds the report; the second return is the sums (for the
// dashboard's filter choices).
func (g *Gateway) report(r *http.Request) (reportQuery, tracking.Dashboard, tracking.Aggregates, error) {
	rq, err := g.parseReportQuery(r)
	if err != nil {
		return rq, tracking.Dashboard{}, tracking.Aggregates{}, err
	}
	ag, err := g.aggregates(r.Context(), rq.filter)
	if err != nil {
		return rq, tracking.Dashboard{}, tracking.Aggregates{}, errorf(KindUnavailable, "report", "could not read the decision store", err)
	}
	rep := tracking.FromAggregates(ag, rq.filter, g.targets())
	if rep.PayerOnAllowedUntil, err = g.payerBasis(r.Context(), rq.filter); err != nil {
		return rq, tracking.Dashboard{}, tracking.Aggregates{}, err
	}
	return rq, rep, ag, nil
}

// payerBasis is the reports' note on the basis of their payer savings (tracking.PayerBasisNote):
// nil when every order of f's period books the payer's own payment.
func (g *Gateway) payerBasis(ctx context.Context, f tracking.Filter) (*time.Time, error) {
	pb, ok := g.cfg.Store.(store.PayerBasis)
	if !ok {
		return nil, nil
	}
	until, err := pb.AllowedBasisUntil(ctx)
	if err != nil {
		return nil, errorf(KindUnavailable, "report", "could not read the decision store", err)
	}
	return tracking.PayerBasisNote(f.From, until), nil
}

// aggregates reads f's sums from the store's rollup (store.Rollups) when it has one, else sums
// the period's orders the same way (tracking.Aggregate): one computation of the report either way.
func (g *Gateway) aggregates(ctx context.Context, f tracking.Filter) (tracking.Aggregates, error) {
	var ag tracking.Aggregates
	if g.cfg.Store == nil {
		return ag, nil
	}
	if ru, ok := g.cfg.Store.(store.Rollups); ok {
		q := aggQuery(f)
		var err error
		if ag.Families, err = ru.FamilyMonths(ctx, q); err == nil {
			if ag.Prescribers, err = ru.Prescribers(ctx, q); err == nil {
				if ag.Locations, err = ru.Locations(ctx, q); err == nil {
					return ag, nil
				}
			}
		}
		if !errors.Is(err, store.ErrRollupUnavailable) {
			return ag, err
		}
		g.log.Warn("dashboard rollup cannot answer; summing the orders instead", "error", err.Error())
	}
	orders, err := g.cfg.Store.Orders(ctx, f.From, f.To)
	if err != nil {
		return ag, err
	}
	return tracking.Aggregate(orders, f), nil
}

// EncodeScoreRequest is the stored form of a scoring request (store.Decision.ScoreRequest), for
// generators that write decisions as the gateway does (valuerx demo-traffic). It names no
// configuration fingerprint: such a decision's answers are keyed by its catalog version and
// request alone, and whichever configuration computes them first is kept.
func EncodeScoreRequest(r scoring.Request) []byte { return encodeScoreRequest(r, "") }

// ScoreRequestEncoder returns the stored form of scoring requests scored under reg and pol, as
// the gateway stores them: naming the configuration's fingerprint (scoring.ConfigFingerprint,
// computed once here), so their divergence is computed under that configuration only.
func ScoreRequestEncoder(reg *scoring.Registry, pol *scoring.Policy) func(scoring.Request) []byte {
	config := scoring.ConfigFingerprint(reg, pol)
	return func(r scoring.Request) []byte { return encodeScoreRequest(r, config) }
}

// aggQuery is f as a rollup query: the "(not recorded)" prescriber is the empty userId.
func aggQuery(f tracking.Filter) store.AggQuery {
	q := store.AggQuery{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, PrescriberFilter: f.Prescriber != "",
		Clients: f.StoreClients()}
	if f.Prescriber == tracking.NoPrescriber {
		q.Prescriber = ""
	}
	return q
}

func (g *Gateway) handleReport(w http.ResponseWriter, r *http.Request) {
	_, rep, _, err := g.report(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (g *Gateway) handleReportCSV(w http.ResponseWriter, r *http.Request) {
	rq, rep, _, err := g.report(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	table := r.URL.Query().Get("table")
	var rows []web.DecisionView
	if table == "decisions" {
		if rows, _, err = g.decisions(r.Context(), rq, 0, maxDecisionsCSV); err != nil {
			g.fail(w, r, errorf(KindUnavailable, "report", "could not read the decision store", err))
			return
		}
	}
	name := "valuerx-report-" + rq.from + "-" + rq.to
	if table != "" {
		name = "valuerx-" + table + "-" + rq.from + "-" + rq.to
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if table == "" {
		err = tracking.WriteCSV(w, rep.Report)
	} else {
		err = web.WriteTableCSV(w, table, rep, rows)
	}
	if err != nil {
		g.log.Warn("report csv write failed", "request_id", requestID(r.Context()), "error", err.Error())
	}
}

// decisionsJSON is the drill-down's API answer: the rows the decisions page shows.
type decisionsJSON struct {
	From      string             `json:"from"`
	To        string             `json:"to"`
	Offset    int                `json:"offset"`
	More      bool               `json:"more"`
	Decisions []web.DecisionView `json:"decisions"`
	// PayerOnAllowedUntil is the report's (tracking.PayerBasisNote): the orders' payer savings
	// first seen up to then may be changes in the allowed amount.
	PayerOnAllowedUntil *time.Time `json:"payerSavingsOnAllowedUntil,omitempty"`
}

func (g *Gateway) handleDecisionsJSON(w http.ResponseWriter, r *http.Request) {
	rq, err := g.parseReportQuery(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	rows, more, err := g.decisions(r.Context(), rq, rq.offset, decisionsPage)
	if err != nil {
		g.fail(w, r, errorf(KindUnavailable, "report", "could not read the decision store", err))
		return
	}
	if rows == nil {
		rows = []web.DecisionView{}
	}
	until, err := g.payerBasis(r.Context(), rq.filter)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, decisionsJSON{From: rq.from, To: rq.to, Offset: rq.offset, More: more, Decisions: rows, PayerOnAllowedUntil: until})
}

// decisions reads up to limit orders of rq from offset, newest first, as the drill-down shows
// them; more says whether older ones follow.
func (g *Gateway) decisions(ctx context.Context, rq reportQuery, offset, limit int) ([]web.DecisionView, bool, error) {
	if g.cfg.Store == nil {
		return nil, false, nil
	}
	var orders []store.DecidedOrder
	if ru, ok := g.cfg.Store.(store.Rollups); ok {
		var err error
		if orders, err = ru.RecentOrders(ctx, aggQuery(rq.filter), offset, limit+1); err != nil {
			return nil, false, err
		}
	} else {
		all, err := g.cfg.Store.Orders(ctx, rq.filter.From, rq.filter.To)
		if err != nil {
			return nil, false, err
		}
		f := rq.filter
		for i := len(all) - 1; i >= 0; i-- {
			o := all[i]
			pr := o.Prescriber
			if pr == "" {
				pr = tracking.NoPrescriber
			}
			if (f.Contract != "" && o.ContractID != f.Contract) || (f.Family != "" && o.GroupID != f.Family) || (f.Prescriber != "" && pr != f.Prescriber) ||
				!f.Admits(o.Client) {
				continue
			}
			orders = append(orders, store.DecidedOrder{OrderRecord: o})
		}
		orders = orders[min(offset, len(orders)):]
		orders = orders[:min(limit+1, len(orders))]
	}
	more := len(orders) > limit
	if more {
		orders = orders[:limit]
	}
	out := make([]web.DecisionView, len(orders))
	for i, o := range orders {
		v := web.DecisionView{At: o.FirstAt, Contract: o.ContractID, Family: o.GroupID, Ordered: o.OrderedProductID, Best: o.RecommendedProductID,
			Signed: o.SignedProductID, Administrations: o.Administrations, Prescriber: o.Prescriber, Location: o.Location, Client: o.Client}
		switch {
		case !o.Card():
			v.Outcome, v.Detail, v.NoRec = "no card needed", o.NoCardReason, "no card"
		case o.Outcome == "accepted":
			v.Outcome, v.Detail, v.PayerSavedUSD = "accepted", o.AcceptedProductID, o.PayerSaved
		case o.Outcome == "overridden":
			v.Outcome, v.Detail = "overridden", o.ReasonCode
			if v.Detail == "" {
				v.Detail = tracking.NoReason
			}
		default:
			v.Outcome = "no feedback"
		}
		if o.Card() && o.CardUUID != "" {
			v.Link = decisionPagePath + url.PathEscape(o.CardUUID)
		} else if o.Card() {
			v.NoRec = "this store keeps no drill-down"
		}
		out[i] = v
	}
	return out, more, nil
}

// dashboardNames are the display names of contracts, families and products.
func (g *Gateway) dashboardNames() map[string]string {
	eng := g.current()
	names := map[string]string{}
	for _, c := range eng.reg.Contracts() {
		names[c.ID] = c.Name
	}
	for _, gr := range eng.cat.Groups() {
		names[gr.ID] = gr.Name
		for _, p := range gr.ProductIDs {
			if prod, ok := eng.cat.Product(p); ok && prod.Name != "" {
				names[p] = prod.Name
			}
		}
	}
	return names
}

// pageFail answers a dashboard page's error: a page saying what went wrong for a browser, the API's
// OperationOutcome otherwise, with the same status.
func (g *Gateway) pageFail(w http.ResponseWriter, r *http.Request, err error) {
	if !wantsHTML(r) {
		g.fail(w, r, err)
		return
	}
	ge := asGatewayError(err)
	g.log.Info("dashboard page failed", "route", g.routeLabel(r), "request_id", requestID(r.Context()), "kind", int(ge.Kind), "error", ge.Error())
	status := kindTable[ge.Kind].status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	web.RenderDashboardError(w, web.DashboardError{Status: status, Message: ge.Message, CSS: dashboardCSSPath, Back: dashboardPath})
}

// handleDashboard serves one tab of the dashboard.
func (g *Gateway) handleDashboard(tab string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq, rep, ag, err := g.report(r)
		if err != nil {
			g.pageFail(w, r, err)
			return
		}
		p := web.DashboardPage{Tab: tab, Report: rep, From: rq.from, To: rq.to, Names: g.dashboardNames(), CSS: dashboardCSSPath,
			Base: dashboardPath, JSONPath: reportPath, CSVPath: reportCSVPath, DecisionPath: decisionPagePath, Offset: rq.offset, Limit: decisionsPage}
		if tab == web.TabOutcomes {
			// Without the rollup the outcomes read every order of the period
			// (tracking.BuildOutcomes): a million orders take minutes and gigabytes, so a period
			// that large is refused with a page saying so rather than taking the gateway's memory.
			// From the rollup (outcomes.go) any period is a few hundred rows.
			bound := g.cfg.MaxOutcomeOrders
			if bound <= 0 {
				bound = maxOutcomeOrders
			}
			if !g.outcomesPreAggregated() && rep.Total.Orders > bound {
				g.pageFail(w, r, errorf(KindUnprocessable, "outcomes", fmt.Sprintf("this period and filter have %d orders; the realised savings and divergence page reads every order and takes at most %d: narrow the period or filter by contract or family", rep.Total.Orders, bound), nil))
				return
			}
			_, out, err := g.outcomes(r)
			if err != nil {
				g.pageFail(w, r, err)
				return
			}
			p.Outcomes, p.OutcomesCSV, p.DivergenceCSV = &out, "/analytics/outcomes.csv", "/analytics/divergence.csv"
			p.JSONPath = "/analytics/outcomes"
		}
		if tab == web.TabDecisions {
			if p.Decisions, p.More, err = g.decisions(r.Context(), rq, rq.offset, decisionsPage); err != nil {
				g.pageFail(w, r, errorf(KindUnavailable, "report", "could not read the decision store", err))
				return
			}
			p.JSONPath = decisionsAPIPath
		}
		// Filter choices: every configured contract, and every family and prescriber seen in the
		// period (a filter keeps its choice even when it narrows the rows to none).
		contracts, families, prescribers, clients := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, c := range g.current().reg.Contracts() {
			contracts[c.ID] = true
		}
		for _, a := range ag.Families {
			contracts[a.Contract], families[a.Family] = true, true
		}
		for _, pr := range rep.Prescribers {
			prescribers[pr.Prescriber], clients[pr.Client] = true, true
		}
		contracts[rq.filter.Contract], families[rq.filter.Family], prescribers[rq.filter.Prescriber], clients[rq.filter.Client] = true, true, true, true
		p.Contracts, p.Families, p.Prescribers, p.Clients = filterChoices(contracts), filterChoices(families), filterChoices(prescribers), filterChoices(clients)
		p.Scope, p.Scoped = rq.filter.Clients, rq.filter.Clients != nil
		web.RenderDashboard(w, p)
	}
}

// handleDecisionPage shows one recorded card: its suggestions with their figures, what became of
// its order, and a fresh link to its comparison page when scoring it again gives the recorded
// figures to the cent.
func (g *Gateway) handleDecisionPage(w http.ResponseWriter, r *http.Request) {
	card := mux.Vars(r)["card"]
	if card == "" || len(card) > 128 {
		g.pageFail(w, r, errorf(KindNotFound, "decision", "no such decision", nil))
		return
	}
	if g.cfg.Store == nil {
		g.pageFail(w, r, errorf(KindNotFound, "decision", "no decision store is configured", nil))
		return
	}
	d, err := g.cfg.Store.Decision(r.Context(), card)
	if errors.Is(err, store.ErrNotFound) {
		g.pageFail(w, r, errorf(KindNotFound, "decision", "no such decision (orders that got no card have no card to show)", nil))
		return
	}
	if err != nil {
		g.pageFail(w, r, errorf(KindUnavailable, "decision", "could not read the decision store", err))
		return
	}
	if !(tracking.Filter{Clients: AnalystClients(r.Context())}).Admits(d.Client) {
		// Another client's decision is, for this analyst, no decision at all.
		g.pageFail(w, r, errorf(KindNotFound, "decision", "no such decision (orders that got no card have no card to show)", nil))
		return
	}
	det := &web.DecisionDetail{CardUUID: d.CardUUID, Hook: d.Hook, Contract: d.ContractID, Arrangement: d.Arrangement, Family: d.GroupID,
		Ordered: d.OrderedProductID, Best: d.BestProductID, Prescriber: d.UserID, Location: d.Location, Client: d.Client, At: d.At, Outcome: "no feedback"}
	accepted := ""
	if ru, ok := g.cfg.Store.(store.Rollups); ok {
		if o, err := ru.OrderOf(r.Context(), d.Client, store.OrderKeyOf(d)); err == nil {
			switch o.Outcome {
			case "accepted":
				det.Outcome, det.AcceptedProduct, accepted = "accepted", o.AcceptedProductID, o.AcceptedSuggestionUUID
				if o.CardUUID == d.CardUUID && o.OrderedProductID != d.OrderedProductID && o.AcceptedProductID == d.OrderedProductID &&
					!hasSuggestion(d, o.AcceptedSuggestionUUID) {
					// The order's deciding card, overridden, on an order an earlier card of it
					// switched to the product this card was ordered on (a chain:
					// store.AssembleOrders): the page says what this card's answer was, not the
					// earlier card's acceptance.
					det.Outcome, det.AcceptedProduct, det.Reason, accepted = "overridden", "", o.ReasonCode, ""
				}
			case "overridden":
				det.Outcome, det.Reason = "overridden", o.ReasonCode
			}
		}
	} else if st, err := g.cfg.Store.OrderState(r.Context(), d.Client, d.OrderKey); err == nil {
		det.Outcome = st.Outcome
	}
	for _, sg := range d.Suggestions {
		det.Suggestions = append(det.Suggestions, web.SuggestionView{Product: sg.ProductID, PayerCourse: sg.PayerSaving,
			PatientCourse: sg.PatientSaving, OrgCourse: sg.OrgImpact, PayerYear: sg.PerYear.Payer, PatientYear: sg.PerYear.Patient,
			OrgYear: sg.PerYear.Org, Accepted: accepted != "" && sg.UUID == accepted})
	}
	det.CompareURL, det.CompareNote = g.decisionComparison(d)
	if det.PayerOnAllowedUntil, err = g.payerBasis(r.Context(), tracking.Filter{From: d.At}); err != nil {
		g.pageFail(w, r, err)
		return
	}
	web.RenderDashboard(w, web.DashboardPage{Tab: web.TabDecision, Decision: det, Names: g.dashboardNames(), CSS: dashboardCSSPath,
		Base: dashboardPath, JSONPath: reportPath, CSVPath: reportCSVPath, DecisionPath: decisionPagePath})
}

// decisionComparison scores a recorded card again (its stored scoring request, else its contract,
// ordered product and date with the family's default dose) and, when the best product and every
// suggestion's per-course figures come out as recorded to the cent, stores the comparison and
// returns a fresh signed link to it. Otherwise it says why there is no link: a page with other
// figures than the card's would be wrong data.
func (g *Gateway) decisionComparison(d store.Decision) (string, string) {
	eng := g.current()
	req := scoring.Request{ContractID: d.ContractID, ProductID: d.OrderedProductID, Date: d.At.UTC().Truncate(24 * time.Hour)}
	if len(d.ScoreRequest) > 0 {
		var err error
		if req, _, err = decodeScoreRequest(d.ScoreRequest); err != nil {
			return "", "The comparison cannot be rebuilt: the recorded scoring request cannot be read."
		}
	}
	res, err := eng.scorer.Score(req)
	if err != nil || res.Best == nil || res.Best.Product.ID != d.BestProductID {
		return "", "The comparison cannot be rebuilt with the recorded figures (the catalog or the contract changed since, or the card's dose is not in the record); the figures above are the card's as recorded."
	}
	for _, sg := range d.Suggestions {
		o, ok := optionOf(res, sg.ProductID)
		if !ok {
			return "", "The comparison cannot be rebuilt: a suggested product is no longer scored for this order."
		}
		p, pt, org := savings(res.Ordered, o)
		if math.Round(p*100) != math.Round(sg.PayerSaving*100) || math.Round(pt*100) != math.Round(sg.PatientSaving*100) ||
			math.Round(org*100) != math.Round(sg.OrgImpact*100) {
			return "", "The comparison cannot be rebuilt with the recorded figures (scoring the order again gives other figures); the figures above are the card's as recorded."
		}
	}
	sum := sha256.Sum256([]byte("valuerx dashboard comparison\x00" + d.CardUUID))
	var id web.ID
	copy(id[:], sum[:])
	pol := eng.scorer.Policy()
	ref := g.links.Issue(dashboardLinkOwner, id, func() *web.Comparison {
		c := &web.Comparison{Result: res, Catalog: eng.cat, Assumptions: assumptionsOf(res), Built: g.cfg.Now()}
		for _, sg := range d.Suggestions {
			if sg.ProductID != "" && !slices.Contains(c.Suggested, sg.ProductID) {
				c.Suggested = append(c.Suggested, sg.ProductID)
			}
		}
		for _, ind := range res.Indications {
			if x, ok := pol.Indications().Indication(res.Group.ID, ind); ok && x.Name != "" {
				c.IndicationNames = append(c.IndicationNames, x.Name)
			} else {
				c.IndicationNames = append(c.IndicationNames, ind)
			}
		}
		return c
	})
	return g.cfg.ExternalURL + comparePath + ref, ""
}

func (g *Gateway) handleDashboardCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(web.DashboardCSS())
}

func filterChoices(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// hasSuggestion reports whether one of d's suggestions has uuid.
func hasSuggestion(d store.Decision, uuid string) bool {
	for _, sg := range d.Suggestions {
		if sg.UUID == uuid {
			return true
		}
	}
	return false
}
