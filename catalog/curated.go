package catalog

import "valuerx/scoring"

// The curated part of the catalog: what the agencies' files cannot say. Which products form a
// group, their FDA relationship, codes, packages and prices all come from the files; a group's
// default dose and course (used only when an order carries none), its clinical notes and the
// look-alikes that must never join it are written here, each with its source or reason.

const (
	newStartsOnly = "Biosimilar (351(k), not interchangeable): suggest for new starts only; do not switch a patient mid-course."
	withIC        = newStartsOnly + " Interchangeable (351(k) Interchangeable): may replace the reference mid-course where state substitution law allows."
	midCourseOK   = "AB-rated generic (Orange Book): substitutable at any time, including mid-course."
)

// groupDefaults are the curated defaults of a data-formed group, keyed by group id. The families
// of the hand-made catalog (trastuzumab, bevacizumab, rituximab, infliximab, pegfilgrastim,
// filgrastim, atorvastatin) take theirs from scoring.CuratedGroup; this table holds the rest.
type groupDefaults struct {
	name                  string
	doseMg                float64 // one administration; epoetin: units (its billing unit is 1,000 units)
	administrations       int
	source                string
	notes                 []string
	allowMidCourse        bool
	hasInterchangeableTxt bool // the switch rule mentions interchangeables
	fromScoring           *scoring.Group
}

var curatedGroups = map[string]groupDefaults{
	// Groups the hand-made catalog did not have.
	"epoetin-alfa": {
		name: "Epoetin alfa (non-ESRD)", doseMg: 40000, administrations: 12,
		source: "Procrit label (anemia from chemotherapy): 40,000 units SC weekly; 12 weeks. Amounts are units (the billing unit is 1,000 units), not mg",
		notes: []string{"Doses of this group are in units, not mg.",
			"ESRD codes (Q4081, Q5105) are billed by dialysis facilities under the ESRD PPS and are not in this group."},
	},
	"ranibizumab": {
		name: "Ranibizumab (intravitreal)", doseMg: 0.5, administrations: 12,
		source: "Lucentis label (neovascular AMD): 0.5 mg intravitreal monthly; 12 injections a year",
		notes:  []string{"Byooviz and Cimerli are 351(k) Interchangeable with Lucentis (Purple Book, March 2025)."},
	},
	"aflibercept": {
		name: "Aflibercept 2 mg (intravitreal)", doseMg: 2, administrations: 8,
		source: "Eylea label (neovascular AMD): 2 mg q4w x 3 then q8w; 8 injections in year one",
		notes:  []string{"Eylea HD (aflibercept 8 mg, J0177) is a different product with its own dosing, not a member."},
	},
	"denosumab-prolia": {
		name: "Denosumab 60 mg (Prolia)", doseMg: 60, administrations: 2,
		source: "Prolia label (osteoporosis): 60 mg SC every 6 months; 2 a year",
		notes:  []string{"Prolia and Xgeva share J0897 but are different products (60 mg every 6 months vs 120 mg every 4 weeks); their biosimilars replace only their own reference."},
	},
	"denosumab-xgeva": {
		name: "Denosumab 120 mg (Xgeva)", doseMg: 120, administrations: 13,
		source: "Xgeva label (bone metastases): 120 mg SC every 4 weeks; 13 a year",
		notes:  []string{"Prolia and Xgeva share J0897 but are different products (60 mg every 6 months vs 120 mg every 4 weeks); their biosimilars replace only their own reference."},
	},
	"ustekinumab-iv": {
		name: "Ustekinumab (IV induction)", doseMg: 390, administrations: 1,
		source: "Stelara label (Crohn's disease, UC): one weight-based IV induction dose, 390 mg for 55-85 kg",
		notes:  []string{"IV induction only; the subcutaneous maintenance presentations form their own group."},
	},
	"ustekinumab-sc": {
		name: "Ustekinumab (subcutaneous)", doseMg: 45, administrations: 5,
		source: "Stelara label (plaque psoriasis, <= 100 kg): 45 mg at weeks 0 and 4, then every 12 weeks; 5 in year one",
	},
	"tocilizumab-iv": {
		name: "Tocilizumab (IV)", doseMg: 560, administrations: 13,
		source: "Actemra label (RA): 8 mg/kg IV every 4 weeks x 70 kg = 560 mg; 13 a year",
		notes:  []string{"Subcutaneous syringes and autoinjectors billed under the same codes (e.g. Tyenne Q5135) are not IV presentations and are not in this group."},
	},
	"tocilizumab-sc": {
		name: "Tocilizumab (subcutaneous)", doseMg: 162, administrations: 26,
		source: "Actemra label (RA, < 100 kg): 162 mg SC every other week; 26 a year",
	},
	"eculizumab": {
		name: "Eculizumab (IV)", doseMg: 900, administrations: 26,
		source: "Soliris label (PNH maintenance): 900 mg IV every 2 weeks; 26 a year",
	},
	"natalizumab": {
		name: "Natalizumab (IV)", doseMg: 300, administrations: 13,
		source: "Tysabri label (MS): 300 mg IV every 4 weeks; 13 a year",
	},
}

