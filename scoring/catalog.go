package scoring

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// CodeSystem names a drug coding system the catalog can look a product up by.
type CodeSystem string

// The code systems the gateway extracts from a MedicationRequest.
const (
	RxNorm CodeSystem = "rxnorm"
	NDC    CodeSystem = "ndc"
	HCPCS  CodeSystem = "hcpcs"
)

// Relationship is a product's regulatory relationship to its group's reference
// product; it decides whether a switch may happen mid-course.
type Relationship string

// Relationships, from the FDA Purple Book (biologics) and Orange Book (small molecules).
const (
	RelReference       Relationship = "reference"       // Purple Book 351(a) reference product
	RelBiosimilar      Relationship = "biosimilar"      // 351(k) Biosimilar: new starts only
	RelInterchangeable Relationship = "interchangeable" // 351(k) Interchangeable: may switch mid-course
	RelABGeneric       Relationship = "ab-generic"      // Orange Book AB-rated generic: may switch mid-course
	RelBrand           Relationship = "brand"           // the Orange Book reference listed drug
	RelTherapeutic     Relationship = "therapeutic"     // P&T-approved therapeutic alternative
)

// Benefit says how a drug is paid for, which decides who carries its cost.
type Benefit string

const (
	// MedicalBenefit drugs are bought and billed by the organisation (Medicare
	// Part B "buy and bill"): it earns reimbursement minus acquisition.
	MedicalBenefit Benefit = "medical"
	// PharmacyBenefit drugs are dispensed by a retail pharmacy and paid by the
	// payer's pharmacy benefit: the organisation has no margin on them, only a
	// share of the total cost under a risk contract.
	PharmacyBenefit Benefit = "pharmacy"
)

// Price sources, one per family of price books.
const (
	SourceCMSASP = "cms-asp" // CMS Medicare Part B ASP payment limits, quarterly
	SourceNADAC  = "nadac"   // NADAC per-unit prices as summarised by a third party
)

// Package is one dispensable item of a product (a vial, a syringe, a tablet
// strength) expressed in the product's billing units.
type Package struct {
	NDC             string  // NDC as published (5-4-2 with dashes for CMS rows, 11 digits for NADAC)
	Units           float64 // billing units in one item (CMS crosswalk BILLUNITS; tablets: 1)
	Mg              float64 // mg in one item (Units x the billing unit's mg; tablets: strength)
	ItemsPerPackage int     // items in the NDC package (CMS PKG QTY, e.g. 10 syringes)
	PackageUnits    float64 // billing units in the whole NDC package (CMS BILLUNITSPKG)
	SingleDose      bool    // single-dose vial or syringe: the unused remainder is discarded and billed
	Presentation    string  // Purple Book presentation, e.g. "Single-Dose Vial"; tablets: "Tablet"
	// RxNorm is the RxNorm concept (SCD for a generic, SBD for a brand) of exactly this item's
	// strength and form, e.g. 617311 "atorvastatin 40 MG Oral Tablet"; "" when no source names
	// one. A suggestion codes the medication with it, so a swap never changes the strength.
	RxNorm        string
	RxNormDisplay string // the concept's RxNorm name, for the suggestion's coding display
}

// Product is one marketed drug product and everything the economics need about it.
type Product struct {
	ID, Name, ProperName, GroupID string
	HCPCS                         string
	BillingUnit                   string  // e.g. "10 MG"; retail: "EA" (one tablet)
	MgPerUnit                     float64 // mg in one billing unit; 0 for retail (priced per tablet)
	RxNorm                        []string
	NDCs                          []string // normalised to 11 digits, sorted
	Relationship                  Relationship
	Packages                      []Package // ascending by Mg
	Application                   string    // BLA or NDA/ANDA numbers
	Labelers                      []string
	Source                        string // provenance of the product row(s)
	// Route and DosageForm are normalised from the FDA files (Purple Book "Route of
	// Administration" and "Dosage Form", Orange Book "DF;Route"): a product may replace another
	// only with the same route and a dosage form that can replace it (SameRouteAndForm).
	Route      string // "intravenous", "subcutaneous", "oral", ...
	DosageForm string // "injection", "tablet", ...
}

