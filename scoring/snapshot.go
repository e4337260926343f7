package scoring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SnapshotFormat is the version of the Snapshot layout; NewCatalog refuses any other.
const SnapshotFormat = 1

// Snapshot is a whole catalog as data: what `valuerx catalog import` writes (package catalog
// builds it from the agencies' files) and what a gateway serves. scoring owns the layout so that
// the figures' meaning stays next to the arithmetic that uses them; catalog owns the files.
//
// Every figure carries its provenance (file, line, quarter). A Snapshot is validated in full by
// NewCatalog: a partial or inconsistent snapshot is refused, never half-served.
type Snapshot struct {
	Format int `json:"format"`
	// Version identifies the content (a hash of everything below but Created); score caches
	// and diffs key on it.
	Version string    `json:"version"`
	Created time.Time `json:"created"`
	// InputsHash is a hash of the input files' names and bytes: a snapshot built from other
	// files has another.
	InputsHash string          `json:"inputsHash"`
	Inputs     []SnapshotInput `json:"inputs"`
	Products   []Product       `json:"products"`
	Groups     []Group         `json:"groups"`
	Books      []SnapshotBook  `json:"books"`
	// Strengths maps "rxnorm|RXCUI" and "ndc|NDC11" to the mg in one item (tablet, vial).
	Strengths map[string]float64 `json:"strengths,omitempty"`
	// AcquisitionCosts are the organisation's own costs read with the agency files.
	AcquisitionCosts []SnapshotCost `json:"acquisitionCosts,omitempty"`
	// Unconfirmed lists billing codes priced by CMS that no FDA file confirms: never suggested.
	Unconfirmed []string `json:"unconfirmed,omitempty"`
}

// SnapshotInput is one file a snapshot was built from.
type SnapshotInput struct {
	File    string `json:"file"` // base name
	Kind    string `json:"kind"`
	SHA256  string `json:"sha256"`
	Period  string `json:"period,omitempty"` // "2026-01-01..2026-03-31" for quarterly files
	Rows    int    `json:"rows"`
	Rejects int    `json:"rejects"`
}

// SnapshotBook is one price book: a CMS quarter or a NADAC extract.
type SnapshotBook struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Label       string          `json:"label"`
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end,omitzero"`
	DataQuarter string          `json:"dataQuarter,omitempty"` // CMS Note 1: "3Q25"
	Provenance  string          `json:"provenance"`
	Prices      []SnapshotPrice `json:"prices"`
}

// SnapshotPrice is one product's published price in one book, verbatim, with where it is printed.
// The ASP is not stored: NewCatalog backs it out of the limit (backOut in load.go), so that the
// rule lives in one place.
type SnapshotPrice struct {
	ProductID   string  `json:"product"`
	Code        string  `json:"code"`  // HCPCS code (CMS) or NDC (NADAC)
	Limit       float64 `json:"limit"` // USD per billing unit: CMS payment limit or NADAC per unit
	LimitText   string  `json:"limitText"`
	Dosage      string  `json:"dosage"`                // the billing unit as printed, "10 MG"
	Coinsurance float64 `json:"coinsurance,omitempty"` // the file's coinsurance percentage (20 = 20 %)
	Notes       string  `json:"notes,omitempty"`       // the file's Notes, verbatim
	File        string  `json:"file"`
	Line        int     `json:"line"`
	// ItemMg (retail) is the strength of the tablet the price was published for.
	ItemMg float64 `json:"itemMg,omitempty"`
	// Packages (CMS) are the product's packages in the crosswalk of the same quarter: billing
	// units per package change between quarters.
	Packages []Package `json:"packages,omitempty"`
	// Published overrides the default label of the figure (retail books).
	Published string `json:"published,omitempty"`
}

// SnapshotCost is an acquisition cost per billing unit of one product for a period.
type SnapshotCost struct {
	ProductID  string    `json:"product"`
	USDPerUnit float64   `json:"usdPerUnit"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"`
	Note       string    `json:"note"` // source, file and line
}

// AcquisitionCosts returns the snapshot's costs in the configuration's form, to be appended to
// Config.AcquisitionCosts before NewRegistry.
func (s *Snapshot) ConfigAcquisitionCosts() []AcquisitionCost {
	out := make([]AcquisitionCost, 0, len(s.AcquisitionCosts))
	for _, c := range s.AcquisitionCosts {
		out = append(out, AcquisitionCost{Product: c.ProductID, USDPerUnit: c.USDPerUnit, Start: Date{c.Start}, End: Date{c.End}, Note: c.Note})
	}
	return out
}

