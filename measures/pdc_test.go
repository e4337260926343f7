package measures

import (
	"testing"
	"time"
)

// d is a day of the 2026 measurement year (365 days: Jan 31, Feb 28, Mar 31, Apr 30, May 31,
// Jun 30, Jul 31, Aug 31, Sep 30, Oct 31, Nov 30, Dec 31).
func d(m time.Month, day int) Day { return Date(2026, m, day) }

func fill(m time.Month, day, supply int, ingredient string) Fill {
	vs := DefaultValueSet()
	i := vs.Lookup(ingredient)
	if i < 0 {
		panic("no ingredient " + ingredient)
	}
	return Fill{Date: d(m, day), DaysSupply: supply, Ingredient: ingredient, Class: vs.Ingredient(i).Class}
}

func adult(fills ...Fill) *Patient {
	return &Patient{BirthDate: Date(1955, time.June, 1), DeathDate: NoDay, EnrolledThrough: NoDay, Fills: fills}
}

func TestEvaluateAdherenceHandWorked(t *testing.T) {
	type want struct {
		inDen, excluded, met bool
		days, covered        int
		reason               string
	}
	cases := []struct {
		name string
		p    *Patient
		m    Measure
		want want
	}{
		{
			// Jan 1 x90 covers Jan 1-Mar 31. Mar 25 x90 is early (7 days still on hand): same drug,
			// shifted to Apr 1, covers Apr 1-Jun 29. Jul 5 x90: Jul 5-Oct 2 (gap Jun 30-Jul 4, 5 days).
			// Oct 1 x90 is early: shifted to Oct 3, covers Oct 3-Dec 31. Covered 365-5 = 360 of 365.
			// (Without the shift Mar 25 would end Jun 22 and the gap be 12 days: 353.)
			name: "early refills of the same drug shift forward",
			p:    adult(fill(time.January, 1, 90, "atorvastatin"), fill(time.March, 25, 90, "atorvastatin"), fill(time.July, 5, 90, "atorvastatin"), fill(time.October, 1, 90, "atorvastatin")),
			m:    PDCStatin,
			want: want{inDen: true, met: true, days: 365, covered: 360},
		},
		{
			// Switch within the class: simvastatin Jan 1 x90 (Jan 1-Mar 31); atorvastatin Mar 20 x90
			// is another drug, not shifted: Mar 20-Jun 17, the 12 overlapping days counted once; then
			// atorvastatin Jun 18 x90 (Jun 18-Sep 15) and Sep 16 x90 (Sep 16-Dec 14). Covered Jan 1-
			// Dec 14 = 348 of 365 = 0.953. (Shifting across drugs would give 360.)
			name: "switch within the class counts overlap once",
			p:    adult(fill(time.January, 1, 90, "simvastatin"), fill(time.March, 20, 90, "atorvastatin"), fill(time.June, 18, 90, "atorvastatin"), fill(time.September, 16, 90, "atorvastatin")),
			m:    PDCStatin,
			want: want{inDen: true, met: true, days: 365, covered: 348},
		},
		{
			// A gap: lisinopril Jan 10 x30 (Jan 10-Feb 8), Mar 1 x30 (Mar 1-30), Jun 1 x90 (Jun 1-Aug 29).
			// Treatment period Jan 10-Dec 31 = 356 days; covered 150; PDC 0.421.
			name: "gaps",
			p:    adult(fill(time.January, 10, 30, "lisinopril"), fill(time.March, 1, 30, "lisinopril"), fill(time.June, 1, 90, "lisinopril")),
			m:    PDCRASA,
			want: want{inDen: true, met: false, days: 356, covered: 150},
		},
		{
			// A fill crossing the year end: metformin Jan 1, Apr 1, Jun 30 x90 (through Sep 27), then
			// Oct 20 x90 runs to Jan 17 2027; only Oct 20-Dec 31 (12+30+31 = 73) counts. 270+73 = 343
			// of 365 = 0.940.
			name: "fill crossing the year end is cut at Dec 31",
			p:    adult(fill(time.January, 1, 90, "metformin"), fill(time.April, 1, 90, "metformin"), fill(time.June, 30, 90, "metformin"), fill(time.October, 20, 90, "metformin")),
			m:    PDCDiabetes,
			want: want{inDen: true, met: true, days: 365, covered: 343},
		},
		{
			// Two drugs of the class the same day: metformin and glipizide Jan 1 x90 and Apr 1 x90.
			// Each day covered once: Jan 1-Jun 29 = 180 of 365 = 0.493 (adding supplies would say 360).
			name: "two drugs of the class on the same day count once",
			p:    adult(fill(time.January, 1, 90, "metformin"), fill(time.January, 1, 90, "glipizide"), fill(time.April, 1, 90, "metformin"), fill(time.April, 1, 90, "glipizide")),
			m:    PDCDiabetes,
			want: want{inDen: true, met: false, days: 365, covered: 180},
		},
		{
			// Same drug twice on one day (two strengths taken together, or a duplicate claim): one
			// counts, the longest days' supply (PQA/CMS; pharmacist review H3). Jan 1 x30 (twice)
			// covers Jan 1-30 (30 days); Mar 2 x30 covers Mar 2-31 (30). 60 of 365. Two fill dates.
			name: "same drug twice on one day counts once",
			p:    adult(fill(time.January, 1, 30, "rosuvastatin"), fill(time.January, 1, 30, "rosuvastatin"), fill(time.March, 2, 30, "rosuvastatin")),
			m:    PDCStatin,
			want: want{inDen: true, met: false, days: 365, covered: 60},
		},
		{
			// Same drug, same day, 30 and 90 days: the 90 is kept, whatever the order. Jan 1 x90
			// covers Jan 1-Mar 31 (90); Apr 1 x90 covers Apr 1-Jun 29 (90). 180 of 365 (not 210, as
			// shifting the 30 behind the 90 would give).
			name: "same drug same day keeps the longest days supply",
			p:    adult(fill(time.January, 1, 30, "atorvastatin"), fill(time.January, 1, 90, "atorvastatin"), fill(time.April, 1, 90, "atorvastatin")),
			m:    PDCStatin,
			want: want{inDen: true, met: false, days: 365, covered: 180},
		},
		{
			// Inpatient stay Mar 1-10 (10 days): Jan 1 x90 uses 59 days to Feb 28, pauses in hospital
			// and covers Mar 11-Apr 10 with the 31 left; Apr 1 x90 (same drug) starts Apr 11, covers to
			// Jul 9. Treatment period 365-10 = 355 days, covered 180: PDC 0.507.
			name: "inpatient stay removed and supply shifted past discharge",
			p: func() *Patient {
				p := adult(fill(time.January, 1, 90, "atorvastatin"), fill(time.April, 1, 90, "atorvastatin"))
				p.Stays = []Period{{d(time.March, 1), d(time.March, 10)}}
				return p
			}(),
			m:    PDCStatin,
			want: want{inDen: true, met: false, days: 355, covered: 180},
		},
		{
			// Death Jun 30 ends the treatment period: Jan 1-Jun 30 = 181 days, Jan 1 x90 + Apr 1 x90
			// cover 180: PDC 0.994.
			name: "death ends the treatment period",
			p: func() *Patient {
				p := adult(fill(time.January, 1, 90, "pravastatin"), fill(time.April, 1, 90, "pravastatin"))
				p.DeathDate = d(time.June, 30)
				return p
			}(),
			m:    PDCStatin,
			want: want{inDen: true, met: true, days: 181, covered: 180},
		},
		{
			// Disenrollment Mar 31 with Jan 15 x30 and Feb 14 x30: Jan 15-Mar 31 = 76 days < 91.
			name: "treatment period under 91 days",
			p: func() *Patient {
				p := adult(fill(time.January, 15, 30, "losartan"), fill(time.February, 14, 30, "losartan"))
				p.EnrolledThrough = d(time.March, 31)
				return p
			}(),
			m:    PDCRASA,
			want: want{days: 76, covered: 60, reason: "first fill less than 91 days before the end of the treatment period"},
		},
		{
			name: "one fill is not in the denominator",
			p:    adult(fill(time.March, 1, 90, "atorvastatin")),
			m:    PDCStatin,
			want: want{days: 306, covered: 90, reason: "fewer than two fills on different dates"},
		},
		{
			// Exactly 80 %: covered 292 of 365 meets the threshold (292*5 = 1460 = 365*4).
			// Jan 1 x90, Apr 1 x90, Jun 30 x90 (to Sep 27), then Oct 11 x22 (Oct 11-Nov 1): 292.
			name: "exactly 80 percent is adherent",
			p:    adult(fill(time.January, 1, 90, "simvastatin"), fill(time.April, 1, 90, "simvastatin"), fill(time.June, 30, 90, "simvastatin"), fill(time.October, 11, 22, "simvastatin")),
			m:    PDCStatin,
			want: want{inDen: true, met: true, days: 365, covered: 292},
		},
		{
			// One day less: 291 of 365 = 0.797, not adherent.
			name: "one day under 80 percent is not",
			p:    adult(fill(time.January, 1, 90, "simvastatin"), fill(time.April, 1, 90, "simvastatin"), fill(time.June, 30, 90, "simvastatin"), fill(time.October, 11, 21, "simvastatin")),
			m:    PDCStatin,
			want: want{inDen: true, met: false, days: 365, covered: 291},
		},
		{
			name: "hospice excluded",
			p: func() *Patient {
				p := adult(fill(time.January, 1, 90, "atorvastatin"), fill(time.April, 1, 90, "atorvastatin"))
				p.Hospice = true
				return p
			}(),
			m:    PDCStatin,
			want: want{excluded: true, days: 365, covered: 180, reason: "hospice"},
		},
		{
			name: "ESRD excluded",
			p: func() *Patient {
				p := adult(fill(time.January, 1, 90, "lisinopril"), fill(time.April, 1, 90, "lisinopril"))
				p.ESRD = true
				return p
			}(),
			m:    PDCRASA,
			want: want{excluded: true, days: 365, covered: 180, reason: "end-stage renal disease"},
		},
		{
			name: "insulin excludes from the diabetes measure",
			p:    adult(fill(time.January, 1, 90, "metformin"), fill(time.April, 1, 90, "metformin"), fill(time.May, 5, 30, "insulin glargine")),
			m:    PDCDiabetes,
			want: want{excluded: true, days: 365, covered: 180, reason: "insulin fill in the measurement year"},
		},
		{
			// Entresto: sacubitril/valsartan is a valsartan fill and a sacubitril fill.
			name: "sacubitril/valsartan excludes from the RAS measure",
			p:    adult(fill(time.January, 1, 90, "valsartan"), fill(time.January, 1, 90, "sacubitril"), fill(time.April, 1, 90, "valsartan"), fill(time.April, 1, 90, "sacubitril")),
			m:    PDCRASA,
			want: want{excluded: true, days: 365, covered: 180, reason: "sacubitril/valsartan fill in the measurement year"},
		},
		{
			name: "under 18",
			p: func() *Patient {
				p := adult(fill(time.January, 1, 90, "metformin"), fill(time.April, 1, 90, "metformin"))
				p.BirthDate = Date(2009, time.January, 1) // 17 on Dec 31 2026
				return p
			}(),
			m:    PDCDiabetes,
			want: want{days: 365, covered: 180, reason: "under 18 at the end of the measurement year"},
		},
		{
			// Fills of last year do not count, even when their supply runs into the year: the
			// treatment period starts at the first fill in the year (Feb 1): Feb 1-Dec 31 = 334 days.
			name: "fills before the measurement year are not read",
			p: adult(Fill{Date: Date(2025, time.December, 15), DaysSupply: 90, Ingredient: "atorvastatin", Class: ClassStatin},
				fill(time.February, 1, 90, "atorvastatin"), fill(time.May, 2, 90, "atorvastatin")),
			m:    PDCStatin,
			want: want{inDen: true, met: false, days: 334, covered: 180},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(c.p, 2026)[c.m]
			got := want{inDen: r.InDenominator, excluded: r.Excluded, met: r.Met, days: r.Days, covered: r.Covered, reason: r.Reason}
			if got != c.want {
				t.Errorf("%s: got %+v, want %+v (PDC %.4f)", c.m, got, c.want, r.PDC())
			}
		})
	}
}

