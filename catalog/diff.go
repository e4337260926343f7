package catalog

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"valuerx/scoring"
)

// Changes is what changed between two snapshots, for a pharmacy team reviewing a refresh.
type Changes struct {
	Old, New      string         `json:"-"`
	OldVersion    string         `json:"oldVersion"`
	NewVersion    string         `json:"newVersion"`
	OldBook       string         `json:"oldBook"` // the newest CMS book of each snapshot
	NewBook       string         `json:"newBook"`
	Threshold     float64        `json:"thresholdPercent"`
	BooksAdded    []string       `json:"booksAdded,omitempty"`
	BooksRemoved  []string       `json:"booksRemoved,omitempty"`
	Prices        []PriceChange  `json:"prices,omitempty"`  // newest book vs newest book, beyond the threshold
	Revised       []PriceChange  `json:"revised,omitempty"` // the same quarter's figure changed (a CMS correction)
	ProductsAdded []string       `json:"productsAdded,omitempty"`
	ProductsGone  []string       `json:"productsRemoved,omitempty"`
	CodesAdded    []CodeChange   `json:"codesAdded,omitempty"`
	CodesRemoved  []CodeChange   `json:"codesRemoved,omitempty"`
	GroupsAdded   []string       `json:"groupsAdded,omitempty"`
	GroupsRemoved []string       `json:"groupsRemoved,omitempty"`
	Cheapest      []CheapChange  `json:"cheapestChanged,omitempty"`
	Unconfirmed   []string       `json:"unconfirmedAdded,omitempty"`
	Acquisition   map[string]int `json:"acquisitionCosts,omitempty"` // "old", "new" counts
}

// PriceChange is one product's payment limit per billing unit, before and after.
type PriceChange struct {
	Product string  `json:"product"`
	Code    string  `json:"code"`
	Old     float64 `json:"old"`
	New     float64 `json:"new"`
	Percent float64 `json:"percent"`
	OldBook string  `json:"oldBook"`
	NewBook string  `json:"newBook"`
	NewFile string  `json:"newFile"`
	NewLine int     `json:"newLine"`
}

// CodeChange is a code a product gained or lost.
type CodeChange struct {
	Product string `json:"product"`
	System  string `json:"system"`
	Code    string `json:"code"`
}

