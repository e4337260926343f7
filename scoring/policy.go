package scoring

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy is what the organisation's pharmacy and therapeutics (P&T) committee signs off, kept
// apart from the contracts (which finance owns): which products of each group are on formulary
// and stocked, per site; when a patient mid-course may be switched; whether doses may be rounded
// to whole vials; and which products are labelled for which indication. Scoring applies it before
// any money rule: an option the policy excludes is never suggested, however much it saves.
//
// The zero Policy (and a nil *Policy) is the permissive default of the embedded demo: every
// catalog product on formulary everywhere, biologics never switched mid-course, AB-rated generics
// switched at any time, no dose rounding, no indication table.
type Policy struct {
	groups      map[string]GroupPolicy
	formularies map[string]Formulary // by site; "" is the organisation-wide formulary
	indications *IndicationTable
	source      string
}

// MidCourse says whether a patient already receiving a product of the group may be offered a
// switch. Interchangeability is a pharmacy-substitution status (FDA): it does not decide this on
// its own; the P&T committee does.
type MidCourse string

// Mid-course policies.
const (
	MidCourseNever     MidCourse = "never"      // no switch card for a patient on therapy
	MidCourseNextCycle MidCourse = "next-cycle" // suggest for the next administration, acknowledged on the card
	MidCourseAny       MidCourse = "any"        // switch at any time
)

// GroupPolicy is the P&T committee's rule set for one equivalence group.
type GroupPolicy struct {
	MidCourse MidCourse `yaml:"midCourse"`
	// DoseRoundingPct enables rounding to the nearest whole-vial dose within +/- this percentage
	// (a common P&T policy for monoclonal antibodies is 10); 0 turns it off. Rounding is always
	// offered as a separate suggestion, never applied silently.
	DoseRoundingPct float64 `yaml:"doseRoundingPct"`
	// HistoryDays is how far back a MedicationRequest counts as therapy in progress (0: 180).
	HistoryDays int `yaml:"historyDays"`
}

// Formulary lists, per group, the products on formulary at a site; a group the formulary does
// not name is unrestricted. NotStocked products are on formulary but not kept at the site.
type Formulary struct {
	Site       string              `yaml:"site"`
	Products   map[string][]string `yaml:"products"`
	NotStocked []string            `yaml:"notStocked"`
}

// Formulary exclusions and policy decisions an Option or Result can carry.
const (
	ExcludeOffFormulary             = "off-formulary"    // not on the site's formulary, or not stocked there
	ExcludeNotLabelled              = "not-labelled"     // not FDA-labelled (or not known to be) for the order's indication
	ExcludeStrength                 = "no-same-strength" // no item of the ordered strength (tablets)
	ExcludeRouteForm                = "route-or-form"    // another route or dosage form
	ExcludeDevice                   = "another-device"   // no item of the ordered kind (on-body injector, syringe, vial)
	ReasonOffFormularyNoAlternative = "off-formulary-no-alternative"
)

// PolicyConfig is the YAML form of a Policy (config/formulary-restricted.yaml is an example).
type PolicyConfig struct {
	Groups      map[string]GroupPolicy `yaml:"groups"`
	Formularies []Formulary            `yaml:"formularies"`
}

