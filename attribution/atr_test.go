package attribution

import (
	"strings"
	"testing"
	"time"
)

// atrBundle is shaped on the Da Vinci ATR IG's Group "fullexample" (STU 2) with the Patients and
// Coverages its members refer to, as a $davinci-data-export returns them; identifiers invented.
const atrBundle = `{"resourceType":"Bundle","type":"collection","entry":[
 {"resource":{"resourceType":"Group","id":"fullexample",
  "extension":[{"url":"http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-contractValidityPeriod","valuePeriod":{"start":"2026-01-01","end":"2026-12-31"}},
               {"url":"http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-attributionListStatus","valueCode":"final"}],
  "identifier":[{"use":"official","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"NPI"}]},"system":"http://hl7.org/fhir/sid/us-npi","value":"9941339108"},
                {"use":"official","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"TAX"}]},"system":"https://sitenv.org","value":"789456231"},
                {"system":"https://payer.example/contracts","value":"mssp-aco"}],
  "active":true,"type":"person","actual":true,"name":"Test Group 3",
  "member":[
   {"extension":[{"url":"http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-changeType","valueCode":"new"},
                 {"url":"http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-coverageReference","valueReference":{"reference":"Coverage/1"}},
                 {"url":"http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-attributedProvider","valueReference":{"reference":"Practitioner/1"}}],
    "entity":{"reference":"Patient/1"},"period":{"start":"2026-03-01","end":"2026-09-30"},"inactive":false},
   {"extension":[{"url":"http://hl7.org/fhir/us/davinci-atr/StructureDefinition/ext-coverageReference","valueReference":{"reference":"Coverage/2"}}],
    "entity":{"reference":"Patient/2"}},
   {"entity":{"reference":"Patient/3"},"period":{"start":"2026-01-01"},"inactive":true},
   {"entity":{"reference":"Patient/4","identifier":{"system":"http://hl7.org/fhir/sid/us-mbi","value":"5KD9-EW3-FT66"}},"period":{"start":"2026-02-01"}}
  ]}},
 {"resource":{"resourceType":"Patient","id":"1","identifier":[{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1EG4TE5MK73"}]}},
 {"resource":{"resourceType":"Patient","id":"2","identifier":[{"system":"https://payer.example/mrn","value":"X1"}]}},
 {"resource":{"resourceType":"Coverage","id":"1","subscriberId":"AB3658"}},
 {"resource":{"resourceType":"Coverage","id":"2","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MB"}]},"value":"W998877"}]}},
 {"resource":{"resourceType":"Practitioner","id":"1"}}
]}`