func TestEvaluateSUPD(t *testing.T) {
	diabetes := []Fill{fill(time.January, 5, 30, "metformin"), fill(time.February, 4, 30, "metformin")}
	withStatin := append([]Fill{fill(time.March, 1, 30, "atorvastatin")}, diabetes...)
	insulinOnly := []Fill{fill(time.January, 5, 30, "insulin glargine"), fill(time.March, 5, 30, "insulin glargine")}
	born := func(y int, m time.Month, day int) Day { return Date(y, m, day) }
	cases := []struct {
		name             string
		birth            Day
		fills            []Fill
		hospice, esrd    bool
		inDen, met, excl bool
		reason           string
	}{
		{"diabetes, no statin: a gap", born(1955, 6, 1), diabetes, false, false, true, false, false, ""},
		{"diabetes with a statin fill", born(1955, 6, 1), withStatin, false, false, true, true, false, ""},
		{"insulin counts as a diabetes medication for SUPD", born(1955, 6, 1), insulinOnly, false, false, true, false, false, ""},
		{"one diabetes fill is not enough", born(1955, 6, 1), diabetes[:1], false, false, false, false, false, "fewer than two diabetes medication fills on different dates"},
		{"39 on January 1", born(1986, 6, 1), diabetes, false, false, false, false, false, "not aged 40-75 on the first day of the measurement year"},
		{"40 on January 1", born(1986, 1, 1), diabetes, false, false, true, false, false, ""},
		{"75 on January 1, 76 in June, still in", born(1950, 6, 1), diabetes, false, false, true, false, false, ""},
		{"76 on January 1", born(1949, 12, 31), diabetes, false, false, false, false, false, "not aged 40-75 on the first day of the measurement year"},
		{"30-year-old with diabetes", born(1996, 3, 3), diabetes, false, false, false, false, false, "not aged 40-75 on the first day of the measurement year"},
		{"hospice", born(1955, 6, 1), diabetes, true, false, false, false, true, "hospice"},
		{"ESRD", born(1955, 6, 1), diabetes, false, true, false, false, true, "end-stage renal disease"},
	}
	for _, c := range cases {
		p := &Patient{BirthDate: c.birth, DeathDate: NoDay, EnrolledThrough: NoDay, Fills: c.fills, Hospice: c.hospice, ESRD: c.esrd}
		r := Evaluate(p, 2026)[SUPD]
		if r.InDenominator != c.inDen || r.Met != c.met || r.Excluded != c.excl || r.Reason != c.reason {
			t.Errorf("%s: got in=%v met=%v excluded=%v reason=%q", c.name, r.InDenominator, r.Met, r.Excluded, r.Reason)
		}
	}
}

