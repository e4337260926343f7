package catalog

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"valuerx/scoring"
)

// How groups are formed from the data (the rules in words; tests hold each to real rows):
//
//  1. Every Purple Book 351(k) row names its reference product (Ref. Product Proprietary Name).
//     A reference is a 351(a) product that at least one biosimilar names.
//  2. A crosswalk row (one NDC package under one HCPCS code, in one quarter) is matched to the
//     Purple Book by its drug name: the name itself, the name with a device word after it
//     ("Lucentis PFS", "Neulasta Onpro") within the same BLA, or the unbranded proper name
//     ("Infliximab" under J1745). A row whose name no FDA record carries is no biologic of the
//     Purple Book; if its code is a biosimilar code (Q5xxx, Q99xx with a four-letter suffix) it is
//     reported as unconfirmed and never suggested.
//  3. The package's route comes from the Purple Book presentation of the same amount (the
//     crosswalk carries none): Tyenne 162 mg/0.9 mL is subcutaneous, Tyenne 80 mg/4 mL
//     intravenous, although both bill Q5135. Routes are classed: IV-only, subcutaneous-capable
//     (SC, or IV and SC), intravitreal, ...; only packages of one class are grouped.
//  4. A group is (reference, route class): Prolia and Xgeva share J0897 but are different
//     references, so Jubbonti (ref. Prolia) and Wyost (ref. Xgeva), which share Q5136, fall in
//     different groups. A product is (group, HCPCS code).
//  5. ESRD codes (description "esrd", not "non-esrd") are billed by dialysis facilities under
//     the ESRD PPS, not by offices under Part B: excluded, reported once.
//  6. Curated exclusions (curated.go) never join a group, whatever the names say.
//  7. A group needs its reference and at least one alternative, and curated defaults.

type groupKey struct {
	ref   string // canonical reference name, lower case ("herceptin", "procrit")
	route string // route class
}

type productKey struct {
	g    groupKey
	code string
}

type pkgObs struct {
	pkg     scoring.Package
	ndc11   string
	labeler string
	name    string // crosswalk drug name as printed
	line    int
	file    string
}

type prodAcc struct {
	key      productKey
	bla      string
	proper   string
	ref      bool
	pbRows   []*PurpleRow // rows of the chosen presentations (relationship, route)
	names    map[string]int
	dosage   string
	perUnit  amount
	byQ      map[string][]pkgObs // quarter -> packages in that quarter's crosswalk
	ndcs     map[string]bool
	labelers map[string]bool
	xfiles   map[string]bool
	current  map[string]bool // NDCs (5-4-2) of the newest crosswalk listing the product
}

var (
	parenRE      = regexp.MustCompile(`\([^)]*\)`)
	deviceWords  = map[string]bool{"pfs": true, "onpro": true, "kit": true, "pen": true, "autoinjector": true, "syringe": true, "vial": true, "sensoready": true, "prefilled": true, "delivery": true, "injector": true}
	suffixRE     = regexp.MustCompile(`(?i)-[a-z]{4}\b`)
	nameReplacer = strings.NewReplacer("™", " ", "®", " ", "\u00a0", " ")
	esrdRE       = regexp.MustCompile(`(?i)\besrd\b`)
	nonESRDRE    = regexp.MustCompile(`(?i)non[- ]?esrd`)
)

