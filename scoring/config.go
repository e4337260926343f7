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
//	    sharedSavingsRate: 0.5      # shared-savings: the organisation's share of a change in total cost (0-1)
//	    episodeRiskShare: 0         # episode: the organisation's share of the episode's cost change (0-1)
//	    drugsInBudget: false        # capitation: Part B drugs are paid from the capitated budget
//	    reimbursement:
//	      basis: medicare-asp       # medicare-asp | asp-plus | fee-schedule | none (capitation in budget)
//	      percent: 0                # asp-plus: 0.20 means ASP + 20%
//	      feeSchedule: {}           # fee-schedule: product id -> USD per billing unit
//	    coinsurance: 0.2            # patient share of the allowed amount (0-1)
//	    copay: 0                    # patient USD per administration, on top of coinsurance
//	    oopMaxPerCourse: 0          # cap on the patient's cost per course; 0 = no cap
//	    threshold: 25               # minimum per-course gain in net impact (USD) for a card
//	    denialRisk: 0.25            # share of the allowed amount put at risk by a payer-non-preferred product (0-1)
//	    preferred:                  # payer-preferred products per group id; groups not listed have no preference
//	      trastuzumab: [kanjinti, ogivri]
//	    allowMarginSwitch: false    # allow suggestions that raise the payer's cost to raise the FFS margin
//	    allowMidCourseSwitch:       # per group id: override the group's mid-course switch rule
//	      trastuzumab: false
//	roster:                         # attribution (e.g. an ATR Group), keyed by Medicare Beneficiary Identifier
//	  - mbi: 1EG4TE5MK73            # 11-character MBI; dashes and case are ignored
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
	Contracts        []Contract        `yaml:"contracts"`
	Roster           []RosterEntry     `yaml:"roster,omitempty"`
	AcquisitionCosts []AcquisitionCost `yaml:"acquisitionCosts,omitempty"`
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
	Coinsurance          float64             `yaml:"coinsurance"`
	Copay                float64             `yaml:"copay,omitempty"`
	OOPMaxPerCourse      float64             `yaml:"oopMaxPerCourse,omitempty"`
	Threshold            float64             `yaml:"threshold"`
	DenialRisk           float64             `yaml:"denialRisk,omitempty"`
	Preferred            map[string][]string `yaml:"preferred,omitempty"`
	AllowMarginSwitch    bool                `yaml:"allowMarginSwitch,omitempty"`
	AllowMidCourseSwitch map[string]bool     `yaml:"allowMidCourseSwitch,omitempty"`
}

// Match says how a contract is recognised from a Coverage.
type Match struct {
	SOPT        []string `yaml:"sopt,omitempty"`
	PayerIDs    []string `yaml:"payerIds,omitempty"`
	Plans       []string `yaml:"plans,omitempty"`
	Groups      []string `yaml:"groups,omitempty"`
	Attribution bool     `yaml:"attribution,omitempty"`
}

// Reimbursement is what the payer pays the organisation per billing unit.
type Reimbursement struct {
	Basis       Basis              `yaml:"basis"`
	Percent     float64            `yaml:"percent,omitempty"`
	FeeSchedule map[string]float64 `yaml:"feeSchedule,omitempty"`
}

// RosterEntry attributes one beneficiary to a value-based contract.
type RosterEntry struct {
	MBI      string `yaml:"mbi"`
	Contract string `yaml:"contract"`
	Start    Date   `yaml:"start,omitempty"`
	End      Date   `yaml:"end,omitempty"`
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
	for i := range cfg.Roster {
		e := cfg.Roster[i]
		if _, ok := NormalizeMBI(e.MBI); !ok {
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
		if !(k.SharedSavingsRate > 0) {
			errs = append(errs, fmt.Errorf("arrangement %s needs sharedSavingsRate > 0", k.Arrangement))
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
	}{{"sharedSavingsRate", k.SharedSavingsRate}, {"episodeRiskShare", k.EpisodeRiskShare}, {"coinsurance", k.Coinsurance}, {"denialRisk", k.DenialRisk}} {
		if err := fraction(f.n, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range []struct {
		n string
		v float64
	}{{"copay", k.Copay}, {"oopMaxPerCourse", k.OOPMaxPerCourse}, {"threshold", k.Threshold}} {
		if !(f.v >= 0) || f.v > 1e9 {
			errs = append(errs, fmt.Errorf("%s %v must be a non-negative amount", f.n, f.v))
		}
	}
	for g, ps := range k.Preferred {
		if len(ps) == 0 {
			errs = append(errs, fmt.Errorf("preferred.%s lists no products", g))
		}
	}
	return errors.Join(errs...)
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