// CheapChange is a group whose cheapest product (lowest payment limit per mg in the newest
// book) changed.
type CheapChange struct {
	Group string `json:"group"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

func newestCMS(s *scoring.Snapshot) *scoring.SnapshotBook {
	var b *scoring.SnapshotBook
	for i := range s.Books {
		x := &s.Books[i]
		if x.Source == scoring.SourceCMSASP && (b == nil || x.Start.After(b.Start)) {
			b = x
		}
	}
	return b
}

func priceMap(b *scoring.SnapshotBook) map[string]scoring.SnapshotPrice {
	m := map[string]scoring.SnapshotPrice{}
	if b != nil {
		for _, p := range b.Prices {
			m[p.ProductID] = p
		}
	}
	return m
}

func pct(o, n float64) float64 { return (n - o) / o * 100 }

// Diff compares two snapshots. thresholdPercent filters price moves (absolute percent change
// strictly greater than it is reported).
func Diff(old, cur *scoring.Snapshot, thresholdPercent float64) *Changes {
	c := &Changes{OldVersion: old.Version, NewVersion: cur.Version, Threshold: thresholdPercent, Acquisition: map[string]int{"old": len(old.AcquisitionCosts), "new": len(cur.AcquisitionCosts)}}
	ob, nb := newestCMS(old), newestCMS(cur)
	if ob != nil {
		c.OldBook = ob.ID
	}
	if nb != nil {
		c.NewBook = nb.ID
	}
	oBooks, nBooks := map[string]*scoring.SnapshotBook{}, map[string]*scoring.SnapshotBook{}
	for i := range old.Books {
		oBooks[old.Books[i].ID] = &old.Books[i]
	}
	for i := range cur.Books {
		nBooks[cur.Books[i].ID] = &cur.Books[i]
	}
	for id, b := range nBooks {
		if o, ok := oBooks[id]; !ok {
			c.BooksAdded = append(c.BooksAdded, id)
		} else {
			om := priceMap(o)
			for _, p := range b.Prices {
				if op, ok := om[p.ProductID]; ok && op.Limit != p.Limit {
					c.Revised = append(c.Revised, PriceChange{Product: p.ProductID, Code: p.Code, Old: op.Limit, New: p.Limit, Percent: pct(op.Limit, p.Limit), OldBook: id, NewBook: id, NewFile: p.File, NewLine: p.Line})
				}
			}
		}
	}
	for id := range oBooks {
		if _, ok := nBooks[id]; !ok {
			c.BooksRemoved = append(c.BooksRemoved, id)
		}
	}
	if ob != nil && nb != nil {
		om, nm := priceMap(ob), priceMap(nb)
		for id, np := range nm {
			op, ok := om[id]
			if !ok {
				continue
			}
			if d := pct(op.Limit, np.Limit); math.Abs(d) > thresholdPercent {
				c.Prices = append(c.Prices, PriceChange{Product: id, Code: np.Code, Old: op.Limit, New: np.Limit, Percent: d, OldBook: ob.ID, NewBook: nb.ID, NewFile: np.File, NewLine: np.Line})
			}
		}
	}
	oP, nP := map[string]scoring.Product{}, map[string]scoring.Product{}
	for _, p := range old.Products {
		oP[p.ID] = p
	}
	for _, p := range cur.Products {
		nP[p.ID] = p
	}
	codes := func(p scoring.Product) map[string]bool {
		m := map[string]bool{}
		if p.HCPCS != "" {
			m["hcpcs|"+p.HCPCS] = true
		}
		for _, n := range p.NDCs {
			m["ndc|"+n] = true
		}
		for _, r := range p.RxNorm {
			m["rxnorm|"+r] = true
		}
		return m
	}
	for id, p := range nP {
		o, ok := oP[id]
		if !ok {
			c.ProductsAdded = append(c.ProductsAdded, id)
			continue
		}
		oc, nc := codes(o), codes(p)
		for k := range nc {
			if !oc[k] {
				sys, code, _ := strings.Cut(k, "|")
				c.CodesAdded = append(c.CodesAdded, CodeChange{id, sys, code})
			}
		}
		for k := range oc {
			if !nc[k] {
				sys, code, _ := strings.Cut(k, "|")
				c.CodesRemoved = append(c.CodesRemoved, CodeChange{id, sys, code})
			}
		}
	}
	for id := range oP {
		if _, ok := nP[id]; !ok {
			c.ProductsGone = append(c.ProductsGone, id)
		}
	}
	oG, nG := map[string]scoring.Group{}, map[string]scoring.Group{}
	for _, g := range old.Groups {
		oG[g.ID] = g
	}
	for _, g := range cur.Groups {
		nG[g.ID] = g
	}
	for id, g := range nG {
		if _, ok := oG[id]; !ok {
			c.GroupsAdded = append(c.GroupsAdded, id)
			continue
		}
		if g.PriceSource != scoring.SourceCMSASP {
			continue
		}
		oc, nc := cheapest(oG[id], oP, priceMap(ob)), cheapest(g, nP, priceMap(nb))
		if oc != nc {
			c.Cheapest = append(c.Cheapest, CheapChange{Group: id, Old: oc, New: nc})
		}
	}
	for id := range oG {
		if _, ok := nG[id]; !ok {
			c.GroupsRemoved = append(c.GroupsRemoved, id)
		}
	}
	for _, u := range cur.Unconfirmed {
		if !slices.Contains(old.Unconfirmed, u) {
			c.Unconfirmed = append(c.Unconfirmed, u)
		}
	}
	c.sort()
	return c
}

// cheapest is the group's product with the lowest payment limit per mg in the book.
func cheapest(g scoring.Group, prods map[string]scoring.Product, prices map[string]scoring.SnapshotPrice) string {
	best, bestV := "", math.Inf(1)
	for _, id := range g.ProductIDs {
		p, ok := prices[id]
		pr := prods[id]
		if !ok || !(pr.MgPerUnit > 0) {
			continue
		}
		if v := p.Limit / pr.MgPerUnit; v < bestV {
			best, bestV = id, v
		}
	}
	return best
}

func (c *Changes) sort() {
	byDelta := func(s []PriceChange) {
		sort.Slice(s, func(i, j int) bool {
			if math.Abs(s[i].Percent) != math.Abs(s[j].Percent) {
				return math.Abs(s[i].Percent) > math.Abs(s[j].Percent)
			}
			return s[i].Product < s[j].Product
		})
	}
	byDelta(c.Prices)
	byDelta(c.Revised)
	for _, s := range [][]string{c.BooksAdded, c.BooksRemoved, c.ProductsAdded, c.ProductsGone, c.GroupsAdded, c.GroupsRemoved, c.Unconfirmed} {
		sort.Strings(s)
	}
	cc := func(s []CodeChange) {
		sort.Slice(s, func(i, j int) bool { return s[i].Product+s[i].System+s[i].Code < s[j].Product+s[j].System+s[j].Code })
	}
	cc(c.CodesAdded)
	cc(c.CodesRemoved)
	sort.Slice(c.Cheapest, func(i, j int) bool { return c.Cheapest[i].Group < c.Cheapest[j].Group })
}

// Empty says whether nothing changed.
func (c *Changes) Empty() bool {
	return len(c.BooksAdded)+len(c.BooksRemoved)+len(c.Prices)+len(c.Revised)+len(c.ProductsAdded)+len(c.ProductsGone)+
		len(c.CodesAdded)+len(c.CodesRemoved)+len(c.GroupsAdded)+len(c.GroupsRemoved)+len(c.Cheapest)+len(c.Unconfirmed) == 0 &&
		c.Acquisition["old"] == c.Acquisition["new"]
}

// WriteText writes the changes for people.
func (c *Changes) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "catalog diff %s -> %s (newest CMS book %s -> %s)\n", c.OldVersion, c.NewVersion, c.OldBook, c.NewBook)
	list := func(title string, s []string) {
		if len(s) > 0 {
			fmt.Fprintf(&b, "%s (%d): %s\n", title, len(s), strings.Join(s, ", "))
		}
	}
	list("price books added", c.BooksAdded)
	list("price books removed", c.BooksRemoved)
	if len(c.Prices) > 0 {
		fmt.Fprintf(&b, "payment limits moved more than %g%% (%s -> %s), per billing unit:\n", c.Threshold, c.OldBook, c.NewBook)
		for _, p := range c.Prices {
			dir := "up"
			if p.Percent < 0 {
				dir = "down"
			}
			fmt.Fprintf(&b, "  %-22s %-6s %10.3f -> %10.3f  %s %.1f%%  (%s:%d)\n", p.Product, p.Code, p.Old, p.New, dir, math.Abs(p.Percent), p.NewFile, p.NewLine)
		}
	} else {
		fmt.Fprintf(&b, "no payment limit moved more than %g%% (%s -> %s)\n", c.Threshold, c.OldBook, c.NewBook)
	}
	if len(c.Revised) > 0 {
		fmt.Fprintln(&b, "figures revised within the same quarter:")
		for _, p := range c.Revised {
			fmt.Fprintf(&b, "  %-22s %-6s %s %10.3f -> %10.3f  (%s:%d)\n", p.Product, p.Code, p.NewBook, p.Old, p.New, p.NewFile, p.NewLine)
		}
	}
	list("products added", c.ProductsAdded)
	list("products removed", c.ProductsGone)
	codes := func(title string, s []CodeChange) {
		if len(s) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", title, len(s))
		for _, x := range s {
			fmt.Fprintf(&b, "  %-22s %s %s\n", x.Product, x.System, x.Code)
		}
	}
	codes("codes added", c.CodesAdded)
	codes("codes removed", c.CodesRemoved)
	list("groups added", c.GroupsAdded)
	list("groups removed", c.GroupsRemoved)
	if len(c.Cheapest) > 0 {
		fmt.Fprintln(&b, "groups whose cheapest product changed (payment limit per mg):")
		for _, x := range c.Cheapest {
			fmt.Fprintf(&b, "  %-18s %s -> %s\n", x.Group, x.Old, x.New)
		}
	}
	list("billing codes without an FDA record (never suggested)", c.Unconfirmed)
	if c.Acquisition["old"] != c.Acquisition["new"] {
		fmt.Fprintf(&b, "acquisition costs: %d -> %d rows\n", c.Acquisition["old"], c.Acquisition["new"])
	}
	if c.Empty() {
		fmt.Fprintln(&b, "no changes")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