// normName folds a drug name for matching: case, parentheses ("Kanjinti (Kit)"), trademark
// signs, spacing.
func normName(s string) string {
	s = parenRE.ReplaceAllString(s, " ")
	s = nameReplacer.Replace(s)
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// nameEntries splits a Purple Book proprietary name field ("Epogen/Procrit",
// "prolastin,prolastin-c") into its names.
func nameEntries(field string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(field, func(r rune) bool { return r == ',' || r == '/' }) {
		if n := normName(p); n != "" {
			out = append(out, n)
		}
	}
	return out
}

type purpleIndex struct {
	byName   map[string][]*PurpleRow
	byProper map[string][]*PurpleRow
	// refName maps a reference product's name entries to the canonical name biosimilars use.
	refName map[string]string
	// bios maps a canonical reference name to the BLAs of its 351(k) products.
	bios map[string]map[string]bool
}

func indexPurple(pb *PurpleBookFile) *purpleIndex {
	ix := &purpleIndex{byName: map[string][]*PurpleRow{}, byProper: map[string][]*PurpleRow{}, refName: map[string]string{}, bios: map[string]map[string]bool{}}
	for i := range pb.Rows {
		r := &pb.Rows[i]
		for _, n := range nameEntries(r.Proprietary) {
			ix.byName[n] = append(ix.byName[n], r)
		}
		ix.byProper[strings.ToLower(r.Proper)] = append(ix.byProper[strings.ToLower(r.Proper)], r)
	}
	for i := range pb.Rows {
		r := &pb.Rows[i]
		if !r.Biosimilar() || r.RefProprietary == "" {
			continue
		}
		for _, ref := range nameEntries(r.RefProprietary) {
			// The reference must be a 351(a) product of that name.
			ok := false
			for _, rr := range ix.byName[ref] {
				if rr.Reference() {
					ok = true
					for _, e := range nameEntries(rr.Proprietary) {
						if _, set := ix.refName[e+"|"+rr.BLA]; !set {
							ix.refName[e+"|"+rr.BLA] = ref
						}
					}
				}
			}
			if ok {
				if ix.bios[ref] == nil {
					ix.bios[ref] = map[string]bool{}
				}
				ix.bios[ref][r.BLA] = true
			}
		}
	}
	return ix
}

// match finds the Purple Book rows a crosswalk drug name denotes.
func (ix *purpleIndex) match(drug string) []*PurpleRow {
	n := normName(drug)
	if rows := ix.byName[n]; len(rows) > 0 {
		return rows
	}
	// "Lucentis PFS", "Neulasta Onpro kit": a known name followed by device words only.
	f := strings.Fields(n)
	for k := len(f) - 1; k >= 1; k-- {
		base := strings.Join(f[:k], " ")
		rows := ix.byName[base]
		if len(rows) == 0 {
			continue
		}
		dev := true
		for _, w := range f[k:] {
			dev = dev && deviceWords[w]
		}
		if dev {
			return rows
		}
	}
	if rows := ix.byProper[n]; len(rows) > 0 {
		return rows // unbranded: "Infliximab", "Ustekinumab-AEKN"
	}
	return nil
}

// routeSet reads "Intravenous, Subcutaneous" into sorted lower-case routes.
func routeSet(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// routeClass classes a package's routes: IV-only packages replace only IV-only ones; anything
// that may be given subcutaneously is subcutaneous-capable; otherwise the route itself.
func routeClass(routes []string) string {
	switch {
	case len(routes) == 0:
		return ""
	case len(routes) == 1 && routes[0] == "intravenous":
		return "intravenous"
	case slices.Contains(routes, "subcutaneous"):
		return "subcutaneous"
	}
	return routes[0]
}

func routeAbbrev(class string) string {
	switch class {
	case "intravenous":
		return "iv"
	case "subcutaneous":
		return "sc"
	case "intravitreal":
		return "ivt"
	case "intramuscular":
		return "im"
	}
	return strings.ReplaceAll(class, " ", "-")
}

// presentationOf picks the Purple Book rows that describe a package of amount a (and volume ml):
// marketed rows first; a tie between route classes is broken by volume. ok is false when the
// route cannot be told.
func presentationOf(rows []*PurpleRow, a amount, ml float64) (chosen []*PurpleRow, class string, why string) {
	var amt []*PurpleRow
	for _, r := range rows {
		for _, s := range parseItemStrengths(r.Strength) {
			if s.matchesAmount(a) {
				amt = append(amt, r)
				break
			}
		}
	}
	classes := func(rs []*PurpleRow) map[string]bool {
		m := map[string]bool{}
		for _, r := range rs {
			m[routeClass(routeSet(r.Route))] = true
		}
		return m
	}
	if len(amt) == 0 {
		if cl := classes(rows); len(cl) == 1 {
			for c := range cl {
				return nil, c, ""
			}
		}
		return nil, "", fmt.Sprintf("no Purple Book presentation of %g %s and the product has several routes: route unknown", a.v, a.measure)
	}
	var rx []*PurpleRow
	for _, r := range amt {
		if r.MarketingStatus == "Rx" {
			rx = append(rx, r)
		}
	}
	if len(rx) > 0 {
		amt = rx
	}
	if cl := classes(amt); len(cl) > 1 && ml > 0 {
		var vol []*PurpleRow
		for _, r := range amt {
			for _, s := range parseItemStrengths(r.Strength) {
				if s.matchesAmount(a) && s.matchesVolume(ml) {
					vol = append(vol, r)
					break
				}
			}
		}
		if len(vol) > 0 {
			amt = vol
		}
	}
	cl := classes(amt)
	if len(cl) != 1 {
		return nil, "", fmt.Sprintf("Purple Book presentations of %g %s have several routes: route unknown", a.v, a.measure)
	}
	for c := range cl {
		class = c
	}
	return amt, class, ""
}

// singleDose reads the wastage rule from the presentations: only a multi-dose vial keeps its
// remainder; unknown is taken as single-dose (it bills and pays for the remainder).
func singleDose(rows []*PurpleRow) (bool, string) {
	if len(rows) == 0 {
		return true, "unknown (assumed single-dose)"
	}
	multi := 0
	pres := map[string]bool{}
	for _, r := range rows {
		pres[r.Presentation] = true
		if strings.Contains(strings.ToLower(r.Presentation), "multi-dose") {
			multi++
		}
	}
	return multi != len(rows), strings.Join(sortedKeys(pres), " / ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isESRD(desc string) bool { return esrdRE.MatchString(desc) && !nonESRDRE.MatchString(desc) }

// looksBiosimilarCode says whether a code is one CMS gives biosimilars: Q5101-Q5199 and the
// Q5099-Q5100, Q99xx codes whose descriptor names a four-letter-suffixed proper name.
func looksBiosimilarCode(code, desc string) bool {
	return strings.HasPrefix(code, "Q51") || ((strings.HasPrefix(code, "Q50") || strings.HasPrefix(code, "Q99")) && suffixRE.MatchString(desc))
}

func excludedName(drug string, rows []*PurpleRow) (exclusion, bool) {
	n := normName(drug)
	for _, e := range curatedExclusions {
		en := normName(e.name)
		if n == en || strings.HasPrefix(n, en+" ") {
			return e, true
		}
	}
	for _, r := range rows {
		for _, pn := range r.names() {
			for _, e := range curatedExclusions {
				if pn == normName(e.name) {
					return e, true
				}
			}
		}
	}
	return exclusion{}, false
}

func build(in *inputs, rep *Report) (*scoring.Snapshot, error) {
	ix := indexPurple(in.purple)
	accs := map[productKey]*prodAcc{}
	excluded := map[string]bool{}
	unconfirmed := map[string]bool{}
	reject := func(file string, line int, why string) {
		rep.Rejects = append(rep.Rejects, Reject{File: file, Line: line, Reason: why})
	}
	for _, xf := range in.xwalks {
		q := xf.Period.Quarter()
		for _, row := range xf.Rows {
			if isCPT(row.HCPCS) {
				continue // AMA codes: not shipped, not used (agency README)
			}
			rows := ix.match(row.DrugName)
			if e, ok := excludedName(row.DrugName, rows); ok {
				if !excluded[row.HCPCS+"|"+e.name] {
					excluded[row.HCPCS+"|"+e.name] = true
					rep.Excluded = append(rep.Excluded, Reject{File: xf.File, Line: row.Line, Reason: fmt.Sprintf("%s %s: curated exclusion: %s", row.HCPCS, row.DrugName, e.reason)})
				}
				continue
			}
			if len(rows) == 0 {
				if looksBiosimilarCode(row.HCPCS, row.Description) && !unconfirmed[row.HCPCS] {
					unconfirmed[row.HCPCS] = true
					rep.Unconfirmed = append(rep.Unconfirmed, Reject{File: xf.File, Line: row.Line, Reason: fmt.Sprintf("%s %q (%s): no FDA Purple Book record of %q: reported, never suggested", row.HCPCS, row.Description, q, row.DrugName)})
				}
				continue
			}
			// Which reference does this row belong to? Its own (351(a)) or the one it names (351(k)).
			var refCands []string
			for _, r := range rows {
				if r.Reference() {
					for _, e := range nameEntries(r.Proprietary) {
						if ref, ok := ix.refName[e+"|"+r.BLA]; ok && !slices.Contains(refCands, ref) {
							refCands = append(refCands, ref)
						}
					}
				} else if r.Biosimilar() {
					for _, ref := range nameEntries(r.RefProprietary) {
						if ix.bios[ref][r.BLA] && !slices.Contains(refCands, ref) {
							refCands = append(refCands, ref)
						}
					}
				}
			}
			if len(refCands) == 0 {
				continue // a biologic with no biosimilar: nothing to group
			}
			if isESRD(row.Description) {
				if !excluded[row.HCPCS] {
					excluded[row.HCPCS] = true
					rep.Excluded = append(rep.Excluded, Reject{File: xf.File, Line: row.Line, Reason: fmt.Sprintf("%s %q: an ESRD code, billed by dialysis facilities under the ESRD PPS, not an office Part B code", row.HCPCS, row.Description)})
				}
				continue
			}
			per, err := parseDosage(row.Dosage)
			if err != nil {
				reject(xf.File, row.Line, fmt.Sprintf("%s %s: %v", row.HCPCS, row.NDC, err))
				continue
			}
			item := amount{row.BillUnits * per.v, per.measure}
			chosen, class, why := presentationOf(rows, item, row.PkgSize)
			if class == "" {
				reject(xf.File, row.Line, fmt.Sprintf("%s %s %s: %s", row.HCPCS, row.NDC, row.DrugName, why))
				continue
			}
			if len(refCands) > 1 {
				reject(xf.File, row.Line, fmt.Sprintf("%s %s %s: names more than one reference product (%s)", row.HCPCS, row.NDC, row.DrugName, strings.Join(refCands, ", ")))
				continue
			}
			// The BLA: of the chosen presentations, else of the matched rows if one.
			blaRows := chosen
			if len(blaRows) == 0 {
				blaRows = rows
			}
			blas := map[string]bool{}
			for _, r := range blaRows {
				blas[r.BLA] = true
			}
			// Several BLAs are one product only when they are the same product (one proper name,
			// one kind of licence): Tyenne's IV and SC presentations are licensed separately.
			kinds := map[string]bool{}
			for _, r := range blaRows {
				kinds[strings.ToLower(r.Proper)+"|"+r.BLAType] = true
			}
			if len(kinds) != 1 {
				reject(xf.File, row.Line, fmt.Sprintf("%s %s %s: matches %d different FDA products (BLAs %s): which one is unknown", row.HCPCS, row.NDC, row.DrugName, len(kinds), strings.Join(sortedKeys(blas), ", ")))
				continue
			}
			bla := strings.Join(sortedKeys(blas), ", ")
			var blaAll []*PurpleRow
			for _, r := range rows {
				if blas[r.BLA] {
					blaAll = append(blaAll, r)
				}
			}
			k := productKey{groupKey{refCands[0], class}, row.HCPCS}
			a := accs[k]
			if a == nil {
				a = &prodAcc{key: k, bla: bla, proper: blaAll[0].Proper, ref: blaAll[0].Reference(), names: map[string]int{},
					byQ: map[string][]pkgObs{}, ndcs: map[string]bool{}, labelers: map[string]bool{}, xfiles: map[string]bool{}, perUnit: per, dosage: row.Dosage}
				accs[k] = a
			}
			if a.bla != bla && !strings.Contains(a.bla, bla) && !strings.Contains(bla, a.bla) {
				reject(xf.File, row.Line, fmt.Sprintf("%s %s %s: BLA %s, but %s bills BLA %s in this group", row.HCPCS, row.NDC, row.DrugName, bla, row.HCPCS, a.bla))
				continue
			}
			if a.perUnit != per {
				reject(xf.File, row.Line, fmt.Sprintf("%s %s: billing unit %q differs from %q of earlier rows", row.HCPCS, row.NDC, row.Dosage, a.dosage))
				continue
			}
			// Route-class rows of the BLA (relationship per route: Wezlana is interchangeable IV,
			// biosimilar in one SC presentation).
			for _, r := range blaAll {
				if routeClass(routeSet(r.Route)) == class && !slices.Contains(a.pbRows, r) {
					a.pbRows = append(a.pbRows, r)
				}
			}
			if !ix.isUnbranded(row.DrugName) {
				a.names[brandName(row.DrugName, rows)]++
			}
			sd, pres := singleDose(chosen)
			a.byQ[q] = append(a.byQ[q], pkgObs{
				pkg:   scoring.Package{NDC: row.NDC, Units: row.BillUnits, Mg: item.v, ItemsPerPackage: row.PkgQty, PackageUnits: row.BillUnitsPkg, SingleDose: sd, Presentation: pres},
				ndc11: row.NDC11, labeler: row.Labeler, name: row.DrugName, line: row.Line, file: xf.File,
			})
			a.ndcs[row.NDC11] = true
			a.labelers[row.Labeler] = true
			a.xfiles[xf.File] = true
		}
	}
	return assemble(in, rep, ix, accs)
}

// noFDARecord says whether no crosswalk row of the code matched a Purple Book record (the
// code is then unconfirmed); a code whose rows matched was placed or rejected with a reason.
func (ix *purpleIndex) noFDARecord(in *inputs, code string) bool {
	for _, x := range in.xwalks {
		for _, r := range x.Rows {
			if r.HCPCS == code && len(ix.match(r.DrugName)) > 0 {
				return false
			}
		}
	}
	return true
}

// isUnbranded says whether a crosswalk drug name is a proper name only (Janssen's "Infliximab").
func (ix *purpleIndex) isUnbranded(drug string) bool {
	n := normName(drug)
	return len(ix.byName[n]) == 0 && len(ix.byProper[n]) > 0
}

// brandName is the Purple Book spelling of a crosswalk name's brand ("Kanjinti (Kit)" ->
// "Kanjinti", "Lucentis PFS" -> "Lucentis").
func brandName(drug string, rows []*PurpleRow) string {
	n := normName(drug)
	best := ""
	for _, r := range rows {
		for _, p := range strings.FieldsFunc(r.Proprietary, func(c rune) bool { return c == ',' || c == '/' }) {
			pn := normName(p)
			if (n == pn || strings.HasPrefix(n, pn+" ")) && len(pn) > len(normName(best)) {
				best = strings.TrimSpace(p)
			}
		}
	}
	if best == "" {
		return strings.TrimSpace(parenRE.ReplaceAllString(drug, ""))
	}
	if strings.ToLower(best) == best { // Purple Book lower-cases some names
		best = strings.ToUpper(best[:1]) + best[1:]
	}
	return best
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// relationship reads the FDA relationship from the product's rows of its route class: marketed
// rows first; interchangeable only when every one is.
func relationship(rows []*PurpleRow) scoring.Relationship {
	use := rows
	var rx []*PurpleRow
	for _, r := range rows {
		if r.MarketingStatus == "Rx" {
			rx = append(rx, r)
		}
	}
	if len(rx) > 0 {
		use = rx
	}
	rel := scoring.RelInterchangeable
	for _, r := range use {
		switch {
		case r.Reference():
			return scoring.RelReference
		case r.Interchangeable():
		default:
			rel = scoring.RelBiosimilar
		}
	}
	return rel
}

func quarterOf(t time.Time) string { return Period{Start: t}.Quarter() }

func assemble(in *inputs, rep *Report, ix *purpleIndex, accs map[productKey]*prodAcc) (*scoring.Snapshot, error) {
	// Groups: reference and at least one alternative.
	byGroup := map[groupKey][]*prodAcc{}
	for _, a := range accs {
		byGroup[a.key.g] = append(byGroup[a.key.g], a)
	}
	gkeys := make([]groupKey, 0, len(byGroup))
	for k := range byGroup {
		gkeys = append(gkeys, k)
	}
	slices.SortFunc(gkeys, func(a, b groupKey) int { return strings.Compare(a.ref+"|"+a.route, b.ref+"|"+b.route) })
	type formed struct {
		key  groupKey
		ref  *prodAcc
		alts []*prodAcc
		id   string
	}
	var groups []*formed
	for _, gk := range gkeys {
		members := byGroup[gk]
		var refs, alts []*prodAcc
		for _, a := range members {
			if a.ref {
				refs = append(refs, a)
			} else {
				alts = append(alts, a)
			}
		}
		slices.SortFunc(refs, func(a, b *prodAcc) int { return strings.Compare(a.key.code, b.key.code) })
		if len(refs) == 0 || len(alts) == 0 {
			continue
		}
		if len(refs) > 1 {
			for _, r := range refs[1:] {
				rep.Rejects = append(rep.Rejects, Reject{File: in.purple.File, Reason: fmt.Sprintf("%s: a second reference code %s for %s (%s); %s kept", gk.ref, r.key.code, gk.route, r.proper, refs[0].key.code)})
			}
		}
		groups = append(groups, &formed{key: gk, ref: refs[0], alts: alts})
	}
	// Group ids: the proper name; with the route class when a proper name has several groups;
	// with the reference's name when that is not enough (denosumab: Prolia and Xgeva).
	byProper := map[string][]*formed{}
	for _, g := range groups {
		p := slug(g.ref.proper)
		byProper[p] = append(byProper[p], g)
	}
	for p, gs := range byProper {
		if len(gs) == 1 {
			gs[0].id = p
			continue
		}
		ids := map[string]int{}
		for _, g := range gs {
			ids[p+"-"+routeAbbrev(g.key.route)]++
		}
		for _, g := range gs {
			id := p + "-" + routeAbbrev(g.key.route)
			if ids[id] > 1 {
				id = p + "-" + slug(g.key.ref)
			}
			g.id = id
		}
	}
	slices.SortFunc(groups, func(a, b *formed) int { return strings.Compare(a.id, b.id) })

	snap := &scoring.Snapshot{Format: scoring.SnapshotFormat, Inputs: in.records, InputsHash: inputsHash(in.records), Strengths: map[string]float64{}}
	newestQ := quarterOf(in.xwalks[len(in.xwalks)-1].Period.Start)
	xwalkFor := func(q string) string { // the crosswalk quarter to use for a price quarter: same, else the latest before
		best := ""
		for _, x := range in.xwalks {
			xq := x.Period.Quarter()
			if xq <= q && xq > best {
				best = xq
			}
		}
		if best == "" {
			best = in.xwalks[0].Period.Quarter()
		}
		return best
	}
	productIDs := map[*prodAcc]string{}
	var served []*formed
	for _, g := range groups {
		if _, ok := curatedFor(g.id); !ok {
			// A proper name with one group so far takes the curated id with its route
			// (tocilizumab -> tocilizumab-iv), so that the id does not change when the other
			// route's group forms.
			if _, ok := curatedFor(g.id + "-" + routeAbbrev(g.key.route)); ok {
				alt := g.id + "-" + routeAbbrev(g.key.route)
				g.id = alt
			}
		}
		if _, ok := curatedFor(g.id); !ok {
			rep.Rejects = append(rep.Rejects, Reject{File: in.purple.File, Reason: fmt.Sprintf("group %s (%s and %d alternatives) formed from the data has no curated default dose in catalog/curated.go: not served", g.id, g.ref.key.code, len(g.alts))})
			continue
		}
		served = append(served, g)
		for _, a := range append([]*prodAcc{g.ref}, g.alts...) {
			productIDs[a] = slug(displayName(a))
		}
	}
	// Product ids: the brand; with the route class when a brand is in several groups (Tyenne IV
	// and SC), then with the code.
	for _, suffix := range []func(*prodAcc) string{
		func(a *prodAcc) string { return routeAbbrev(a.key.g.route) },
		func(a *prodAcc) string { return strings.ToLower(a.key.code) },
	} {
		n := map[string]int{}
		for _, id := range productIDs {
			n[id]++
		}
		for a, id := range productIDs {
			if n[id] > 1 {
				productIDs[a] = id + "-" + suffix(a)
			}
		}
	}
	qumiBy := indexQUMI(in.qumi)
	for _, g := range served {
		d, _ := curatedFor(g.id)
		grp := d.group(g.id, false)
		hasIC := false
		members := append([]*prodAcc{g.ref}, g.alts...)
		var prods []scoring.Product
		for _, a := range members {
			p := scoring.Product{
				ID: productIDs[a], Name: displayName(a), ProperName: a.proper, GroupID: g.id, HCPCS: a.key.code,
				BillingUnit: strings.ToUpper(a.dosage), MgPerUnit: a.perUnit.v, Relationship: relationship(a.pbRows),
				Application: "BLA " + a.bla,
			}
			if p.Relationship == scoring.RelInterchangeable {
				hasIC = true
			}
			latest := ""
			for q := range a.byQ {
				if q > latest && q <= newestQ {
					latest = q
				}
			}
			p.Packages = packagesOf(a.byQ[latest])
			a.current = map[string]bool{}
			for _, pk := range p.Packages {
				a.current[pk.NDC] = true
			}
			labelers := map[string]bool{}
			for _, o := range a.byQ[latest] {
				labelers[o.labeler] = true
			}
			p.Labelers = sortedKeys(labelers)
			ndcs := a.ndcs
			rx := map[string]bool{}
			var qsrc []string
			for _, r := range qumiBy.match(a, p, g.id) {
				if n, ok := normNDC(r.m["ndc"]); ok {
					ndcs[n] = true
				}
				if id := r.m["rxcui"]; id != "" {
					rx[id] = true
					if mg, ok := qumiStrength(r.m["description"]); ok {
						snap.Strengths["rxnorm|"+id] = mg
					}
				}
				qsrc = append(qsrc, fmt.Sprintf("%s:%d", r.file, r.line))
			}
			for i, pk := range p.Packages {
				snap.Strengths["ndc|"+strings.ReplaceAll(pk.NDC, "-", "")] = pk.Mg
				p.Packages[i].RxNorm, p.Packages[i].RxNormDisplay = qumiBy.packageRxNorm(g.id, p.Name, pk)
			}
			p.Route, p.DosageForm = routeAndForm(a.pbRows, a.key.g.route)
			p.NDCs = sortedKeys(ndcs)
			p.RxNorm = sortedKeys(rx)
			src := []string{fmt.Sprintf("CMS ASP NDC-HCPCS crosswalk (%s)", strings.Join(sortedKeys(a.xfiles), "; "))}
			if len(a.pbRows) > 0 {
				src = append(src, fmt.Sprintf("FDA Purple Book, BLA %s %s (%s:%d)", a.bla, a.pbRows[0].BLAType, in.purple.File, a.pbRows[0].Line))
			}
			if len(qsrc) > 0 {
				sort.Strings(qsrc)
				src = append(src, "QuicksortRx Universal Medication ID's (QUMI Codes) ("+strings.Join(slices.Compact(qsrc), ", ")+")")
			}
			p.Source = strings.Join(src, "; ")
			prods = append(prods, p)
		}
		slices.SortStableFunc(prods[1:], func(a, b scoring.Product) int { return strings.Compare(a.ID, b.ID) })
		for _, p := range prods {
			grp.ProductIDs = append(grp.ProductIDs, p.ID)
		}
		grp.ReferenceID = prods[0].ID
		for _, e := range curatedExclusions {
			if e.group == g.id && !slices.Contains(grp.NotSubstitutes, e.reason) {
				grp.NotSubstitutes = append(grp.NotSubstitutes, e.reason)
			}
		}
		if _, fromScoring := scoring.CuratedGroup(g.id); !fromScoring {
			d.hasInterchangeableTxt = hasIC
			grp.SwitchRule = d.switchRule(false)
		}
		snap.Groups = append(snap.Groups, grp)
		snap.Products = append(snap.Products, prods...)
	}

	// A biosimilar code the payment limit files price but no crosswalk row ties to an FDA record
	// (a code new this quarter, before its NDCs are listed) is reported the same way.
	known := map[string]bool{}
	for _, p := range snap.Products {
		known[p.HCPCS] = true
	}
	for _, r := range append(append([]Reject{}, rep.Excluded...), rep.Unconfirmed...) {
		code, _, _ := strings.Cut(r.Reason, " ")
		known[code] = true
	}
	for _, lf := range in.limits {
		for _, r := range lf.Rows {
			if known[r.HCPCS] || !looksBiosimilarCode(r.HCPCS, r.Description) || !ix.noFDARecord(in, r.HCPCS) {
				continue
			}
			known[r.HCPCS] = true
			rep.Unconfirmed = append(rep.Unconfirmed, Reject{File: lf.File, Line: r.Line, Reason: fmt.Sprintf("%s %q (%s): priced, but no crosswalk row ties it to an FDA Purple Book record: reported, never suggested", r.HCPCS, r.Description, lf.Period.Quarter())})
		}
	}
	for _, u := range rep.Unconfirmed {
		code, _, _ := strings.Cut(u.Reason, " ")
		snap.Unconfirmed = append(snap.Unconfirmed, code)
	}

	// Books: one per payment limit file.
	byProd := map[string]*prodAcc{}
	for a, id := range productIDs {
		byProd[id] = a
	}
	for _, lf := range in.limits {
		q := lf.Period.Quarter()
		xq := xwalkFor(q)
		start := lf.Period.Start
		b := scoring.SnapshotBook{
			ID: fmt.Sprintf("cms-asp-%dq%d", start.Year(), (int(start.Month())-1)/3+1), Source: scoring.SourceCMSASP,
			Label: "CMS ASP " + start.Format("Jan 2006"), Start: lf.Period.Start, End: lf.Period.End, DataQuarter: lf.DataQuarter,
			Provenance: fmt.Sprintf("CMS Medicare Part B ASP payment limit file, %s (%s; ASP data %s; packages from the %s crosswalk)", start.Format("January 2006"), lf.File, lf.DataQuarter, xq),
		}
		rows := map[string]LimitRow{}
		for _, r := range lf.Rows {
			if _, dup := rows[r.HCPCS]; dup {
				rep.Rejects = append(rep.Rejects, Reject{File: lf.File, Line: r.Line, Reason: r.HCPCS + ": listed twice; the first row is used"})
				continue
			}
			rows[r.HCPCS] = r
		}
		for _, p := range snap.Products {
			a := byProd[p.ID]
			r, ok := rows[p.HCPCS]
			if !ok {
				continue // not priced this quarter
			}
			if pd, err := parseDosage(r.Dosage); err != nil || pd != a.perUnit {
				rep.Rejects = append(rep.Rejects, Reject{File: lf.File, Line: r.Line, Reason: fmt.Sprintf("%s: billing unit %q differs from the crosswalk's %q: not priced", r.HCPCS, r.Dosage, a.dosage)})
				continue
			}
			sp := scoring.SnapshotPrice{ProductID: p.ID, Code: r.HCPCS, Limit: r.Limit, LimitText: r.LimitText, Dosage: r.Dosage,
				Coinsurance: r.Coinsurance, Notes: r.Notes, File: lf.File, Line: r.Line}
			if obs := a.byQ[xq]; len(obs) > 0 {
				sp.Packages = packagesOf(obs, a.current)
			}
			b.Prices = append(b.Prices, sp)
		}
		snap.Books = append(snap.Books, b)
	}
	if err := retail(in, rep, snap); err != nil {
		return nil, err
	}
	acquisition(in, rep, snap)
	for _, g := range snap.Groups {
		rep.Groups = append(rep.Groups, g.ID)
	}
	rep.Products = len(snap.Products)
	v, err := Version(snap)
	if err != nil {
		return nil, err
	}
	snap.Version = v
	return snap, nil
}

// displayName is the product's brand: the Purple Book spelling of its crosswalk names
// ("Epogen/Procrit" when both bill one code), else its proper name.
func displayName(a *prodAcc) string {
	names := sortedKeys(a.names)
	if len(names) == 0 {
		return a.proper
	}
	return strings.Join(names, "/")
}

// packagesOf lists the packages of one quarter's crosswalk rows by item size; among items of one
// size, NDCs still listed in the newest crosswalk come first (an old quarter may list a former
// labeler's NDC beside the current one, Merck's and Organon's Ontruzant in 2024: a suggestion
// names the one on sale today), then by NDC.
func packagesOf(obs []pkgObs, current ...map[string]bool) []scoring.Package {
	cur := map[string]bool{}
	if len(current) > 0 && current[0] != nil {
		cur = current[0]
	}
	out := make([]scoring.Package, 0, len(obs))
	seen := map[string]bool{}
	for _, o := range obs {
		if seen[o.pkg.NDC] {
			continue
		}
		seen[o.pkg.NDC] = true
		out = append(out, o.pkg)
	}
	slices.SortStableFunc(out, func(a, b scoring.Package) int {
		if c := compareFloat(a.Mg, b.Mg); c != 0 {
			return c
		}
		if ca, cb := cur[a.NDC], cur[b.NDC]; ca != cb {
			if ca {
				return -1
			}
			return 1
		}
		return strings.Compare(a.NDC, b.NDC)
	})
	return out
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type qumiIndex struct {
	byNDC map[string][]tableRow
	rows  []tableRow
}

func indexQUMI(rows []tableRow) *qumiIndex {
	q := &qumiIndex{byNDC: map[string][]tableRow{}, rows: rows}
	for _, r := range rows {
		if n, ok := normNDC(r.m["ndc"]); ok {
			q.byNDC[n] = append(q.byNDC[n], r)
		}
	}
	return q
}

// match finds a product's QUMI rows: by NDC, or (within the same family, for the family's own
// group id) by "[Brand]" in the description, which adds multi-pack NDCs the crosswalk lacks.
func (q *qumiIndex) match(a *prodAcc, p scoring.Product, groupID string) []tableRow {
	var out []tableRow
	for n := range a.ndcs {
		out = append(out, q.byNDC[n]...)
	}
	for _, r := range q.rows {
		if r.m["family"] == groupID && strings.Contains(r.m["description"], "["+p.Name+"]") {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b tableRow) int { return a.line - b.line })
	return slices.CompactFunc(out, func(a, b tableRow) bool { return a.line == b.line && a.file == b.file })
}

// packageRxNorm finds the RxNorm concept of one vial or syringe: the QUMI row of its NDC, else
// the family's row for the same brand whose description names the same strength.
func (q *qumiIndex) packageRxNorm(groupID, brand string, pk scoring.Package) (string, string) {
	n := strings.ReplaceAll(pk.NDC, "-", "")
	for _, r := range q.byNDC[n] {
		if r.m["rxcui"] != "" {
			return r.m["rxcui"], r.m["description"]
		}
	}
	for _, r := range q.rows {
		fam := r.m["family"]
		if r.m["rxcui"] == "" || (fam != groupID && !strings.HasPrefix(groupID, fam+"-")) || !strings.Contains(r.m["description"], "["+brand+"]") {
			continue
		}
		if mg, ok := qumiStrength(r.m["description"]); ok && near(mg, pk.Mg) {
			return r.m["rxcui"], r.m["description"]
		}
	}
	return "", ""
}

// routeAndForm normalises a product's routes and dosage form from its Purple Book rows of the
// group's route class (marketed rows first): the routes it is licensed for, joined ("intravenous,
// subcutaneous"); "For Injection" and "Injection" are both "injection" (either replaces the other
// once prepared, by the same route).
func routeAndForm(rows []*PurpleRow, class string) (string, string) {
	use := rows
	var rx []*PurpleRow
	for _, r := range rows {
		if r.MarketingStatus == "Rx" {
			rx = append(rx, r)
		}
	}
	if len(rx) > 0 {
		use = rx
	}
	routes := map[string]bool{}
	form := ""
	for _, r := range use {
		for _, rt := range routeSet(r.Route) {
			routes[rt] = true
		}
		if form == "" {
			form = normaliseForm(r.DosageForm)
		}
	}
	if len(routes) == 0 {
		return class, form
	}
	return strings.Join(sortedKeys(routes), ", "), form
}

func normaliseForm(f string) string {
	f = strings.ToLower(strings.TrimSpace(f))
	switch {
	case strings.Contains(f, "injection"), strings.Contains(f, "injectable"):
		return "injection"
	case strings.HasPrefix(f, "tablet"):
		return "tablet"
	case strings.HasPrefix(f, "capsule"):
		return "capsule"
	}
	return f
}

var qumiStrengthRE = regexp.MustCompile(`(?i)([0-9.]+) mg (?:Vial|Injection)`)

func qumiStrength(desc string) (float64, bool) {
	m := qumiStrengthRE.FindStringSubmatch(desc)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil && v > 0
}

var _ = math.Abs
