package gateway

import (
	"encoding/json"
	"fmt"
	"strings"

	"valuerx/scoring"
)

// extensionKey is the card extension member that carries the economics (CDS Hooks 2.0 §Card:
// `extension` is an object whose members are named by the service).
const extensionKey = "valuerx-economics"

// econAmounts are one product's figures over one span, in USD rounded to cents. The markdown
// table prints these same numbers.
type econAmounts struct {
	Allowed      float64 `json:"allowed"`      // total cost of care for the drug
	PayerPaid    float64 `json:"payerPaid"`    // the primary payer's own payment, after cost sharing and sequestration
	Patient      float64 `json:"patient"`      // what the patient owes after any supplemental coverage
	Secondary    float64 `json:"secondary"`    // what the supplemental coverage pays
	Uncollected  float64 `json:"uncollected"`  // cost sharing that cannot be collected (QMB)
	Organisation float64 `json:"organisation"` // the organisation's net impact under the arrangement
}

func amountsOf(f scoring.Figures) econAmounts {
	return econAmounts{Allowed: round2(f.PayerAllowed), PayerPaid: round2(f.PayerPaid), Patient: round2(f.PatientOOP),
		Secondary: round2(f.Secondary), Uncollected: round2(f.Uncollected), Organisation: round2(f.NetImpact)}
}

type econPriorAuth struct {
	Required          bool    `json:"required"`
	ExpectedDelayDays float64 `json:"expectedDelayDays,omitempty"`
	DenialRate        float64 `json:"denialRate,omitempty"`
}

// econProduct is the ordered product or one suggested option.
type econProduct struct {
	Product           string            `json:"product"` // catalog product id
	Name              string            `json:"name"`
	HCPCS             string            `json:"hcpcs,omitempty"`
	NDC               string            `json:"ndc,omitempty"`  // 11 digits, the largest item used for a dose
	BillingUnits      float64           `json:"billingUnits"`   // per administration
	WastedUnits       float64           `json:"wastedUnits"`    // per administration, discarded and billed (JW)
	PayerPreferred    bool              `json:"payerPreferred"` //
	PriorAuth         *econPriorAuth    `json:"priorAuth,omitempty"`
	PerAdministration econAmounts       `json:"perAdministration"` //
	PerCourse         econAmounts       `json:"perCourse"`
	PerYear           econAmounts       `json:"perYear"`
	Sources           map[string]string `json:"sources"` // figure -> "published: ...", "derived: ...", "configured: ...", "estimated: ..."
}

func productOfOption(o scoring.Option) econProduct {
	e := econProduct{Product: o.Product.ID, Name: o.Product.Name, HCPCS: o.Product.HCPCS,
		BillingUnits: o.PerDose.Units, WastedUnits: o.PerDose.WastedUnits, PayerPreferred: o.PayerPreferred,
		PerAdministration: amountsOf(o.PerDose), PerCourse: amountsOf(o.PerCourse), PerYear: amountsOf(o.PerYear),
		Sources: o.Sources}
	var best float64
	for _, u := range o.Packages {
		if n, ok := scoring.NormalizeNDC(u.NDC); ok && (e.NDC == "" || u.Mg > best) {
			e.NDC, best = n, u.Mg
		}
	}
	if o.PriorAuth.Required {
		e.PriorAuth = &econPriorAuth{true, o.PriorAuth.ExpectedDelayDays, o.PriorAuth.DenialRate}
	}
	return e
}

type econPeriod struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Start string `json:"start"`
	End   string `json:"end,omitempty"`
	Stale bool   `json:"stale,omitempty"`
}

// economics is the `valuerx-economics` extension: everything the card's table shows, as numbers,
// for EHR integrators and analytics (README "The economics on every card").
type economics struct {
	Contract                 string        `json:"contract"`
	ContractName             string        `json:"contractName"`
	Arrangement              string        `json:"arrangement"`
	PricePeriod              econPeriod    `json:"pricePeriod"`
	Currency                 string        `json:"currency"`
	DoseMg                   float64       `json:"doseMg"`
	AdministrationsPerCourse int           `json:"administrationsPerCourse"`
	AdministrationsPerYear   int           `json:"administrationsPerYear"`
	SecondaryCoverage        string        `json:"secondaryCoverage,omitempty"`
	Ordered                  econProduct   `json:"ordered"`
	Options                  []econProduct `json:"options"` // the suggested products, in suggestion order
	Assumptions              []string      `json:"assumptions"`
}

