package scoring

// The curated part of the catalog: which products form an equivalence group,
// and the group's defaults and switch rules. Everything else about a product
// (names, NDCs, package sizes, RXCUIs, FDA relationship, prices) is read from
// the CSV extracts in data/.

// memberDef names one member of a group by its product id and the code the
// data files know it by (HCPCS for biologics, the NADAC group key for retail).
type memberDef struct {
	id, code, brand string
}

type groupDef struct {
	group   Group
	members []memberDef // the reference first
}

// Defaults turn weight- or surface-based label doses into mg for an adult of
// 70 kg / 1.86 m2; the gateway replaces them with the order's own dose and
// timing whenever the MedicationRequest carries them.
const (
	newStartsOnly = "Biosimilar (351(k), not interchangeable): suggest for new starts only; do not switch a patient mid-course."
	midCourseOK   = "AB-rated generic (Orange Book): substitutable at any time, including mid-course."
)

func groupDefs() []groupDef {
	return []groupDef{
		{
			group: Group{
				ID: "trastuzumab", Name: "Trastuzumab (IV)",
				Benefit: MedicalBenefit, PriceSource: SourceCMSASP,
				// Herceptin label, adjuvant breast cancer: 8 mg/kg loading then 6 mg/kg
				// every 3 weeks for 52 weeks. 6 mg/kg x 70 kg = 420 mg (one 420 mg vial,
				// economics.md §5); 52 weeks / 3 = 17 administrations.
				DefaultDoseMg: 420, DefaultAdministrations: 17,
				DefaultsSource: "Herceptin label (adjuvant): 6 mg/kg q3w maintenance x 70 kg = 420 mg; 52 weeks = 17 administrations",
				Label: LabelBounds{MaxMgPerKg: 8, MaxDoseMg: 1200, MinIntervalDays: 7, LabelledIntervalDays: 21, MaxAdministrations: 60,
					Source: "Herceptin label: 8 mg/kg loading (largest dose; 1,200 mg is 8 mg/kg at 150 kg, the bound for a dose ordered in mg), weekly 4 then 2 mg/kg (shortest interval 7 days), 6 mg/kg every 21 days; a year of weekly doses is 52"},
				SwitchRule: newStartsOnly,
				Notes: []string{
					"All six biosimilars are FDA 351(k) Biosimilar to Herceptin; none is interchangeable (Purple Book, March 2025).",
					"A switch keeps the ordered dose: the mg/kg dose is the same for every product. The 420 mg multi-dose vials (Trazimera, Ontruzant, Kanjinti, Ogivri, Herzuma, Hercessi) are reconstituted with Bacteriostatic Water for Injection, which contains benzyl alcohol: use Sterile Water for a patient hypersensitive to benzyl alcohol (labels).",
				},
				NotSubstitutes: []string{"Herceptin Hylecta (J9356, trastuzumab and hyaluronidase, subcutaneous) is a different product, not a biosimilar substitute."},
			},
			members: []memberDef{
				{"herceptin", "J9355", "Herceptin"},
				{"hercessi", "Q5146", "Hercessi"},
				{"herzuma", "Q5113", "Herzuma"},
				{"kanjinti", "Q5117", "Kanjinti"},
				{"ogivri", "Q5114", "Ogivri"},
				{"ontruzant", "Q5112", "Ontruzant"},
				{"trazimera", "Q5116", "Trazimera"},
			},
		},
		{
			group: Group{
				ID: "bevacizumab", Name: "Bevacizumab (IV)",
				Benefit: MedicalBenefit, PriceSource: SourceCMSASP,
				// Avastin label, NSCLC with carboplatin/paclitaxel: 15 mg/kg every 3 weeks;
				// 15 x 70 kg = 1,050 mg; 6 cycles of the platinum doublet.
				DefaultDoseMg: 1050, DefaultAdministrations: 6,
				DefaultsSource: "Avastin label (NSCLC): 15 mg/kg q3w x 70 kg = 1,050 mg; 6 cycles with platinum doublet",
				Label: LabelBounds{MaxMgPerKg: 15, MaxDoseMg: 2250, MinIntervalDays: 14, LabelledIntervalDays: 21, MaxAdministrations: 40,
					Source: "Avastin label: 5-15 mg/kg every 2 or 3 weeks (2,250 mg: 15 mg/kg at 150 kg)"},
				SwitchRule: newStartsOnly,
				Notes:      []string{"Ophthalmic (intravitreal) use is outside this group."},
			},
			members: []memberDef{
				{"avastin", "J9035", "Avastin"},
				{"alymsys", "Q5126", "Alymsys"},
				{"mvasi", "Q5107", "Mvasi"},
				{"vegzelma", "Q5129", "Vegzelma"},
				{"zirabev", "Q5118", "Zirabev"},
			},
		},
		{
			group: Group{
				ID: "rituximab", Name: "Rituximab (IV)",
				Benefit: MedicalBenefit, PriceSource: SourceCMSASP,
				// Rituxan label, relapsed or refractory NHL: 375 mg/m2 weekly x 4;
				// 375 x 1.86 m2 = 697.5, rounded to 700 mg.
				DefaultDoseMg: 700, DefaultAdministrations: 4,
				DefaultsSource: "Rituxan label (NHL): 375 mg/m2 weekly x 4 doses; 1.86 m2 -> 700 mg",
				Label: LabelBounds{MaxDoseMg: 1000, MaxMgPerM2: 500, MinIntervalDays: 7, LabelledIntervalDays: 7, MaxAdministrations: 30,
					Source: "Rituxan label: 375 mg/m2 weekly (NHL), 500 mg/m2 (CLL), 1,000 mg x 2 two weeks apart (RA, GPA/PV)"},
				SwitchRule: newStartsOnly,
				Notes:      []string{"Subcutaneous rituximab-hyaluronidase (Rituxan Hycela) is not a member."},
			},
			members: []memberDef{
				{"rituxan", "J9312", "Rituxan"},
				{"riabni", "Q5123", "Riabni"},
				{"ruxience", "Q5119", "Ruxience"},
				{"truxima", "Q5115", "Truxima"},
			},
		},
		{
			group: Group{
				ID: "infliximab", Name: "Infliximab (IV)",
				Benefit: MedicalBenefit, PriceSource: SourceCMSASP,
				// Remicade label (Crohn's, UC, RA range 3-10 mg/kg): 5 mg/kg at weeks 0, 2, 6
				// then every 8 weeks: 8 infusions in the first year; 5 x 70 kg = 350 mg.
				DefaultDoseMg: 350, DefaultAdministrations: 8,
				DefaultsSource: "Remicade label: 5 mg/kg at weeks 0, 2, 6 then q8w (8 infusions in year one) x 70 kg = 350 mg",
				Label: LabelBounds{MaxMgPerKg: 10, MaxDoseMg: 1500, MinIntervalDays: 14, LabelledIntervalDays: 56, MaxAdministrations: 30,
					Source: "Remicade label (1,500 mg: 10 mg/kg at 150 kg): 3-10 mg/kg at weeks 0, 2, 6 (shortest interval 14 days), then every 8 weeks (RA up to every 4)"},
				SwitchRule: newStartsOnly,
				Notes:      []string{"Zymfentra (subcutaneous infliximab-dyyb, 351(a)) is not a member.", "Janssen's unbranded Infliximab (NDC 57894-0160) bills under J1745 with Remicade."},
			},
			members: []memberDef{
				{"remicade", "J1745", "Remicade"},
				{"avsola", "Q5121", "Avsola"},
				{"inflectra", "Q5103", "Inflectra"},
				{"renflexis", "Q5104", "Renflexis"},
			},
		},
		{
			group: Group{
				ID: "pegfilgrastim", Name: "Pegfilgrastim",
				Benefit: MedicalBenefit, PriceSource: SourceCMSASP,
				// Neulasta label: 6 mg once per chemotherapy cycle; 6 cycles as a typical course.
				DefaultDoseMg: 6, DefaultAdministrations: 6,
				DefaultsSource: "Neulasta label: a fixed 6 mg once per chemotherapy cycle (adults); 6 cycles",
				Label: LabelBounds{MaxDoseMg: 6, FixedDose: true, MinIntervalDays: 14, LabelledIntervalDays: 21, MaxAdministrations: 30,
					Source: "Neulasta label: a fixed 6 mg once per chemotherapy cycle (adults), not within 14 days before chemotherapy"},
				SwitchRule: newStartsOnly,
				Notes:      []string{"On-body injector presentations (Neulasta Onpro, Udenyca Onbody) are clinically distinct delivery; confirm the presentation."},
			},
			members: []memberDef{
				{"neulasta", "J2506", "Neulasta"},
				{"fulphila", "Q5108", "Fulphila"},
				{"fylnetra", "Q5130", "Fylnetra"},
				{"nyvepria", "Q5122", "Nyvepria"},
				{"stimufend", "Q5127", "Stimufend"},
				{"udenyca", "Q5111", "Udenyca"},
				{"ziextenzo", "Q5120", "Ziextenzo"},
			},
		},
		{
			group: Group{
				ID: "filgrastim", Name: "Filgrastim",
				Benefit: MedicalBenefit, PriceSource: SourceCMSASP,
				// Neupogen label: 5 mcg/kg/day; commonly rounded to the 300 mcg syringe
				// (60 kg); 10 daily doses per chemotherapy cycle.
				DefaultDoseMg: 0.3, DefaultAdministrations: 10,
				DefaultsSource: "Neupogen label: 5 mcg/kg/day, rounded to the 300 mcg syringe; 10 days per cycle",
				Label: LabelBounds{MaxMgPerKg: 0.012, MaxDoseMg: 1.8, MinIntervalDays: 0.5, LabelledIntervalDays: 1, MaxAdministrations: 800,
					Source: "Neupogen label (1.8 mg: 12 mcg/kg at 150 kg): 5-10 mcg/kg/day; severe chronic neutropenia up to 6 mcg/kg twice daily (12 mcg/kg/day)"},
				SwitchRule: newStartsOnly,
				Notes:      []string{"Tbo-filgrastim (Granix, J1447) is a separate BLA, not a biosimilar, and is not a member."},
			},
			members: []memberDef{
				{"neupogen", "J1442", "Neupogen"},
				{"nivestym", "Q5110", "Nivestym"},
				{"nypozi", "Q5148", "Nypozi"},
				{"releuko", "Q5125", "Releuko"},
				{"zarxio", "Q5101", "Zarxio"},
			},
		},
		{
			group: Group{
				ID: "atorvastatin", Name: "Atorvastatin (oral tablet)",
				Benefit: PharmacyBenefit, PriceSource: SourceNADAC,
				// Lipitor label: 10-20 mg once daily starting dose (range 10-80 mg); a
				// 30-day supply is one fill.
				DefaultDoseMg: 10, DefaultAdministrations: 30,
				DefaultsSource: "Lipitor label: 10-20 mg once daily starting dose; a 30-day supply",
				AllowMidCourse: true,
				Label:          LabelBounds{MaxDailyMg: 80, Source: "Lipitor label: 10-80 mg once daily"},
				SwitchRule:     midCourseOK,
				Notes: []string{
					"Amlodipine/atorvastatin (Caduet) and ezetimibe combinations are not members.",
					"Retail prices are NADAC per-unit prices as summarised by a third party (CommunityMeds), dated 2025-12-24, not the CMS NADAC file; only the 10 mg tablet is priced, other strengths take the same per-tablet price (estimate).",
				},
			},
			members: []memberDef{
				{"lipitor", "LIPITOR", "Lipitor"},
				{"atorvastatin-generic", "ATORVASTATIN", "atorvastatin (generic)"},
			},
		},
	}
}