// ParsePolicy reads a P&T policy file and checks it against the catalog: an unknown group or
// product, a site listed twice or an unknown mid-course value is an error, never a silent default.
// indications may be nil.
func ParsePolicy(cat *Catalog, data []byte, indications *IndicationTable, source string) (*Policy, error) {
	var pc PolicyConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pc); err != nil && err != io.EOF {
		return nil, fmt.Errorf("scoring: policy %s: %w", source, err)
	}
	p := &Policy{groups: map[string]GroupPolicy{}, formularies: map[string]Formulary{}, indications: indications, source: source}
	for gid, gp := range pc.Groups {
		if _, ok := cat.Group(gid); !ok {
			return nil, fmt.Errorf("scoring: policy %s: unknown group %q", source, gid)
		}
		switch gp.MidCourse {
		case "", MidCourseNever, MidCourseNextCycle, MidCourseAny:
		default:
			return nil, fmt.Errorf("scoring: policy %s: group %s: midCourse %q: want never, next-cycle or any", source, gid, gp.MidCourse)
		}
		if gp.DoseRoundingPct < 0 || gp.DoseRoundingPct > 25 || math.IsNaN(gp.DoseRoundingPct) {
			return nil, fmt.Errorf("scoring: policy %s: group %s: doseRoundingPct %g: want 0..25", source, gid, gp.DoseRoundingPct)
		}
		if gp.HistoryDays < 0 || gp.HistoryDays > 3660 {
			return nil, fmt.Errorf("scoring: policy %s: group %s: historyDays %d: want 0..3660", source, gid, gp.HistoryDays)
		}
		p.groups[gid] = gp
	}
	for _, f := range pc.Formularies {
		if _, dup := p.formularies[f.Site]; dup {
			return nil, fmt.Errorf("scoring: policy %s: formulary for site %q listed twice", source, f.Site)
		}
		for gid, ids := range f.Products {
			g, ok := cat.Group(gid)
			if !ok {
				return nil, fmt.Errorf("scoring: policy %s: formulary %q: unknown group %q", source, f.Site, gid)
			}
			for _, id := range ids {
				if !slices.Contains(g.ProductIDs, id) {
					return nil, fmt.Errorf("scoring: policy %s: formulary %q: %q is not a product of group %s", source, f.Site, id, gid)
				}
			}
		}
		for _, id := range f.NotStocked {
			if _, ok := cat.Product(id); !ok {
				return nil, fmt.Errorf("scoring: policy %s: formulary %q: unknown product %q in notStocked", source, f.Site, id)
			}
		}
		p.formularies[f.Site] = f
	}
	return p, nil
}

// DefaultPolicy is the embedded demo's policy (data/policy.yaml) with the curated indication
// table (data/indications.csv).
func DefaultPolicy(cat *Catalog) (*Policy, error) {
	ind, err := DefaultIndications()
	if err != nil {
		return nil, err
	}
	b, err := DefaultPolicyYAML()
	if err != nil {
		return nil, err
	}
	return ParsePolicy(cat, b, ind, "embedded demo policy (scoring/data/policy.yaml)")
}

// DefaultPolicyYAML is the embedded demo policy file, to start a site's own from.
func DefaultPolicyYAML() ([]byte, error) {
	b, err := dataFS.ReadFile("data/policy.yaml")
	if err != nil {
		return nil, fmt.Errorf("scoring: embedded policy: %w", err)
	}
	return b, nil
}

// DefaultIndications is the curated indication table embedded in the binary.
func DefaultIndications() (*IndicationTable, error) {
	b, err := dataFS.ReadFile("data/indications.csv")
	if err != nil {
		return nil, fmt.Errorf("scoring: embedded indications: %w", err)
	}
	return ParseIndications(bytes.NewReader(b))
}

// Group returns the P&T rules for a group with the defaults filled in: biologics are never
// switched mid-course and AB-rated generics (group.AllowMidCourse) at any time.
func (p *Policy) Group(g Group) GroupPolicy {
	var gp GroupPolicy
	if p != nil {
		gp = p.groups[g.ID]
	}
	if gp.MidCourse == "" {
		gp.MidCourse = MidCourseNever
		if g.AllowMidCourse {
			gp.MidCourse = MidCourseAny
		}
	}
	if gp.HistoryDays == 0 {
		gp.HistoryDays = 180
	}
	return gp
}

// HasGroupRule reports whether the committee set a mid-course rule for the group (a contract's
// legacy allowMidCourseSwitch applies only where it did not).
func (p *Policy) HasGroupRule(groupID string) bool {
	if p == nil {
		return false
	}
	return p.groups[groupID].MidCourse != ""
}

// formulary returns the formulary in force at site: the site's own, else the organisation's.
func (p *Policy) formulary(site string) (Formulary, bool) {
	if p == nil {
		return Formulary{}, false
	}
	if f, ok := p.formularies[site]; ok && site != "" {
		return f, true
	}
	f, ok := p.formularies[""]
	return f, ok
}

// HasSite reports whether a formulary is configured for site itself.
func (p *Policy) HasSite(site string) bool {
	if p == nil || site == "" {
		return false
	}
	_, ok := p.formularies[site]
	return ok
}

