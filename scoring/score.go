package scoring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Request is everything a score depends on; nothing in it identifies a patient.
type Request struct {
	ContractID       string
	ProductID        string    // the ordered product
	DoseMg           float64   // one administration (0 = the group's default); retail: mg per day
	Administrations  int       // per course (0 = the group's default); retail: days of supply
	Date             time.Time // order date (authoredOn, else today); only the calendar day counts
	CurrentProductID string    // product of the same group the patient is already on ("" = new start)
	// ItemMg is the strength of one item the order's code names (a 40 mg tablet): options are
	// priced and suggested in that strength only, so "1 tablet daily" keeps its meaning. 0 for
	// doses ordered in mg (infusions), where any combination of vials delivering the dose will do.
	ItemMg float64
	// Site is the formulary site (a Location or organisation reference from the hook); "" is the
	// organisation-wide formulary.
	Site string
	// Indications are the ids of the policy's indication table the order's diagnoses denote
	// (IndicationTable.Match); IndicationKnown is false when the order and the problem list gave
	// no diagnosis at all.
	Indications     []string
	IndicationKnown bool
	// SecondaryID is the supplemental coverage the registry recognised among the patient's other
	// Coverages (Registry.ClassifySecondary); "" when none is on record.
	SecondaryID string
	// Device is the kind of item the order's code names ("kit", "syringe", "vial", ...;
	// Package.Device): options are priced and suggested with items of that kind only. "" for an
	// order coded by HCPCS or ingredient, which names none.
	Device string
	// DeductibleCounted: the plan year's deductible is counted on another order of the same
	// hook (a signing with several drafts under one contract, whose first scored medical-benefit
	// draft bears it), so these figures take it as met: the cards of one signing hold it once
	// (card review, 6 December 2026: Herceptin and Rituxan signed together each took the
	// 283.00 Part B deductible as unmet).
	DeductibleCounted bool
	// LoadingDose: a single administration (Administrations 1) signed beside another order of its
	// group (a loading dose before its maintenance, which carries the year of therapy): its year
	// of therapy is that one dose. Without it a trastuzumab loading dose was projected as 17
	// administrations at 8 mg/kg, and the tracking booked that year beside the maintenance
	// order's (card review, 6 December 2026). Ignored for any other course.
	LoadingDose bool
	// LoadingDosesBeside is how many loading doses of the same group (LoadingDose orders) are
	// signed beside this order of more than one administration: the group's year of therapy
	// counts them (trastuzumab's 17 administrations include the loading dose), so this order's
	// year is that many administrations shorter, and the signing's year books 17 doses, not 18.
	LoadingDosesBeside int
	// OOPCounted is the patient cost, toward the plan year's maximum out-of-pocket, that other
	// orders of the same hook already count, each as ordered (the signing's earlier drafts under
	// the contract): these figures cap at what is left of the maximum. Without it a loading and a
	// maintenance dose of Herceptin under MA capitation each capped at the 9,250 maximum, 10,131.80
	// for one year between the two cards (card review, 6 December 2026). Whole cents.
	OOPCounted float64
	// DeductibleMet is how much of the plan year's deductible other orders of the same hook
	// meet when none of them meets all of it (DeductibleCounted): a first draft whose course is
	// below the deductible (Zarxio 2 x 104.70 = 209.40 of the 2026 Part B 283.00) leaves the rest
	// (73.60) to the next draft, not nothing. Whole cents; ignored with DeductibleCounted.
	DeductibleMet float64
	// OOPCountedYear is OOPCounted for the year-of-therapy figures (PerYear): the other orders'
	// cost sharing over their years of therapy, which the tracking books beside this order's year
	// (Herceptin x 8 counts 5,290.78 a course but 9,250 a year). Whole cents.
	OOPCountedYear float64
}

// Reasons a Result carries no Best option.
const (
	ReasonAlreadyBest    = "already-best"    // no permitted option does better for the organisation
	ReasonBelowThreshold = "below-threshold" // the best option gains no more than the contract's threshold
	ReasonMidCourse      = "mid-course"      // better options exist, but the patient is mid-course and the rules forbid the switch
	ReasonMarginFalls    = "margin-falls"    // lower-cost options exist, but under FFS they cut the margin (and the payer does not prefer them)
	ReasonNoAlternatives = "no-alternatives" // no other product of the group is priced for the period
	ReasonNotPriced      = "not-priced"      // the ordered product has no price in the period's book
)

