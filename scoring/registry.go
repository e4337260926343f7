package scoring

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Coverage is the plain facts the gateway extracts from FHIR Coverage and
// Patient; the registry classifies them into a contract.
type Coverage struct {
	SOPT     []string // Source of Payment Typology codes on Coverage.type
	PayerIDs []string // Coverage.payor identifiers / reference ids / display
	Plans    []string // Coverage.class values of type plan
	Groups   []string // Coverage.class values of type group
	MBI      string   // Medicare Beneficiary Identifier (Patient.identifier or Coverage.subscriberId)
	MemberID string   // the plan's member id (Coverage.subscriberId), for rosters keyed by it
	// Secondary are the patient's other active Coverages in force, in Coverage.order after
	// the primary (their MBI is not read).
	Secondary []Coverage
}

// Registry is the validated set of contracts, the attribution roster and the
// acquisition costs, checked against a catalog. It is immutable and safe for
// concurrent use.
type Registry struct {
	contracts []Contract
	byID      map[string]int
	roster    map[string][]RosterEntry // normalised MBI -> entries
	byMember  map[string][]RosterEntry // plan member id -> entries
	acq       map[string][]AcquisitionCost
	shares    []riskResult // per contract: the marginal risk share, resolved once
	secondary []SecondaryCoverage
	texts     [][2]contractTexts // per contract, per benefit (medical, pharmacy): labels built once
}

// riskResult is riskShare's answer for one contract.
type riskResult struct {
	share    float64
	position Position
	label    string
}