// exclusion is a product the files would let look like a member but that is not a substitute.
type exclusion struct {
	name   string // proprietary name as the FDA and CMS files spell it (case-insensitive)
	group  string // the group it resembles
	reason string
}

var curatedExclusions = []exclusion{
	{"Herceptin Hylecta", "trastuzumab", "Herceptin Hylecta (J9356, trastuzumab and hyaluronidase, subcutaneous) is a different product, not a biosimilar substitute."},
	{"Kadcyla", "trastuzumab", "Kadcyla (ado-trastuzumab emtansine, J9354) is an antibody-drug conjugate, not trastuzumab: no substitute either way."},
	{"Enhertu", "trastuzumab", "Enhertu (fam-trastuzumab deruxtecan-nxki, J9358) is an antibody-drug conjugate, not trastuzumab: no substitute either way."},
	{"Phesgo", "trastuzumab", "Phesgo (pertuzumab, trastuzumab and hyaluronidase, subcutaneous) is a fixed combination, not a trastuzumab substitute."},
	{"Rituxan Hycela", "rituximab", "Rituxan Hycela (rituximab and hyaluronidase, subcutaneous) is a different product, not a biosimilar substitute."},
	{"Zymfentra", "infliximab", "Zymfentra (infliximab-dyyb, subcutaneous, 351(a)) is its own BLA, not a biosimilar of Remicade."},
	{"Eylea HD", "aflibercept", "Eylea HD (aflibercept 8 mg, J0177) has its own BLA and dosing; Eylea biosimilars replace Eylea 2 mg only."},
	{"Granix", "filgrastim", "Tbo-filgrastim (Granix, J1447) is a separate BLA, not a biosimilar, and is not a member."},
}

// retailDefs are the retail groups: an Orange Book ingredient, dosage form and route priced from
// the NADAC extract by its brand (the reference listed drug) and generic keys.
type retailDef struct {
	group                 string
	ingredientPrefix      string // Orange Book Ingredient prefix, "ATORVASTATIN"
	dosageForm, route     string // Orange Book, "TABLET", "ORAL"
	brandKey, genericKey  string // NADAC group keys
	brandID, genericID    string
	brandName, genericNm  string
	properName            string
	rxIngredient          string // RxNorm seed ingredient_group
	rxBrandName, rxPrefix string // BN str, and the SCD/SBD name prefix
}

var retailDefs = []retailDef{{
	group: "atorvastatin", ingredientPrefix: "ATORVASTATIN", dosageForm: "TABLET", route: "ORAL",
	brandKey: "LIPITOR", genericKey: "ATORVASTATIN", brandID: "lipitor", genericID: "atorvastatin-generic",
	brandName: "Lipitor", genericNm: "atorvastatin (generic)", properName: "atorvastatin calcium",
	rxIngredient: "ATORVASTATIN", rxBrandName: "Lipitor", rxPrefix: "atorvastatin",
}}

func (d groupDefaults) switchRule(retail bool) string {
	switch {
	case retail:
		return midCourseOK
	case d.hasInterchangeableTxt:
		return withIC
	}
	return newStartsOnly
}

// curatedFor returns the curated defaults of a group: scoring's own list first (the families the
// hand-made catalog had, with their label bounds and wording), then the table above.
func curatedFor(id string) (groupDefaults, bool) {
	if g, ok := scoring.CuratedGroup(id); ok {
		return groupDefaults{fromScoring: &g}, true
	}
	d, ok := curatedGroups[id]
	return d, ok
}

// group builds the curated part of a group.
func (d groupDefaults) group(id string, retail bool) scoring.Group {
	if d.fromScoring != nil {
		g := *d.fromScoring
		g.ID = id
		return g
	}
	g := scoring.Group{
		ID: id, Name: d.name, Benefit: scoring.MedicalBenefit, PriceSource: scoring.SourceCMSASP,
		DefaultDoseMg: d.doseMg, DefaultAdministrations: d.administrations, DefaultsSource: d.source,
		AllowMidCourse: d.allowMidCourse, SwitchRule: d.switchRule(retail), Notes: append([]string(nil), d.notes...),
	}
	if retail {
		g.Benefit, g.PriceSource = scoring.PharmacyBenefit, scoring.SourceNADAC
	}
	return g
}