// Exclusions: why an option may not be suggested (Option.Exclusion).
const (
	ExcludeMidCourse        = "mid-course"          // the patient is mid-course and the switch rules forbid this product
	ExcludeRaisesPatientOOP = "raises-patient-cost" // the patient would pay more
	ExcludeRaisesPayerCost  = "raises-payer-cost"   // the payer would pay more (allowed only with allowMarginSwitch)
	ExcludeMarginFalls      = "margin-falls"        // FFS: lowers the margin, and is not a payer-preferred product replacing a non-preferred one
	ExcludeNotPriced        = "not-priced"          // not in the book for the period, or not in the contract's fee schedule
)

// Result is the scored order: the ordered product's figures, every other
// product of the group ranked, and the suggestion (Best) if one is warranted.
// Immutability: each call to Score or Scorer.Score returns its own Options
// slice, so a caller may reorder, truncate or edit the options' figures. What
// the options reach (Sources maps, Packages, Product and Group slices, the
// Contract's maps, the Book) is shared with the Scorer's cache and the Catalog
// and must be treated as read-only.
type Result struct {
	Contract        Contract
	Group           Group
	Book            PriceBook
	Stale           bool     // the order date lies outside every book of the group's price source
	DoseMg          float64  // the dose scored (the request's, or the group's default)
	Administrations int      // the course scored
	Defaulted       []string // which of "dose", "administrations" came from the group's defaults
	// AdministrationsPerYear is a year of therapy for the group (PerYear figures), PerYearSource where it comes from.
	AdministrationsPerYear int
	PerYearSource          string
	Ordered                Option
	Options                []Option // ranked, best first, excluding the ordered one: eligible options first
	Best                   *Option  // nil when no card is warranted (rules, threshold); points into Options
	Reason                 string   // why Best is nil
	// MidCourse is the P&T rule applied to a patient already on therapy ("" for a new start).
	MidCourse MidCourse
	// OrderedOffFormulary: the ordered product is not on the site's formulary (or not stocked),
	// so the best formulary alternative is suggested whatever the money rules say.
	OrderedOffFormulary bool
	// Indications the order was checked against (ids of the policy's table); IndicationUnknown
	// is true when the group has labelling differences and the order gave no diagnosis.
	Indications       []string
	IndicationUnknown bool
	// ItemMg is the item strength the options were held to (Request.ItemMg).
	ItemMg float64
	// Policy names the P&T policy applied, for the card's provenance.
	Policy string
	// Secondary is the supplemental coverage the patient figures account for; nil when none is
	// on record (the patient figure is then the cost sharing before supplemental coverage).
	// It is the registry's entry: read-only, like the rest of what a Result reaches.
	Secondary *SecondaryCoverage
	// AvoidsPriorAuth: Best is suggested because the ordered product needs the payer's prior
	// authorisation and Best does not, although the organisation's figure does not rise by the
	// threshold (the card says what the switch costs it).
	AvoidsPriorAuth bool
	// Deductible is the plan year's deductible the course and year figures include, assumed
	// not yet met (0: met, none, or counted on another order: Request.DeductibleCounted).
	Deductible float64
}

// Option is one product's figures beside the ordered one.
type Option struct {
	Product                     Product
	PerDose, PerCourse, PerYear Figures
	Delta                       Figures           // option minus ordered, per course
	Sources                     map[string]string // figure name -> "published: ...", "derived: ...", "configured: ...", "estimated: ..."
	PayerPreferred              bool
	PriorAuth                   PriorAuth    // what the contract states for this product: a status, never a loss inside the figures
	Packages                    []PackageUse // the items that deliver one dose
	Eligible                    bool         // may be suggested (passes the switch and product rules)
	Exclusion                   string       // why not, when !Eligible (Exclude* constants)
}