// NewCatalog builds a Catalog from a snapshot, checking it whole: every group member exists and
// belongs to the group, every price names a product of the book's source, codes are unique
// (a HCPCS code shared by two products, e.g. Prolia and Xgeva on J0897, is not indexed: such an
// order is recognised by its NDC or RxNorm code only), periods are ordered. Any fault refuses
// the snapshot.
func NewCatalog(s *Snapshot) (*Catalog, error) {
	if s == nil {
		return nil, errors.New("scoring: NewCatalog: nil snapshot")
	}
	if s.Format != SnapshotFormat {
		return nil, fmt.Errorf("scoring: snapshot format %d, want %d", s.Format, SnapshotFormat)
	}
	if len(s.Products) == 0 || len(s.Groups) == 0 || len(s.Books) == 0 {
		return nil, fmt.Errorf("scoring: snapshot %s is partial: %d products, %d groups, %d books", s.Version, len(s.Products), len(s.Groups), len(s.Books))
	}
	c := &Catalog{
		products: make(map[string]Product, len(s.Products)),
		groups:   make(map[string]Group, len(s.Groups)),
		byCode:   map[CodeSystem]map[string]string{HCPCS: {}, NDC: {}, RxNorm: {}},
		strength: make(map[string]float64, len(s.Strengths)),
	}
	var errs []error
	for _, p := range s.Products {
		if p.ID == "" || p.GroupID == "" {
			errs = append(errs, fmt.Errorf("product %q: no id or group", p.ID))
			continue
		}
		if _, dup := c.products[p.ID]; dup {
			errs = append(errs, fmt.Errorf("product %s listed twice", p.ID))
			continue
		}
		if len(p.Packages) == 0 {
			errs = append(errs, fmt.Errorf("product %s has no packages", p.ID))
		}
		for _, pk := range p.Packages {
			if !(pk.Units > 0) || !(pk.Mg > 0) || math.IsInf(pk.Mg, 0) {
				errs = append(errs, fmt.Errorf("product %s: package %s has no units or mg", p.ID, pk.NDC))
			}
		}
		c.products[p.ID] = p
	}
	for _, g := range s.Groups {
		if _, dup := c.groups[g.ID]; dup || g.ID == "" {
			errs = append(errs, fmt.Errorf("group %q listed twice or without id", g.ID))
			continue
		}
		if len(g.ProductIDs) < 2 || g.ProductIDs[0] != g.ReferenceID {
			errs = append(errs, fmt.Errorf("group %s: needs its reference first and at least one alternative", g.ID))
		}
		if !(g.DefaultDoseMg > 0) || g.DefaultAdministrations <= 0 {
			errs = append(errs, fmt.Errorf("group %s: no default dose or course", g.ID))
		}
		for _, id := range g.ProductIDs {
			if p, ok := c.products[id]; !ok || p.GroupID != g.ID {
				errs = append(errs, fmt.Errorf("group %s: member %s missing or in another group", g.ID, id))
			}
		}
		c.groups[g.ID] = g
	}
	for id, p := range c.products {
		if _, ok := c.groups[p.GroupID]; !ok {
			errs = append(errs, fmt.Errorf("product %s: group %s missing", id, p.GroupID))
		}
	}
	for k, v := range s.Strengths {
		if !(v > 0) {
			errs = append(errs, fmt.Errorf("strength %s: %v", k, v))
		}
		c.strength[k] = v
	}
	books, err := s.books(c)
	if err != nil {
		errs = append(errs, err)
	}
	c.books = books
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("scoring: snapshot %s refused: %w", s.Version, err)
	}
	c.indexShared()
	return c, nil
}

