package scoring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Arrangement is how a contract shares the financial risk of the drug.
type Arrangement string

// Arrangements of economics.md §3.
const (
	FFS                   Arrangement = "ffs"
	SharedSavingsUpside   Arrangement = "shared-savings-upside"
	SharedSavingsTwoSided Arrangement = "shared-savings-two-sided"
	Capitation            Arrangement = "capitation"
	Episode               Arrangement = "episode"
)

// Basis is what the payer pays per billing unit.
type Basis string

// Reimbursement bases. WAC-minus is recognised but rejected: valuerx ships no
// WAC prices, so a contract on that basis cannot be scored honestly.
const (
	BasisMedicareASP Basis = "medicare-asp" // the CMS payment limit (ASP + 6%, or + 8% of the reference for qualifying biosimilars)
	BasisASPPlus     Basis = "asp-plus"     // derived ASP x (1 + percent)
	BasisFeeSchedule Basis = "fee-schedule" // a configured USD per billing unit per product
	BasisNone        Basis = "none"         // capitated: no per-claim payment
	BasisWACMinus    Basis = "wac-minus"    // unsupported (no WAC data)
)

// Config is the contract registry's configuration: the contracts, the
// attribution roster and the organisation's acquisition costs. It is read from
// YAML by ParseConfig; every key is listed below and an unknown key is an
// error, so a typo cannot silently drop a setting.
//
//	contracts:                      # most specific match wins (attribution > payer/plan/group > SOPT only)
//	  - id: mssp-aco                # [a-z0-9-]+, unique; the id cards and the decision store show
//	    name: Medicare Shared Savings ACO (two-sided)
//	    match:                      # a contract matches when ANY of sopt/payerIds/plans/groups matches...
//	      sopt: ["121"]             # Source of Payment Typology code prefixes on Coverage.type (weak evidence)
//	      payerIds: []              # Coverage.payor identifier values, reference ids or display (case-insensitive)
//	      plans: []                 # Coverage.class plan values (case-insensitive)
//	      groups: []                # Coverage.class group values (case-insensitive)
//	      attribution: true         # ...and, when true, the patient's MBI is on the roster for this contract on the order date
//	    arrangement: shared-savings-two-sided  # ffs | shared-savings-upside | shared-savings-two-sided | capitation | episode
//	    sharedSavingsRate: 0.5      # shared-savings: the sharing rate of the payer's expenditure change (0-1; default: risk.track's)
//	    episodeRiskShare: 0         # episode: the organisation's share of the episode's expenditure change (0-1)
//	    risk:                       # shared-savings and episode reconciliation terms (RiskTerms)
//	      track: basic-e            # basic-a .. basic-e, enhanced, custom
//	      lossRate: 0.3             # two-sided: share of losses (default: the track's)
//	      qualityFactor: 1          # share of the sharing rate the quality score earns
//	      minimumSavingsRate: 0.02  # MSR and MLR, fractions of the benchmark
//	      minimumLossRate: 0.02
//	      savingsCap: 0.1           # default: the track's; episode: stop-gain
//	      lossCap: 0.15             # episode: stop-loss
//	      expectedPosition: above-msr   # above-msr | corridor | loss-zone | capped | below-target | above-target
//	      expectedSavingsRate: 0.035    # instead of expectedPosition
//	      sequesterPayout: true     # shared savings payments are sequestered (default true)
//	    drugsInBudget: false        # capitation: Part B drugs are paid from the capitated budget
//	    reimbursement:
//	      basis: medicare-asp       # medicare-asp | asp-plus | fee-schedule | none (capitation in budget)
//	      percent: 0                # asp-plus: 0.20 means ASP + 20%
//	      feeSchedule: {}           # fee-schedule: product id -> USD per billing unit
//	      sequestration: 0.02       # of the payer's own payment (default 0.02 for medicare-asp, else 0)
//	      coinsuranceSource: file   # medicare-asp: file (the ASP file's percentage, default) | contract
//	    coinsurance: 0.2            # patient share of the allowed amount (0-1); Medicare: where the file has none
//	    copay: 0                    # patient USD per administration, on top of coinsurance
//	    deductible: 283             # per plan year (default for medicare-asp: the Part B deductible of the order's year)
//	    deductibleMet: false        # assume this year's deductible is met
//	    oopMaxPerCourse: 0          # cap on the patient's cost per course; 0 = no cap
//	    oopMaxPerYear: 0            # maximum out-of-pocket per plan year; 0 = none
//	    threshold: 25               # minimum per-course gain in net impact (USD) for a card
//	    preferred:                  # payer-preferred products per group id; groups not listed have no preference
//	      trastuzumab: [kanjinti, ogivri]
//	    priorAuth:                  # the others need prior authorisation: a status on the card, never a loss
//	      expectedDelayDays: 7
//	      denialRate: 0.1
//	    allowMarginSwitch: false    # allow suggestions that raise the payer's cost to raise the FFS margin
//	    allowMidCourseSwitch:       # per group id: override the group's mid-course switch rule
//	      trastuzumab: false
//	roster:                         # attribution (e.g. an ATR Group), keyed by MBI or plan member id
//	  - mbi: 1EG4TE5MK73            # 11-character MBI; dashes and case are ignored
//	    planMemberId: W123456789    # or (and) the plan's member id, as in Coverage.subscriberId
//	    contract: mssp-aco          # a contract with match.attribution: true
//	    start: 2026-01-01           # optional attribution period, inclusive (YYYY-MM-DD)
//	    end: 2026-12-31
//	acquisitionCosts:               # the organisation's cost per billing unit; absent = the derived ASP (estimate)
//	  - product: trazimera          # catalog product id
//	    usdPerUnit: 2.50
//	    start: 2026-01-01           # optional period, inclusive
//	    end: 2026-03-31
//	    note: GPO contract 2026     # shown as the figure's source
type Config struct {
	Contracts         []Contract          `yaml:"contracts"`
	SecondaryCoverage []SecondaryCoverage `yaml:"secondaryCoverage,omitempty"`
	Roster            []RosterEntry       `yaml:"roster,omitempty"`
	AcquisitionCosts  []AcquisitionCost   `yaml:"acquisitionCosts,omitempty"`
}