// ErrUnknown marks a request naming an unknown contract or product; the
// gateway maps it to "no card" or to an internal error, never to a 4xx for
// the EHR (the ids come from valuerx's own lookups).
var ErrUnknown = errors.New("scoring: unknown")

// ErrInvalid marks a request whose numbers cannot be scored (negative or
// absurd dose or course).
var ErrInvalid = errors.New("scoring: invalid request")

type scoreCtx struct {
	cat      *Catalog
	reg      *Registry
	policy   *Policy
	contract *Contract
	group    Group
	book     PriceBook
	day      time.Time          // the order's calendar day (acquisition cost periods)
	admins   int                // administrations per course
	t        terms              // the contract's payment rules for this order
	sec      *SecondaryCoverage // the supplemental coverage, nil when none is on record
	labels   labels
}

// maxAdministrations bounds a course (daily dosing for ten years).
const maxAdministrations = 3660

// normalize validates a request and fills the group's defaults; the result is
// also the cache key's content.
func normalize(cat *Catalog, reg *Registry, req Request) (Request, *Contract, Group, []string, error) {
	k, ok := reg.contract(req.ContractID)
	if !ok {
		return req, nil, Group{}, nil, fmt.Errorf("%w contract %q", ErrUnknown, req.ContractID)
	}
	p, ok := cat.Product(req.ProductID)
	if !ok {
		return req, nil, Group{}, nil, fmt.Errorf("%w product %q", ErrUnknown, req.ProductID)
	}
	g, _ := cat.Group(p.GroupID)
	if req.CurrentProductID != "" {
		cur, ok := cat.Product(req.CurrentProductID)
		if !ok {
			return req, nil, Group{}, nil, fmt.Errorf("%w current product %q", ErrUnknown, req.CurrentProductID)
		}
		if cur.GroupID != p.GroupID {
			return req, nil, Group{}, nil, fmt.Errorf("%w: current product %s is not in group %s", ErrInvalid, cur.ID, g.ID)
		}
	}
	if math.IsNaN(req.DoseMg) || math.IsInf(req.DoseMg, 0) || req.DoseMg < 0 {
		return req, nil, Group{}, nil, fmt.Errorf("%w: dose must be a non-negative number of mg", ErrInvalid)
	}
	if math.IsNaN(req.ItemMg) || math.IsInf(req.ItemMg, 0) || req.ItemMg < 0 {
		return req, nil, Group{}, nil, fmt.Errorf("%w: item strength must be a non-negative number of mg", ErrInvalid)
	}
	for _, a := range []struct {
		v    *float64
		what string
	}{{&req.OOPCounted, "out-of-pocket counted"}, {&req.DeductibleMet, "deductible met"}, {&req.OOPCountedYear, "out-of-pocket counted a year"}} {
		if math.IsNaN(*a.v) || math.IsInf(*a.v, 0) || *a.v < 0 {
			return req, nil, Group{}, nil, fmt.Errorf("%w: %s must be a non-negative amount", ErrInvalid, a.what)
		}
		*a.v = math.Round(*a.v*100) / 100 // whole cents: the cache keys them as they are
	}
	if req.DeductibleCounted {
		req.DeductibleMet = 0
	}
	if req.LoadingDosesBeside < 0 || req.LoadingDosesBeside > maxAdministrations {
		return req, nil, Group{}, nil, fmt.Errorf("%w: loading doses beside must be 0..%d", ErrInvalid, maxAdministrations)
	}
	if len(req.Indications) > 1 && !slices.IsSorted(req.Indications) {
		req.Indications = slices.Sorted(slices.Values(req.Indications))
	}
	if req.Administrations < 0 || req.Administrations > maxAdministrations {
		return req, nil, Group{}, nil, fmt.Errorf("%w: administrations must be 0..%d", ErrInvalid, maxAdministrations)
	}
	var defaulted []string
	if req.DoseMg == 0 {
		req.DoseMg = g.DefaultDoseMg
		defaulted = append(defaulted, "dose")
	}
	if req.Administrations == 0 {
		req.Administrations = g.DefaultAdministrations
		defaulted = append(defaulted, "administrations")
		if req.LoadingDosesBeside > 0 && req.Administrations > req.LoadingDosesBeside+1 {
			// The group's course holds the loading doses signed beside (trastuzumab's 17 one
			// loading dose and 16 maintenance): this order's default course is the rest.
			req.Administrations -= req.LoadingDosesBeside
		}
	}
	// A loading dose is one administration: anything else is not one (score and the cache key
	// read the normalised flag alike).
	req.LoadingDose = req.LoadingDose && req.Administrations == 1
	if req.Date.IsZero() {
		return req, nil, Group{}, nil, fmt.Errorf("%w: order date is required", ErrInvalid)
	}
	if req.SecondaryID != "" {
		if _, ok := reg.secondaryCoverage(req.SecondaryID); !ok {
			return req, nil, Group{}, nil, fmt.Errorf("%w secondary coverage %q", ErrUnknown, req.SecondaryID)
		}
	}
	req.Date = CalendarDay(req.Date)
	return req, k, g, defaulted, nil
}

