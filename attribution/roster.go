// Package attribution reads a payer's attribution roster — which beneficiaries a value-based
// contract is accountable for, and when — and answers "which contract is this member attributed
// to on this day", by Medicare Beneficiary Identifier or by the plan's member id (the Coverage's
// subscriberId).
//
// # The CSV format
//
// UTF-8, comma-separated, one header line with exactly these columns, in any order:
//
//	member_id        the payer's identifier of the row's member (required; not used for lookups)
//	mbi              Medicare Beneficiary Identifier, CMS format (11 characters; dashes and case ignored)
//	plan_member_id   the plan's member id, as in Coverage.subscriberId
//	contract         the contract id the member is attributed to (required)
//	start            first day of attribution, YYYY-MM-DD (required)
//	end              last day of attribution, YYYY-MM-DD; empty: open-ended
//
// A row needs an mbi or a plan_member_id (or both). Lines starting with # are comments. A member
// may move between contracts, but two rows of the same member (same MBI or same plan member id)
// whose periods overlap are an error, since attribution must be unambiguous.
//
// # Da Vinci ATR lists
//
// ParseATR reads the same attribution from a Da Vinci Member Attribution (ATR) List: the ATR
// Group with the Patient and Coverage resources of the payer's export, as a FHIR Bundle or as
// NDJSON (atr.go says which element gives which column).
//
// # Versions
//
// Every roster carries a version: the SHA-256 of its bytes, so that a report names exactly which
// roster it used and two imports of the same file are the same version. A Store keeps the
// versions imported, each with the time it was imported; the latest is the default.
//
// Errors name line numbers and columns, never identifiers (they are PHI).
//
// The package is pure: it reads the io.Reader it is given and imports nothing of the project.
package attribution

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Entry is one attribution row.
type Entry struct {
	MemberID, MBI, PlanMemberID, Contract string
	Start, End                            time.Time // End zero: open-ended; both dates at 00:00 UTC
	Line                                  int
}

// Covers reports whether the entry is in force on day (00:00 UTC of a date).
func (e *Entry) Covers(day time.Time) bool {
	return !day.Before(e.Start) && (e.End.IsZero() || !day.After(e.End))
}

// Roster is one imported version.
type Roster struct {
	Version  string // "sha256:" + hex of the file's bytes
	Imported time.Time
	Entries  []Entry
	byMBI    map[string][]int
	byMember map[string][]int
}

// Header is the documented column set.
var Header = []string{"member_id", "mbi", "plan_member_id", "contract", "start", "end"}

// mbiRE: C A AN N A AN N A A N N, where A excludes S, L, O, I, B, Z (CMS MBI format).
var mbiRE = regexp.MustCompile(`^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$`)

// NormalizeMBI removes dashes and spaces and upper-cases; ok reports the CMS format.
func NormalizeMBI(s string) (string, bool) {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(s)))
	return s, mbiRE.MatchString(s)
}

