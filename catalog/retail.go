package catalog

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"valuerx/scoring"
)

// retail forms the small-molecule groups: the Orange Book's reference listed drug and its
// AB-rated generics of one ingredient, dosage form and route (strengths are the group's
// packages), priced per tablet from the NADAC extract and coded with the RxNorm seed. Without a
// NADAC extract there are no retail prices and no retail groups (reported).
func retail(in *inputs, rep *Report, snap *scoring.Snapshot) error {
	if len(in.nadac) == 0 || in.orange == nil {
		rep.Skipped = append(rep.Skipped, Reject{File: "(retail)", Reason: "no NADAC extract or no Orange Book: no retail groups"})
		return nil
	}
	var book *scoring.SnapshotBook
	for _, d := range retailDefs {
		cd, ok := curatedFor(d.group)
		if !ok {
			continue
		}
		brand, err1 := retailProduct(in, d, true, snap)
		generic, err2 := retailProduct(in, d, false, snap)
		if err1 != nil || err2 != nil {
			rep.Rejects = append(rep.Rejects, Reject{File: in.orange.File, Reason: fmt.Sprintf("retail group %s not formed: %v", d.group, firstErr(err1, err2))})
			continue
		}
		grp := cd.group(d.group, true)
		grp.ReferenceID, grp.ProductIDs = brand.ID, []string{brand.ID, generic.ID}
		for _, p := range []scoring.Product{brand, generic} {
			best, bestRow := math.Inf(1), tableRow{}
			key := d.brandKey
			if p.ID == generic.ID {
				key = d.genericKey
			}
			for _, r := range in.nadac {
				if r.m["group_key"] != key || r.m["pricing_unit"] != "EA" {
					continue
				}
				v, err := parseNumber(r.m["nadac_per_unit_usd"])
				if err != nil {
					rep.Rejects = append(rep.Rejects, Reject{File: r.file, Line: r.line, Reason: "bad NADAC per-unit price"})
					continue
				}
				if v < best {
					best, bestRow = v, r
				}
			}
			if bestRow.m == nil {
				rep.Rejects = append(rep.Rejects, Reject{File: in.nadac[0].file, Reason: fmt.Sprintf("no per-tablet NADAC price for %s: group %s not formed", key, d.group)})
				return nil
			}
			date := bestRow.m["dataset_date_claimed"]
			if book == nil {
				t, err := time.Parse("2006-01-02", date)
				if err != nil {
					return fmt.Errorf("catalog: %s:%d: bad date %q", bestRow.file, bestRow.line, date)
				}
				book = &scoring.SnapshotBook{
					ID: "nadac-communitymeds-" + date, Source: scoring.SourceNADAC, Label: "NADAC (CommunityMeds summary) " + date, Start: t,
					Provenance: fmt.Sprintf("NADAC per-unit price as summarised by a third party (CommunityMeds), dated %s, not the CMS NADAC file (%s@%s: %s; %s)",
						date, bestRow.m["source_repo"], short(bestRow.m["source_commit"]), bestRow.m["source_path"], bestRow.file),
				}
			}
			sp := scoring.SnapshotPrice{
				ProductID: p.ID, Code: bestRow.m["ndc"], Limit: best, LimitText: bestRow.m["nadac_per_unit_usd"], Dosage: "EA",
				File: bestRow.file, Line: bestRow.line,
				Published: fmt.Sprintf("published: NADAC per-unit price as summarised by a third party (CommunityMeds), dated %s, not the CMS NADAC file: %s %.5f per tablet (NDC %s)", date, bestRow.m["ndc_description"], best, bestRow.m["ndc"]),
			}
			if s := parseItemStrengths(strings.TrimPrefix(bestRow.m["ndc_description"], key+" ")); len(s) > 0 && s[0].measure == "mg" {
				sp.ItemMg = s[0].v
			}
			book.Prices = append(book.Prices, sp)
		}
		snap.Groups = append(snap.Groups, grp)
		snap.Products = append(snap.Products, brand, generic)
	}
	if book != nil {
		snap.Books = append(snap.Books, *book)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// retailProduct builds the brand (reference listed drug) or the AB-rated generic product.
func retailProduct(in *inputs, d retailDef, brand bool, snap *scoring.Snapshot) (scoring.Product, error) {
	p := scoring.Product{ID: d.genericID, Name: d.genericNm, GroupID: d.group, BillingUnit: "EA", ProperName: d.properName,
		Route: strings.ToLower(d.route), DosageForm: strings.ToLower(d.dosageForm)}
	key := d.genericKey
	if brand {
		p.ID, p.Name, key = d.brandID, d.brandName, d.brandKey
	}
	ndcs := map[string]bool{}
	strength := map[string]float64{}
	var nsrc []string
	for _, r := range in.nadac {
		if r.m["group_key"] != key {
			continue
		}
		n, ok := normNDC(r.m["ndc"])
		if !ok {
			return p, fmt.Errorf("%s:%d: bad NDC %q", r.file, r.line, r.m["ndc"])
		}
		ndcs[n] = true
		if s := parseItemStrengths(strings.TrimPrefix(r.m["ndc_description"], key+" ")); len(s) > 0 {
			strength[n] = s[0].v
			snap.Strengths["ndc|"+n] = s[0].v
		}
		nsrc = append(nsrc, fmt.Sprintf("%s:%d", r.file, r.line))
	}
	if len(ndcs) == 0 {
		return p, fmt.Errorf("%s is not in the NADAC extract", key)
	}
	strengths := map[float64]bool{}
	apps := map[string]bool{}
	var olines []string
	for _, r := range in.orange.Rows {
		if !strings.HasPrefix(r.Ingredient, d.ingredientPrefix) || r.DosageForm != d.dosageForm || r.Route != d.route || r.Type != "RX" {
			continue
		}
		isBrand := strings.EqualFold(r.TradeName, d.brandKey)
		if brand != isBrand {
			continue
		}
		if brand && !r.RLD {
			continue
		}
		if !brand && (r.ApplType != "A" || r.TECode != "AB") {
			continue
		}
		if s := parseItemStrengths(r.Strength); len(s) > 0 && s[0].measure == "mg" {
			strengths[s[0].v] = true
		}
		apps[r.ApplType+" "+r.ApplNo] = true
		olines = append(olines, strconv.Itoa(r.Line))
	}
	if len(strengths) == 0 {
		return p, fmt.Errorf("no Orange Book %s;%s rows for %s", d.dosageForm, d.route, key)
	}
	if brand {
		p.Relationship = scoring.RelBrand
		p.Application = "NDA " + strings.TrimPrefix(sortedKeys(apps)[0], "N ")
	} else {
		p.Relationship = scoring.RelABGeneric
		p.Application = fmt.Sprintf("%d AB-rated ANDAs", len(apps))
	}
	var mgs []float64
	for mg := range strengths {
		mgs = append(mgs, mg)
	}
	slices.Sort(mgs)
	nd := sortedKeys(ndcs)
	for _, mg := range mgs {
		pk := scoring.Package{Units: 1, Mg: mg, ItemsPerPackage: 1, PackageUnits: 1, SingleDose: true, Presentation: "Tablet"}
		for _, n := range nd {
			if strength[n] == mg {
				pk.NDC = n
				break
			}
		}
		p.Packages = append(p.Packages, pk)
	}
	rxRE := regexp.MustCompile(`(?i)^` + regexp.QuoteMeta(d.rxPrefix) + `(?: calcium)? ([0-9]+) MG Oral Tablet(?: \[(` + regexp.QuoteMeta(d.rxBrandName) + `)\])?$`)
	rx := map[string]bool{}
	for _, r := range in.rxnorm {
		if r.m["ingredient_group"] != d.rxIngredient {
			continue
		}
		if brand && r.m["tty"] == "BN" && r.m["str"] == d.rxBrandName {
			rx[r.m["rxcui"]] = true
			continue
		}
		mm := rxRE.FindStringSubmatch(r.m["str"])
		if mm == nil || (brand && (r.m["tty"] != "SBD" || mm[2] == "")) || (!brand && (r.m["tty"] != "SCD" || mm[2] != "")) {
			continue
		}
		rx[r.m["rxcui"]] = true
		if mg, err := strconv.ParseFloat(mm[1], 64); err == nil {
			snap.Strengths["rxnorm|"+r.m["rxcui"]] = mg
			for i := range p.Packages {
				// Two concepts per strength in the seed: the current normal form named for the base
				// ingredient and the older salt name; a suggestion is coded with the current one.
				if near(p.Packages[i].Mg, mg) && (p.Packages[i].RxNorm == "" || !strings.Contains(strings.ToLower(r.m["str"]), "calcium")) {
					p.Packages[i].RxNorm, p.Packages[i].RxNormDisplay = r.m["rxcui"], r.m["str"]
				}
			}
		}
	}
	if len(rx) == 0 {
		return p, fmt.Errorf("no RxNorm codes for %s", p.Name)
	}
	p.NDCs = nd
	p.RxNorm = sortedKeys(rx)
	p.Source = fmt.Sprintf("NADAC extract (%s); FDA Orange Book %s (lines %s)", strings.Join(nsrc, ", "), in.orange.File, strings.Join(olines, ","))
	return p, nil
}

// acquisition turns the organisation's cost rows into per-billing-unit costs of catalog products:
// an NDC names its product; a cost per package is divided by BILLUNITSPKG of that NDC in the
// crosswalk of the period's quarter.
func acquisition(in *inputs, rep *Report, snap *scoring.Snapshot) {
	byNDC := map[string]string{}
	byCode := map[string][]string{}
	for _, p := range snap.Products {
		for _, n := range p.NDCs {
			byNDC[n] = p.ID
		}
		if p.HCPCS != "" {
			byCode[p.HCPCS] = append(byCode[p.HCPCS], p.ID)
		}
	}
	pkgUnits := func(ndc11 string, on time.Time) (float64, bool) {
		q := quarterOf(on)
		best := ""
		var units float64
		for _, x := range in.xwalks {
			xq := x.Period.Quarter()
			if xq > q || xq < best {
				continue
			}
			for _, r := range x.Rows {
				if r.NDC11 == ndc11 {
					best, units = xq, r.BillUnitsPkg
					break
				}
			}
		}
		return units, best != ""
	}
	for _, f := range in.acq {
		for _, r := range f.Rows {
			rej := func(why string) { rep.Rejects = append(rep.Rejects, Reject{File: f.File, Line: r.Line, Reason: why}) }
			var id string
			switch {
			case r.NDC11 != "":
				id = byNDC[r.NDC11]
				if id == "" {
					rej("ndc " + r.NDC11 + " is no catalog product")
					continue
				}
			default:
				ids := byCode[r.HCPCS]
				if len(ids) != 1 {
					rej(fmt.Sprintf("hcpcs %s names %d catalog products: give the ndc", r.HCPCS, len(ids)))
					continue
				}
				id = ids[0]
			}
			per := r.PerUnit
			note := fmt.Sprintf("%s (%s:%d)", r.Source, f.File, r.Line)
			if r.PerPackage > 0 {
				u, ok := pkgUnits(r.NDC11, r.Start)
				if !ok || !(u > 0) {
					rej("cost_per_package: ndc " + r.NDC11 + " has no billing units per package in the crosswalk of " + quarterOf(r.Start))
					continue
				}
				per = r.PerPackage / u
				note = fmt.Sprintf("%s: %.2f per package / %g billing units (crosswalk %s) (%s:%d)", r.Source, r.PerPackage, u, quarterOf(r.Start), f.File, r.Line)
			}
			snap.AcquisitionCosts = append(snap.AcquisitionCosts, scoring.SnapshotCost{ProductID: id, USDPerUnit: per, Start: r.Start, End: r.End, Note: note})
		}
	}
}