// Suffix is the FDA four-letter suffix of a biological product's proper name ("qyyp" for
// trastuzumab-qyyp, FDA guidance on nonproprietary naming); "" for products without one.
func (p Product) Suffix() string {
	i := strings.LastIndexByte(p.ProperName, '-')
	if i < 0 || len(p.ProperName)-i-1 != 4 {
		return ""
	}
	return p.ProperName[i+1:]
}

// SameRouteAndForm reports whether o can replace p by route and dosage form: an IV infusion is
// not replaced by a subcutaneous syringe under the same billing code, nor a tablet by a capsule
// unless the P&T committee groups them as therapeutic alternatives. Unknown (empty) values match
// only unknown values, so a product with no FDA record is never matched by accident.
func (p Product) SameRouteAndForm(o Product) bool {
	return p.Route == o.Route && p.DosageForm == o.DosageForm
}

// Device is the kind of item a package is, read from its RxNorm name: "kit" (an on-body injector
// kit such as Neulasta Onpro), "autoinjector", "syringe" (prefilled), "vial", "tablet"; "" when
// the name does not say (RxNorm's "150 mg Injection"). A suggestion keeps the ordered device: a
// prefilled syringe does not replace an on-body injector, nor an IV vial a syringe.
func (pk Package) Device() string {
	d := strings.ToLower(pk.RxNormDisplay)
	switch {
	case strings.Contains(d, " kit"):
		return "kit"
	case strings.Contains(d, "auto-injector"), strings.Contains(d, "autoinjector"), strings.Contains(d, "pen injector"):
		return "autoinjector"
	case strings.Contains(d, "syringe"):
		return "syringe"
	case strings.Contains(d, "vial"):
		return "vial"
	case strings.Contains(d, "tablet"):
		return "tablet"
	}
	return ""
}

// PackageByCode returns the package of a product that an RxNorm concept or NDC names.
func (c *Catalog) PackageByCode(sys CodeSystem, code string) (Package, bool) {
	p, ok := c.Lookup(sys, code)
	if !ok {
		return Package{}, false
	}
	key, _ := c.codeKey(sys, code)
	for _, pk := range p.Packages {
		switch sys {
		case RxNorm:
			if pk.RxNorm == key {
				return pk, true
			}
		case NDC:
			if n, ok := NormalizeNDC(pk.NDC); ok && n == key {
				return pk, true
			}
		}
	}
	return Package{}, false
}

// PackageOfStrength returns the product's first item of exactly mg (tablet strength, vial
// size); false when it has none.
func (p Product) PackageOfStrength(mg float64) (Package, bool) {
	for _, pk := range p.Packages {
		if math.Abs(pk.Mg-mg) < 1e-6 {
			return pk, true
		}
	}
	return Package{}, false
}

// Group is an equivalence group: products that may replace one another for
// a use, and the rules and defaults that go with the switch.
type Group struct {
	ID, Name               string
	ReferenceID            string
	ProductIDs             []string // reference first, then alphabetical
	Benefit                Benefit
	PriceSource            string  // SourceCMSASP or SourceNADAC
	DefaultDoseMg          float64 // one administration (retail: mg per day)
	DefaultAdministrations int     // per course (retail: days of supply)
	DefaultsSource         string  // where the defaults come from
	AllowMidCourse         bool    // the group lets any member replace another mid-course
	SwitchRule             string  // the rule in words, for the card
	Notes                  []string
	NotSubstitutes         []string // look-alike products that are not members, and why
	// Label holds the reference label's dose and schedule bounds: an order beyond them is not
	// priced as written (clinical.Dose reports it, the card says so).
	Label LabelBounds
}

// LabelBounds are a group's labelled dose and schedule bounds (zero: no check). They catch what
// EHRs really send by mistake (IV trastuzumab "1 daily for 30 days", the only schedule the CDS
// Hooks sandbox can order), not dose checking: that stays the EHR's and the pharmacist's.
type LabelBounds struct {
	MaxDoseMg, MaxMgPerKg, MaxMgPerM2, MaxDailyMg float64
	FixedDose                                     bool // one labelled adult dose (MaxDoseMg): any dose above it is implausible
	MinIntervalDays, LabelledIntervalDays         float64
	MaxAdministrations                            int
	Source                                        string
}

