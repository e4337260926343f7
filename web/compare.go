package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"valuerx/scoring"
)

//go:embed templates/*.html assets/*
var files embed.FS

var (
	pageTmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"usd": usd, "signed": signedUSD, "cents": func(v float64) string { return strconv.FormatFloat(cents(v), 'f', 2, 64) },
	}).ParseFS(files, "templates/*.html"))
	assets, _ = fs.Sub(files, "assets")
)

// Comparison is what the gateway keeps for one card's comparison page: the scoring result the
// card was built from, the catalog it was scored on (for the price history), and what the card
// said beside the figures. Nothing in it identifies a patient.
type Comparison struct {
	Result  scoring.Result
	Catalog *scoring.Catalog
	// Suggested are the product ids of the card's switch suggestions, in order.
	Suggested []string
	// Assumptions are the card extension's assumptions, in words.
	Assumptions []string
	// PricedAs and OrderNotes are how the dose and course were read and what the order check
	// found (the card's own lines).
	PricedAs, OrderNotes []string
	// IndicationNames are the labelled indications the order was checked against, by name.
	IndicationNames []string
	HistoryKnown    bool
	Built           time.Time
}

// Handler serves GET {prefix}{ref} (the page) and {prefix}assets/{file}.
type Handler struct {
	links  *Links
	prefix string
	log    *slog.Logger
}

// NewHandler serves comparisons from links under prefix ("/compare/").
func NewHandler(links *Links, prefix string, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{links: links, prefix: prefix, log: log}
}

