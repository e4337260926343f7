package attribution

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// # Da Vinci ATR Member Attribution Lists
//
// ParseATR reads the payer's attribution list as the HL7 Da Vinci Member Attribution (ATR) List
// IG publishes it (STU 2, hl7.org/fhir/us/davinci-atr): a Group resource of the ATR Group profile
// whose members are the attributed patients, with the Patient and Coverage resources the Group
// refers to, as a $davinci-data-export returns them. It accepts either a FHIR JSON Bundle holding
// them (or a lone Group), or NDJSON of the export's files concatenated (Group, Patient, Coverage,
// in any order; other resource types are skipped).
//
// For each Group.member that is not inactive:
//
//	mbi             the member Patient's identifier of system http://hl7.org/fhir/sid/us-mbi (or the
//	                member reference's own identifier of that system, when the Patient is absent)
//	plan_member_id  the member's Coverage (extension ext-coverageReference) subscriberId, else its
//	                identifier of type MB (v2-0203 "Member Number")
//	contract        the contract the caller names (ATROptions.Contract), else the Group's identifier
//	                that is not an NPI or TIN (the contract's own id), else Group.name, else Group.id
//	start, end      member.period, else the Group's ext-contractValidityPeriod
//	member_id       the member reference (Patient/{id})
//
// A member needs an MBI or a plan member id and a start date; errors name the Group's member by
// position, never an identifier. A list is a roster version like a CSV one: the SHA-256 of the
// bytes read, the same rules on overlapping periods, the same Lookup.

// ATR extension URLs (Da Vinci ATR STU 2).
const (
	atrBase                = "http://hl7.org/fhir/us/davinci-atr/StructureDefinition/"
	extCoverageReference   = atrBase + "ext-coverageReference"
	extContractValidity    = atrBase + "ext-contractValidityPeriod"
	systemMBI              = "http://hl7.org/fhir/sid/us-mbi"
	systemNPI              = "http://hl7.org/fhir/sid/us-npi"
	identifierTypeSystem   = "http://terminology.hl7.org/CodeSystem/v2-0203"
	maxATRBytes            = 1 << 30
	maxATRLine             = 1 << 24 // an NDJSON line: a Group of several hundred thousand members fits
	atrTooManyErrorsToList = 20
)

// ATROptions: Contract names the contract the Group's members are attributed to ("" to read it
// from the Group).
type ATROptions struct {
	Contract string
}

