// Package traffic generates a realistic decision record for the dashboard, its tests and its
// benchmarks (valuerx demo-traffic): orders of every drug family valuerx would advise on, under
// every sample contract, scored by the real scorer on the embedded catalog at each order's date
// (so every figure is one a card would have carried), seen at order-select and order-sign,
// accepted (mostly the first suggestion), overridden with the service's reasons, or left without
// feedback, by 24 prescribers who differ in how often they accept. The same seed writes the same
// record.
//
// It writes into the store directly, not through the gateway: a year at the volume a benchmark
// needs (a million orders) through HTTP, JWT signing and FHIR decoding would take hours on the
// shared machine, and the hook path has its own tests and load harness; what the dashboard reads
// is the record, and these are the records the gateway writes (the same fields, order keys,
// suggestion figures from the same scorer, feedback as the feedback endpoint stores it).
package traffic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"valuerx/catalog"
	"valuerx/scoring"
	"valuerx/store"
)

// DemoClient is the CDS client every generated decision comes from: demo-traffic refuses a
// store holding another client's decisions.
const DemoClient = "https://ehr.demo.valuerx/cds-client"

// DemoScorer is the scorer, contracts and catalog of the embedded defaults.
func DemoScorer() (*scoring.Scorer, *scoring.Registry, *scoring.Catalog, error) {
	snap, err := catalog.Embedded()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("catalog: %w", err)
	}
	cat, err := scoring.NewCatalog(snap)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("catalog: %w", err)
	}
	reg, err := scoring.NewRegistry(scoring.DefaultConfig(), cat)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("contracts: %w", err)
	}
	pol, err := scoring.DefaultPolicy(cat)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("policy: %w", err)
	}
	sc, err := scoring.NewScorerWithPolicy(cat, reg, pol, 4096)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("scorer: %w", err)
	}
	return sc, reg, cat, nil
}

type Config struct {
	// ScoreRequest, when set, encodes each order's scoring request into its decisions (the
	// gateway's own encoding, gateway.EncodeScoreRequest), so the divergence computation and the
	// drill-down's comparison page can score it again.
	ScoreRequest func(scoring.Request) []byte
	// Ledger, when set, is told the truth of every order as it is generated: what a test
	// computes expected figures from by hand, without the store, the rollup or package tracking.
	Ledger       func(Truth)
	Seed         uint64
	Days, PerDay int
	End          time.Time // first day after the traffic
}

// Truth is one generated order as the generator decided it.
type Truth struct {
	FirstAt                                time.Time // the order's first hook
	Contract, Arrangement, Family          string
	Prescriber, Location                   string
	Card                                   bool    // a card was shown (else NoCardReason)
	NoCardReason                           string  // the first decision's; the order's only one
	Outcome                                string  // accepted | overridden | "" (no feedback)
	Reason                                 string  // override reason ("" = none given)
	PayerSaved, PatientSaved, OrgImpact    float64 // accepted: the accepted suggestion's per-course figures
	Ordered, Recommended, Accepted, Signed string
	Administrations                        int
}

// Stats counts what Generate wrote: orders (CardOrders of them got a card, NoCard did not),
// cards shown, feedback items, completed administrations.
type Stats struct{ Orders, CardOrders, NoCard, Cards, Feedback, Administrations int }

// locations are the sample health system's infusion sites (Location references: places).
var locations = []string{"Location/infusion-north", "Location/infusion-south", "Location/cancer-centre", "Location/day-hospital",
	"Location/eye-clinic", "Location/rheumatology"}

// demoReasons are override codes of the gateway's own list (gateway/override.go), weighted.
var demoReasons = []struct {
	code   string
	weight int
}{
	{"continuing-established-course", 30}, {"payer-requires-ordered", 20}, {"indication-requires-ordered", 12},
	{"patient-declines", 12}, {"not-on-formulary-or-stock", 8}, {"prior-reaction-or-intolerance", 5},
	{"clinical-trial-or-protocol", 3}, {"manufacturer-assistance", 3}, {store.ReasonFiguresWrong, 2}, {"", 5},
}