// economicsOf builds the extension for a result and the options the card suggests.
func economicsOf(res scoring.Result, suggested []scoring.Option) economics {
	e := economics{
		Contract: res.Contract.ID, ContractName: res.Contract.Name, Arrangement: string(res.Contract.Arrangement),
		PricePeriod: econPeriod{ID: res.Book.ID, Label: res.Book.Label, Start: res.Book.Start.Format("2006-01-02"), Stale: res.Stale},
		Currency:    "USD", DoseMg: res.DoseMg,
		AdministrationsPerCourse: res.Administrations, AdministrationsPerYear: res.AdministrationsPerYear,
		Ordered:     productOfOption(res.Ordered),
		Options:     make([]econProduct, 0, len(suggested)),
		Assumptions: assumptionsOf(res),
	}
	if res.Secondary != nil {
		e.SecondaryCoverage = res.Secondary.ID
	}
	if !res.Book.End.IsZero() {
		e.PricePeriod.End = res.Book.End.Format("2006-01-02")
	}
	for _, o := range suggested {
		e.Options = append(e.Options, productOfOption(o))
	}
	return e
}

// extensionJSON is the card's extension object holding the one valuerx member.
func extensionJSON(e economics) (json.RawMessage, error) {
	b, err := json.Marshal(map[string]economics{extensionKey: e})
	if err != nil {
		return nil, fmt.Errorf("card extension: %w", err)
	}
	return b, nil
}

// assumptionsOf lists, in words, what the figures assume that the data do not say: the risk
// position, cost sharing and supplemental coverage, sequestration, the acquisition estimate, the
// year of therapy and the defaults.
func assumptionsOf(res scoring.Result) []string {
	var out []string
	o := res.Ordered
	strip := func(s string) string {
		for _, p := range []string{"derived: ", "published: ", "configured: ", "estimated: "} {
			s = strings.TrimPrefix(s, p)
		}
		return s
	}
	if src := o.Sources["netImpact"]; src != "" {
		out = append(out, "organisation figure: "+strip(src))
	}
	if src := o.Sources["patientOOP"]; src != "" {
		out = append(out, "patient figure: "+strip(src))
	}
	if src := o.Sources["payerAllowed"]; src != "" {
		if _, paid, ok := strings.Cut(src, "; payer paid: "); ok {
			out = append(out, "payer paid: "+paid)
		}
	}
	estimated := false
	for _, x := range append([]scoring.Option{o}, res.Options...) {
		estimated = estimated || strings.HasPrefix(x.Sources["acquisition"], "estimated")
	}
	if estimated {
		out = append(out, "acquisition cost: estimated as the ASP derived from the CMS payment limit where no invoice cost is configured")
	}
	out = append(out, fmt.Sprintf("year of therapy: %d administrations (%s)", res.AdministrationsPerYear, res.PerYearSource))
	if len(res.Defaulted) > 0 {
		out = append(out, "the group's default "+strings.Join(res.Defaulted, " and ")+" (the order did not give it)")
	}
	if res.Contract.Arrangement == scoring.Capitation && res.Contract.DrugsInBudget {
		out = append(out, "capitation: one saving, to the capitated budget; no payer saving beside it (the premium does not move with this order)")
	}
	if pa := o.PriorAuth; pa.Required {
		out = append(out, fmt.Sprintf("prior authorisation: the ordered product needs it (contract: about %g days, %g%% denied); shown as a status, not counted as a loss", pa.ExpectedDelayDays, pa.DenialRate*100))
	}
	if res.Stale {
		out = append(out, "price period: the order date is outside the newest price book; the nearest book was used")
	}
	return out
}