// Price is one product's price in one book, per billing unit.
type Price struct {
	PerUnit   float64 // published: CMS payment limit or NADAC per unit
	ASP       float64 // derived ASP (biologics); NADAC books: equal to PerUnit
	Note      string  // the CMS note, verbatim
	Published string  // label of PerUnit, "published: ..."
	Derived   string  // label of ASP, "derived: ..." or "estimated: ..." (AMP-based, "lesser of", no reference price)
	// Coinsurance is the CMS file's beneficiary coinsurance for the HCPCS code
	// and quarter as a fraction (0.2, or less when inflation-adjusted under the
	// Inflation Reduction Act); 0 when the book gives none (NADAC).
	Coinsurance      float64
	CoinsuranceLabel string  // "published: ..." label of Coinsurance
	Estimated        bool    // the ASP could not be backed out exactly from the payment limit
	acqLabel         string  // the acquisition estimate's label, built once
	itemMg           float64 // retail: the strength of the tablet the price was published for
}

// PriceBook holds prices per product for one effective period. Books are
// immutable once built; the prices map is shared by every copy of the book.
type PriceBook struct {
	ID         string // e.g. "cms-asp-2026q1"
	Source     string // SourceCMSASP or SourceNADAC
	Label      string // e.g. "CMS ASP Jan 2026"
	Start      time.Time
	End        time.Time // last day in effect, inclusive; zero: open-ended
	Provenance string
	prices     map[string]Price
	packages   map[string][]Package // per product, from the crosswalk of the book's quarter (snapshots)
}

// Price returns the product's price in this book; false when the product is
// not listed for this period (e.g. Hercessi before July 2025).
func (b PriceBook) Price(productID string) (Price, bool) {
	p, ok := b.prices[productID]
	return p, ok
}