// SecondaryKind is the kind of a supplemental coverage.
type SecondaryKind string

// Supplemental coverages of economics.md §3.
const (
	Medigap  SecondaryKind = "medigap"  // Medicare supplement (SOPT 523)
	Retiree  SecondaryKind = "retiree"  // employer retiree plan
	Medicaid SecondaryKind = "medicaid" // Medicaid for a dual eligible
)

// SecondaryCoverage is a supplemental coverage the registry recognises among
// the patient's other active Coverages (Coverage.order after the primary) and
// what it pays of the patient's cost sharing. A QMB (Qualified Medicare
// Beneficiary) owes no Medicare cost sharing and the provider may not bill it
// (SSA 1902(n)(3)(B)): what Medicaid does not pay of it cannot be collected.
//
//	secondaryCoverage:
//	  - id: medigap                 # [a-z0-9-]+, unique
//	    name: Medigap (Plan G)
//	    kind: medigap               # medigap | retiree | medicaid
//	    match: {sopt: ["523"]}      # as a contract's match (no attribution)
//	    paysCoinsurance: 1          # share of the coinsurance and copays it pays (0-1)
//	    paysDeductible: false       # it pays the deductible too (Medigap C, F)
//	    qmb: false                  # medicaid: Qualified Medicare Beneficiary
type SecondaryCoverage struct {
	ID              string        `yaml:"id"`
	Name            string        `yaml:"name"`
	Kind            SecondaryKind `yaml:"kind"`
	Match           Match         `yaml:"match"`
	PaysCoinsurance float64       `yaml:"paysCoinsurance"`
	PaysDeductible  bool          `yaml:"paysDeductible,omitempty"`
	QMB             bool          `yaml:"qmb,omitempty"`
}