// Parse reads a roster CSV. imported is recorded as the version's import time.
func Parse(r io.Reader, imported time.Time) (*Roster, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("attribution: read roster: %w", err)
	}
	sum := sha256.Sum256(data)
	ro := &Roster{Version: "sha256:" + hex.EncodeToString(sum[:]), Imported: imported, byMBI: map[string][]int{}, byMember: map[string][]int{}}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("attribution: roster header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(Header, h) {
			return nil, fmt.Errorf("attribution: roster header: unknown column %q (want %s)", h, strings.Join(Header, ","))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("attribution: roster header: column %q twice", h)
		}
		col[h] = i
	}
	if len(col) != len(Header) {
		return nil, fmt.Errorf("attribution: roster header has %d of the columns %s", len(col), strings.Join(Header, ","))
	}
	var errs []error
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A *csv.ParseError names the line and column; it does not quote the field.
			return nil, fmt.Errorf("attribution: roster: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(head) {
			errs = append(errs, fmt.Errorf("line %d: %d fields, want %d", line, len(rec), len(head)))
			continue
		}
		get := func(c string) string { return strings.TrimSpace(rec[col[c]]) }
		e := Entry{MemberID: get("member_id"), PlanMemberID: get("plan_member_id"), Contract: get("contract"), Line: line}
		if raw := get("mbi"); raw != "" {
			mbi, ok := NormalizeMBI(raw)
			if !ok {
				errs = append(errs, fmt.Errorf("line %d: mbi is not in the CMS MBI format", line))
				continue
			}
			e.MBI = mbi
		}
		var bad []string
		if e.MemberID == "" {
			bad = append(bad, "member_id is empty")
		}
		if e.MBI == "" && e.PlanMemberID == "" {
			bad = append(bad, "needs an mbi or a plan_member_id")
		}
		if e.Contract == "" {
			bad = append(bad, "contract is empty")
		}
		if e.Start, err = time.Parse(time.DateOnly, get("start")); err != nil {
			bad = append(bad, "start is not YYYY-MM-DD")
		}
		if s := get("end"); s != "" {
			if e.End, err = time.Parse(time.DateOnly, s); err != nil {
				bad = append(bad, "end is not YYYY-MM-DD")
			} else if e.End.Before(e.Start) {
				bad = append(bad, "end before start")
			}
		}
		if len(bad) > 0 {
			errs = append(errs, fmt.Errorf("line %d: %s", line, strings.Join(bad, "; ")))
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
	errs = append(errs, ro.overlaps(ro.byMBI, "mbi")...)
	errs = append(errs, ro.overlaps(ro.byMember, "plan_member_id")...)
	if len(errs) > 0 {
		if len(errs) > 20 {
			errs = append(errs[:20], fmt.Errorf("and %d more", len(errs)-20))
		}
		return nil, fmt.Errorf("attribution: roster: %w", errors.Join(errs...))
	}
	return ro, nil
}

func (ro *Roster) overlaps(index map[string][]int, what string) []error {
	var errs []error
	for _, rows := range index {
		for a := 0; a < len(rows); a++ {
			for b := a + 1; b < len(rows); b++ {
				x, y := &ro.Entries[rows[a]], &ro.Entries[rows[b]]
				if (x.End.IsZero() || !y.Start.After(x.End)) && (y.End.IsZero() || !x.Start.After(y.End)) {
					errs = append(errs, fmt.Errorf("lines %d and %d: the same %s in overlapping periods", x.Line, y.Line, what))
				}
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// Lookup returns the contract the member is attributed to on day: by MBI first, then by plan
// member id.
func (ro *Roster) Lookup(mbi, planMemberID string, day time.Time) (string, bool) {
	if mbi != "" {
		if n, ok := NormalizeMBI(mbi); ok {
			for _, i := range ro.byMBI[n] {
				if ro.Entries[i].Covers(day) {
					return ro.Entries[i].Contract, true
				}
			}
		}
	}
	if planMemberID != "" {
		for _, i := range ro.byMember[planMemberID] {
			if ro.Entries[i].Covers(day) {
				return ro.Entries[i].Contract, true
			}
		}
	}
	return "", false
}

// Store keeps the roster versions imported, latest last. It is safe for concurrent use.
type Store struct {
	mu       sync.RWMutex
	versions []*Roster
}

// Add records a version; importing a version already held returns the one held.
func (s *Store) Add(ro *Roster) *Roster {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.versions {
		if v.Version == ro.Version {
			return v
		}
	}
	s.versions = append(s.versions, ro)
	return ro
}

// Latest is the most recently imported version, nil when none.
func (s *Store) Latest() *Roster {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.versions) == 0 {
		return nil
	}
	return s.versions[len(s.versions)-1]
}

// Version returns the version with this id.
func (s *Store) Version(id string) (*Roster, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.versions {
		if v.Version == id {
			return v, true
		}
	}
	return nil, false
}

// Versions lists the versions held, oldest first.
func (s *Store) Versions() []*Roster {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.versions)
}
