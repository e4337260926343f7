package tracking

import (
	"sort"

	"valuerx/store"
)

// The dashboard's report from sums rather than orders. A store with a rollup (store.Rollups)
// returns the sums per (month, contract, arrangement, family) and per prescriber; a store without
// one returns orders, which Aggregate sums the same way. Either way the report is made by
// FromAggregates, so the JSON API, the CSV export and the pages show one computation, and a test
// holds its figures equal to Build's over the same orders (cmd/valuerx/rollup_test.go).

// Dashboard is the report the dashboard pages and their JSON API serve: Build's report and the
// adoption of the recommended (lowest-cost under the arrangement) product per drug family.
type Dashboard struct {
	Report
	// Locations has one row per (client, location) of the hooks (NoLocation for hooks without
	// one): the same Location reference at two EHRs is two places.
	Locations []LocationRow `json:"locations"`
	// Adoption has one row per drug family of the filter, sorted by family id; AdoptionTotal is
	// all of them together (Family "").
	Adoption      []AdoptionRow `json:"adoption"`
	AdoptionTotal AdoptionRow   `json:"adoptionTotal"`
}

// LocationRow is the figures of one location (the hook's Location reference: a place, not a
// patient).
type LocationRow struct {
	Location string `json:"location"`
	Row
}

// locKey is a location row's key: client, location.
type locKey = [2]string

// NoLocation is the location row of orders whose hooks named no location.
const NoLocation = "(not recorded)"

// Aggregates are the sums a report is made from: per (month, contract, arrangement, family),
// per prescriber and per location.
type Aggregates struct {
	Families, Prescribers, Locations []store.Aggregate
}

// AdoptionRow is how often the orders of one drug family ended on the product valuerx
// recommended for them (accepted onto it, or ordered as it), over the period and per month.
type AdoptionRow struct {
	Family string `json:"family"`
	Adoption
	Months []AdoptionMonth `json:"months"`
}

// Adoption is a share of orders on the recommended product.
type Adoption struct {
	Orders int `json:"orders"`
	OnBest int `json:"onRecommended"`
	// Share is OnBest / Orders (0 without orders).
	Share float64 `json:"share"`
}

// AdoptionMonth is one month (YYYY-MM, UTC) of an AdoptionRow.
type AdoptionMonth struct {
	Month string `json:"month"`
	Adoption
}

// Aggregate sums orders as a store's rollup does: per (month, contract, arrangement, family)
// and per prescriber, over the orders f selects.
func Aggregate(orders []store.OrderRecord, f Filter) Aggregates {
	type fk struct{ month, contract, arr, family string }
	fam, pres, locs := map[fk]*store.Aggregate{}, map[[2]string]*store.Aggregate{}, map[[2]string]*store.Aggregate{}
	var famOrder []fk
	var presOrder, locOrder [][2]string
	for _, o := range orders {
		if !selected(o, f) {
			continue
		}
		k := fk{o.FirstAt.UTC().Format("2006-01"), o.ContractID, o.Arrangement, o.GroupID}
		a := fam[k]
		if a == nil {
			a = &store.Aggregate{Month: k.month, Contract: k.contract, Arrangement: k.arr, Family: k.family}
			fam[k] = a
			famOrder = append(famOrder, k)
		}
		addOrder(a, o)
		pk := [2]string{o.Client, o.Prescriber}
		p := pres[pk]
		if p == nil {
			p = &store.Aggregate{Prescriber: o.Prescriber, Client: o.Client}
			pres[pk] = p
			presOrder = append(presOrder, pk)
		}
		addOrder(p, o)
		lk := [2]string{o.Client, o.Location}
		l := locs[lk]
		if l == nil {
			l = &store.Aggregate{Location: o.Location, Client: o.Client}
			locs[lk] = l
			locOrder = append(locOrder, lk)
		}
		addOrder(l, o)
	}
	var out Aggregates
	for _, k := range famOrder {
		out.Families = append(out.Families, *fam[k])
	}
	for _, k := range presOrder {
		out.Prescribers = append(out.Prescribers, *pres[k])
	}
	for _, k := range locOrder {
		out.Locations = append(out.Locations, *locs[k])
	}
	return out
}