// Generate writes the record day by day (one commit each of decisions, feedback and
// administrations a day), as the gateway and the administration import would: orders whose score
// gives no card (already the best, below threshold, mid-course) as no-card decisions; orders with
// a card seen at order-select and/or order-sign, answered on one of them; an order answered at
// order-select signed with the choice (order-sign then needs no card: "already-best", or
// "suppressed-after-override" after an override); and most signed orders given, every three weeks,
// as completed MedicationAdministrations of the signed product.
func Generate(ctx context.Context, st store.Store, sc *scoring.Scorer, reg *scoring.Registry, cat *scoring.Catalog, cfg Config) (Stats, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	type pair struct{ contract, product string }
	var pairs []pair
	for _, k := range reg.Contracts() {
		for _, g := range cat.Groups() {
			for _, p := range g.ProductIDs {
				pairs = append(pairs, pair{k.ID, p})
			}
		}
	}
	if len(pairs) == 0 {
		return Stats{}, errors.New("no contracts or products to generate orders for")
	}
	// Prescribers accept between 35 % and 85 % of the cards they answer.
	const prescribers = 24
	accept := make([]float64, prescribers)
	for i := range accept {
		accept[i] = 0.35 + 0.5*rng.Float64()
	}
	var stats Stats
	client := DemoClient
	const reasonSystem = "https://valuerx.dev/fhir/CodeSystem/override-reason"
	for day := cfg.End.AddDate(0, 0, -cfg.Days); day.Before(cfg.End); day = day.AddDate(0, 0, 1) {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		n := cfg.PerDay/2 + rng.IntN(cfg.PerDay+1) // mean PerDay
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			n /= 5 // infusion centres are quiet at weekends
		}
		var ds []store.Decision
		var fs []store.Feedback
		var as []store.Administration
		for i := 0; i < n; i++ {
			pr := pairs[rng.IntN(len(pairs))]
			sreq := scoring.Request{ContractID: pr.contract, ProductID: pr.product, Date: day}
			res, err := sc.Score(sreq)
			if err != nil {
				continue
			}
			var encoded []byte
			if cfg.ScoreRequest != nil {
				encoded = cfg.ScoreRequest(sreq)
			}
			stats.Orders++
			id := fmt.Sprintf("%016x", rng.Uint64())
			h := sha256.Sum256([]byte(id))
			orderKey := hex.EncodeToString(h[:16])
			doctor := rng.IntN(prescribers)
			// A prescriber works at a home site, and at the next one on one order in five.
			site := locations[(doctor+map[bool]int{true: 1}[rng.Float64() < 0.2])%len(locations)]
			therapy := store.TherapyContinuing
			if rng.Float64() < 0.4 {
				therapy = store.TherapyNewStart
			}
			at := day.Add(time.Duration(7*3600+rng.IntN(11*3600)) * time.Second)
			// The options as the gateway records them (gateway/decisions.go): every scored product
			// with its per-course and per-year figures against the order; realised savings are
			// priced from them.
			options := make([]store.Option, 0, len(res.Options))
			for _, o := range res.Options {
				if o.Exclusion == scoring.ExcludeNotPriced && o.PerCourse == (scoring.Figures{}) {
					options = append(options, store.Option{ProductID: o.Product.ID, Relationship: string(o.Product.Relationship), Exclusion: o.Exclusion})
					continue
				}
				options = append(options, store.Option{ProductID: o.Product.ID, Relationship: string(o.Product.Relationship), Eligible: o.Eligible,
					Exclusion: o.Exclusion,
					PerCourse: saved(res.Ordered.PerCourse, o.PerCourse), PerYear: saved(res.Ordered.PerYear, o.PerYear)})
			}
			base := func(hook string, at time.Time, ordered string) store.Decision {
				rel := string(res.Ordered.Product.Relationship)
				if ordered != res.Ordered.Product.ID {
					if p, ok := cat.Product(ordered); ok {
						rel = string(p.Relationship)
					}
				}
				return store.Decision{OrderedRelationship: rel, Options: options, CardUUID: fmt.Sprintf("%s-%s", id, hook), HookInstance: "demo-" + id + "-" + hook,
					ServiceID: "valuerx-" + hook, Hook: hook, Client: client, OrderKey: orderKey, Fingerprint: "demo-" + id,
					UserID: fmt.Sprintf("Practitioner/dr-%02d", doctor+1), Location: site, Therapy: therapy,
					ContractID: res.Contract.ID, Arrangement: string(res.Contract.Arrangement), GroupID: res.Group.ID,
					OrderedProductID: ordered, BestProductID: ordered, At: at, PricePeriod: res.Book.ID,
					AdministrationsPerYear: res.AdministrationsPerYear, ScoreRequest: encoded}
			}
			// administer records the signed product's completed administrations, every three
			// weeks from a few days after signing, for most signed orders (some are never given,
			// some are given before the traffic ends only in part).
			administer := func(product string, signed time.Time) (given int) {
				if rng.Float64() < 0.15 {
					return 0
				}
				first := signed.Add(time.Duration(2+rng.IntN(6)) * 24 * time.Hour)
				for k := 0; k < 1+rng.IntN(6); k++ {
					when := first.Add(time.Duration(21*k) * 24 * time.Hour)
					if !when.Before(cfg.End) {
						break
					}
					as = append(as, store.Administration{Client: client, OrderKey: orderKey, Key: fmt.Sprintf("%s-a%d", id, k),
						ProductID: product, Status: "completed", At: when, ImportedAt: cfg.End})
					stats.Administrations++
					given++
				}
				return given
			}
			signAt := at.Add(time.Duration(2+rng.IntN(20)) * time.Minute)
			if res.Best == nil {
				// No card needed (already the best, below the threshold, mid-course policy ...):
				// recorded all the same, signed and given as ordered.
				d := base("order-sign", signAt, res.Ordered.Product.ID)
				d.NoCardReason = res.Reason
				if d.NoCardReason == "" {
					d.NoCardReason = "unknown"
				}
				ds = append(ds, d)
				stats.NoCard++
				n := administer(d.OrderedProductID, signAt)
				if cfg.Ledger != nil {
					cfg.Ledger(Truth{FirstAt: signAt, Contract: d.ContractID, Arrangement: d.Arrangement, Family: d.GroupID, Prescriber: d.UserID,
						Location: site, NoCardReason: d.NoCardReason, Ordered: d.OrderedProductID, Signed: d.OrderedProductID, Administrations: n})
				}
				continue
			}
			stats.CardOrders++
			opts := []scoring.Option{*res.Best}
			for _, o := range res.Options {
				if len(opts) == 3 {
					break
				}
				if o.Eligible && o.Product.ID != res.Best.Product.ID && o.PerCourse.NetImpact > res.Ordered.PerCourse.NetImpact {
					opts = append(opts, o)
				}
			}
			mk := func(hook string, at time.Time) store.Decision {
				d := base(hook, at, res.Ordered.Product.ID)
				d.BestProductID = res.Best.Product.ID
				for j, o := range opts {
					c := saved(res.Ordered.PerCourse, o.PerCourse)
					d.Suggestions = append(d.Suggestions, store.Suggestion{UUID: fmt.Sprintf("%s-%s-s%d", id, hook, j+1), ProductID: o.Product.ID,
						PayerSaving: c.Payer, PatientSaving: c.Patient, OrgImpact: c.Org, PerYear: saved(res.Ordered.PerYear, o.PerYear)})
				}
				d.PayerSaving, d.PatientSaving, d.OrgImpact = d.Suggestions[0].PayerSaving, d.Suggestions[0].PatientSaving, d.Suggestions[0].OrgImpact
				return d
			}
			// feedback answers card d (nil: no feedback) as the prescriber would.
			feedback := func(d store.Decision) *store.Feedback {
				when := d.At.Add(time.Duration(10+rng.IntN(300)) * time.Second)
				f := store.Feedback{Client: client, ServiceID: d.ServiceID, CardUUID: d.CardUUID, OrderKey: orderKey,
					Fingerprint: d.Fingerprint, OutcomeSent: when, OutcomeAt: when, ReceivedAt: when.Add(time.Second)}
				switch u := rng.Float64(); {
				case u < 0.12:
					return nil
				case u < 0.12+0.88*accept[doctor]:
					f.Outcome = "accepted"
					j := 0
					if v := rng.Float64(); v > 0.8 && len(d.Suggestions) > 1 {
						j = 1 + rng.IntN(len(d.Suggestions)-1)
					}
					f.SuggestionUUID = d.Suggestions[j].UUID
				default:
					f.Outcome = "overridden"
					f.ReasonCode = pickReason(rng)
					if f.ReasonCode != "" {
						f.ReasonSystem = reasonSystem
					}
				}
				stats.Feedback++
				fs = append(fs, f)
				return &f
			}
			accepted := func(d store.Decision, f *store.Feedback) string {
				for _, sg := range d.Suggestions {
					if sg.UUID == f.SuggestionUUID {
						return sg.ProductID
					}
				}
				return d.OrderedProductID
			}
			signed := res.Ordered.Product.ID
			truth := Truth{FirstAt: signAt, Card: true, Contract: res.Contract.ID, Arrangement: string(res.Contract.Arrangement), Family: res.Group.ID,
				Prescriber: fmt.Sprintf("Practitioner/dr-%02d", doctor+1), Location: site, Ordered: res.Ordered.Product.ID, Recommended: res.Best.Product.ID}
			// decided books the feedback f on card d as the order's outcome.
			decided := func(d store.Decision, f *store.Feedback) {
				if f == nil {
					return
				}
				truth.Outcome, truth.Reason = f.Outcome, f.ReasonCode
				if f.Outcome == "accepted" {
					for _, sg := range d.Suggestions {
						if sg.UUID == f.SuggestionUUID {
							truth.Accepted, truth.PayerSaved, truth.PatientSaved, truth.OrgImpact = sg.ProductID, sg.PayerSaving, sg.PatientSaving, sg.OrgImpact
						}
					}
				}
			}
			if rng.Float64() < 0.7 && rng.Float64() < 0.4 {
				truth.FirstAt = at
				// Seen and answered at order-select: the draft the EHR signs then carries the
				// choice, and order-sign needs no card (the accepted product is already the best;
				// an override is not shown again).
				sel := mk("order-select", at)
				ds = append(ds, sel)
				stats.Cards++
				f := feedback(sel)
				decided(sel, f)
				switch {
				case f == nil:
					sign := mk("order-sign", signAt)
					ds = append(ds, sign)
					stats.Cards++
					g := feedback(sign)
					decided(sign, g)
					if g != nil && g.Outcome == "accepted" {
						signed = accepted(sign, g)
					}
				case f.Outcome == "accepted":
					signed = accepted(sel, f)
					d := base("order-sign", signAt, signed)
					d.NoCardReason = store.NoCardAlreadyBest
					if signed != res.Best.Product.ID {
						d.NoCardReason = "below-threshold" // another suggestion: close enough to the best
					}
					ds = append(ds, d)
				default:
					d := base("order-sign", signAt, signed)
					d.NoCardReason = store.NoCardSuppressed
					ds = append(ds, d)
				}
			} else {
				if rng.Float64() < 0.5 {
					ds = append(ds, mk("order-select", at)) // seen at order-select, answered at order-sign
					stats.Cards++
					truth.FirstAt = at
				}
				sign := mk("order-sign", signAt)
				ds = append(ds, sign)
				stats.Cards++
				f := feedback(sign)
				decided(sign, f)
				if f != nil && f.Outcome == "accepted" {
					signed = accepted(sign, f)
				}
			}
			truth.Signed = signed
			truth.Administrations = administer(signed, signAt)
			if cfg.Ledger != nil {
				cfg.Ledger(truth)
			}
		}
		if err := st.RecordDecisions(ctx, ds); err != nil {
			return stats, fmt.Errorf("day %s: %w", day.Format("2006-01-02"), err)
		}
		if err := st.RecordFeedback(ctx, fs); err != nil {
			return stats, fmt.Errorf("day %s: %w", day.Format("2006-01-02"), err)
		}
		if _, err := st.RecordAdministrations(ctx, as); err != nil {
			return stats, fmt.Errorf("day %s: %w", day.Format("2006-01-02"), err)
		}
	}
	return stats, nil
}

func pickReason(rng *rand.Rand) string {
	total := 0
	for _, r := range demoReasons {
		total += r.weight
	}
	v := rng.IntN(total)
	for _, r := range demoReasons {
		if v < r.weight {
			return r.code
		}
		v -= r.weight
	}
	return ""
}

// saved is what o is worth against the ordered figures, as the gateway books it (scoring.Saved).
func saved(ordered, o scoring.Figures) store.Saving {
	var s store.Saving
	s.Payer, s.Patient, s.Org = scoring.Saved(ordered, o)
	return s
}