type atrIdentifier struct {
	Use    string `json:"use"`
	System string `json:"system"`
	Value  string `json:"value"`
	Type   struct {
		Coding []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"coding"`
	} `json:"type"`
}

func (id atrIdentifier) hasType(code string) bool {
	for _, c := range id.Type.Coding {
		if c.System == identifierTypeSystem && c.Code == code {
			return true
		}
	}
	return false
}

type atrReference struct {
	Reference  string         `json:"reference"`
	Identifier *atrIdentifier `json:"identifier"`
}

type atrPeriod struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type atrExtension struct {
	URL            string        `json:"url"`
	ValueReference *atrReference `json:"valueReference"`
	ValuePeriod    *atrPeriod    `json:"valuePeriod"`
}

type atrGroup struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Identifier   []atrIdentifier `json:"identifier"`
	Extension    []atrExtension  `json:"extension"`
	Member       []struct {
		Extension []atrExtension `json:"extension"`
		Entity    atrReference   `json:"entity"`
		Period    *atrPeriod     `json:"period"`
		Inactive  bool           `json:"inactive"`
	} `json:"member"`
}

type atrPatient struct {
	ID         string          `json:"id"`
	Identifier []atrIdentifier `json:"identifier"`
}

type atrCoverage struct {
	ID           string          `json:"id"`
	SubscriberID string          `json:"subscriberId"`
	Identifier   []atrIdentifier `json:"identifier"`
}

// atrSet is what a list's bytes hold: Groups, and Patients and Coverages by id.
type atrSet struct {
	groups    []atrGroup
	patients  map[string]atrPatient
	coverages map[string]atrCoverage
}

func (s *atrSet) add(raw json.RawMessage) error {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return errors.New("not a FHIR resource")
	}
	switch head.ResourceType {
	case "Group":
		var g atrGroup
		if err := json.Unmarshal(raw, &g); err != nil {
			return errors.New("Group does not match the ATR Group profile's types")
		}
		s.groups = append(s.groups, g)
	case "Patient":
		var p atrPatient
		if json.Unmarshal(raw, &p) == nil && p.ID != "" {
			s.patients[p.ID] = p
		}
	case "Coverage":
		var c atrCoverage
		if json.Unmarshal(raw, &c) == nil && c.ID != "" {
			s.coverages[c.ID] = c
		}
	case "Bundle":
		var b struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return errors.New("Bundle entries do not parse")
		}
		for i, e := range b.Entry {
			if len(e.Resource) == 0 {
				continue
			}
			if err := s.add(e.Resource); err != nil {
				return fmt.Errorf("Bundle entry %d: %w", i+1, err)
			}
		}
	}
	return nil
}

// ParseATR reads a Da Vinci ATR Member Attribution List (see above). imported is recorded as the
// version's import time.
func ParseATR(r io.Reader, imported time.Time, opt ATROptions) (*Roster, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxATRBytes+1))
	if err != nil {
		return nil, fmt.Errorf("attribution: read ATR list: %w", err)
	}
	if len(data) > maxATRBytes {
		return nil, errors.New("attribution: ATR list larger than 1 GiB")
	}
	sum := sha256.Sum256(data)
	set := &atrSet{patients: map[string]atrPatient{}, coverages: map[string]atrCoverage{}}
	body := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if json.Valid(body) {
		if err := set.add(body); err != nil {
			return nil, fmt.Errorf("attribution: ATR list: %w", err)
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, maxATRLine)
		for line := 1; sc.Scan(); line++ {
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			if err := set.add(b); err != nil {
				return nil, fmt.Errorf("attribution: ATR list line %d: %w", line, err)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("attribution: ATR list: %w", err)
		}
	}
	if len(set.groups) == 0 {
		return nil, errors.New("attribution: ATR list has no Group resource")
	}
	ro := &Roster{Version: "sha256:" + hex.EncodeToString(sum[:]), Imported: imported, byMBI: map[string][]int{}, byMember: map[string][]int{}}
	var errs []error
	n := 0
	for gi, g := range set.groups {
		contract := opt.Contract
		if contract == "" {
			contract = groupContract(g)
		}
		if contract == "" {
			errs = append(errs, fmt.Errorf("Group %d: no contract: name it (-roster-contract) or give the Group an identifier or name", gi+1))
			continue
		}
		var validity *atrPeriod
		for _, x := range g.Extension {
			if x.URL == extContractValidity && x.ValuePeriod != nil {
				validity = x.ValuePeriod
			}
		}
		for mi, m := range g.Member {
			n++
			if m.Inactive {
				continue // no longer attributed (ATR: member.inactive)
			}
			where := fmt.Sprintf("Group %d member %d", gi+1, mi+1)
			e := Entry{Contract: contract, MemberID: m.Entity.Reference, Line: n}
			if e.MemberID == "" && m.Entity.Identifier != nil {
				e.MemberID = "identifier"
			}
			pid := refID(m.Entity.Reference, "Patient")
			if p, ok := set.patients[pid]; ok && pid != "" {
				for _, id := range p.Identifier {
					if id.System == systemMBI && e.MBI == "" {
						e.MBI = id.Value
					}
				}
			}
			if e.MBI == "" && m.Entity.Identifier != nil && m.Entity.Identifier.System == systemMBI {
				e.MBI = m.Entity.Identifier.Value
			}
			if e.MBI != "" {
				mbi, ok := NormalizeMBI(e.MBI)
				if !ok {
					errs = append(errs, fmt.Errorf("%s: the MBI is not in the CMS MBI format", where))
					continue
				}
				e.MBI = mbi
			}
			for _, x := range m.Extension {
				if x.URL != extCoverageReference || x.ValueReference == nil {
					continue
				}
				if c, ok := set.coverages[refID(x.ValueReference.Reference, "Coverage")]; ok {
					e.PlanMemberID = strings.TrimSpace(c.SubscriberID)
					for _, id := range c.Identifier {
						if e.PlanMemberID == "" && id.hasType("MB") {
							e.PlanMemberID = strings.TrimSpace(id.Value)
						}
					}
				}
			}
			period := m.Period
			if period == nil || period.Start == "" {
				period = validity
			}
			var bad []string
			if e.MemberID == "" {
				bad = append(bad, "member.entity has no reference")
			}
			if e.MBI == "" && e.PlanMemberID == "" {
				bad = append(bad, "no MBI (Patient identifier) and no plan member id (Coverage subscriberId): include the export's Patient and Coverage resources")
			}
			if period == nil || period.Start == "" {
				bad = append(bad, "no member.period and no ext-contractValidityPeriod")
			} else {
				if e.Start, err = fhirDate(period.Start); err != nil {
					bad = append(bad, "period start is not a FHIR date")
				}
				if period.End != "" {
					if e.End, err = fhirDate(period.End); err != nil {
						bad = append(bad, "period end is not a FHIR date")
					} else if e.End.Before(e.Start) {
						bad = append(bad, "period ends before it starts")
					}
				}
			}
			if len(bad) > 0 {
				errs = append(errs, fmt.Errorf("%s: %s", where, strings.Join(bad, "; ")))
				continue
			}
			i := len(ro.Entries)
			ro.Entries = append(ro.Entries, e)
			if e.MBI != "" {
				ro.byMBI[e.MBI] = append(ro.byMBI[e.MBI], i)
			}
			if e.PlanMemberID != "" {
				ro.byMember[e.PlanMemberID] = append(ro.byMember[e.PlanMemberID], i)
			}
		}
	}
	errs = append(errs, ro.overlaps(ro.byMBI, "mbi")...)
	errs = append(errs, ro.overlaps(ro.byMember, "plan_member_id")...)
	if len(errs) > 0 {
		if len(errs) > atrTooManyErrorsToList {
			errs = append(errs[:atrTooManyErrorsToList], fmt.Errorf("and %d more", len(errs)-atrTooManyErrorsToList))
		}
		return nil, fmt.Errorf("attribution: ATR list: %w", errors.Join(errs...))
	}
	return ro, nil
}

// groupContract is the contract a Group names: an identifier that is not the provider's NPI or
// TIN, else its name, else its id.
func groupContract(g atrGroup) string {
	for _, id := range g.Identifier {
		if id.Value != "" && id.System != systemNPI && !id.hasType("NPI") && !id.hasType("TAX") {
			return strings.TrimSpace(id.Value)
		}
	}
	if s := strings.TrimSpace(g.Name); s != "" {
		return s
	}
	return strings.TrimSpace(g.ID)
}

// refID is the id of a reference to a resource of type typ ("Patient/1", "https://x/Patient/1",
// "Patient/1/_history/2"); "" otherwise.
func refID(ref, typ string) string {
	i := strings.LastIndex(ref, typ+"/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return ""
	}
	id := ref[i+len(typ)+1:]
	if j := strings.IndexByte(id, '/'); j >= 0 {
		id = id[:j]
	}
	return id
}

// fhirDate reads a FHIR date or dateTime as its calendar date (00:00 UTC).
func fhirDate(s string) (time.Time, error) {
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10]
	}
	return time.Parse(time.DateOnly, s)
}
