package scoring

import (
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dataFS holds the CSV extracts the catalog is built from and the default
// contract configuration; see data/README.md for where each file comes from.
//
//go:embed data/*.csv data/*.yaml
var dataFS embed.FS

// The file names LoadCatalog reads from its fs.FS.
const (
	fileASP        = "cms_asp_biologics_2024Q1_2026Q1.csv"
	fileCrosswalk  = "cms_asp_ndc_hcpcs_crosswalk_2026Q1_biologics.csv"
	filePurpleBook = "fda_purple_book_selected_biologics_2025-03.csv"
	fileRxcui      = "ndc_rxcui_hcpcs_biologics.csv"
	fileNADAC      = "nadac_derived_communitymeds_2025-12-24.csv"
	fileOrangeBook = "fda_orange_book_products_statins_ppis_2024-05.csv"
	fileRxNorm     = "rxnorm_statins_glargine_seed.csv"
)

// aspRepo is the repository the CMS ASP rows were read from (the ASP and
// crosswalk extracts carry only the commit and path columns).
const aspRepo = "QuicksortRx/universal-med-ids"

// DefaultCatalog builds the catalog from the CSV extracts embedded in the binary.
func DefaultCatalog() (*Catalog, error) {
	sub, err := fs.Sub(dataFS, "data")
	if err != nil {
		return nil, fmt.Errorf("scoring: embedded data: %w", err)
	}
	return LoadCatalog(sub)
}

// LoadCatalog builds the catalog from the CSV extracts (with the file names of
// scoring/data/) found at the root of fsys. It fails when a curated group
// member is missing from the data, so that a data refresh cannot silently drop
// a product.
func LoadCatalog(fsys fs.FS) (*Catalog, error) {
	d, err := readAll(fsys)
	if err != nil {
		return nil, err
	}
	c := &Catalog{
		products: map[string]Product{},
		groups:   map[string]Group{},
		byCode:   map[CodeSystem]map[string]string{HCPCS: {}, NDC: {}, RxNorm: {}},
		strength: map[string]float64{},
	}
	for _, gd := range groupDefs() {
		g := gd.group
		for i, m := range gd.members {
			var p Product
			if g.PriceSource == SourceCMSASP {
				p, err = d.biologic(g, m, i == 0, c.strength)
			} else {
				p, err = d.retail(g, m, i == 0, c.strength)
			}
			if err != nil {
				return nil, err
			}
			g.ProductIDs = append(g.ProductIDs, p.ID)
			c.products[p.ID] = p
		}
		g.ReferenceID = gd.members[0].id
		c.groups[g.ID] = g
	}
	if err := c.index(); err != nil {
		return nil, err
	}
	books, err := d.aspBooks(gdefsFor(SourceCMSASP))
	if err != nil {
		return nil, err
	}
	nb, err := d.nadacBook(gdefsFor(SourceNADAC))
	if err != nil {
		return nil, err
	}
	books = append(books, nb)
	slices.SortStableFunc(books, func(a, b PriceBook) int { return a.Start.Compare(b.Start) })
	c.books = books
	return c, nil
}

func gdefsFor(source string) []groupDef {
	var out []groupDef
	for _, gd := range groupDefs() {
		if gd.group.PriceSource == source {
			out = append(out, gd)
		}
	}
	return out
}

// index builds the code maps; one code naming two products is a data error.
func (c *Catalog) index() error {
	add := func(sys CodeSystem, code, id string) error {
		if code == "" {
			return nil
		}
		if prev, ok := c.byCode[sys][code]; ok && prev != id {
			return fmt.Errorf("scoring: %s code %s names both %s and %s", sys, code, prev, id)
		}
		c.byCode[sys][code] = id
		return nil
	}
	ids := make([]string, 0, len(c.products))
	for id := range c.products {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := c.products[id]
		if err := add(HCPCS, strings.ToUpper(p.HCPCS), id); err != nil {
			return err
		}
		for _, n := range p.NDCs {
			if err := add(NDC, n, id); err != nil {
				return err
			}
		}
		for _, r := range p.RxNorm {
			if err := add(RxNorm, r, id); err != nil {
				return err
			}
		}
	}
	return nil
}

type row map[string]string

type dataset struct {
	asp, crosswalk, purple, rxcui, nadac, orange, rxnorm []row
}

func readAll(fsys fs.FS) (*dataset, error) {
	var d dataset
	for _, f := range []struct {
		name string
		dst  *[]row
	}{
		{fileASP, &d.asp}, {fileCrosswalk, &d.crosswalk}, {filePurpleBook, &d.purple},
		{fileRxcui, &d.rxcui}, {fileNADAC, &d.nadac}, {fileOrangeBook, &d.orange}, {fileRxNorm, &d.rxnorm},
	} {
		rows, err := readCSV(fsys, f.name)
		if err != nil {
			return nil, err
		}
		*f.dst = rows
	}
	return &d, nil
}

func readCSV(fsys fs.FS, name string) ([]row, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("scoring: open %s: %w", name, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("scoring: read %s: %w", name, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("scoring: %s has no data rows", name)
	}
	head := recs[0]
	out := make([]row, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		m := make(row, len(head))
		for i, h := range head {
			m[h] = strings.TrimSpace(rec[i])
		}
		out = append(out, m)
	}
	return out, nil
}

// parseDoseUnit turns a CMS "HCPCS dosage" such as "10 MG", "0.5 MG" or
// "1 MCG" into mg per billing unit.
func parseDoseUnit(s string) (float64, error) {
	f := strings.Fields(strings.ToUpper(s))
	if len(f) != 2 {
		return 0, fmt.Errorf("scoring: billing unit %q: want amount and unit", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("scoring: billing unit %q: bad amount", s)
	}
	switch f[1] {
	case "MG":
		return v, nil
	case "MCG":
		return v / 1000, nil
	case "G", "GM":
		return v * 1000, nil
	}
	return 0, fmt.Errorf("scoring: billing unit %q: unknown unit", s)
}

var strengthRE = regexp.MustCompile(`^(?:EQ )?([0-9]+(?:\.[0-9]+)?)\s*(MG|MCG)\b`)

// parseStrength reads the mg in one item from a Purple Book strength
// ("420MG", "100MG/4ML (25MG/ML)", "480MCG/0.8ML") or an Orange Book one
// ("EQ 10MG BASE").
func parseStrength(s string) (float64, bool) {
	m := strengthRE.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(s)))
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	if m[2] == "MCG" {
		v /= 1000
	}
	return v, true
}

func parseNum(s string) (float64, error) {
	return strconv.ParseFloat(strings.TrimSpace(s), 64)
}

func almostEqual(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// biologic builds one Part B product from the crosswalk, the Purple Book and
// the QUMI NDC-RXCUI extract.
func (d *dataset) biologic(g Group, m memberDef, isRef bool, strength map[string]float64) (Product, error) {
	p := Product{ID: m.id, Name: m.brand, GroupID: g.ID, HCPCS: m.code}
	var xrows []row
	for _, r := range d.crosswalk {
		if strings.EqualFold(r["hcpcs_2026"], m.code) {
			xrows = append(xrows, r)
		}
	}
	if len(xrows) == 0 {
		return p, fmt.Errorf("scoring: %s (%s) is not in %s", m.id, m.code, fileCrosswalk)
	}
	p.BillingUnit = strings.ToUpper(xrows[0]["HCPCS dosage"])
	mgPerUnit, err := parseDoseUnit(p.BillingUnit)
	if err != nil {
		return p, err
	}
	p.MgPerUnit = mgPerUnit

	// Purple Book rows for the brand (presentations named "Brand ..." such as
	// "Neulasta Onpro" count for presentations, not for the relationship).
	var pb, pbPres []row
	for _, r := range d.purple {
		name := r["Proprietary Name"]
		if strings.EqualFold(name, m.brand) {
			pb = append(pb, r)
		}
		if strings.EqualFold(name, m.brand) || strings.HasPrefix(strings.ToLower(name), strings.ToLower(m.brand)+" ") {
			pbPres = append(pbPres, r)
		}
	}
	if len(pb) == 0 {
		return p, fmt.Errorf("scoring: %s is not in %s", m.brand, filePurpleBook)
	}
	p.Relationship, p.ProperName, p.Application = purpleRelationship(pb)
	p.Route, p.DosageForm = purpleRouteForm(pb)
	if isRef != (p.Relationship == RelReference) {
		return p, fmt.Errorf("scoring: %s: Purple Book says %s, the group expects it as reference=%v", m.id, p.Relationship, isRef)
	}

	ndcs := map[string]bool{}
	labelers := map[string]bool{}
	xsrc := map[string]bool{}
	for _, r := range xrows {
		n, ok := NormalizeNDC(r["NDC2"])
		if !ok {
			return p, fmt.Errorf("scoring: %s: bad NDC %q", m.id, r["NDC2"])
		}
		units, err1 := parseNum(r["BILLUNITS"])
		pkgUnits, err2 := parseNum(r["BILLUNITSPKG"])
		qty, err3 := strconv.Atoi(r["PKG QTY"])
		if err := errors.Join(err1, err2, err3); err != nil || units <= 0 {
			return p, fmt.Errorf("scoring: %s: crosswalk row %s: bad package numbers", m.id, r["NDC2"])
		}
		mg := units * mgPerUnit
		single, pres := presentation(pbPres, mg)
		p.Packages = append(p.Packages, Package{
			NDC: r["NDC2"], Units: units, Mg: mg, ItemsPerPackage: qty, PackageUnits: pkgUnits,
			SingleDose: single, Presentation: pres,
		})
		ndcs[n] = true
		labelers[r["LABELER NAME"]] = true
		xsrc[fmt.Sprintf("CMS ASP NDC-HCPCS crosswalk Jan 2026 (%s@%s: %s)", aspRepo, short(r["source_commit"]), r["source_path"])] = true
	}
	slices.SortStableFunc(p.Packages, func(a, b Package) int {
		if c := compareFloat(a.Mg, b.Mg); c != 0 {
			return c
		}
		return strings.Compare(a.NDC, b.NDC)
	})

	// RXCUIs and further NDCs (multi-packs not in the crosswalk) from QUMI,
	// matched by NDC or by "[Brand]" in the description within the family.
	rx := map[string]bool{}
	qsrc := map[string]bool{}
	for _, r := range d.rxcui {
		n, ok := NormalizeNDC(r["ndc"])
		byBrand := r["family"] == g.ID && strings.Contains(r["description"], "["+m.brand+"]")
		if !(ok && ndcs[n]) && !byBrand {
			continue
		}
		if ok {
			ndcs[n] = true
		}
		if r["rxcui"] != "" {
			rx[r["rxcui"]] = true
			if mg, ok := qumiStrength(r["description"]); ok {
				strength["rxnorm|"+r["rxcui"]] = mg
			}
		}
		qsrc[fmt.Sprintf("QuicksortRx Universal Medication ID's (QUMI Codes) (%s@%s: %s)", r["source_repo"], short(r["source_commit"]), r["source_path"])] = true
	}
	for i, pk := range p.Packages {
		if n, ok := NormalizeNDC(pk.NDC); ok {
			strength["ndc|"+n] = pk.Mg
		}
		p.Packages[i].RxNorm, p.Packages[i].RxNormDisplay = d.packageRxNorm(g.ID, m.brand, pk)
	}
	p.NDCs = sortedKeys(ndcs)
	p.RxNorm = sortedKeys(rx)
	p.Labelers = sortedKeys(labelers)
	pr := pb[0]
	src := append(sortedKeys(xsrc), fmt.Sprintf("FDA Purple Book, BLA %s %s (%s@%s: %s)", pr["BLA Number"], pr["BLA Type"], pr["source_repo"], short(pr["source_commit"]), pr["source_path"]))
	src = append(src, sortedKeys(qsrc)...)
	p.Source = strings.Join(src, "; ")
	return p, nil
}

// packageRxNorm finds the RxNorm concept of one vial or syringe: the QUMI row of its NDC, else
// the family's row for the same brand whose description names the same strength ("150 mg Vial").
// A concentration ("21 mg/mL") names no item strength and is used only through the NDC.
func (d *dataset) packageRxNorm(group, brand string, pk Package) (string, string) {
	n, _ := NormalizeNDC(pk.NDC)
	var byStrength, byStrengthDesc string
	for _, r := range d.rxcui {
		if r["rxcui"] == "" || r["family"] != group {
			continue
		}
		if rn, ok := NormalizeNDC(r["ndc"]); ok && rn == n {
			return r["rxcui"], r["description"]
		}
		if byStrength == "" && strings.Contains(r["description"], "["+brand+"]") {
			if mg, ok := qumiStrength(r["description"]); ok && almostEqual(mg, pk.Mg) {
				byStrength, byStrengthDesc = r["rxcui"], r["description"]
			}
		}
	}
	return byStrength, byStrengthDesc
}

// purpleRouteForm normalises the Purple Book route and dosage form of a product's marketed rows:
// "For Injection" (a powder to reconstitute) and "Injection" (a solution) are both given as
// "injection", since either replaces the other by the same route once prepared; the route decides.
func purpleRouteForm(rows []row) (route, form string) {
	for _, r := range rows {
		if r["Marketing Status"] != "Rx" && route != "" {
			continue
		}
		route = strings.ToLower(strings.TrimSpace(r["Route of Administration"]))
		form = normaliseForm(r["Dosage Form"])
		if r["Marketing Status"] == "Rx" {
			break
		}
	}
	return route, form
}

// normaliseForm maps an FDA dosage form to the family valuerx compares.
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

// purpleRelationship reads the FDA relationship from a product's Purple Book
// rows, preferring currently marketed (Rx) rows; a product is interchangeable
// only when every marketed row is.
func purpleRelationship(rows []row) (Relationship, string, string) {
	use := rows
	var rx []row
	for _, r := range rows {
		if r["Marketing Status"] == "Rx" {
			rx = append(rx, r)
		}
	}
	if len(rx) > 0 {
		use = rx
	}
	rel := RelInterchangeable
	for _, r := range use {
		t := r["BLA Type"]
		switch {
		case strings.HasPrefix(t, "351(a)"):
			return RelReference, use[0]["Proper Name"], "BLA " + use[0]["BLA Number"]
		case strings.Contains(t, "Interchangeable"):
		default:
			rel = RelBiosimilar
		}
	}
	return rel, use[0]["Proper Name"], "BLA " + use[0]["BLA Number"]
}

// presentation finds the Purple Book presentation of an item of mg strength:
// single-dose vials, pre-filled syringes, autoinjectors and kits discard their
// remainder; a multi-dose vial does not. Marketed rows win; an unknown or
// mixed presentation is taken as single-dose (the conservative choice: it
// bills and pays for the remainder).
func presentation(rows []row, mg float64) (bool, string) {
	var match []row
	for _, r := range rows {
		if v, ok := parseStrength(r["Strength"]); ok && almostEqual(v, mg) {
			match = append(match, r)
		}
	}
	var rx []row
	for _, r := range match {
		if r["Marketing Status"] == "Rx" {
			rx = append(rx, r)
		}
	}
	if len(rx) > 0 {
		match = rx
	}
	if len(match) == 0 {
		return true, "unknown (assumed single-dose)"
	}
	multi := 0
	pres := map[string]bool{}
	for _, r := range match {
		pp := r["Product Presentation"]
		pres[pp] = true
		if strings.Contains(strings.ToLower(pp), "multi-dose") {
			multi++
		}
	}
	return multi != len(match), strings.Join(sortedKeys(pres), " / ")
}

var qumiStrengthRE = regexp.MustCompile(`(?i)([0-9.]+) mg (?:Vial|Injection)`)

// qumiStrength reads "150 mg Vial" style strengths from a QUMI description; a
// concentration ("21 mg/mL") names no item strength.
func qumiStrength(desc string) (float64, bool) {
	m := qumiStrengthRE.FindStringSubmatch(desc)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

var rxTabletRE = regexp.MustCompile(`(?i)^atorvastatin(?: calcium)? ([0-9]+) MG Oral Tablet(?: \[(Lipitor)\])?$`)

// retail builds a tablet product from the NADAC-derived extract, the Orange
// Book and the RxNorm seed.
func (d *dataset) retail(g Group, m memberDef, isRef bool, strength map[string]float64) (Product, error) {
	p := Product{ID: m.id, Name: m.brand, GroupID: g.ID, BillingUnit: "EA"}
	brand := isRef
	ndcs := map[string]bool{}
	nsrc := map[string]bool{}
	for _, r := range d.nadac {
		if r["group_key"] != m.code {
			continue
		}
		n, ok := NormalizeNDC(r["ndc"])
		if !ok {
			return p, fmt.Errorf("scoring: %s: bad NDC %q", m.id, r["ndc"])
		}
		ndcs[n] = true
		if mg, ok := parseStrength(strings.TrimPrefix(strings.TrimPrefix(r["ndc_description"], m.code), " ")); ok {
			strength["ndc|"+n] = mg
		}
		nsrc[fmt.Sprintf("NADAC per-unit price as summarised by a third party (CommunityMeds), dated %s, not the CMS NADAC file (%s@%s: %s)", r["dataset_date_claimed"], r["source_repo"], short(r["source_commit"]), r["source_path"])] = true
	}
	if len(ndcs) == 0 {
		return p, fmt.Errorf("scoring: %s (%s) is not in %s", m.id, m.code, fileNADAC)
	}

	// Orange Book: tablet strengths and the therapeutic-equivalence rating.
	strengths := map[float64]bool{}
	apps := map[string]bool{}
	var osrc string
	for _, r := range d.orange {
		if !strings.HasPrefix(r["Ingredient"], "ATORVASTATIN") || r["DF;Route"] != "TABLET;ORAL" || r["Type"] != "RX" {
			continue
		}
		isBrand := strings.EqualFold(r["Trade_Name"], "LIPITOR")
		if brand != isBrand {
			continue
		}
		if !brand && (r["Appl_Type"] != "A" || r["TE_Code"] != "AB") {
			continue
		}
		if mg, ok := parseStrength(r["Strength"]); ok {
			strengths[mg] = true
		}
		apps[r["Appl_Type"]+" "+r["Appl_No"]] = true
		osrc = fmt.Sprintf("FDA Orange Book products.txt 2024-05 (%s@%s: %s)", r["source_repo"], short(r["source_commit"]), r["source_path"])
	}
	if len(strengths) == 0 {
		return p, fmt.Errorf("scoring: %s: no Orange Book tablets", m.id)
	}
	if brand {
		p.Relationship = RelBrand
		p.Application = "NDA " + strings.TrimPrefix(sortedKeys(apps)[0], "N ")
		p.ProperName = "atorvastatin calcium"
	} else {
		p.Relationship = RelABGeneric
		p.Application = fmt.Sprintf("%d AB-rated ANDAs", len(apps))
		p.ProperName = "atorvastatin calcium"
	}
	p.Route, p.DosageForm = "oral", "tablet"
	for _, mg := range sortedFloatKeys(strengths) {
		p.Packages = append(p.Packages, Package{Units: 1, Mg: mg, ItemsPerPackage: 1, PackageUnits: 1, SingleDose: true, Presentation: "Tablet"})
	}
	for i := range p.Packages {
		for _, n := range sortedKeys(ndcs) {
			if strength["ndc|"+n] == p.Packages[i].Mg && p.Packages[i].NDC == "" {
				p.Packages[i].NDC = n
			}
		}
	}

	// RxNorm: SCDs for the generic, SBDs (and the brand name) for Lipitor.
	rx := map[string]bool{}
	var rsrc []string
	for _, r := range d.rxnorm {
		if r["ingredient_group"] != "ATORVASTATIN" {
			continue
		}
		if brand && r["tty"] == "BN" && r["str"] == "Lipitor" {
			rx[r["rxcui"]] = true
			continue
		}
		mm := rxTabletRE.FindStringSubmatch(r["str"])
		if mm == nil || (brand && (r["tty"] != "SBD" || mm[2] == "")) || (!brand && (r["tty"] != "SCD" || mm[2] != "")) {
			continue
		}
		rx[r["rxcui"]] = true
		if mg, err := strconv.ParseFloat(mm[1], 64); err == nil {
			strength["rxnorm|"+r["rxcui"]] = mg
			for i := range p.Packages {
				// Every strength has two concepts in the seed: "atorvastatin 40 MG Oral Tablet"
				// (RxNorm's current normal form, named for the base ingredient) and the older
				// "Atorvastatin calcium 40 MG ..." (salt). Both are recognised in orders; a
				// suggestion is coded with the current one.
				if almostEqual(p.Packages[i].Mg, mg) && (p.Packages[i].RxNorm == "" || !strings.Contains(strings.ToLower(r["str"]), "calcium")) {
					p.Packages[i].RxNorm, p.Packages[i].RxNormDisplay = r["rxcui"], r["str"]
				}
			}
		}
		rsrc = append(rsrc, fmt.Sprintf("NLM RxNorm (%s@%s: %s)", r["source_repo"], short(r["source_commit"]), r["source_path"]))
	}
	if len(rx) == 0 {
		return p, fmt.Errorf("scoring: %s: no RxNorm codes", m.id)
	}
	p.NDCs = sortedKeys(ndcs)
	p.RxNorm = sortedKeys(rx)
	slices.Sort(rsrc)
	src := append(sortedKeys(nsrc), osrc)
	src = append(src, slices.Compact(rsrc)...)
	p.Source = strings.Join(src, "; ")
	return p, nil
}

// aspRow is one parsed row of the CMS ASP extract.
type aspRow struct {
	hcpcs, dosage, note string
	limit               float64 // payment limit per billing unit, USD
	coinsurance         float64 // beneficiary coinsurance, fraction (0.17585 for 17.585 %)
}

// parseASPRow reads the payment limit and the coinsurance percentage of one
// extract row. The coinsurance column is the file's "Co-insurance Percentage"
// (20.000, or lower where CMS applies the Inflation Reduction Act's
// inflation-adjusted coinsurance, e.g. 17.585 for J0897 in January 2026).
func parseASPRow(r row) (aspRow, error) {
	a := aspRow{hcpcs: strings.ToUpper(r["hcpcs"]), dosage: r["hcpcs_dosage"], note: r["notes"]}
	lim, err := parseNum(r["payment_limit_usd"])
	if err != nil || !(lim > 0) || math.IsInf(lim, 0) {
		return a, fmt.Errorf("bad payment limit %q", r["payment_limit_usd"])
	}
	a.limit = lim
	if c := r["coinsurance_pct"]; c != "" {
		pct, err := parseNum(c)
		if err != nil || !(pct > 0) || pct > 100 {
			return a, fmt.Errorf("bad coinsurance percentage %q", c)
		}
		a.coinsurance = pct / 100
	}
	return a, nil
}

// CMS notes that change how the ASP is backed out of the payment limit.
const (
	noteAddOn8   = "8% of reference add-on applied"    // qualifying biosimilar (IRA): limit = ASP + 8 % of the reference ASP
	noteAMP      = "AMP-based payment limit"           // the limit is 103 % of AMP, not ASP + 6 %
	noteLesserOf = "\"lesser of\" methodology applied" // the limit is the lesser of ASP + 6 % and another figure
	noteAdded    = "Added "                            // a code new this quarter: may be paid on WAC before ASP data exist
)

// backOut derives the ASP (the default acquisition estimate) from a payment
// limit by the statute's add-on (SSA 1847A(b)(1) and (b)(8)): a reference or
// single-source product is paid ASP + 6 %, so ASP = limit / 1.06; a
// qualifying biosimilar ("8% of reference add-on applied") is paid its ASP +
// 8 % of the reference's ASP, so ASP = limit - 0.08 x reference ASP; any other
// biosimilar is paid its ASP + 6 % of the reference's ASP, so ASP = limit -
// 0.06 x reference ASP. An AMP-based or "lesser of" limit is not ASP plus an
// add-on, and a biosimilar quarter without a reference price or a code added
// this quarter cannot be inverted with certainty: those are estimates, and
// say so (an AMP-based limit gives AMP = limit / 1.03 instead).
func backOut(a aspRow, biosimilar bool, refASP float64, refOK bool) (asp float64, label string, estimated bool) {
	var why string
	switch {
	case strings.Contains(a.note, noteAMP):
		// 42 CFR 414.904(d)(3): the AMP-based limit is 103 % of AMP; AMP is the
		// nearest published figure to a market price.
		asp = a.limit / 1.03
		label = fmt.Sprintf("estimated: AMP = payment limit %.3f / 1.03 (an AMP-based limit is 103 %% of AMP, 42 CFR 414.904(d)(3); ASP unknown)", a.limit)
		return asp, label + " (CMS note: " + a.note + ")", true
	case strings.Contains(a.note, noteLesserOf):
		why = "\"lesser of\" methodology: the limit may be below ASP + add-on"
	}
	switch {
	case biosimilar && refOK && strings.Contains(a.note, noteAddOn8):
		asp = a.limit - 0.08*refASP
		label = fmt.Sprintf("payment limit %.3f - 0.08 x reference ASP %.4f (qualifying biosimilar)", a.limit, refASP)
	case biosimilar && refOK:
		asp = a.limit - 0.06*refASP
		label = fmt.Sprintf("payment limit %.3f - 0.06 x reference ASP %.4f (biosimilar without the 8%% add-on)", a.limit, refASP)
		if why == "" && strings.HasPrefix(a.note, noteAdded) {
			why = "code added this quarter: the limit may rest on WAC rather than ASP"
		}
	case biosimilar:
		asp = a.limit / 1.06
		label = fmt.Sprintf("payment limit %.3f / 1.06", a.limit)
		why = "no reference payment limit this quarter to back out the biosimilar add-on"
	default:
		asp = a.limit / 1.06
		label = fmt.Sprintf("payment limit %.3f / 1.06", a.limit)
	}
	if !(asp > 0) {
		// A limit below the reference add-on: the row cannot be a plain ASP + add-on.
		asp = a.limit / 1.06
		label = fmt.Sprintf("payment limit %.3f / 1.06", a.limit)
		why = "the statutory back-out gives no positive ASP"
	}
	kind := "derived: "
	if why != "" {
		kind, estimated = "estimated: ", true
		label += "; " + why
	}
	label = kind + label
	if a.note != "" {
		label += " (CMS note: " + a.note + ")"
	}
	return asp, label, estimated
}

// aspBooks builds one book per CMS quarter, with the ASP backed out of each
// payment limit as backOut describes and the file's coinsurance percentage.
func (d *dataset) aspBooks(defs []groupDef) ([]PriceBook, error) {
	type qkey struct{ start, end string }
	byQ := map[qkey]map[string]row{}
	var order []qkey
	for _, r := range d.asp {
		k := qkey{r["effective_start"], r["effective_end"]}
		if byQ[k] == nil {
			byQ[k] = map[string]row{}
			order = append(order, k)
		}
		byQ[k][strings.ToUpper(r["hcpcs"])] = r
	}
	var books []PriceBook
	for _, k := range order {
		start, err1 := time.Parse("January 2, 2006", k.start)
		end, err2 := time.Parse("January 2, 2006", k.end)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("scoring: %s: bad effective dates %q-%q: %w", fileASP, k.start, k.end, err)
		}
		rows := byQ[k]
		label := "CMS ASP " + start.Format("Jan 2006")
		b := PriceBook{
			ID: fmt.Sprintf("cms-asp-%dq%d", start.Year(), (int(start.Month())-1)/3+1), Source: SourceCMSASP,
			Label: label, Start: start, End: end, prices: map[string]Price{},
		}
		for _, gd := range defs {
			refRow, refOK := rows[gd.members[0].code]
			var refASP float64
			if refOK {
				a, err := parseASPRow(refRow)
				if err != nil {
					return nil, fmt.Errorf("scoring: %s %s: %w", label, gd.members[0].code, err)
				}
				refASP, _, _ = backOut(a, false, 0, false)
			}
			for i, m := range gd.members {
				r, ok := rows[m.code]
				if !ok {
					continue // not listed this quarter
				}
				a, err := parseASPRow(r)
				if err != nil {
					return nil, fmt.Errorf("scoring: %s %s: %w", label, m.code, err)
				}
				pr := Price{PerUnit: a.limit, Note: a.note,
					Published: fmt.Sprintf("published: %s payment limit %s %s per %s", label, m.code, r["payment_limit_usd"], a.dosage),
				}
				pr.ASP, pr.Derived, pr.Estimated = backOut(a, i > 0, refASP, refOK)
				if a.coinsurance > 0 {
					pr.Coinsurance = a.coinsurance
					// One label per quarter and rate, not per code: the patient figure's source is
					// then shared by every product at the usual 20 %.
					pr.CoinsuranceLabel = fmt.Sprintf("published: %s coinsurance %s %%", label, r["coinsurance_pct"])
					if strings.Contains(a.note, "Inflation-adjusted") {
						pr.CoinsuranceLabel += " (inflation-adjusted)"
					}
				}
				// The gateway's golden cards quote this label verbatim.
				pr.acqLabel = "estimated (derived ASP): " + pr.Derived
				b.prices[m.id] = pr
				if b.Provenance == "" {
					b.Provenance = fmt.Sprintf("CMS Medicare Part B ASP payment limit file, %s (%s@%s: %s)", start.Format("January 2006"), aspRepo, short(r["source_commit"]), r["source_path"])
				}
			}
		}
		books = append(books, b)
	}
	return books, nil
}

// nadacBook builds the single open-ended retail book: the lowest per-unit
// NADAC of the 10 mg tablets listed for each product.
func (d *dataset) nadacBook(defs []groupDef) (PriceBook, error) {
	var b PriceBook
	for _, gd := range defs {
		for _, m := range gd.members {
			best := math.Inf(1)
			var bestRow row
			for _, r := range d.nadac {
				if r["group_key"] != m.code || r["pricing_unit"] != "EA" {
					continue
				}
				v, err := parseNum(r["nadac_per_unit_usd"])
				if err != nil {
					return b, fmt.Errorf("scoring: %s: bad NADAC price %q", fileNADAC, r["nadac_per_unit_usd"])
				}
				if v < best {
					best, bestRow = v, r
				}
			}
			if bestRow == nil {
				return b, fmt.Errorf("scoring: %s has no per-tablet price for %s", fileNADAC, m.code)
			}
			if b.prices == nil {
				date, err := time.Parse("2006-01-02", bestRow["dataset_date_claimed"])
				if err != nil {
					return b, fmt.Errorf("scoring: %s: bad date %q", fileNADAC, bestRow["dataset_date_claimed"])
				}
				b = PriceBook{
					ID: "nadac-communitymeds-" + date.Format("2006-01-02"), Source: SourceNADAC,
					Label: "NADAC (CommunityMeds summary) " + date.Format("2006-01-02"), Start: date,
					Provenance: fmt.Sprintf("NADAC per-unit price as summarised by a third party (CommunityMeds), dated %s, not the CMS NADAC file (%s@%s: %s)",
						date.Format("2006-01-02"), bestRow["source_repo"], short(bestRow["source_commit"]), bestRow["source_path"]),
					prices: map[string]Price{},
				}
			}
			b.prices[m.id] = Price{
				PerUnit: best, ASP: best,
				Published: fmt.Sprintf("published: NADAC per-unit price as summarised by a third party (CommunityMeds), dated %s, not the CMS NADAC file: %s %.5f per tablet (NDC %s)", bestRow["dataset_date_claimed"], bestRow["ndc_description"], best, bestRow["ndc"]),
				Derived:   "derived: equal to the NADAC per-unit price",
				acqLabel:  "estimated: the NADAC per-unit price",
			}
			if mg, ok := parseStrength(strings.TrimPrefix(bestRow["ndc_description"], m.code+" ")); ok {
				pr := b.prices[m.id]
				pr.itemMg = mg
				b.prices[m.id] = pr
			}
		}
	}
	if b.prices == nil {
		return b, errors.New("scoring: no retail groups to price")
	}
	return b, nil
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedFloatKeys(m map[float64]bool) []float64 {
	out := make([]float64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
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