// ProductIDs lists the products priced in the book, sorted.
func (b PriceBook) ProductIDs() []string {
	ids := make([]string, 0, len(b.prices))
	for id := range b.prices {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// openBookStaleAfter is how long an open-ended book (a NADAC snapshot) is taken
// as current; NADAC is republished weekly, so a snapshot older than a quarter
// is flagged stale.
const openBookStaleAfter = 92 * 24 * time.Hour

// Catalog is the immutable set of products, groups and price books.
type Catalog struct {
	products map[string]Product
	groups   map[string]Group
	books    []PriceBook // ascending by Start
	byCode   map[CodeSystem]map[string]string
	strength map[string]float64 // code key -> mg per item (RxNorm SCD/SBD, NDC)
}

// Product returns a product by id.
func (c *Catalog) Product(id string) (Product, bool) {
	p, ok := c.products[id]
	return p, ok
}

// Group returns an equivalence group by id.
func (c *Catalog) Group(id string) (Group, bool) {
	g, ok := c.groups[id]
	return g, ok
}

// Groups lists the groups sorted by id.
func (c *Catalog) Groups() []Group {
	out := make([]Group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Books lists every price book ascending by period start.
func (c *Catalog) Books() []PriceBook { return slices.Clone(c.books) }

// Lookup finds the product a code denotes. NDCs are accepted as 11 digits,
// 10 digits with dashes (4-4-2, 5-3-2, 5-4-1) or 11 digits with dashes; a bare
// 10-digit NDC is accepted when only one of its three paddings is known.
// HCPCS codes and RxNorm RXCUIs are matched exactly (HCPCS case-insensitively).
func (c *Catalog) Lookup(sys CodeSystem, code string) (Product, bool) {
	key, ok := c.codeKey(sys, code)
	if !ok {
		return Product{}, false
	}
	id, ok := c.byCode[sys][key]
	if !ok {
		return Product{}, false
	}
	return c.Product(id)
}

// Strength returns the mg in one item (tablet, vial) that a code denotes when
// the code names a strength: an RxNorm SCD/SBD of a tablet or a vial's NDC. The
// gateway uses it to turn "1 tablet daily" into mg per day.
func (c *Catalog) Strength(sys CodeSystem, code string) (float64, bool) {
	key, ok := c.codeKey(sys, code)
	if !ok {
		return 0, false
	}
	mg, ok := c.strength[string(sys)+"|"+key]
	return mg, ok
}

func (c *Catalog) codeKey(sys CodeSystem, code string) (string, bool) {
	code = strings.TrimSpace(code)
	switch sys {
	case HCPCS:
		return strings.ToUpper(code), code != ""
	case RxNorm:
		return code, code != ""
	case NDC:
		if cands := ndcCandidates(code); len(cands) == 1 {
			return cands[0], true
		} else if len(cands) > 1 {
			var hit string
			n := 0
			for _, k := range cands {
				if _, ok := c.byCode[NDC][k]; ok {
					hit = k
					n++
				}
			}
			return hit, n == 1
		}
	}
	return "", false
}

// NormalizeNDC returns the 11-digit (5-4-2, no dashes) form of an NDC given
// with dashes in any of the 10-digit layouts or as 11 digits; a bare 10-digit
// NDC is ambiguous and is rejected.
func NormalizeNDC(code string) (string, bool) {
	c := ndcCandidates(code)
	if len(c) != 1 {
		return "", false
	}
	return c[0], true
}

// ndcCandidates lists the 11-digit forms an NDC may denote: one for every form
// except a bare 10-digit code, which has three.
func ndcCandidates(code string) []string {
	code = strings.TrimSpace(code)
	for _, r := range code {
		if (r < '0' || r > '9') && r != '-' {
			return nil
		}
	}
	parts := strings.Split(code, "-")
	switch len(parts) {
	case 1:
		switch len(code) {
		case 11:
			return []string{code}
		case 10:
			return []string{"0" + code, code[:5] + "0" + code[5:], code[:9] + "0" + code[9:]}
		}
	case 3:
		a, b, p := parts[0], parts[1], parts[2]
		switch {
		case len(a) == 5 && len(b) == 4 && len(p) == 2:
			return []string{a + b + p}
		case len(a) == 4 && len(b) == 4 && len(p) == 2:
			return []string{"0" + a + b + p}
		case len(a) == 5 && len(b) == 3 && len(p) == 2:
			return []string{a + "0" + b + p}
		case len(a) == 5 && len(b) == 4 && len(p) == 1:
			return []string{a + b + "0" + p}
		}
	}
	return nil
}

// bookFor returns the book of the given source in effect on day, or the
// nearest one flagged stale: the earliest when day precedes every book, the
// newest when day is past its end (or, for an open-ended book, more than
// openBookStaleAfter past its start).
func (c *Catalog) bookFor(source string, day time.Time) (PriceBook, bool, error) {
	var first, last *PriceBook
	for i := range c.books {
		b := &c.books[i]
		if b.Source != source {
			continue
		}
		if first == nil {
			first = b
		}
		last = b
		if !day.Before(b.Start) && (b.End.IsZero() || !day.After(b.End)) {
			if b.End.IsZero() && day.Sub(b.Start) > openBookStaleAfter {
				return *b, true, nil
			}
			return *b, false, nil
		}
	}
	switch {
	case first == nil:
		return PriceBook{}, false, fmt.Errorf("scoring: no price book of source %q", source)
	case day.Before(first.Start):
		return *first, true, nil
	default:
		return *last, true, nil
	}
}

// BookFor returns the price book of a source in effect on a day and whether it
// is stale (the day lies outside every book of that source).
func (c *Catalog) BookFor(source string, day time.Time) (PriceBook, bool, error) {
	return c.bookFor(source, CalendarDay(day))
}

// CalendarDay keeps the calendar date of t (in t's own location) as UTC midnight: the one form
// of a day that price books, contracts and the scoring cache read, and that callers dating an
// order by a clock must give (gateway: an undated order is dated today).
func CalendarDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
