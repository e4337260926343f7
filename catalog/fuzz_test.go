package catalog

import (
	"bytes"
	"os"
	"testing"

	"valuerx/scoring"
)

// The fuzz targets feed every parser arbitrary bytes seeded with the first KiB of a real file:
// none may panic or hang, and whatever a parser accepts must be internally consistent.

func seed(f *testing.F, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	if len(b) > 4096 {
		b = b[:4096]
	}
	f.Add(b)
}

func FuzzParsePaymentLimits(f *testing.F) {
	seed(f, limits2026Q1)
	f.Add([]byte("\"Effective January 1, 2026 through March 31, 2026\"\nHCPCS Code,Short Description,HCPCS Code Dosage,Payment Limit,Co-insurance Percentage\nJ9355,x,10 MG,1e400,20\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := ParsePaymentLimits(bytes.NewReader(b), "f")
		if err != nil {
			return
		}
		if pf.Period.End.Before(pf.Period.Start) {
			t.Fatalf("period ends before it starts: %+v", pf.Period)
		}
		for _, r := range pf.Rows {
			if !(r.Limit > 0) || r.Coinsurance < 0 || r.Coinsurance > 100 || !isHCPCS(r.HCPCS) {
				t.Fatalf("accepted a bad row %+v", r)
			}
		}
	})
}

func FuzzParseCrosswalk(f *testing.F) {
	seed(f, xwalk2026Q1)
	seed(f, xwalk2024Q2)
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseCrosswalk(bytes.NewReader(b), "f")
		if err != nil {
			return
		}
		for _, r := range x.Rows {
			if !(r.BillUnits > 0) || !(r.BillUnitsPkg > 0) || len(r.NDC11) != 11 || r.PkgQty < 1 {
				t.Fatalf("accepted a bad row %+v", r)
			}
		}
	})
}

func FuzzParsePurpleBook(f *testing.F) {
	seed(f, purpleFile)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePurpleBook(bytes.NewReader(b), "f")
		if err != nil {
			return
		}
		for _, r := range p.Rows {
			if r.BLA == "" || r.Proprietary == "" {
				t.Fatalf("accepted a row without BLA or name %+v", r)
			}
			_ = parseItemStrengths(r.Strength)
		}
	})
}

func FuzzParseOrangeBook(f *testing.F) {
	seed(f, orangeFile)
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOrangeBook(bytes.NewReader(b), "f")
		if err != nil {
			return
		}
		for _, r := range o.Rows {
			_ = parseItemStrengths(r.Strength)
		}
	})
}

func FuzzParseAcquisitionCosts(f *testing.F) {
	f.Add([]byte("ndc,period_start,period_end,cost_per_package,source\n00069-0305-01,2026-01-01,2026-03-31,1000,invoice\n"))
	f.Add([]byte("hcpcs,period_start,period_end,cost_per_billing_unit,source\nQ5117,2026-01-01,,45.1,GPO\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAcquisitionCosts(bytes.NewReader(b), "f")
		if err != nil {
			return
		}
		for _, r := range a.Rows {
			if (r.PerUnit > 0) == (r.PerPackage > 0) || r.Source == "" || (!r.End.IsZero() && r.End.Before(r.Start)) {
				t.Fatalf("accepted a bad row %+v", r)
			}
		}
	})
}

func FuzzDetect(f *testing.F) {
	seed(f, limits2026Q1)
	seed(f, purpleFile)
	seed(f, orangeFile)
	f.Fuzz(func(t *testing.T, b []byte) { _ = detectAll(b) })
}

// FuzzDecodeSnapshot holds the snapshot decoder: it refuses or accepts, never panics, and what it
// accepts is of the known format and builds a catalog or is refused by NewCatalog with an error.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(`{"format":1,"version":"x"}`))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		if s.Format != scoring.SnapshotFormat {
			t.Fatalf("accepted format %d", s.Format)
		}
		_, _ = scoring.NewCatalog(s)
	})
}