// securityHeaders: the page is private (no caching, no referrer carrying the reference to
// another site), runs no script and loads only its own stylesheet.
func securityHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, h.prefix)
	if name, ok := strings.CutPrefix(rest, "assets/"); ok {
		if name != "compare.css" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFileFS(w, r, assets, name)
		return
	}
	securityHeaders(w.Header())
	c, err := h.links.Open(rest)
	if err != nil {
		status := http.StatusNotFound
		if errors.Is(err, ErrExpired) || errors.Is(err, ErrUnknown) {
			status = http.StatusGone
		}
		h.log.Info("comparison link refused", "reason", err.Error(), "status", status) // never the reference
		h.render(w, status, "invalid.html", struct{ CSS string }{h.prefix + "assets/compare.css"})
		return
	}
	h.render(w, http.StatusOK, "compare.html", buildPage(c, h.prefix+"assets/compare.css"))
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&buf, name, data); err != nil {
		h.log.Error("comparison page failed", "template", name, "error", err.Error())
		http.Error(w, "the comparison page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// cents rounds like the card and its valuerx-economics extension (gateway round2), so the page's
// figures equal the card's to the cent.
func cents(v float64) float64 {
	if v < 0 {
		return -cents(-v)
	}
	return float64(int64(v*100+0.5)) / 100
}

func usd(v float64) string { return "$" + scoring.FormatUSD(math.Abs(cents(v))) }

func signedUSD(v float64) string {
	switch s := scoring.FormatSignedUSD(cents(v)); {
	case strings.HasPrefix(s, "+"), strings.HasPrefix(s, "-"):
		return s[:1] + "$" + s[1:]
	default:
		return "$" + s
	}
}

// page is the comparison page's view model.
type page struct {
	CSS                       string
	Title                     string
	Ordered, Recommended      string
	Contract, Arrangement     string
	PricePeriod               string
	Stale                     bool
	Dose                      string
	Course, Year              string
	PerYearSource             string
	Secondary                 string
	Options                   []optionView
	Spans                     []spanView
	Bars                      chart
	Lines                     lineChart
	Excluded                  []excludedView
	Assumptions               []string
	PricedAs, OrderNotes      []string
	Indications               []string
	IndicationUnknown         bool
	MidCourse                 string
	HistoryKnown              bool
	SwitchRule                string
	Notes                     []string
	BuiltAt                   string
	Capitated, ShowsSecondary bool
}

type optionView struct {
	ID, Name, Proper, Relationship, Status, Class string
	Units, Wasted                                 string
	Vials                                         string
	Preferred, PriorAuth                          string
	Priced                                        bool
	Sources                                       []sourceView
}

type sourceView struct{ Figure, Text string }

type spanView struct {
	Name string // "per dose", "per course", "per year"
	Key  string // perAdministration, perCourse, perYear (the extension's names)
	Rows []spanRow
}

type spanRow struct {
	ID, Name, Class string
	Priced          bool
	Cells           []cell
}

type cell struct {
	Figure, Text, Value string
}

type excludedView struct{ Name, Reason string }

// exclusionReason is each Exclude* in a sentence a pharmacist can act on.
var exclusionReason = map[string]string{
	scoring.ExcludeMidCourse:        "the patient is mid-course on this product's group and the P&T policy does not switch mid-course",
	scoring.ExcludeOffFormulary:     "not on this site's formulary, or not stocked here",
	scoring.ExcludeNotLabelled:      "its FDA label does not carry (or is not known to carry) the order's indication",
	scoring.ExcludeStrength:         "no tablet of the ordered strength",
	scoring.ExcludeRouteForm:        "another route of administration or dosage form",
	scoring.ExcludeRaisesPatientOOP: "the patient would pay more",
	scoring.ExcludeRaisesPayerCost:  "the payer would pay more (the contract does not allow a switch for margin)",
	scoring.ExcludeMarginFalls:      "fee-for-service: lowers the organisation's margin, and the payer does not prefer it",
	scoring.ExcludeNotPriced:        "no price in this period's book, or not in the contract's fee schedule",
}

func buildPage(c *Comparison, css string) page {
	res := c.Result
	p := page{CSS: css, Contract: res.Contract.Name, Arrangement: arrangementLabel(res.Contract.Arrangement),
		PricePeriod: res.Book.Label, Stale: res.Stale,
		Dose:          strconv.FormatFloat(cents(res.DoseMg), 'f', -1, 64) + " mg",
		Course:        fmt.Sprintf("%d administrations", res.Administrations),
		Year:          fmt.Sprintf("%d administrations", res.AdministrationsPerYear),
		PerYearSource: res.PerYearSource, Assumptions: c.Assumptions, PricedAs: c.PricedAs, OrderNotes: c.OrderNotes,
		Indications: c.IndicationNames, IndicationUnknown: res.IndicationUnknown, MidCourse: string(res.MidCourse),
		HistoryKnown: c.HistoryKnown, SwitchRule: res.Group.SwitchRule, Notes: res.Group.Notes,
		BuiltAt:   c.Built.UTC().Format("2006-01-02 15:04 UTC"),
		Capitated: res.Contract.Arrangement == scoring.Capitation && res.Contract.DrugsInBudget,
	}
	if res.Group.Benefit == scoring.PharmacyBenefit {
		p.Dose += " a day"
		p.Course = fmt.Sprintf("%d days of supply", res.Administrations)
		p.Year = fmt.Sprintf("%d days", res.AdministrationsPerYear)
	}
	if sc := res.Secondary; sc != nil && sc.ID != "" {
		p.Secondary, p.ShowsSecondary = sc.Name, true
		if sc.QMB {
			p.Secondary += " (QMB: no cost sharing may be billed)"
		}
	}
	opts := append([]scoring.Option{res.Ordered}, res.Options...)
	p.Ordered = res.Ordered.Product.Name
	if res.Best != nil {
		p.Recommended = res.Best.Product.Name
		p.Title = fmt.Sprintf("%s or %s: full comparison", p.Ordered, p.Recommended)
	} else {
		p.Title = p.Ordered + ": full comparison"
	}
	status := func(o scoring.Option, i int) (string, string) {
		switch {
		case i == 0:
			return "ordered", "ordered"
		case res.Best != nil && o.Product.ID == res.Best.Product.ID:
			return "recommended", "recommended"
		case slices.Contains(c.Suggested, o.Product.ID):
			return "also suggested", "suggested"
		case o.Exclusion != "":
			return "not suggested", "excluded"
		}
		return "not suggested (does not beat the order)", "other"
	}
	spans := []spanView{{Name: "Per dose", Key: "perAdministration"}, {Name: "Per course", Key: "perCourse"}, {Name: "Per year of therapy", Key: "perYear"}}
	for i, o := range opts {
		st, class := status(o, i)
		priced := o.Exclusion != scoring.ExcludeNotPriced
		v := optionView{ID: o.Product.ID, Name: o.Product.Name, Proper: o.Product.ProperName, Relationship: string(o.Product.Relationship),
			Status: st, Class: class, Priced: priced,
			Units: strconv.FormatFloat(o.PerDose.Units, 'f', -1, 64), Wasted: strconv.FormatFloat(o.PerDose.WastedUnits, 'f', -1, 64),
			Vials: vials(o), Preferred: yesNo(o.PayerPreferred), PriorAuth: "not needed"}
		if o.PriorAuth.Required {
			v.PriorAuth = fmt.Sprintf("needed (about %g days, %g%% denied)", o.PriorAuth.ExpectedDelayDays, o.PriorAuth.DenialRate*100)
		}
		keys := make([]string, 0, len(o.Sources))
		for k := range o.Sources {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v.Sources = append(v.Sources, sourceView{k, o.Sources[k]})
		}
		p.Options = append(p.Options, v)
		for s, f := range []scoring.Figures{o.PerDose, o.PerCourse, o.PerYear} {
			row := spanRow{ID: o.Product.ID, Name: o.Product.Name, Class: class, Priced: priced}
			add := func(name string, v float64, text string) {
				row.Cells = append(row.Cells, cell{Figure: o.Product.ID + "." + spans[s].Key + "." + name, Text: text,
					Value: strconv.FormatFloat(cents(v), 'f', 2, 64)})
			}
			add("allowed", f.PayerAllowed, usd(f.PayerAllowed))
			add("payerPaid", f.PayerPaid, usd(f.PayerPaid))
			add("patient", f.PatientOOP, usd(f.PatientOOP))
			add("secondary", f.Secondary, usd(f.Secondary))
			add("organisation", f.NetImpact, signedUSD(f.NetImpact))
			spans[s].Rows = append(spans[s].Rows, row)
		}
		if o.Exclusion != "" {
			p.Excluded = append(p.Excluded, excludedView{o.Product.Name, exclusionReason[o.Exclusion]})
		}
	}
	p.Spans = spans
	p.Bars = barChart(opts, res)
	p.Lines = priceHistory(c.Catalog, res)
	return p
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func vials(o scoring.Option) string {
	var parts []string
	for _, u := range o.Packages {
		kind := "multi-dose"
		if u.SingleDose {
			kind = "single-dose"
		}
		parts = append(parts, fmt.Sprintf("%d × %s mg %s", u.Count, strconv.FormatFloat(u.Mg, 'f', -1, 64), kind))
	}
	return strings.Join(parts, " + ")
}

func arrangementLabel(a scoring.Arrangement) string {
	switch a {
	case scoring.FFS:
		return "fee-for-service"
	case scoring.SharedSavingsUpside:
		return "shared savings, upside only"
	case scoring.SharedSavingsTwoSided:
		return "shared savings, two-sided risk"
	case scoring.Capitation:
		return "capitation"
	case scoring.Episode:
		return "episode budget"
	}
	return string(a)
}
