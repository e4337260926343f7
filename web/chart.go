package web

import (
	"fmt"
	"strconv"
	"strings"

	"valuerx/scoring"
)

// The charts are inline SVG computed here, so the page needs no script and no charting library,
// prints as drawn, and scales to the viewport (viewBox, width 100%).

// palette tells up to ten products apart (Okabe-Ito colours first: distinguishable with the
// common colour-vision deficiencies).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999", "#882255"}

type chart struct {
	Width, Height int
	Rows          []barRow
	Legend        []legendItem
}

type barRow struct {
	ID, Label, Value string
	Y, TextY         int
	Segs             []seg
}

type seg struct {
	X, W  float64
	Color string
	Title string
}

type legendItem struct {
	Color, Label string
	X, Y         int
}

const (
	barLeft  = 4.0
	barWidth = 392.0
)

// barChart draws each priced option's allowed amount per course as one bar, split into who pays
// it: the payer, the patient, the secondary coverage, and the rest (sequestration, cost sharing
// that cannot be collected, or under capitation the budget).
func barChart(opts []scoring.Option, res scoring.Result) chart {
	var max float64
	for _, o := range opts {
		if o.Exclusion != scoring.ExcludeNotPriced && o.PerCourse.PayerAllowed > max {
			max = o.PerCourse.PayerAllowed
		}
	}
	c := chart{Width: 400}
	payer := "payer pays"
	if res.Contract.Arrangement == scoring.Capitation && res.Contract.DrugsInBudget {
		payer = "payer (none per claim)"
	}
	names := []string{payer, "patient", "secondary coverage", "other (sequestration, budget, uncollected)"}
	colors := []string{"#0072B2", "#E69F00", "#009E73", "#BBBBBB"}
	y := 4
	for _, o := range opts {
		if o.Exclusion == scoring.ExcludeNotPriced || max <= 0 {
			continue
		}
		f := o.PerCourse
		parts := []float64{f.PayerPaid, f.PatientOOP, f.Secondary, 0}
		parts[3] = f.PayerAllowed - parts[0] - parts[1] - parts[2]
		if parts[3] < 0 {
			parts[3] = 0
		}
		row := barRow{ID: o.Product.ID, Label: o.Product.Name, Value: usd(f.PayerAllowed) + " per course", TextY: y + 13, Y: y + 18}
		x := barLeft
		for i, v := range parts {
			w := v / max * barWidth
			if w <= 0 {
				continue
			}
			row.Segs = append(row.Segs, seg{X: round1(x), W: round1(w), Color: colors[i], Title: names[i] + " " + usd(v)})
			x += w
		}
		c.Rows = append(c.Rows, row)
		y += 40
	}
	for i, n := range names {
		c.Legend = append(c.Legend, legendItem{Color: colors[i], Label: n, X: 4, Y: y + 14 + i*18})
	}
	c.Height = y + 14 + len(names)*18
	return c
}

type lineChart struct {
	Width, Height int
	Left, Right   int
	Top, Bottom   int
	Series        []series
	XLabels       []axisLabel
	YLabels       []axisLabel
	Unit          string
	Quarters      int
}

type series struct {
	ID, Name, Color string
	Width           float64 // stroke width (adoption chart)
	Points          string  // "x,y x,y" for a polyline
	Dots            []dot
	LegendY         int
}

type dot struct {
	X, Y  float64
	Title string
}

type axisLabel struct {
	X, Y   float64
	Text   string
	Anchor string // text-anchor: the first and last quarter stay inside the chart
}

// priceHistory draws each product's published price per billing unit (the CMS payment limit, or
// NADAC) over every book of the group's price source the catalog holds.
func priceHistory(cat *scoring.Catalog, res scoring.Result) lineChart {
	lc := lineChart{Width: 400, Left: 44, Right: 392, Top: 8, Bottom: 168}
	if cat == nil {
		return lc
	}
	var books []scoring.PriceBook
	for _, b := range cat.Books() {
		if b.Source == res.Group.PriceSource {
			books = append(books, b)
		}
	}
	lc.Quarters = len(books)
	if len(books) == 0 {
		return lc
	}
	var max float64
	for _, b := range books {
		for _, id := range res.Group.ProductIDs {
			if p, ok := b.Price(id); ok && p.PerUnit > max {
				max = p.PerUnit
			}
		}
	}
	if max <= 0 {
		return lc
	}
	max *= 1.1
	xOf := func(i int) float64 {
		if len(books) == 1 {
			return float64(lc.Left+lc.Right) / 2
		}
		return float64(lc.Left) + float64(i)*float64(lc.Right-lc.Left)/float64(len(books)-1)
	}
	yOf := func(v float64) float64 { return float64(lc.Bottom) - v/max*float64(lc.Bottom-lc.Top) }
	unit := ""
	for i, id := range res.Group.ProductIDs {
		prod, _ := cat.Product(id)
		if unit == "" {
			unit = prod.BillingUnit
		}
		s := series{ID: id, Name: prod.Name, Color: palette[i%len(palette)]}
		var pts []string
		for j, b := range books {
			p, ok := b.Price(id)
			if !ok {
				continue
			}
			x, y := round1(xOf(j)), round1(yOf(p.PerUnit))
			pts = append(pts, fmt.Sprintf("%g,%g", x, y))
			s.Dots = append(s.Dots, dot{X: x, Y: y, Title: fmt.Sprintf("%s %s: $%s per %s", prod.Name, shortBook(b), strconv.FormatFloat(p.PerUnit, 'f', 3, 64), prod.BillingUnit)})
		}
		if len(pts) == 0 {
			continue
		}
		s.Points = strings.Join(pts, " ")
		lc.Series = append(lc.Series, s)
	}
	lc.Unit = unit
	for i, b := range books {
		if i == 0 || i == len(books)-1 || i == len(books)/2 {
			anchor := "middle"
			switch {
			case len(books) == 1:
			case i == 0:
				anchor = "start"
			case i == len(books)-1:
				anchor = "end"
			}
			lc.XLabels = append(lc.XLabels, axisLabel{X: round1(xOf(i)), Y: float64(lc.Bottom + 16), Text: shortBook(b), Anchor: anchor})
		}
	}
	for _, f := range []float64{0, 0.5, 1} {
		v := max / 1.1 * f
		lc.YLabels = append(lc.YLabels, axisLabel{X: float64(lc.Left - 4), Y: round1(yOf(v)) + 4, Text: "$" + strconv.FormatFloat(v, 'f', 0, 64)})
	}
	for i := range lc.Series {
		lc.Series[i].LegendY = lc.Bottom + 40 + i*18
	}
	lc.Height = lc.Bottom + 40 + len(lc.Series)*18
	return lc
}

func shortBook(b scoring.PriceBook) string {
	return strings.TrimPrefix(strings.TrimPrefix(b.Label, "CMS ASP "), "NADAC ")
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