func TestPDCToDate(t *testing.T) {
	// Lisinopril x30 on Jan 1, Jan 31 and Mar 2 (covers Jan 1-Mar 31, 90 days), then nothing.
	stopped := adult(fill(time.January, 1, 30, "lisinopril"), fill(time.January, 31, 30, "lisinopril"), fill(time.March, 2, 30, "lisinopril"))
	// Atorvastatin x90 Jan 1 and Apr 1: covered to Jun 29.
	onHand := adult(fill(time.January, 1, 90, "atorvastatin"), fill(time.April, 1, 90, "atorvastatin"))
	// Atorvastatin x30 Jan 1, then Feb 15 x30: on Feb 1 only the first fill is known.
	later := adult(fill(time.January, 1, 30, "atorvastatin"), fill(time.February, 15, 30, "atorvastatin"))
	type want struct {
		days, covered, total, needed, gapLeft, onHand int
		redeemable, inDen                             bool
	}
	cases := []struct {
		name string
		p    *Patient
		m    Measure
		at   Day
		want want
	}{
		// Jun 1: Jan 1-May 31 = 151 days, 90 covered: PDC 0.596. The year needs ceil(0.8x365) = 292;
		// 73 uncovered days allowed, 61 used: 12 left. Fully adherent from Jun 1: 90+214 = 304 >= 292.
		{"stopped in March, on Jun 1", stopped, PDCRASA, d(time.June, 1), want{151, 90, 365, 292, 12, 0, true, true}},
		// Jun 13: 163 days, 73 missed: 0 left, still (just) redeemable.
		{"stopped in March, on Jun 13", stopped, PDCRASA, d(time.June, 13), want{163, 90, 365, 292, 0, 0, true, true}},
		// Jun 14: 164 days, 74 missed: out of reach.
		{"stopped in March, on Jun 14", stopped, PDCRASA, d(time.June, 14), want{164, 90, 365, 292, -1, 0, false, true}},
		// May 1: Jan 1-Apr 30 = 120 days all covered; 60 days on hand (May 1-Jun 29); 73 gap days left.
		{"supply on hand", onHand, PDCStatin, d(time.May, 1), want{120, 120, 365, 292, 73, 60, true, true}},
		// Feb 1: only Jan 1 is known: 31 days, 30 covered; one fill so far, not yet in the denominator.
		{"fills after the date are not known", later, PDCStatin, d(time.February, 1), want{31, 30, 365, 292, 72, 0, true, false}},
		// After the year: the year's figures (Jan 1-Jun 29 covered, 180 of 365), not redeemable.
		{"after the year", onHand, PDCStatin, Date(2027, time.March, 1), want{365, 180, 365, 292, -112, 0, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := PDCToDate(c.p, 2026, c.m, c.at)
			got := want{r.Days, r.Covered, r.Total, r.Needed, r.GapDaysLeft, r.OnHand, r.Redeemable, r.InDenominator}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestPDCToDateAtYearEndIsTheYear(t *testing.T) {
	p := adult(fill(time.January, 1, 90, "simvastatin"), fill(time.March, 20, 90, "atorvastatin"), fill(time.June, 18, 90, "atorvastatin"))
	p.Stays = []Period{{d(time.July, 1), d(time.July, 4)}}
	year := Evaluate(p, 2026)[PDCStatin]
	td := PDCToDate(p, 2026, PDCStatin, Date(2027, time.January, 1))
	if td.Days != year.Days || td.Covered != year.Covered || td.InDenominator != year.InDenominator {
		t.Fatalf("to date at Jan 1 2027: %d/%d in=%v; year %d/%d in=%v", td.Covered, td.Days, td.InDenominator, year.Covered, year.Days, year.InDenominator)
	}
	if year.Days != 361 || year.StayDays != 4 {
		t.Fatalf("days %d stay %d, want 361 and 4", year.Days, year.StayDays)
	}
}

func TestParseDay(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Day
		ok   bool
	}{
		{"2026-03-01", d(time.March, 1), true},
		{"2026-03-01T23:30:00-05:00", d(time.March, 1), true},
		{"2026-02-30", NoDay, false},
		{"2026-3-1", NoDay, false},
		{"", NoDay, false},
	} {
		got, err := ParseDay(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDay(%q) = %v, %v", c.in, got, err)
		}
	}
	if AgeOn(Date(1950, time.June, 1), Date(2026, time.May, 31)) != 75 || AgeOn(Date(1950, time.June, 1), Date(2026, time.June, 1)) != 76 {
		t.Error("AgeOn around the birthday")
	}
}

func TestSUPDAt(t *testing.T) {
	p := adult(fill(time.January, 5, 30, "metformin"), fill(time.February, 4, 30, "metformin"), fill(time.June, 1, 30, "simvastatin"))
	if r := SUPDAt(p, 2026, d(time.February, 4)); r.InDenominator {
		t.Errorf("Feb 4: one diabetes fill before the date, got in the denominator")
	}
	if r := SUPDAt(p, 2026, d(time.March, 1)); !r.InDenominator || r.Met {
		t.Errorf("Mar 1: want in the denominator, no statin yet: %+v", r)
	}
	if r := SUPDAt(p, 2026, d(time.July, 1)); !r.InDenominator || !r.Met {
		t.Errorf("Jul 1: want met: %+v", r)
	}
}

// TestParseDayMatchesTime: the hand-written date arithmetic agrees with package time on every
// day from 1900 to 2100.
func TestParseDayMatchesTime(t *testing.T) {
	for day := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() < 2101; day = day.AddDate(0, 0, 1) {
		got, err := ParseDay(day.Format(time.DateOnly))
		if err != nil || got != Date(day.Year(), day.Month(), day.Day()) || got.String() != day.Format(time.DateOnly) {
			t.Fatalf("%s: %v %v", day.Format(time.DateOnly), got, err)
		}
	}
	for _, bad := range []string{"1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2O26-01-01", "2026-01-01x", "2026-01-0"} {
		if _, err := ParseDay(bad); err == nil {
			t.Errorf("ParseDay(%q) accepted", bad)
		}
	}
	if d, err := ParseDay("2024-02-29"); err != nil || d.String() != "2024-02-29" {
		t.Errorf("leap day: %v %v", d, err)
	}
}

func TestDayString(t *testing.T) {
	for _, c := range []struct {
		d    Day
		want string
	}{{0, "1970-01-01"}, {-1, "1969-12-31"}, {Date(2024, time.February, 29), "2024-02-29"}, {Date(1900, time.March, 1), "1900-03-01"}, {NoDay, ""}} {
		if got := c.d.String(); got != c.want {
			t.Errorf("%d: %q, want %q", c.d, got, c.want)
		}
	}
}

// Ineligible holds the age and exclusion rules whatever the fills: with one fill the Reason is the
// fill rule (the tallies are unchanged), and Ineligible still says the patient will never count.
func TestIneligibleWhateverTheFills(t *testing.T) {
	one := []Fill{fill(time.January, 1, 30, "atorvastatin")}
	child := adult(one...)
	child.BirthDate = Date(2014, time.March, 1)
	esrd := adult(one...)
	esrd.ESRD = true
	insulin := adult(fill(time.January, 1, 30, "metformin"), fill(time.February, 1, 30, "insulin glargine"))
	cases := []struct {
		name       string
		p          *Patient
		m          Measure
		ineligible bool
	}{
		{"adult, one statin fill", adult(one...), PDCStatin, false},
		{"12 at year end, one statin fill", child, PDCStatin, true},
		{"ESRD, one statin fill", esrd, PDCStatin, true},
		{"one metformin fill and insulin", insulin, PDCDiabetes, true},
		{"insulin does not touch the statin measure", insulin, PDCStatin, false},
	}
	for _, c := range cases {
		r := Evaluate(c.p, 2026)[c.m]
		if r.Ineligible != c.ineligible || r.InDenominator || r.Excluded {
			t.Errorf("%s: ineligible %v in %v excluded %v (%s), want ineligible %v and neither counted", c.name, r.Ineligible, r.InDenominator, r.Excluded, r.Reason, c.ineligible)
		}
		if td := PDCToDate(c.p, 2026, c.m, d(time.July, 1)); td.Ineligible != c.ineligible {
			t.Errorf("%s: to date ineligible %v, want %v", c.name, td.Ineligible, c.ineligible)
		}
	}
}

// An insulin named with a device word and no strength is insulin (the PDC-DR exclusion), while a
// syringe or pen needle that names insulin stays a supply. metformin Jan 5 x30, Apr 1 x30.
func TestInsulinInADeviceIsInsulin(t *testing.T) {
	vs := DefaultValueSet()
	for _, c := range []struct {
		text     string
		excluded bool
	}{
		{"insulin glargine 3 mL prefilled syringe", true},
		{"Insulin Lispro Prefilled Syringe", true},
		{"Humalog KwikPen prefilled syringe", true},
		{"Insulin Syringe 1 mL 31G", false},
		{"BD Insulin Pen Needle 32G", false},
	} {
		var fills []Fill
		fills = vs.Fills(fills, d(time.January, 5), 30, "", "metformin 500 MG Oral Tablet")
		fills = vs.Fills(fills, d(time.April, 1), 30, "", "metformin 500 MG Oral Tablet")
		fills = vs.Fills(fills, d(time.May, 1), 30, "", c.text)
		if r := Evaluate(adult(fills...), 2026)[PDCDiabetes]; r.Excluded != c.excluded {
			t.Errorf("%q: PDC-DR excluded %v (in %v, %s), want %v", c.text, r.Excluded, r.InDenominator, r.Reason, c.excluded)
		}
	}
}

// A fill without a days' supply (DaysSupply 0) is a fill for SUPD and the exclusions, and
// neither starts a PDC treatment period nor counts as one of its two fills.
func TestFillWithoutDaysSupply(t *testing.T) {
	noSupply := func(m time.Month, day int, ing string) Fill { f := fill(m, day, 1, ing); f.DaysSupply = 0; return f }
	// Atorvastatin recorded without a supply on 2 January, then filled x90 on 1 April and 1 July:
	// the treatment period starts on 1 April (275 days to 31 December), 180 of them covered.
	r := Evaluate(adult(noSupply(time.January, 2, "atorvastatin"), fill(time.April, 1, 90, "atorvastatin"), fill(time.July, 1, 90, "atorvastatin")), 2026)[PDCStatin]
	if r.Index != d(time.April, 1) || r.Days != 275 || r.Covered != 180 || !r.InDenominator {
		t.Errorf("PDC-STA index %s, %d of %d days, in %v; want 1 April, 180 of 275, in", r.Index, r.Covered, r.Days, r.InDenominator)
	}
	// One supplied fill and one without: not two fills.
	if r := Evaluate(adult(fill(time.February, 1, 30, "atorvastatin"), noSupply(time.March, 1, "atorvastatin")), 2026)[PDCStatin]; r.InDenominator || r.Reason != ReasonOneFill {
		t.Errorf("one supplied fill: in %v (%s), want %q", r.InDenominator, r.Reason, ReasonOneFill)
	}
	// SUPD: metformin x90 twice, a statin without a supply: met.
	if r := Evaluate(adult(fill(time.January, 5, 90, "metformin"), fill(time.April, 5, 90, "metformin"), noSupply(time.February, 1, "atorvastatin")), 2026)[SUPD]; !r.InDenominator || !r.Met {
		t.Errorf("SUPD with a statin fill without a supply: in %v met %v (%s), want met", r.InDenominator, r.Met, r.Reason)
	}
}

// Brands of measured combinations and older ACE inhibitors and ARBs classify (pharmacist review,
// 3 December 2026: each read as an unknown medication).
func TestMoreBrandsClassify(t *testing.T) {
	vs := DefaultValueSet()
	for text, want := range map[string]Class{"Prestalia 3.5 mg/2.5 mg tablet": ClassRASA, "Monopril 10 mg": ClassRASA,
		"Teveten 600 mg tablet": ClassRASA, "Byvalson 5/80 mg": ClassRASA, "Metaglip 2.5/250 mg tablet": ClassDiabetes} {
		idx, known := vs.Classify(nil, nil, text)
		if !known || len(idx) == 0 || vs.Ingredient(idx[0]).Class != want {
			t.Errorf("%q: %v known %v, want class %v", text, idx, known, want)
		}
	}
}

// RefillDue runs past December 31 with the supply, as the cards and the worklist tell it.
func TestRefillDuePastTheYear(t *testing.T) {
	p := adult(fill(time.January, 5, 30, "atorvastatin"), fill(time.December, 1, 90, "atorvastatin"))
	for _, c := range []struct {
		at   Day
		want Day
	}{
		{d(time.December, 10), Date(2027, time.March, 1)}, // 1 December + 90 days
		{d(time.December, 31), Date(2027, time.March, 1)}, // no day of the year left to count
		{Date(2027, time.January, 1), Date(2027, time.March, 1)},
		{d(time.November, 10), d(time.November, 10)}, // out since 4 February
	} {
		if got := PDCToDate(p, 2026, PDCStatin, c.at).RefillDue(); got != c.want {
			t.Errorf("at %s: refill due %s, want %s", c.at, got, c.want)
		}
	}
}