// OnFormulary reports whether a product may be used at a site: listed for its group (or the
// group is unrestricted) and not marked as not stocked.
func (p *Policy) OnFormulary(site string, prod Product) bool {
	f, ok := p.formulary(site)
	if !ok {
		return true
	}
	if slices.Contains(f.NotStocked, prod.ID) {
		return false
	}
	ids, restricted := f.Products[prod.GroupID]
	return !restricted || slices.Contains(ids, prod.ID)
}

// Indications returns the indication table (nil when none is configured).
func (p *Policy) Indications() *IndicationTable {
	if p == nil {
		return nil
	}
	return p.indications
}

// Source names the policy file, for the card's provenance.
func (p *Policy) Source() string {
	if p == nil || p.source == "" {
		return "default policy (every catalog product on formulary; biologics not switched mid-course)"
	}
	return p.source
}

// Labelled is what a product's US label says of an indication.
type Labelled string

// Label states.
const (
	LabelYes     Labelled = "yes"
	LabelNo      Labelled = "no"
	LabelUnknown Labelled = "unknown"
)

// Indication is one row of the curated table: an indication of a group whose labelling differs
// between its products (or the reference's own list), with the codes that denote it.
type Indication struct {
	Group, ID, Name string
	// Short is the few words a card's sidebar line names the indication by ("HER2+ breast
	// cancer"); Name is the label's own wording, for the comparison page. See Label. Wording
	// only: left out of ConfigFingerprint, which no figure of it changes.
	Short         string   `json:"-"`
	ICD10Prefixes []string // ICD-10-CM, without the dot, upper case ("L100")
	SNOMED        []string
	// MaxAgeYears bounds a paediatric indication ("pediatric-uc": 17); 0 for none. ICD-10-CM
	// cannot say a patient is a child, so the patient's age decides.
	MaxAgeYears int
	Labels      map[string]Labelled // product id -> label state
	Versions    map[string]string   // product id -> label version and source
}

// IndicationTable is the curated, sourced table of labelled indications
// (scoring/data/indications.csv).
type IndicationTable struct {
	byGroup map[string][]*Indication
}

// ParseIndications reads the table: group,product,indication_id,indication,[short,]
// icd10cm_prefixes,snomed_codes,[max_age_years,]labelled,label_version,source,note. short may
// be given on any of an indication's rows (rows that give it must agree). Products and groups unknown to
// the catalog are kept: the table may be ahead of the catalog.
func ParseIndications(r io.Reader) (*IndicationTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("scoring: indications: %w", err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("scoring: indications: empty file")
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, h := range []string{"group", "product", "indication_id", "indication", "icd10cm_prefixes", "snomed_codes", "labelled", "label_version", "source"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("scoring: indications: missing column %q", h)
		}
	}
	get := func(rec []string, h string) string {
		// An optional column the table does not have reads empty (not the first column).
		if i, ok := col[h]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	t := &IndicationTable{byGroup: map[string][]*Indication{}}
	index := map[string]*Indication{}
	for n, rec := range recs[1:] {
		g, prod, id := strings.ToLower(get(rec, "group")), strings.ToLower(get(rec, "product")), strings.ToLower(get(rec, "indication_id"))
		if g == "" || prod == "" || id == "" {
			return nil, fmt.Errorf("scoring: indications: row %d: group, product and indication_id are required", n+2)
		}
		lab := Labelled(strings.ToLower(get(rec, "labelled")))
		switch lab {
		case LabelYes, LabelNo, LabelUnknown:
		default:
			return nil, fmt.Errorf("scoring: indications: row %d: labelled %q: want yes, no or unknown", n+2, lab)
		}
		ind := index[g+"|"+id]
		if ind == nil {
			ind = &Indication{Group: g, ID: id, Name: get(rec, "indication"), Labels: map[string]Labelled{}, Versions: map[string]string{}}
			index[g+"|"+id] = ind
			t.byGroup[g] = append(t.byGroup[g], ind)
		}
		if sh := get(rec, "short"); sh != "" {
			if ind.Short != "" && ind.Short != sh {
				return nil, fmt.Errorf("scoring: indications: row %d: short %q for %s %s, another row says %q", n+2, sh, g, id, ind.Short)
			}
			ind.Short = sh
		}
		for _, c := range splitList(get(rec, "icd10cm_prefixes")) {
			c = normICD(c)
			if c != "" && !slices.Contains(ind.ICD10Prefixes, c) {
				ind.ICD10Prefixes = append(ind.ICD10Prefixes, c)
			}
		}
		if a := get(rec, "max_age_years"); a != "" {
			age, err := strconv.Atoi(a)
			if err != nil || age <= 0 || age > 120 {
				return nil, fmt.Errorf("scoring: indications: row %d: max_age_years %q", n+2, a)
			}
			ind.MaxAgeYears = age
		}
		for _, c := range splitList(get(rec, "snomed_codes")) {
			if !slices.Contains(ind.SNOMED, c) {
				ind.SNOMED = append(ind.SNOMED, c)
			}
		}
		ind.Labels[prod] = lab
		ind.Versions[prod] = strings.TrimSpace(get(rec, "label_version") + "; " + get(rec, "source"))
	}
	return t, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' || r == ' ' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// normICD upper-cases an ICD-10-CM code and drops its dot ("l10.0" -> "L100").
func normICD(c string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(c), ".", ""))
}