func addOrder(a *store.Aggregate, o store.OrderRecord) {
	if !o.Card() {
		a.NoCard++
		if a.NoCardReasons == nil {
			a.NoCardReasons = map[string]int{}
		}
		a.NoCardReasons[o.NoCardReason]++
		if o.OnBest() {
			a.OnBest++
		}
		return
	}
	a.Cards++
	switch o.Outcome {
	case "accepted":
		a.Accepted++
		a.PayerSaved += store.CentsMicro(o.PayerSaved)
		a.PatientSaved += store.CentsMicro(o.PatientSaved)
		a.OrgImpact += store.CentsMicro(o.OrgImpact)
	case "overridden":
		a.Overridden++
		if a.Overrides == nil {
			a.Overrides = map[string]int{}
		}
		a.Overrides[o.ReasonCode]++
	default:
		a.NoFeedback++
	}
	if o.OnBest() {
		a.OnBest++
	}
}

// FromAggregates makes the dashboard report for f from the sums of the orders f selects (a
// store's rollup, or Aggregate): the same rows, figures and targets Build makes from the orders
// themselves, and the adoption per family.
func FromAggregates(ag Aggregates, f Filter, targets []Target) Dashboard {
	rep := Report{From: f.From, To: f.To, Contract: f.Contract, Family: f.Family, Prescriber: f.Prescriber, Client: f.Client, Total: Row{Overrides: map[string]int{}}}
	// Rows take the arrangement of the contract's earliest month, as Build takes its earliest order's.
	fams := append([]store.Aggregate(nil), ag.Families...)
	sort.SliceStable(fams, func(i, j int) bool { return fams[i].Month < fams[j].Month })
	contracts, months := map[string]*Row{}, map[string]*Row{}
	rows := map[[2]string]*Row{}
	adoption := map[string]*AdoptionRow{}
	adoptionMonths := map[[2]string]*AdoptionMonth{}
	for _, a := range fams {
		c := contracts[a.Contract]
		if c == nil {
			c = &Row{Contract: a.Contract, Arrangement: a.Arrangement, Overrides: map[string]int{}}
			contracts[a.Contract] = c
		}
		k := [2]string{a.Contract, a.Family}
		fam := rows[k]
		if fam == nil {
			fam = &Row{Contract: a.Contract, Arrangement: a.Arrangement, Family: a.Family, Overrides: map[string]int{}}
			rows[k] = fam
		}
		m := months[a.Month]
		if m == nil {
			m = &Row{Month: a.Month, Overrides: map[string]int{}}
			months[a.Month] = m
		}
		for _, r := range []*Row{&rep.Total, c, fam, m} {
			r.addAggregate(a)
		}
		ad := adoption[a.Family]
		if ad == nil {
			ad = &AdoptionRow{Family: a.Family}
			adoption[a.Family] = ad
		}
		ad.Orders += a.Cards + a.NoCard
		ad.OnBest += a.OnBest
		am := adoptionMonths[[2]string{a.Family, a.Month}]
		if am == nil {
			am = &AdoptionMonth{Month: a.Month}
			adoptionMonths[[2]string{a.Family, a.Month}] = am
		}
		am.Orders += a.Cards + a.NoCard
		am.OnBest += a.OnBest
	}
	prescriberRows := map[[2]string]*Row{}
	for _, a := range ag.Prescribers {
		pr := a.Prescriber
		if pr == "" {
			pr = NoPrescriber
		}
		p := prescriberRows[[2]string{a.Client, pr}]
		if p == nil {
			p = &Row{Prescriber: pr, Client: a.Client, Overrides: map[string]int{}}
			prescriberRows[[2]string{a.Client, pr}] = p
		}
		p.addAggregate(a)
	}
	locationRows := map[locKey]*Row{}
	for _, a := range ag.Locations {
		loc := a.Location
		if loc == "" {
			loc = NoLocation
		}
		l := locationRows[locKey{a.Client, loc}]
		if l == nil {
			l = &Row{Client: a.Client, Overrides: map[string]int{}}
			locationRows[locKey{a.Client, loc}] = l
		}
		l.addAggregate(a)
	}
	idleTargets(contracts, targets, f, func(c, arr string) *Row { return &Row{Contract: c, Arrangement: arr, Overrides: map[string]int{}} })
	pd := periodOf(f.From, f.To)
	rep.Total.finishAggregate()
	for _, c := range contracts {
		c.finishAggregate()
		t := find(targets, c.Contract, "")
		c.Targets = evaluate(*c, t, pd, partOf(f, t))
		rep.Contracts = append(rep.Contracts, *c)
	}
	for _, fam := range rows {
		fam.finishAggregate()
		t := find(targets, fam.Contract, fam.Family)
		fam.Targets = evaluate(*fam, t, pd, partOf(f, t))
		rep.Families = append(rep.Families, *fam)
	}
	for _, p := range prescriberRows {
		p.finishAggregate()
		rep.Prescribers = append(rep.Prescribers, *p)
	}
	for _, m := range months {
		m.finishAggregate()
		rep.Months = append(rep.Months, *m)
	}
	sort.Slice(rep.Months, func(i, j int) bool { return rep.Months[i].Month < rep.Months[j].Month })
	sortPrescribers(rep.Prescribers)
	sort.Slice(rep.Contracts, func(i, j int) bool { return rep.Contracts[i].Contract < rep.Contracts[j].Contract })
	sort.Slice(rep.Families, func(i, j int) bool {
		a, b := rep.Families[i], rep.Families[j]
		if a.Contract != b.Contract {
			return a.Contract < b.Contract
		}
		return a.Family < b.Family
	})
	for _, s := range []*[]Row{&rep.Contracts, &rep.Families, &rep.Prescribers, &rep.Months} {
		if *s == nil {
			*s = []Row{}
		}
	}
	d := Dashboard{Report: rep, Adoption: []AdoptionRow{}, Locations: []LocationRow{}}
	for k, l := range locationRows {
		l.finishAggregate()
		d.Locations = append(d.Locations, LocationRow{Location: k[1], Row: *l})
	}
	sort.Slice(d.Locations, func(i, j int) bool {
		a, b := d.Locations[i], d.Locations[j]
		if a.Location != b.Location {
			return a.Location < b.Location
		}
		return a.Client < b.Client
	})
	for fam, ad := range adoption {
		ad.Share = share(ad.OnBest, ad.Orders)
		for k, am := range adoptionMonths {
			if k[0] == fam {
				am.Share = share(am.OnBest, am.Orders)
				ad.Months = append(ad.Months, *am)
			}
		}
		sort.Slice(ad.Months, func(i, j int) bool { return ad.Months[i].Month < ad.Months[j].Month })
		d.Adoption = append(d.Adoption, *ad)
	}
	sort.Slice(d.Adoption, func(i, j int) bool { return d.Adoption[i].Family < d.Adoption[j].Family })
	d.AdoptionTotal.Months = []AdoptionMonth{}
	totalMonths := map[string]*AdoptionMonth{}
	for _, ad := range d.Adoption {
		d.AdoptionTotal.Orders += ad.Orders
		d.AdoptionTotal.OnBest += ad.OnBest
		for _, m := range ad.Months {
			tm := totalMonths[m.Month]
			if tm == nil {
				tm = &AdoptionMonth{Month: m.Month}
				totalMonths[m.Month] = tm
			}
			tm.Orders += m.Orders
			tm.OnBest += m.OnBest
		}
	}
	d.AdoptionTotal.Share = share(d.AdoptionTotal.OnBest, d.AdoptionTotal.Orders)
	for _, tm := range totalMonths {
		tm.Share = share(tm.OnBest, tm.Orders)
		d.AdoptionTotal.Months = append(d.AdoptionTotal.Months, *tm)
	}
	sort.Slice(d.AdoptionTotal.Months, func(i, j int) bool { return d.AdoptionTotal.Months[i].Month < d.AdoptionTotal.Months[j].Month })
	return d
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func (r *Row) addAggregate(a store.Aggregate) {
	r.Orders += a.Cards + a.NoCard
	r.NoCard += a.NoCard
	for reason, n := range a.NoCardReasons {
		if r.NoCardReasons == nil {
			r.NoCardReasons = map[string]int{}
		}
		r.NoCardReasons[reason] += n
	}
	r.Cards += a.Cards
	r.Accepted += a.Accepted
	r.Overridden += a.Overridden
	r.NoFeedback += a.NoFeedback
	r.payer += a.PayerSaved
	r.patient += a.PatientSaved
	r.org += a.OrgImpact
	for code, n := range a.Overrides {
		if code == "" {
			code = NoReason
		}
		r.Overrides[code] += n
	}
}

// finishAggregate is finish (kept apart so the two paths can differ if they ever must).
func (r *Row) finishAggregate() { r.finish() }
