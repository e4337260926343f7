package attribution

import (
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

const sample = `# ACO REACH roster, Oct 2026
member_id,mbi,plan_member_id,contract,start,end
M1,1EG4-TE5-MK73,,mssp-aco,2026-01-01,2026-06-30
M1,1EG4TE5MK73,,ma-cap,2026-07-01,
M2,,W123456789,ma-cap,2026-03-01,2026-12-31
`

func TestParseAndLookup(t *testing.T) {
	ro, err := Parse(strings.NewReader(sample), day("2026-10-02"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ro.Entries) != 3 || !strings.HasPrefix(ro.Version, "sha256:") || len(ro.Version) != 71 {
		t.Fatalf("entries %d version %q", len(ro.Entries), ro.Version)
	}
	cases := []struct {
		mbi, member, day, want string
		ok                     bool
	}{
		{"1EG4TE5MK73", "", "2026-03-15", "mssp-aco", true},
		{"1eg4-te5-mk73", "", "2026-06-30", "mssp-aco", true}, // last day, any spelling
		{"1EG4TE5MK73", "", "2026-07-01", "ma-cap", true},     // moved contract
		{"1EG4TE5MK73", "", "2030-01-01", "ma-cap", true},     // open-ended
		{"1EG4TE5MK73", "", "2025-12-31", "", false},          // before attribution
		{"", "W123456789", "2026-03-01", "ma-cap", true},      // by plan member id
		{"9AA9AA9AA99", "W123456789", "2026-04-01", "ma-cap", true},
		{"", "W123456789", "2027-01-01", "", false},
		{"not-an-mbi", "", "2026-03-01", "", false},
	}
	for _, c := range cases {
		got, ok := ro.Lookup(c.mbi, c.member, day(c.day))
		if got != c.want || ok != c.ok {
			t.Errorf("Lookup(%q, %q, %s) = %q %v, want %q %v", c.mbi, c.member, c.day, got, ok, c.want, c.ok)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"unknown column", "member_id,mbi,plan_member_id,contract,start,end,extra\n", `unknown column "extra"`},
		{"missing column", "member_id,mbi,contract,start,end\n", "has 5 of the columns"},
		{"bad MBI", "member_id,mbi,plan_member_id,contract,start,end\nM1,1SG4TE5MK73,,c,2026-01-01,\n", "line 2: mbi is not in the CMS MBI format"},
		{"no identifier", "member_id,mbi,plan_member_id,contract,start,end\nM1,,,c,2026-01-01,\n", "line 2: needs an mbi or a plan_member_id"},
		{"dates", "member_id,mbi,plan_member_id,contract,start,end\nM1,,W1,c,2026-13-01,2025-01-01\nM2,,W2,c,2026-02-01,2026-01-01\n", "line 3: end before start"},
		{"overlap", "member_id,mbi,plan_member_id,contract,start,end\nM1,1EG4TE5MK73,,a,2026-01-01,2026-06-30\nM1,1EG4TE5MK73,,b,2026-06-30,\n", "lines 2 and 3: the same mbi in overlapping periods"},
		{"field count", "member_id,mbi,plan_member_id,contract,start,end\nM1,x\n", "line 2: 2 fields, want 6"},
	}
	for _, c := range cases {
		_, err := Parse(strings.NewReader(c.in), time.Time{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "1EG4TE5MK73") {
			t.Errorf("%s: the error quotes an MBI: %v", c.name, err)
		}
	}
}

func TestStoreVersions(t *testing.T) {
	var s Store
	a, _ := Parse(strings.NewReader(sample), day("2026-10-01"))
	b, _ := Parse(strings.NewReader(sample+"M3,,W9,c,2026-01-01,\n"), day("2026-11-01"))
	again, _ := Parse(strings.NewReader(sample), day("2026-12-01"))
	s.Add(a)
	s.Add(b)
	if got := s.Add(again); got != a {
		t.Error("re-importing the same bytes made a new version")
	}
	if s.Latest() != b || len(s.Versions()) != 2 {
		t.Errorf("latest %v, %d versions", s.Latest().Version, len(s.Versions()))
	}
	if v, ok := s.Version(a.Version); !ok || v != a {
		t.Error("version lookup")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("member_id,mbi,plan_member_id,contract,start,end\n\"M1\n")
	f.Fuzz(func(t *testing.T, in string) {
		ro, err := Parse(strings.NewReader(in), time.Time{})
		if err != nil {
			return
		}
		for _, e := range ro.Entries {
			if e.Contract == "" || (e.MBI == "" && e.PlanMemberID == "") || (!e.End.IsZero() && e.End.Before(e.Start)) {
				t.Fatalf("accepted a bad entry %+v", e)
			}
			if got, ok := ro.Lookup(e.MBI, e.PlanMemberID, e.Start); !ok || got == "" {
				t.Fatalf("entry not found on its first day: %+v", e)
			}
		}
	})
}