func TestParseATR(t *testing.T) {
	ro, err := ParseATR(strings.NewReader(atrBundle), day("2026-10-02"), ATROptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Three active members: Patient/1 (MBI and plan id, own period), Patient/2 (plan id from the
	// Coverage's MB identifier, the contract's validity period), Patient/4 (MBI on the reference).
	if len(ro.Entries) != 3 || !strings.HasPrefix(ro.Version, "sha256:") {
		t.Fatalf("entries %+v version %q", ro.Entries, ro.Version)
	}
	for _, c := range []struct {
		mbi, member, day, want string
		ok                     bool
	}{
		{"1EG4TE5MK73", "", "2026-03-01", "mssp-aco", true}, // the Group's contract identifier, not its NPI or TIN
		{"", "AB3658", "2026-09-30", "mssp-aco", true},      // by the Coverage's subscriberId, last day
		{"1EG4TE5MK73", "", "2026-10-01", "", false},        // after the member's own period
		{"", "W998877", "2026-12-31", "mssp-aco", true},     // the contract validity period
		{"", "W998877", "2027-01-01", "", false},
		{"5KD9EW3FT66", "", "2026-02-01", "mssp-aco", true}, // open-ended, MBI from the reference
		{"", "", "2026-05-01", "", false},
	} {
		got, ok := ro.Lookup(c.mbi, c.member, day(c.day))
		if got != c.want || ok != c.ok {
			t.Errorf("Lookup(%q, %q, %s) = %q, %v; want %q, %v", c.mbi, c.member, c.day, got, ok, c.want, c.ok)
		}
	}
	// The same list as NDJSON (the export's files concatenated), with the contract named by the
	// importer: the same entries, under that contract, and another version (other bytes).
	nd := `{"resourceType":"Patient","id":"1","identifier":[{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1EG4TE5MK73"}]}
{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/1"},"period":{"start":"2026-01-01T00:00:00Z"}}]}
`
	ro2, err := ParseATR(strings.NewReader(nd), time.Now(), ATROptions{Contract: "ma-capitation"})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := ro2.Lookup("1EG4TE5MK73", "", day("2026-06-01")); !ok || got != "ma-capitation" || ro2.Version == ro.Version {
		t.Errorf("NDJSON list: %q %v %s", got, ok, ro2.Version)
	}
	var s Store
	s.Add(ro)
	s.Add(ro2)
	if s.Latest() != ro2 || len(s.Versions()) != 2 {
		t.Error("versions not kept")
	}
}

func TestParseATRErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"resourceType":"Patient","id":"1"}`, "no Group"},
		{`{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/1"},"period":{"start":"2026-01-01"}}]}`, "member 1: no MBI"},
		{`{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/1","identifier":{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1EG4TE5MK73"}}}]}`, "no member.period"},
		{`{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/1","identifier":{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1EG4TE5MK73"}},"period":{"start":"2026-05-01","end":"2026-04-01"}}]}`, "ends before it starts"},
		{`{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/1","identifier":{"system":"http://hl7.org/fhir/sid/us-mbi","value":"NOT-AN-MBI"}},"period":{"start":"2026-05-01"}}]}`, "not in the CMS MBI format"},
		{`{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/1","identifier":{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1EG4TE5MK73"}},"period":{"start":"2026-01-01"}},{"entity":{"reference":"Patient/9","identifier":{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1EG4TE5MK73"}},"period":{"start":"2026-06-01"}}]}`, "overlapping"},
		{`{"resourceType":"Group","member":"x"}`, "profile's types"},
		{"{\"resourceType\":\"Group\"\n", "line 1"},
	} {
		_, err := ParseATR(strings.NewReader(c.in), time.Now(), ATROptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60s: %v, want %q", c.in, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "1EG4TE5MK73") {
			t.Errorf("error names an MBI: %v", err)
		}
	}
}

// FuzzParseATR: any input is a roster or an error, never a panic; a roster's entries are complete
// and each is found by its own identifiers on its first day; no error quotes an MBI.
func FuzzParseATR(f *testing.F) {
	f.Add([]byte(atrBundle))
	f.Add([]byte(`{"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/1","identifier":{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1EG4TE5MK73"}},"period":{"start":"2026-01-01"}}]}`))
	f.Add([]byte("{\"resourceType\":\"Patient\",\"id\":\"1\"}\n{\"resourceType\":\"Group\",\"member\":[{\"entity\":{\"reference\":\"Patient/1\"}}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ro, err := ParseATR(strings.NewReader(string(data)), time.Now(), ATROptions{})
		if err != nil {
			if strings.Contains(err.Error(), "1EG4TE5MK73") {
				t.Fatalf("error quotes an MBI: %v", err)
			}
			return
		}
		for _, e := range ro.Entries {
			if e.Contract == "" || e.Start.IsZero() || (e.MBI == "" && e.PlanMemberID == "") || (!e.End.IsZero() && e.End.Before(e.Start)) {
				t.Fatalf("incomplete entry %+v", e)
			}
			if c, ok := ro.Lookup(e.MBI, e.PlanMemberID, e.Start); !ok || c == "" {
				t.Fatalf("entry %+v not found on its first day", e)
			}
		}
	})
}