// Score is the pure, uncached scoring function: same catalog, registry and
// request, same Result.
func Score(cat *Catalog, reg *Registry, req Request) (Result, error) {
	return ScoreWithPolicy(cat, reg, nil, req)
}

// ScoreWithPolicy is Score under a P&T policy (nil: the default policy, see Policy).
func ScoreWithPolicy(cat *Catalog, reg *Registry, pol *Policy, req Request) (Result, error) {
	if cat == nil || reg == nil {
		return Result{}, errors.New("scoring: Score: nil catalog or registry")
	}
	req, k, g, defaulted, err := normalize(cat, reg, req)
	if err != nil {
		return Result{}, err
	}
	return score(cat, reg, pol, req, k, g, defaulted)
}

func score(cat *Catalog, reg *Registry, pol *Policy, req Request, k *Contract, g Group, defaulted []string) (Result, error) {
	book, stale, err := cat.bookFor(g.PriceSource, req.Date)
	if err != nil {
		return Result{}, err
	}
	s := &scoreCtx{cat: cat, reg: reg, policy: pol, contract: k, group: g, book: book, day: req.Date, admins: req.Administrations,
		t: resolveTerms(reg, k, g, req.Date)}
	if req.DeductibleCounted && s.t.deductible > 0 {
		// The first plan year's only: a course into later years bears theirs (figures).
		s.t.laterDed = s.t.deductible
		s.t.deductible, s.t.dedLabel, s.t.dedCounted = 0, "", true
	}
	if req.DeductibleMet > 0 && s.t.deductible > 0 {
		// Part of the first plan year's deductible is met on other orders: this order's first
		// year bears the rest, its later years the whole (figures: deductible + laterDed each).
		met := math.Min(req.DeductibleMet, s.t.deductible)
		s.t.laterDed, s.t.deductible = met, s.t.deductible-met
		s.t.dedLabel = fmt.Sprintf("%s, less %.2f met on other orders of the same hook", s.t.dedLabel, met)
		if s.t.deductible == 0 {
			s.t.dedLabel, s.t.dedCounted = "", true
		}
	}
	if k.OOPMaxPerYear > 0 && req.OOPCounted > 0 {
		s.t.oopCounted = math.Min(req.OOPCounted, k.OOPMaxPerYear)
	}
	if k.OOPMaxPerYear > 0 && req.OOPCountedYear > 0 {
		s.t.oopCountedYear = math.Min(req.OOPCountedYear, k.OOPMaxPerYear)
	}
	if req.SecondaryID != "" {
		s.sec, _ = reg.secondaryCoverage(req.SecondaryID)
	}
	py := perYear(g)
	switch {
	case req.LoadingDose: // one administration (normalize)
		py = yearOfTherapy{1, "a single dose signed beside another order of the group (a loading dose): its year of therapy is the one administration, the other order's carries the rest"}
		s.t.perYear = 1
	case req.LoadingDosesBeside > 0 && req.Administrations != 1 && py.n > req.LoadingDosesBeside:
		py = yearOfTherapy{py.n - req.LoadingDosesBeside, fmt.Sprintf("%s, less the %d loading dose(s) signed beside this order, which carry their own", py.source, req.LoadingDosesBeside)}
		s.t.perYear = py.n
	}
	res := Result{
		Contract: cloneContract(*k), Group: g, Book: book, Stale: stale,
		DoseMg: req.DoseMg, Administrations: req.Administrations, Defaulted: defaulted,
		AdministrationsPerYear: py.n, PerYearSource: py.source,
		Indications: req.Indications, ItemMg: req.ItemMg, Policy: pol.Source(),
		Deductible: s.t.deductible,
	}
	res.Secondary = s.sec
	inds := pol.Indications()
	res.IndicationUnknown = !req.IndicationKnown && inds.Covers(g.ID)
	ordered, _ := cat.Product(req.ProductID)

	type cand struct {
		opt Option
		ok  bool // priced
	}
	build := func(p Product) (cand, error) {
		o := Option{Product: p}
		o.PayerPreferred, _ = k.prefers(g.ID, p.ID)
		o.PriorAuth = k.priorAuth(g.ID, p.ID)
		if req.Device != "" && p.MgPerUnit > 0 {
			// The ordered device: an on-body injector is not replaced by a prefilled syringe, an IV
			// vial not by a syringe. A vial named "Injection" in RxNorm counts as a vial.
			var keep []Package
			for _, pk := range p.Packages {
				if d := pk.Device(); d == req.Device || (d == "" && req.Device == "vial") {
					keep = append(keep, pk)
				}
			}
			if len(keep) == 0 {
				o.Exclusion = ExcludeDevice
				return cand{opt: o}, nil
			}
			p.Packages = keep // this call's copy of p; the catalog's slice is untouched
		}
		if req.ItemMg > 0 && p.MgPerUnit == 0 {
			// Tablets: only items of the ordered strength, so the order's "1 tablet daily" still
			// means the same dose once the medication is swapped.
			pk, ok := p.PackageOfStrength(req.ItemMg)
			if !ok {
				o.Exclusion = ExcludeStrength
				return cand{opt: o}, nil
			}
			p.Packages = []Package{pk} // p is this call's copy; the catalog's slice is untouched
		}
		pr, ok := book.Price(p.ID)
		if !ok {
			o.Exclusion = ExcludeNotPriced
			return cand{opt: o}, nil
		}
		r, ok := s.priceRates(p, pr)
		if !ok {
			o.Exclusion = ExcludeNotPriced
			return cand{opt: o}, nil
		}
		if pk, ok := book.packages[p.ID]; ok {
			p.Packages = pk // billing units per package from the crosswalk of the book's quarter
		}
		units, wasted, use, err := combine(p, req.DoseMg)
		if err != nil {
			return cand{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		o.Packages = use
		o.PerDose = s.figures(r, units, wasted, 1, spanDose)
		o.PerCourse = s.figures(r, units, wasted, s.admins, spanCourse)
		o.PerYear = s.figures(r, units, wasted, s.t.perYear, spanYear)
		o.Sources = r.src
		if pr.itemMg > 0 {
			for _, u := range use {
				if u.Mg != pr.itemMg {
					o.Sources["price"] = fmt.Sprintf("%s; estimated for the %g mg tablet: the %g mg tablet's price (flat pricing across strengths)", pr.Published, u.Mg, pr.itemMg)
					break
				}
			}
		}
		o.Sources["units"] = describeUse(p, use, wasted)
		if len(defaulted) > 0 {
			o.Sources["dose"] = s.label(&s.labels.dose, func() string {
				return fmt.Sprintf("default (%s): %s", strings.Join(defaulted, ", "), g.DefaultsSource)
			})
		}
		return cand{opt: o, ok: true}, nil
	}

	oc, err := build(ordered)
	if err != nil {
		return Result{}, err
	}
	if !oc.ok {
		res.Ordered = oc.opt
		res.Reason = ReasonNotPriced
		return res, nil
	}
	orderedPreferred, hasPrefs := k.prefers(g.ID, ordered.ID)
	finish := func(o *Option, base Option) {
		o.PerDose.NetImpact = s.netImpact(o.PerDose, base.PerDose)
		o.PerCourse.NetImpact = s.netImpact(o.PerCourse, base.PerCourse)
		o.PerYear.NetImpact = s.netImpact(o.PerYear, base.PerYear)
		o.Sources["netImpact"] = s.netImpactSource()
	}
	finish(&oc.opt, oc.opt)
	res.Ordered = oc.opt
	res.Ordered.Eligible = true

	ffsLike := k.Arrangement == FFS || (k.Arrangement == Capitation && !k.DrugsInBudget)
	mid := req.CurrentProductID != ""
	if mid {
		res.MidCourse = s.midCourse()
	}
	res.OrderedOffFormulary = !pol.OnFormulary(req.Site, ordered)
	opts := make([]Option, 0, len(g.ProductIDs)-1)
	priced := 0
	for _, id := range g.ProductIDs {
		if id == ordered.ID {
			continue
		}
		p, _ := cat.Product(id)
		c, err := build(p)
		if err != nil {
			return Result{}, err
		}
		o := c.opt
		if !c.ok {
			opts = append(opts, o)
			continue
		}
		priced++
		finish(&o, oc.opt)
		o.Delta = o.PerCourse.minus(oc.opt.PerCourse)
		o.Exclusion = s.clinicalExclusion(ordered, o.Product, req, mid, res.MidCourse)
		if o.Exclusion == "" && !res.OrderedOffFormulary {
			// An order off formulary gets the formulary alternative whatever the money rules say;
			// every other order only options that pass them.
			o.Exclusion = s.exclusion(o, hasPrefs && !orderedPreferred, ffsLike)
		}
		o.Eligible = o.Exclusion == ""
		opts = append(opts, o)
	}
	opts = sortOptions(opts)
	res.Options = opts
	if priced == 0 {
		res.Reason = ReasonNoAlternatives
		return res, nil
	}
	if res.OrderedOffFormulary {
		if opts[0].Eligible {
			res.Best = &res.Options[0]
		} else {
			res.Reason = ReasonOffFormularyNoAlternative
		}
		return res, nil
	}
	if top := opts[0]; top.Eligible {
		d := top.Delta
		switch {
		case cents(d.NetImpact) > 0 && d.NetImpact > k.Threshold:
			res.Best = &res.Options[0]
			return res, nil
		case cents(d.NetImpact) == 0 && -d.PayerAllowed > k.Threshold && cents(d.PatientOOP) <= 0:
			// The organisation is indifferent (a pharmacy-benefit generic under FFS earns
			// it nothing either way) while the payer saves more than the threshold and the
			// patient pays no more: worth the clinician's attention.
			res.Best = &res.Options[0]
			return res, nil
		}
		if oc.opt.PriorAuth.Required {
			// The ordered product needs the payer's prior authorisation and a permitted option
			// does not (it passed the money rules as a payer-preferred product replacing a
			// non-preferred one): worth a card that shows the delay, the denial rate and what
			// the switch costs the organisation, instead of hiding the PA in an expected loss.
			for i := range res.Options {
				if o := &res.Options[i]; o.Eligible && !o.PriorAuth.Required {
					res.Best, res.AvoidsPriorAuth = o, true
					return res, nil
				}
			}
		}
		if cents(d.NetImpact) > 0 || (cents(d.NetImpact) == 0 && cents(d.PayerAllowed) < 0) {
			// A better or cheaper option exists, but the organisation's gain does
			// not clear the contract's threshold (e.g. a generic under FFS, where
			// the organisation earns nothing either way).
			res.Reason = ReasonBelowThreshold
			return res, nil
		}
	}
	res.Reason = ReasonAlreadyBest
	for _, o := range opts {
		if o.Exclusion == ExcludeMidCourse && cents(o.Delta.NetImpact) > 0 {
			res.Reason = ReasonMidCourse
			break
		}
		if o.Exclusion == ExcludeMarginFalls && cents(o.Delta.PayerAllowed) < 0 {
			res.Reason = ReasonMarginFalls
		}
	}
	return res, nil
}

// clinicalExclusion applies the P&T committee's rules, which come before any money rule: the
// same route and dosage form, on formulary and stocked at the site, labelled for the order's
// indication, and the mid-course policy. "" means the option is clinically acceptable.
func (s *scoreCtx) clinicalExclusion(ordered, p Product, req Request, mid bool, rule MidCourse) string {
	switch {
	case !ordered.SameRouteAndForm(p):
		return ExcludeRouteForm
	case !s.policy.OnFormulary(req.Site, p):
		return ExcludeOffFormulary
	case mid && p.ID != req.CurrentProductID && rule == MidCourseNever:
		return ExcludeMidCourse
	}
	for _, id := range req.Indications {
		if ind, ok := s.policy.Indications().Indication(s.group.ID, id); ok && ind.LabelFor(p.ID) != LabelYes {
			return ExcludeNotLabelled
		}
	}
	return ""
}

// exclusion applies the money rules of economics.md §4 to one priced option that passed the
// clinical rules; "" means it may be suggested.
func (s *scoreCtx) exclusion(o Option, orderedNonPreferred, ffsLike bool) string {
	switch {
	case cents(o.Delta.PatientOOP) > 0:
		return ExcludeRaisesPatientOOP
	case cents(o.Delta.PayerAllowed) > 0 && !s.contract.AllowMarginSwitch:
		return ExcludeRaisesPayerCost
	case ffsLike && cents(o.Delta.Margin) < 0 && !(o.PayerPreferred && orderedNonPreferred):
		return ExcludeMarginFalls
	}
	return ""
}

// midCourse is the rule for a patient already on therapy: the P&T committee's rule for the group
// when it set one; else a contract's legacy allowMidCourseSwitch opt-in (true: next cycle, with
// the acknowledgement on the card; false: never); else the default (biologics never, AB-rated
// generics at any time). An FDA interchangeable designation does not decide it on its own.
func (s *scoreCtx) midCourse() MidCourse {
	if s.policy.HasGroupRule(s.group.ID) {
		return s.policy.Group(s.group).MidCourse
	}
	if v, ok := s.contract.AllowMidCourseSwitch[s.group.ID]; ok {
		if v {
			return MidCourseNextCycle
		}
		return MidCourseNever
	}
	return s.policy.Group(s.group).MidCourse
}

// compareOptions ranks eligible options first, then by net impact for the
// organisation (higher first), then lower payer allowed, then lower patient
// cost, all per course and compared in cents so floating-point noise cannot
// break a tie; the product id makes the order total.
// sortOptions ranks opts in place (compareOptions) by sorting indices, not the options: an
// Option holds four Figures and several references, and the sort's swaps of whole options cost
// a fifth of a cold score in copies and write barriers. The permutation is then applied with
// one move per option.
func sortOptions(opts []Option) []Option {
	var stack [16]int
	idx := stack[:0]
	for i := range opts {
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareOptions(&opts[a], &opts[b]) })
	// Position i takes opts[idx[i]]: follow each cycle once with one option in hand.
	for i := range idx {
		if idx[i] == i || idx[i] < 0 {
			continue
		}
		held := opts[i]
		j := i
		for {
			k := idx[j]
			idx[j] = -1
			if k == i {
				opts[j] = held
				break
			}
			opts[j] = opts[k]
			j = k
		}
	}
	return opts
}

func compareOptions(a, b *Option) int {
	if a.Eligible != b.Eligible {
		if a.Eligible {
			return -1
		}
		return 1
	}
	if a.Exclusion == ExcludeNotPriced || b.Exclusion == ExcludeNotPriced {
		if (a.Exclusion == ExcludeNotPriced) != (b.Exclusion == ExcludeNotPriced) {
			if b.Exclusion == ExcludeNotPriced {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Product.ID, b.Product.ID)
	}
	if c := compareFloat(cents(b.PerCourse.NetImpact), cents(a.PerCourse.NetImpact)); c != 0 {
		return c
	}
	if c := compareFloat(cents(a.PerCourse.PayerAllowed), cents(b.PerCourse.PayerAllowed)); c != 0 {
		return c
	}
	if c := compareFloat(cents(a.PerCourse.PatientOOP), cents(b.PerCourse.PatientOOP)); c != 0 {
		return c
	}
	return strings.Compare(a.Product.ID, b.Product.ID)
}

// cents rounds to whole cents for comparison and display.
func cents(v float64) float64 { return math.Round(v*100) / 100 }
