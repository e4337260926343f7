package gateway

import (
	"testing"
	"time"

	"valuerx/cdshooks"
	"valuerx/demo"
	"valuerx/loadtest"
)

// TestPlainDateIsTimeParse: plainDate answers as time.Parse("2006-01-02", ...) for every date it
// reads, and every valid day of 1600-2400 (leap years and month ends included) is one it reads.
func TestPlainDateIsTimeParse(t *testing.T) {
	for d := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2400; d = d.AddDate(0, 0, 1) {
		s := d.Format("2006-01-02")
		got, ok := plainDate(s)
		if !ok || !got.Equal(d) || got != d {
			t.Fatalf("plainDate(%s) = %v %v", s, got, ok)
		}
	}
	for _, s := range []string{"2025-02-29", "2024-02-30", "2025-13-01", "2025-00-10", "2025-01-00", "2025-01-32", "0000-02-29",
		"0000-01-01", "9999-12-31", "2025/01/01", "2025-1-010", "+025-01-01", "2025-01-0a", " 025-01-01", "2025-04-31", "1900-02-29", "2000-02-29"} {
		checkPlainDate(t, s)
	}
}

func checkPlainDate(t *testing.T, s string) {
	got, ok := plainDate(s)
	want, err := time.Parse("2006-01-02", s)
	if ok && (err != nil || got != want) {
		t.Fatalf("plainDate(%q) = %v, time.Parse %v %v", s, got, want, err)
	}
}

func FuzzPlainDate(f *testing.F) {
	for _, s := range []string{"2025-06-01", "2024-02-29", "2023-02-29", "0000-02-29", "9999-12-31"} {
		f.Add(s)
	}
	f.Fuzz(checkPlainDate)
}

// BenchmarkTherapyHistory is the therapy history of a 500-entry prefetched history, classified as
// DecodeRequest classifies it.
func BenchmarkTherapyHistory(b *testing.B) {
	cat, _, _ := defaultScoring(b, 16)
	body, err := loadtest.SizedRequest(demo.Requests(), demo.Request, 1, 500)
	if err != nil {
		b.Fatal(err)
	}
	req, _, err := cdshooks.DecodeRequest(body, "")
	if err != nil {
		b.Fatal(err)
	}
	entries, _, ok := req.PrefetchClassified(keyMedications)
	if !ok || len(entries) != 500 {
		b.Fatalf("%d entries classified (%v)", len(entries), ok)
	}
	b.ReportAllocs()
	cpu := startCPU()
	n := 0
	for b.Loop() {
		if len(therapyHistory(cat, entries, nil)) == 0 {
			b.Fatal("no therapy")
		}
		n++
	}
	cpu.report(b, n)
}