func (sc *SecondaryCoverage) validate() error {
	var errs []error
	if !idRE.MatchString(sc.ID) {
		errs = append(errs, fmt.Errorf("id %q must match [a-z0-9-]+", sc.ID))
	}
	if strings.TrimSpace(sc.Name) == "" {
		errs = append(errs, errors.New("name is required"))
	}
	switch sc.Kind {
	case Medigap, Retiree:
		if sc.QMB {
			errs = append(errs, fmt.Errorf("qmb applies to kind medicaid, not %s", sc.Kind))
		}
	case Medicaid:
	default:
		errs = append(errs, fmt.Errorf("unknown kind %q (medigap, retiree, medicaid)", sc.Kind))
	}
	m := sc.Match
	if m.Attribution {
		errs = append(errs, errors.New("match.attribution applies to contracts, not to supplemental coverage"))
	}
	if len(m.SOPT)+len(m.PayerIDs)+len(m.Plans)+len(m.Groups) == 0 {
		errs = append(errs, errors.New("match needs at least one of sopt, payerIds, plans, groups"))
	}
	for _, c := range m.SOPT {
		if c == "" || strings.Trim(c, "0123456789") != "" {
			errs = append(errs, fmt.Errorf("match.sopt %q must be digits", c))
		}
	}
	if err := fraction("paysCoinsurance", sc.PaysCoinsurance); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Contract is one payer agreement; see Config for each field's meaning.
type Contract struct {
	ID                   string              `yaml:"id"`
	Name                 string              `yaml:"name"`
	Match                Match               `yaml:"match"`
	Arrangement          Arrangement         `yaml:"arrangement"`
	SharedSavingsRate    float64             `yaml:"sharedSavingsRate,omitempty"`
	EpisodeRiskShare     float64             `yaml:"episodeRiskShare,omitempty"`
	DrugsInBudget        bool                `yaml:"drugsInBudget,omitempty"`
	Reimbursement        Reimbursement       `yaml:"reimbursement"`
	Risk                 *RiskTerms          `yaml:"risk,omitempty"`
	Coinsurance          float64             `yaml:"coinsurance"`
	Copay                float64             `yaml:"copay,omitempty"`
	Deductible           *float64            `yaml:"deductible,omitempty"`
	DeductibleMet        bool                `yaml:"deductibleMet,omitempty"`
	OOPMaxPerCourse      float64             `yaml:"oopMaxPerCourse,omitempty"`
	OOPMaxPerYear        float64             `yaml:"oopMaxPerYear,omitempty"`
	Threshold            float64             `yaml:"threshold"`
	DenialRisk           float64             `yaml:"denialRisk,omitempty"` // rejected with a pointer to priorAuth
	Preferred            map[string][]string `yaml:"preferred,omitempty"`
	PriorAuth            *PriorAuthTerms     `yaml:"priorAuth,omitempty"`
	AllowMarginSwitch    bool                `yaml:"allowMarginSwitch,omitempty"`
	AllowMidCourseSwitch map[string]bool     `yaml:"allowMidCourseSwitch,omitempty"`
	// Quality: pay-for-performance terms by quality measure (PDC-DR, PDC-RASA, PDC-STA, SUPD):
	// the value of closing a care gap on the adherence and SUPD cards (quality.go).
	Quality map[string]QualityTerms `yaml:"quality,omitempty"`
}

// Match says how a contract is recognised from a Coverage.
type Match struct {
	SOPT        []string `yaml:"sopt,omitempty"`
	PayerIDs    []string `yaml:"payerIds,omitempty"`
	Plans       []string `yaml:"plans,omitempty"`
	Groups      []string `yaml:"groups,omitempty"`
	Attribution bool     `yaml:"attribution,omitempty"`
}

// Reimbursement is what the payer pays the organisation per billing unit,
// and the payment rules of the basis. For medicare-asp each rule defaults to
// Medicare's value in force (economics.md §3); a nil pointer means "the
// default".
type Reimbursement struct {
	Basis       Basis              `yaml:"basis"`
	Percent     float64            `yaml:"percent,omitempty"`
	FeeSchedule map[string]float64 `yaml:"feeSchedule,omitempty"`
	// Sequestration is the share of the payer's own payment withheld: Medicare's
	// 2 % payment reduction (Budget Control Act of 2011, extended), applied to
	// the Medicare-paid share after cost sharing. Default 0.02 for
	// medicare-asp, 0 otherwise.
	Sequestration *float64 `yaml:"sequestration,omitempty"`
	// CoinsuranceSource says where the patient's coinsurance percentage comes
	// from: "file" (default for medicare-asp) is the CMS ASP file's
	// "Co-insurance Percentage" per HCPCS and quarter (20 % unless
	// inflation-adjusted under the Inflation Reduction Act), falling back to
	// the contract's coinsurance where the file gives none; "contract" always
	// uses the contract's (the only choice for other bases).
	CoinsuranceSource string `yaml:"coinsuranceSource,omitempty"`
}

// Coinsurance sources (Reimbursement.CoinsuranceSource).
const (
	CoinsuranceFromFile     = "file"
	CoinsuranceFromContract = "contract"
)

// medicareSequestration is the Medicare payment reduction in force (2 %
// through fiscal year 2032 under current law).
const medicareSequestration = 0.02

// partBDeductibles are the annual Medicare Part B deductibles (CMS "Medicare
// Parts A & B Premiums and Deductibles" fact sheets for 2024, 2025, 2026).
var partBDeductibles = map[int]float64{2024: 240, 2025: 257, 2026: 283}

// PriorAuthTerms is what a contract states about prior authorisation of the
// products it does not prefer (in the groups listed under preferred). valuerx
// shows it as a status on the option, never as an expected loss inside the
// organisation's figure.
type PriorAuthTerms struct {
	ExpectedDelayDays float64 `yaml:"expectedDelayDays,omitempty"` // calendar days from request to decision
	DenialRate        float64 `yaml:"denialRate,omitempty"`        // share of requests the payer denies (0-1)
}

// Position is where a risk-bearing organisation expects to land at
// reconciliation; it decides the marginal share of a change in the payer's
// expenditure (RiskTerms).
type Position string

// Positions of a shared-savings ACO and of an episode participant.
const (
	AboveMSR    Position = "above-msr"    // shared savings: savings beyond the minimum savings rate, below the cap
	Corridor    Position = "corridor"     // shared savings: between the minimum loss and minimum savings rates: nothing shared
	LossZone    Position = "loss-zone"    // two-sided shared savings: losses beyond the minimum loss rate, below the loss cap
	Capped      Position = "capped"       // beyond the savings cap, the loss cap, the stop-gain or the stop-loss: a marginal dollar changes nothing
	BelowTarget Position = "below-target" // episode: spending below the target price (a performance-based payment)
	AboveTarget Position = "above-target" // episode: spending above the target price (a recoupment)
)

// RiskTerms are the reconciliation terms of a shared-savings or episode
// contract. The organisation's marginal share of a change in the payer's own
// expenditure is: above-msr / below-target, sharing rate x quality factor
// (less sequestration of the payment); corridor and capped, zero; loss-zone /
// above-target, the loss rate. The expected position is the organisation's
// finance team's input (or derived from expectedSavingsRate) and every card
// shows it as an assumption.
type RiskTerms struct {
	// Track is an MSSP track whose rates are the defaults (42 CFR 425.605,
	// 425.610): basic-a, basic-b (one-sided, 40 %, cap 10 %), basic-c, basic-d,
	// basic-e (50 %, loss rate 30 %, cap 10 %), enhanced (75 %, loss rate 1 -
	// final sharing rate within 40-75 %, cap 20 %); eom (CMS Enhancing
	// or custom (every rate stated). Episode contracts take their rate from
	// episodeRiskShare.
	Track              string   `yaml:"track,omitempty"`
	LossRate           *float64 `yaml:"lossRate,omitempty"`           // two-sided: share of losses owed
	QualityFactor      *float64 `yaml:"qualityFactor,omitempty"`      // share of the maximum sharing rate the quality score earns (default 1)
	MinimumSavingsRate float64  `yaml:"minimumSavingsRate,omitempty"` // fraction of the benchmark
	MinimumLossRate    float64  `yaml:"minimumLossRate,omitempty"`    // fraction of the benchmark
	SavingsCap         *float64 `yaml:"savingsCap,omitempty"`         // fraction of the benchmark (stop-gain for episodes)
	LossCap            *float64 `yaml:"lossCap,omitempty"`            // fraction of the benchmark (stop-loss for episodes)
	ExpectedPosition   Position `yaml:"expectedPosition,omitempty"`
	// ExpectedSavingsRate is the expected savings as a fraction of the
	// benchmark (negative: losses); when given, the position is derived from
	// it and the rates above instead of stated.
	ExpectedSavingsRate *float64 `yaml:"expectedSavingsRate,omitempty"`
	// SequesterPayout: CMS reduces shared savings (and EOM performance-based)
	// payments by the 2 % sequestration; shared losses owed are not reduced.
	// Default true.
	SequesterPayout *bool `yaml:"sequesterPayout,omitempty"`
}

// trackTerms are an MSSP track's (or the EOM's) rates.
type trackTerms struct {
	sharing, loss, savingsCap float64
	twoSided, enhanced        bool
}

var tracks = map[string]trackTerms{
	"basic-a":  {sharing: 0.4, savingsCap: 0.10},
	"basic-b":  {sharing: 0.4, savingsCap: 0.10},
	"basic-c":  {sharing: 0.5, loss: 0.3, savingsCap: 0.10, twoSided: true},
	"basic-d":  {sharing: 0.5, loss: 0.3, savingsCap: 0.10, twoSided: true},
	"basic-e":  {sharing: 0.5, loss: 0.3, savingsCap: 0.10, twoSided: true},
	"enhanced": {sharing: 0.75, savingsCap: 0.20, twoSided: true, enhanced: true},
}

// RosterEntry attributes one beneficiary to a value-based contract, by Medicare Beneficiary
// Identifier or by the plan's member id (the Coverage's subscriberId), or both.
type RosterEntry struct {
	MBI          string `yaml:"mbi,omitempty"`
	PlanMemberID string `yaml:"planMemberId,omitempty"`
	Contract     string `yaml:"contract"`
	Start        Date   `yaml:"start,omitempty"`
	End          Date   `yaml:"end,omitempty"`
}

// AcquisitionCost is the organisation's own cost of a product per billing
// unit (invoice, GPO, 340B), optionally for a period.
type AcquisitionCost struct {
	Product    string  `yaml:"product"`
	USDPerUnit float64 `yaml:"usdPerUnit"`
	Start      Date    `yaml:"start,omitempty"`
	End        Date    `yaml:"end,omitempty"`
	Note       string  `yaml:"note,omitempty"`
}

// Date is a calendar day written YYYY-MM-DD in the configuration; the zero
// Date means "unbounded".
type Date struct{ time.Time }

// UnmarshalYAML reads a YYYY-MM-DD day.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: date must be YYYY-MM-DD", n.Line)
	}
	t, err := time.Parse("2006-01-02", strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("line %d: date %q must be YYYY-MM-DD", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

// MarshalYAML writes the day back as YYYY-MM-DD.
func (d Date) MarshalYAML() (any, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.Format("2006-01-02"), nil
}

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d.Time.IsZero() }

// covers reports whether day lies in [start, end], either bound optional.
func covers(start, end Date, day time.Time) bool {
	return (start.IsZero() || !day.Before(start.Time)) && (end.IsZero() || !day.After(end.Time))
}

var (
	idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	// mbiRE is the CMS MBI format: C A AN N A AN N A A N N, where A excludes
	// S, L, O, I, B and Z.
	mbiRE = regexp.MustCompile(`^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$`)
)

// NormalizeMBI upper-cases an MBI and drops dashes and spaces; ok is false
// when the result is not in the CMS MBI format.
func NormalizeMBI(s string) (string, bool) {
	// One pass, no allocation beyond the result (a strings.Replacer built per call was 17% of a
	// warm hook's allocated bytes: classification normalises the MBI on every hook).
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
	return s, mbiRE.MatchString(s)
}

// ParseConfig decodes and validates a YAML configuration (format: Config).
// Unknown keys, a second YAML document, unknown enum values and out-of-range
// numbers are errors. References to catalog products and groups are checked by
// NewRegistry. Errors never quote roster identifiers.
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, errors.New("scoring: config: empty")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("scoring: config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("scoring: config: more than one YAML document")
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func fraction(name string, v float64) error {
	if v < 0 || v > 1 || v != v {
		return fmt.Errorf("%s %v must be a fraction between 0 and 1 (20%% = 0.2)", name, v)
	}
	return nil
}

func (cfg *Config) validate() error {
	if len(cfg.Contracts) == 0 {
		return errors.New("scoring: config: no contracts")
	}
	seen := map[string]int{}
	var errs []error
	for i := range cfg.Contracts {
		k := &cfg.Contracts[i]
		if err := k.validate(); err != nil {
			errs = append(errs, fmt.Errorf("contract %d (%s): %w", i+1, k.ID, err))
		}
		if j, dup := seen[k.ID]; dup {
			errs = append(errs, fmt.Errorf("contract %d: id %q already used by contract %d", i+1, k.ID, j+1))
		}
		seen[k.ID] = i
	}
	secSeen := map[string]bool{}
	for i := range cfg.SecondaryCoverage {
		sc := &cfg.SecondaryCoverage[i]
		if err := sc.validate(); err != nil {
			errs = append(errs, fmt.Errorf("secondaryCoverage %d (%s): %w", i+1, sc.ID, err))
		}
		if secSeen[sc.ID] {
			errs = append(errs, fmt.Errorf("secondaryCoverage %d: id %q already used", i+1, sc.ID))
		}
		secSeen[sc.ID] = true
	}
	for i := range cfg.Roster {
		e := cfg.Roster[i]
		switch _, ok := NormalizeMBI(e.MBI); {
		case e.MBI == "" && strings.TrimSpace(e.PlanMemberID) == "":
			errs = append(errs, fmt.Errorf("roster entry %d: needs an mbi or a planMemberId", i+1))
		case e.MBI != "" && !ok:
			errs = append(errs, fmt.Errorf("roster entry %d: mbi is not a valid MBI", i+1)) // never echo the identifier
		}
		j, ok := seen[e.Contract]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("roster entry %d: unknown contract %q", i+1, e.Contract))
		case !cfg.Contracts[j].Match.Attribution:
			errs = append(errs, fmt.Errorf("roster entry %d: contract %q does not use attribution (match.attribution: false)", i+1, e.Contract))
		}
		if !e.Start.IsZero() && !e.End.IsZero() && e.End.Before(e.Start.Time) {
			errs = append(errs, fmt.Errorf("roster entry %d: end before start", i+1))
		}
	}
	for i, a := range cfg.AcquisitionCosts {
		if a.Product == "" {
			errs = append(errs, fmt.Errorf("acquisitionCosts %d: product is required", i+1))
		}
		if !(a.USDPerUnit > 0) || a.USDPerUnit > 1e7 {
			errs = append(errs, fmt.Errorf("acquisitionCosts %d (%s): usdPerUnit must be positive", i+1, a.Product))
		}
		if !a.Start.IsZero() && !a.End.IsZero() && a.End.Before(a.Start.Time) {
			errs = append(errs, fmt.Errorf("acquisitionCosts %d (%s): end before start", i+1, a.Product))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scoring: config: %w", err)
	}
	return nil
}

func (k *Contract) validate() error {
	var errs []error
	if !idRE.MatchString(k.ID) {
		errs = append(errs, fmt.Errorf("id %q must match [a-z0-9-]+", k.ID))
	}
	if strings.TrimSpace(k.Name) == "" {
		errs = append(errs, errors.New("name is required"))
	}
	m := k.Match
	if len(m.SOPT)+len(m.PayerIDs)+len(m.Plans)+len(m.Groups) == 0 && !m.Attribution {
		errs = append(errs, errors.New("match needs at least one of sopt, payerIds, plans, groups or attribution"))
	}
	for _, s := range m.SOPT {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			errs = append(errs, fmt.Errorf("match.sopt %q must be digits", s))
		}
	}
	for _, vs := range [][]string{m.PayerIDs, m.Plans, m.Groups} {
		for _, v := range vs {
			if strings.TrimSpace(v) == "" {
				errs = append(errs, errors.New("match values must not be empty"))
			}
		}
	}
	switch k.Arrangement {
	case FFS:
	case SharedSavingsUpside, SharedSavingsTwoSided:
		if !(k.SharedSavingsRate > 0) && (k.Risk == nil || tracks[k.Risk.Track].sharing == 0) {
			errs = append(errs, fmt.Errorf("arrangement %s needs sharedSavingsRate > 0 or a risk.track", k.Arrangement))
		}
	case Episode:
		if !(k.EpisodeRiskShare > 0) {
			errs = append(errs, errors.New("arrangement episode needs episodeRiskShare > 0"))
		}
	case Capitation:
	case "":
		errs = append(errs, errors.New("arrangement is required"))
	default:
		errs = append(errs, fmt.Errorf("unknown arrangement %q (ffs, shared-savings-upside, shared-savings-two-sided, capitation, episode)", k.Arrangement))
	}
	inBudget := k.Arrangement == Capitation && k.DrugsInBudget
	switch b := k.Reimbursement.Basis; b {
	case "":
		if !inBudget {
			errs = append(errs, errors.New("reimbursement.basis is required"))
		}
	case BasisMedicareASP:
	case BasisASPPlus:
		if k.Reimbursement.Percent < 0 || k.Reimbursement.Percent > 10 {
			errs = append(errs, fmt.Errorf("reimbursement.percent %v out of range (0.2 = ASP + 20%%)", k.Reimbursement.Percent))
		}
	case BasisFeeSchedule:
		if len(k.Reimbursement.FeeSchedule) == 0 {
			errs = append(errs, errors.New("basis fee-schedule needs reimbursement.feeSchedule"))
		}
		for p, v := range k.Reimbursement.FeeSchedule {
			if !(v >= 0) {
				errs = append(errs, fmt.Errorf("feeSchedule %s: negative price", p))
			}
		}
	case BasisNone:
		if !inBudget {
			errs = append(errs, errors.New("basis none is only valid for capitation with drugsInBudget"))
		}
	case BasisWACMinus:
		errs = append(errs, errors.New("basis wac-minus is not supported: valuerx has no WAC prices; use fee-schedule"))
	default:
		errs = append(errs, fmt.Errorf("unknown reimbursement.basis %q (medicare-asp, asp-plus, fee-schedule, none)", b))
	}
	for _, f := range []struct {
		n string
		v float64
	}{{"sharedSavingsRate", k.SharedSavingsRate}, {"episodeRiskShare", k.EpisodeRiskShare}, {"coinsurance", k.Coinsurance}} {
		if err := fraction(f.n, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	ded := 0.0
	if k.Deductible != nil {
		ded = *k.Deductible
	}
	for _, f := range []struct {
		n string
		v float64
	}{{"copay", k.Copay}, {"oopMaxPerCourse", k.OOPMaxPerCourse}, {"oopMaxPerYear", k.OOPMaxPerYear}, {"threshold", k.Threshold}, {"deductible", ded}} {
		if !(f.v >= 0) || f.v > 1e9 {
			errs = append(errs, fmt.Errorf("%s %v must be a non-negative amount", f.n, f.v))
		}
	}
	if k.DenialRisk != 0 {
		errs = append(errs, errors.New("denialRisk is no longer supported: a payer's preference is a prior-authorisation status, not an expected loss inside the figures; state priorAuth.expectedDelayDays and priorAuth.denialRate instead"))
	}
	if pa := k.PriorAuth; pa != nil {
		if len(k.Preferred) == 0 {
			errs = append(errs, errors.New("priorAuth applies to products the payer does not prefer: it needs preferred"))
		}
		if err := fraction("priorAuth.denialRate", pa.DenialRate); err != nil {
			errs = append(errs, err)
		}
		if !(pa.ExpectedDelayDays >= 0) || pa.ExpectedDelayDays > 365 {
			errs = append(errs, fmt.Errorf("priorAuth.expectedDelayDays %v must be 0-365", pa.ExpectedDelayDays))
		}
	}
	r := k.Reimbursement
	if r.Sequestration != nil {
		if err := fraction("reimbursement.sequestration", *r.Sequestration); err != nil {
			errs = append(errs, err)
		}
	}
	switch r.CoinsuranceSource {
	case "", CoinsuranceFromContract:
	case CoinsuranceFromFile:
		if r.Basis != BasisMedicareASP {
			errs = append(errs, errors.New("reimbursement.coinsuranceSource file needs basis medicare-asp (the CMS file's coinsurance is Medicare's)"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown reimbursement.coinsuranceSource %q (file, contract)", r.CoinsuranceSource))
	}
	errs = append(errs, k.validateRisk()...)
	if err := validateQuality(k); err != nil {
		errs = append(errs, err)
	}
	for g, ps := range k.Preferred {
		if len(ps) == 0 {
			errs = append(errs, fmt.Errorf("preferred.%s lists no products", g))
		}
	}
	return errors.Join(errs...)
}

// validateRisk checks the reconciliation terms against the arrangement.
func (k *Contract) validateRisk() []error {
	t := k.Risk
	if t == nil {
		return nil
	}
	var errs []error
	shared := k.Arrangement == SharedSavingsUpside || k.Arrangement == SharedSavingsTwoSided
	if !shared && k.Arrangement != Episode {
		return []error{fmt.Errorf("risk applies to shared-savings and episode arrangements, not %s", k.Arrangement)}
	}
	tr, known := tracks[t.Track]
	switch {
	case t.Track == "" || t.Track == "custom":
	case !known:
		errs = append(errs, fmt.Errorf("unknown risk.track %q (basic-a .. basic-e, enhanced, custom)", t.Track))
	case !shared:
		errs = append(errs, fmt.Errorf("risk.track %s is an MSSP track; an episode contract states episodeRiskShare", t.Track))
	case tr.twoSided != (k.Arrangement == SharedSavingsTwoSided):
		errs = append(errs, fmt.Errorf("risk.track %s does not fit arrangement %s", t.Track, k.Arrangement))
	case k.SharedSavingsRate > tr.sharing:
		errs = append(errs, fmt.Errorf("sharedSavingsRate %v exceeds the %s track's maximum %v", k.SharedSavingsRate, t.Track, tr.sharing))
	}
	for _, f := range []struct {
		n string
		v *float64
	}{{"risk.lossRate", t.LossRate}, {"risk.qualityFactor", t.QualityFactor}, {"risk.savingsCap", t.SavingsCap}, {"risk.lossCap", t.LossCap}} {
		if f.v != nil {
			if err := fraction(f.n, *f.v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, f := range []struct {
		n string
		v float64
	}{{"risk.minimumSavingsRate", t.MinimumSavingsRate}, {"risk.minimumLossRate", t.MinimumLossRate}} {
		if err := fraction(f.n, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	if t.ExpectedSavingsRate != nil && (*t.ExpectedSavingsRate < -1 || *t.ExpectedSavingsRate > 1 || *t.ExpectedSavingsRate != *t.ExpectedSavingsRate) {
		errs = append(errs, fmt.Errorf("risk.expectedSavingsRate %v must be a fraction of the benchmark between -1 and 1", *t.ExpectedSavingsRate))
	}
	if t.ExpectedSavingsRate != nil && t.ExpectedPosition != "" {
		errs = append(errs, errors.New("risk: state expectedPosition or expectedSavingsRate, not both"))
	}
	if t.LossRate != nil && k.Arrangement == SharedSavingsUpside {
		errs = append(errs, errors.New("risk.lossRate: an upside-only contract shares no losses"))
	}
	switch p := t.ExpectedPosition; p {
	case "", Capped:
	case AboveMSR, Corridor:
		if !shared {
			errs = append(errs, fmt.Errorf("risk.expectedPosition %s is a shared-savings position (episode: below-target, above-target, capped)", p))
		}
	case LossZone:
		if k.Arrangement != SharedSavingsTwoSided {
			errs = append(errs, fmt.Errorf("risk.expectedPosition loss-zone needs arrangement shared-savings-two-sided"))
		}
	case BelowTarget, AboveTarget:
		if shared {
			errs = append(errs, fmt.Errorf("risk.expectedPosition %s is an episode position (shared savings: above-msr, corridor, loss-zone, capped)", p))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown risk.expectedPosition %q (above-msr, corridor, loss-zone, capped, below-target, above-target)", p))
	}
	return errs
}

// DefaultConfig returns the embedded sample configuration (data/contracts.yaml):
// the four demo contracts and the attribution roster. It panics only if the
// embedded file is invalid, which the package tests rule out.
func DefaultConfig() Config {
	raw, err := dataFS.ReadFile("data/contracts.yaml")
	if err != nil {
		panic("scoring: embedded default config missing: " + err.Error())
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		panic("scoring: embedded default config invalid: " + err.Error())
	}
	return cfg
}

// DefaultConfigYAML returns the embedded sample configuration file, as a
// starting point for a deployment's own.
func DefaultConfigYAML() []byte {
	raw, _ := dataFS.ReadFile("data/contracts.yaml")
	return raw
}
