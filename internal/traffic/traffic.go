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
	Seed         uint64
	Days, PerDay int
	End          time.Time // first day after the traffic
}

type Stats struct{ Orders, Cards, Feedback int }

// demoReasons are override codes of the gateway's own list (gateway/override.go), weighted.
var demoReasons = []struct {
	code   string
	weight int
}{
	{"continuing-established-course", 30}, {"payer-requires-ordered", 20}, {"indication-requires-ordered", 12},
	{"patient-declines", 12}, {"not-on-formulary-or-stock", 8}, {"prior-reaction-or-intolerance", 5},
	{"clinical-trial-or-protocol", 3}, {"manufacturer-assistance", 3}, {store.ReasonFiguresWrong, 2}, {"", 5},
}

// Generate writes the record day by day (one commit of decisions and one of feedback a
// day). Orders whose score gives no card (already the best, below threshold) are skipped: the
// record holds only orders that got a card.
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
	client := "https://ehr.demo.valuerx/cds-client"
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
		for i := 0; i < n; i++ {
			pr := pairs[rng.IntN(len(pairs))]
			res, err := sc.Score(scoring.Request{ContractID: pr.contract, ProductID: pr.product, Date: day})
			if err != nil || res.Best == nil {
				continue
			}
			opts := []scoring.Option{*res.Best}
			for _, o := range res.Options {
				if len(opts) == 3 {
					break
				}
				if o.Eligible && o.Product.ID != res.Best.Product.ID && o.PerCourse.NetImpact > res.Ordered.PerCourse.NetImpact {
					opts = append(opts, o)
				}
			}
			stats.Orders++
			id := fmt.Sprintf("%016x", rng.Uint64())
			h := sha256.Sum256([]byte(id))
			orderKey := hex.EncodeToString(h[:16])
			doctor := rng.IntN(prescribers)
			at := day.Add(time.Duration(7*3600+rng.IntN(11*3600)) * time.Second)
			mk := func(hook string, at time.Time) store.Decision {
				d := store.Decision{CardUUID: fmt.Sprintf("%s-%s", id, hook), HookInstance: "demo-" + id + "-" + hook,
					ServiceID: "valuerx-" + hook, Hook: hook, Client: client, OrderKey: orderKey, Fingerprint: "demo-" + id,
					UserID:     fmt.Sprintf("Practitioner/dr-%02d", doctor+1),
					ContractID: res.Contract.ID, Arrangement: string(res.Contract.Arrangement), GroupID: res.Group.ID,
					OrderedProductID: res.Ordered.Product.ID, BestProductID: res.Best.Product.ID, At: at}
				for j, o := range opts {
					d.Suggestions = append(d.Suggestions, store.Suggestion{UUID: fmt.Sprintf("%s-%s-s%d", id, hook, j+1), ProductID: o.Product.ID,
						PayerSaving:   res.Ordered.PerCourse.PayerAllowed - o.PerCourse.PayerAllowed,
						PatientSaving: res.Ordered.PerCourse.PatientOOP - o.PerCourse.PatientOOP,
						OrgImpact:     o.PerCourse.NetImpact - res.Ordered.PerCourse.NetImpact})
				}
				d.PayerSaving, d.PatientSaving, d.OrgImpact = d.Suggestions[0].PayerSaving, d.Suggestions[0].PatientSaving, d.Suggestions[0].OrgImpact
				return d
			}
			sign := mk("order-sign", at.Add(time.Duration(2+rng.IntN(20))*time.Minute))
			ds = append(ds, sign)
			stats.Cards++
			decided := sign
			if rng.Float64() < 0.7 { // most orders were also seen at order-select
				sel := mk("order-select", at)
				ds = append(ds, sel)
				stats.Cards++
				if rng.Float64() < 0.4 {
					decided = sel // feedback came on the select card
				}
			}
			when := decided.At.Add(time.Duration(10+rng.IntN(300)) * time.Second)
			f := store.Feedback{Client: client, ServiceID: decided.ServiceID, CardUUID: decided.CardUUID, OrderKey: orderKey,
				Fingerprint: decided.Fingerprint, OutcomeSent: when, OutcomeAt: when, ReceivedAt: when.Add(time.Second)}
			switch u := rng.Float64(); {
			case u < 0.12:
				continue // no feedback
			case u < 0.12+0.88*accept[doctor]:
				f.Outcome = "accepted"
				j := 0
				if v := rng.Float64(); v > 0.8 && len(decided.Suggestions) > 1 {
					j = 1 + rng.IntN(len(decided.Suggestions)-1)
				}
				f.SuggestionUUID = decided.Suggestions[j].UUID
			default:
				f.Outcome = "overridden"
				f.ReasonCode = pickReason(rng)
				if f.ReasonCode != "" {
					f.ReasonSystem = "https://valuerx.dev/fhir/CodeSystem/override-reason"
				}
			}
			fs = append(fs, f)
			stats.Feedback++
		}
		if err := st.RecordDecisions(ctx, ds); err != nil {
			return stats, fmt.Errorf("day %s: %w", day.Format("2006-01-02"), err)
		}
		if err := st.RecordFeedback(ctx, fs); err != nil {
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