// NewRegistry validates cfg against the catalog (product and group ids in
// preferences, fee schedules, overrides and acquisition costs must exist) and
// builds the registry.
func NewRegistry(cfg Config, cat *Catalog) (*Registry, error) {
	if cat == nil {
		return nil, errors.New("scoring: NewRegistry: nil catalog")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Registry{byID: map[string]int{}, roster: map[string][]RosterEntry{}, byMember: map[string][]RosterEntry{}, acq: map[string][]AcquisitionCost{}}
	var errs []error
	for i, k := range cfg.Contracts {
		k = cloneContract(k)
		for g, ps := range k.Preferred {
			grp, ok := cat.Group(g)
			if !ok {
				errs = append(errs, fmt.Errorf("contract %s: preferred: unknown group %q", k.ID, g))
				continue
			}
			for _, p := range ps {
				if !slices.Contains(grp.ProductIDs, p) {
					errs = append(errs, fmt.Errorf("contract %s: preferred.%s: %q is not a product of the group", k.ID, g, p))
				}
			}
		}
		for g := range k.AllowMidCourseSwitch {
			if _, ok := cat.Group(g); !ok {
				errs = append(errs, fmt.Errorf("contract %s: allowMidCourseSwitch: unknown group %q", k.ID, g))
			}
		}
		for p := range k.Reimbursement.FeeSchedule {
			if _, ok := cat.Product(p); !ok {
				errs = append(errs, fmt.Errorf("contract %s: feeSchedule: unknown product %q", k.ID, p))
			}
		}
		r.byID[k.ID] = i
		r.contracts = append(r.contracts, k)
		share, pos, label := riskShare(&k, contractSequestration(&k))
		r.shares = append(r.shares, riskResult{share, pos, label})
	}
	for _, sc := range cfg.SecondaryCoverage {
		sc.Match.SOPT, sc.Match.PayerIDs = slices.Clone(sc.Match.SOPT), slices.Clone(sc.Match.PayerIDs)
		sc.Match.Plans, sc.Match.Groups = slices.Clone(sc.Match.Plans), slices.Clone(sc.Match.Groups)
		r.secondary = append(r.secondary, sc)
	}
	for _, e := range cfg.Roster {
		if mbi, ok := NormalizeMBI(e.MBI); ok {
			r.roster[mbi] = append(r.roster[mbi], e)
		}
		if id := strings.TrimSpace(e.PlanMemberID); id != "" {
			r.byMember[id] = append(r.byMember[id], e)
		}
	}
	for _, a := range cfg.AcquisitionCosts {
		if _, ok := cat.Product(a.Product); !ok {
			errs = append(errs, fmt.Errorf("acquisitionCosts: unknown product %q", a.Product))
		}
		r.acq[a.Product] = append(r.acq[a.Product], a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("scoring: config: %w", err)
	}
	r.precomputeTexts()
	return r, nil
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneContract(k Contract) Contract {
	k.Deductible = clonePtr(k.Deductible)
	k.Reimbursement.Sequestration = clonePtr(k.Reimbursement.Sequestration)
	k.PriorAuth = clonePtr(k.PriorAuth)
	if k.Risk != nil {
		r := *k.Risk
		r.LossRate, r.QualityFactor = clonePtr(r.LossRate), clonePtr(r.QualityFactor)
		r.SavingsCap, r.LossCap = clonePtr(r.SavingsCap), clonePtr(r.LossCap)
		r.ExpectedSavingsRate, r.SequesterPayout = clonePtr(r.ExpectedSavingsRate), clonePtr(r.SequesterPayout)
		k.Risk = &r
	}
	k.Match.SOPT = slices.Clone(k.Match.SOPT)
	k.Match.PayerIDs = slices.Clone(k.Match.PayerIDs)
	k.Match.Plans = slices.Clone(k.Match.Plans)
	k.Match.Groups = slices.Clone(k.Match.Groups)
	if k.Preferred != nil {
		p := make(map[string][]string, len(k.Preferred))
		for g, ps := range k.Preferred {
			p[g] = slices.Clone(ps)
		}
		k.Preferred = p
	}
	if k.AllowMidCourseSwitch != nil {
		m := make(map[string]bool, len(k.AllowMidCourseSwitch))
		for g, v := range k.AllowMidCourseSwitch {
			m[g] = v
		}
		k.AllowMidCourseSwitch = m
	}
	if k.Reimbursement.FeeSchedule != nil {
		f := make(map[string]float64, len(k.Reimbursement.FeeSchedule))
		for p, v := range k.Reimbursement.FeeSchedule {
			f[p] = v
		}
		k.Reimbursement.FeeSchedule = f
	}
	return k
}

// Contract returns a contract by id. The returned value's maps and slices are
// copies; changing them does not change the registry.
func (r *Registry) Contract(id string) (Contract, bool) {
	i, ok := r.byID[id]
	if !ok {
		return Contract{}, false
	}
	return cloneContract(r.contracts[i]), true
}

// contract returns the registry's own copy, for read-only use inside the package.
func (r *Registry) contract(id string) (*Contract, bool) {
	i, ok := r.byID[id]
	if !ok {
		return nil, false
	}
	return &r.contracts[i], true
}

// Contracts lists the contracts in configuration order.
func (r *Registry) Contracts() []Contract {
	out := make([]Contract, len(r.contracts))
	for i, k := range r.contracts {
		out[i] = cloneContract(k)
	}
	return out
}

// Specificity of a match, highest wins.
const (
	matchNone = iota
	matchSOPT
	matchPayer
	matchAttribution
)

// Classify picks the contract a coverage falls under on a day: the most
// specific match (attribution on the roster > payer id, plan or group > SOPT
// prefix only), ties going to the contract listed first. Unknown coverage
// matches nothing and the gateway then returns no card.
func (r *Registry) Classify(cov Coverage, on time.Time) (Contract, bool) {
	day := CalendarDay(on)
	best, bestLevel := -1, matchNone
	for i := range r.contracts {
		lvl := r.matchLevel(&r.contracts[i], cov, day)
		if lvl > bestLevel {
			best, bestLevel = i, lvl
		}
	}
	if best < 0 {
		return Contract{}, false
	}
	return cloneContract(r.contracts[best]), true
}

func (r *Registry) matchLevel(k *Contract, cov Coverage, day time.Time) int {
	m := k.Match
	lvl := matchNone
	for _, code := range cov.SOPT {
		code = strings.TrimSpace(code)
		for _, p := range m.SOPT {
			if strings.HasPrefix(code, p) {
				lvl = matchSOPT
			}
		}
	}
	if anyFold(cov.PayerIDs, m.PayerIDs) || anyFold(cov.Plans, m.Plans) || anyFold(cov.Groups, m.Groups) {
		lvl = matchPayer
	}
	if !m.Attribution {
		return lvl
	}
	if lvl == matchNone && len(m.SOPT)+len(m.PayerIDs)+len(m.Plans)+len(m.Groups) > 0 {
		return matchNone
	}
	if r.attributed(cov.MBI, k.ID, day) || r.attributedMember(cov.MemberID, k.ID, day) {
		return matchAttribution
	}
	return matchNone
}

// attributed reports whether the MBI is on the contract's roster on day.
func (r *Registry) attributed(mbi, contractID string, day time.Time) bool {
	n, ok := NormalizeMBI(mbi)
	if !ok {
		return false
	}
	for _, e := range r.roster[n] {
		if e.Contract == contractID && covers(e.Start, e.End, day) {
			return true
		}
	}
	return false
}

// attributedMember reports whether the plan member id is on the contract's roster on day.
func (r *Registry) attributedMember(id, contractID string, day time.Time) bool {
	id = strings.TrimSpace(id)
	if id == "" {
		return false
	}
	for _, e := range r.byMember[id] {
		if e.Contract == contractID && covers(e.Start, e.End, day) {
			return true
		}
	}
	return false
}

func anyFold(have, want []string) bool {
	for _, h := range have {
		h = strings.TrimSpace(h)
		for _, w := range want {
			if h != "" && strings.EqualFold(h, strings.TrimSpace(w)) {
				return true
			}
		}
	}
	return false
}

// acquisition returns the configured acquisition cost of a product on day.
func (r *Registry) acquisition(productID string, day time.Time) (AcquisitionCost, bool) {
	for _, a := range r.acq[productID] {
		if covers(a.Start, a.End, day) {
			return a, true
		}
	}
	return AcquisitionCost{}, false
}

// prefers reports whether the contract names payer-preferred products for the
// group and, if so, whether the product is one of them.
func (k *Contract) prefers(groupID, productID string) (preferred, hasPreferences bool) {
	ps, ok := k.Preferred[groupID]
	if !ok || len(ps) == 0 {
		return false, false
	}
	return slices.Contains(ps, productID), true
}

// PriorAuth is an option's prior-authorisation status under the contract.
type PriorAuth struct {
	Required          bool
	ExpectedDelayDays float64 // as the contract states
	DenialRate        float64 // as the contract states
}

// priorAuth is the status of a product: a product the contract does not
// prefer, in a group where it names preferred products, needs prior
// authorisation when the contract says so (priorAuth).
func (k *Contract) priorAuth(groupID, productID string) PriorAuth {
	if k.PriorAuth == nil {
		return PriorAuth{}
	}
	if pref, has := k.prefers(groupID, productID); !has || pref {
		return PriorAuth{}
	}
	return PriorAuth{Required: true, ExpectedDelayDays: k.PriorAuth.ExpectedDelayDays, DenialRate: k.PriorAuth.DenialRate}
}

// ClassifySecondary recognises the supplemental coverage among the patient's
// other Coverages, taken in their order: the first that matches an entry of
// secondaryCoverage (payer id, plan or group before an SOPT prefix only, ties
// to the entry listed first). A third coverage is not modelled.
func (r *Registry) ClassifySecondary(covs []Coverage) (SecondaryCoverage, bool) {
	for _, cov := range covs {
		best, bestLevel := -1, matchNone
		for i := range r.secondary {
			if lvl := matchCoverage(r.secondary[i].Match, cov); lvl > bestLevel {
				best, bestLevel = i, lvl
			}
		}
		if best >= 0 {
			return r.secondary[best], true
		}
	}
	return SecondaryCoverage{}, false
}

// secondaryCoverage returns an entry by id.
func (r *Registry) secondaryCoverage(id string) (*SecondaryCoverage, bool) {
	for i := range r.secondary {
		if r.secondary[i].ID == id {
			return &r.secondary[i], true
		}
	}
	return nil, false
}

// matchCoverage is the specificity of a match without attribution.
func matchCoverage(m Match, cov Coverage) int {
	lvl := matchNone
	for _, code := range cov.SOPT {
		code = strings.TrimSpace(code)
		for _, p := range m.SOPT {
			if strings.HasPrefix(code, p) {
				lvl = matchSOPT
			}
		}
	}
	if anyFold(cov.PayerIDs, m.PayerIDs) || anyFold(cov.Plans, m.Plans) || anyFold(cov.Groups, m.Groups) {
		lvl = matchPayer
	}
	return lvl
}