// Diagnosis is one coded reason for an order (MedicationRequest.reasonCode, a referenced
// Condition, or the problem list).
type Diagnosis struct {
	System string // "icd10cm" or "snomed"
	Code   string
}

// Match returns the ids of the table's indications of a group that the diagnoses denote,
// sorted; an ICD-10-CM code matches an indication when it starts with one of its prefixes. A
// paediatric indication matches only a patient no older than its bound; ageYears < 0 (unknown)
// matches it too, the conservative choice: a product not labelled for it is then not suggested.
func (t *IndicationTable) Match(group string, dx []Diagnosis, ageYears int) []string {
	if t == nil {
		return nil
	}
	var ids []string
	for _, ind := range t.byGroup[group] {
		if ind.MaxAgeYears > 0 && ageYears > ind.MaxAgeYears {
			continue
		}
		for _, d := range dx {
			hit := false
			switch d.System {
			case "icd10cm":
				c := normICD(d.Code)
				for _, pre := range ind.ICD10Prefixes {
					if strings.HasPrefix(c, pre) {
						hit = true
					}
				}
			case "snomed":
				hit = slices.Contains(ind.SNOMED, strings.TrimSpace(d.Code))
			}
			if hit && !slices.Contains(ids, ind.ID) {
				ids = append(ids, ind.ID)
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// Indication returns one indication of a group by id.
func (t *IndicationTable) Indication(group, id string) (*Indication, bool) {
	if t == nil {
		return nil, false
	}
	for _, ind := range t.byGroup[group] {
		if ind.ID == id {
			return ind, true
		}
	}
	return nil, false
}

// Label is how a card names an indication of a group: its short label, else the label's wording
// up to its first parenthesis or semicolon (an operator's table may have no short column), else
// the id (an indication the table does not list).
func (t *IndicationTable) Label(group, id string) string {
	ind, ok := t.Indication(group, id)
	switch {
	case !ok:
		return id
	case ind.Short != "":
		return ind.Short
	}
	name := ind.Name
	if i := strings.IndexAny(name, "(;"); i > 0 {
		name = name[:i]
	}
	if name = strings.TrimSpace(name); name == "" {
		return id
	}
	if r := []rune(name); len(r) > maxIndicationLabel {
		name = strings.TrimSpace(string(r[:maxIndicationLabel-1])) + "…"
	}
	return name
}

// maxIndicationLabel is the longest label Label makes of an indication's own wording, in runes:
// a sidebar line, not the label's paragraph.
const maxIndicationLabel = 48

// Covers reports whether the table lists any indication for the group (so an unknown indication
// matters for it).
func (t *IndicationTable) Covers(group string) bool {
	return t != nil && len(t.byGroup[group]) > 0
}

// LabelFor is a product's label state for an indication. The table lists the indications whose
// labelling differs within a group (and the reference's common ones): for an indication every
// listed product is labelled for, a product the table does not name is taken as labelled (the
// table's scope: a common indication); for one where some product is not (or not known to be),
// a product the table does not name is unknown, which excludes it: a suggestion needs a
// confirmed label.
func (ind *Indication) LabelFor(productID string) Labelled {
	if l, ok := ind.Labels[productID]; ok {
		return l
	}
	for _, l := range ind.Labels {
		if l != LabelYes {
			return LabelUnknown
		}
	}
	return LabelYes
}