// books turns the snapshot's books into PriceBooks, backing out every ASP.
func (s *Snapshot) books(c *Catalog) ([]PriceBook, error) {
	var errs []error
	out := make([]PriceBook, 0, len(s.Books))
	seen := map[string]bool{}
	for _, sb := range s.Books {
		if seen[sb.ID] || sb.ID == "" {
			errs = append(errs, fmt.Errorf("book %q listed twice or without id", sb.ID))
			continue
		}
		seen[sb.ID] = true
		if sb.Start.IsZero() || (!sb.End.IsZero() && sb.End.Before(sb.Start)) {
			errs = append(errs, fmt.Errorf("book %s: bad period", sb.ID))
			continue
		}
		b := PriceBook{ID: sb.ID, Source: sb.Source, Label: sb.Label, Start: sb.Start, End: sb.End, Provenance: sb.Provenance, prices: make(map[string]Price, len(sb.Prices))}
		byID := make(map[string]SnapshotPrice, len(sb.Prices))
		for _, sp := range sb.Prices {
			byID[sp.ProductID] = sp
		}
		for _, sp := range sb.Prices {
			p, ok := c.products[sp.ProductID]
			if !ok {
				errs = append(errs, fmt.Errorf("book %s: price of unknown product %s", sb.ID, sp.ProductID))
				continue
			}
			g := c.groups[p.GroupID]
			if g.PriceSource != sb.Source {
				errs = append(errs, fmt.Errorf("book %s: %s is priced from %s, not %s", sb.ID, p.ID, g.PriceSource, sb.Source))
				continue
			}
			if !(sp.Limit > 0) || math.IsInf(sp.Limit, 0) || sp.Coinsurance < 0 || sp.Coinsurance > 100 {
				errs = append(errs, fmt.Errorf("book %s: %s: bad limit %v or coinsurance %v", sb.ID, p.ID, sp.Limit, sp.Coinsurance))
				continue
			}
			pr := Price{PerUnit: sp.Limit, Note: sp.Notes, itemMg: sp.ItemMg}
			if sp.Coinsurance > 0 {
				pr.Coinsurance = sp.Coinsurance / 100
				pr.CoinsuranceLabel = fmt.Sprintf("published: %s coinsurance %s %%", sb.Label, strconv.FormatFloat(sp.Coinsurance, 'f', 3, 64))
				if strings.Contains(sp.Notes, "Inflation-adjusted") {
					pr.CoinsuranceLabel += " (inflation-adjusted)"
				}
			}
			if len(sp.Packages) > 0 {
				if b.packages == nil {
					b.packages = map[string][]Package{}
				}
				b.packages[p.ID] = sp.Packages
			}
			if sb.Source == SourceCMSASP {
				// The back-out is the one the extracts use (load.go backOut): one rule, one place.
				var refASP float64
				bios := p.ID != g.ReferenceID
				rp, refOK := byID[g.ReferenceID]
				if refOK {
					refASP, _, _ = backOut(aspRow{hcpcs: rp.Code, dosage: rp.Dosage, note: rp.Notes, limit: rp.Limit}, false, 0, false)
				}
				pr.ASP, pr.Derived, pr.Estimated = backOut(aspRow{hcpcs: sp.Code, dosage: sp.Dosage, note: sp.Notes, limit: sp.Limit, coinsurance: sp.Coinsurance / 100}, bios, refASP, refOK)
				pr.Published = fmt.Sprintf("published: %s payment limit %s %s per %s", sb.Label, sp.Code, sp.LimitText, sp.Dosage)
				pr.acqLabel = "estimated (derived ASP): " + pr.Derived
			} else {
				pr.ASP = sp.Limit
				pr.Published = sp.Published
				pr.Derived = "derived: equal to the NADAC per-unit price"
				pr.acqLabel = "estimated: the NADAC per-unit price"
			}
			if pr.Published == "" {
				pr.Published = fmt.Sprintf("published: %s %s %s per %s", sb.Label, sp.Code, sp.LimitText, sp.Dosage)
			}
			if !(pr.ASP > 0) {
				errs = append(errs, fmt.Errorf("book %s: %s: derived ASP %.4f is not positive", sb.ID, p.ID, pr.ASP))
				continue
			}
			b.prices[p.ID] = pr
		}
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(a, b PriceBook) int { return a.Start.Compare(b.Start) })
	return out, errors.Join(errs...)
}

// indexShared builds the code maps; a code naming two products is left out (ambiguous), so that
// such an order is never matched to the wrong product.
func (c *Catalog) indexShared() {
	ambiguous := map[CodeSystem]map[string]bool{HCPCS: {}, NDC: {}, RxNorm: {}}
	add := func(sys CodeSystem, code, id string) {
		if code == "" || ambiguous[sys][code] {
			return
		}
		if prev, ok := c.byCode[sys][code]; ok && prev != id {
			delete(c.byCode[sys], code)
			ambiguous[sys][code] = true
			return
		}
		c.byCode[sys][code] = id
	}
	ids := make([]string, 0, len(c.products))
	for id := range c.products {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := c.products[id]
		add(HCPCS, strings.ToUpper(p.HCPCS), id)
		for _, n := range p.NDCs {
			add(NDC, n, id)
		}
		for _, r := range p.RxNorm {
			add(RxNorm, r, id)
		}
	}
}

// CuratedGroup returns the hand-written part of a group of the curated list (groups.go): name,
// defaults, switch rule, notes, look-alikes and label bounds, without members. An importer that
// forms a group from the agencies' files takes these so that a family keeps one clinical policy
// whichever way its catalog was built.
func CuratedGroup(id string) (Group, bool) {
	for _, gd := range groupDefs() {
		if gd.group.ID == id {
			g := gd.group
			g.ProductIDs, g.ReferenceID = nil, ""
			g.Notes = slices.Clone(g.Notes)
			g.NotSubstitutes = slices.Clone(g.NotSubstitutes)
			return g, true
		}
	}
	return Group{}, false
}
