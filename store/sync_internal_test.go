package store

import (
	"path/filepath"
	"testing"
)

// The durability option reaches SQLite: synchronous is NORMAL (1) by default and FULL (2) with
// FullSync, on the writer connection that commits (store.synchronous in the configuration).
func TestSQLiteSynchronousOption(t *testing.T) {
	for full, want := range map[bool]int{false: 1, true: 2} {
		s, err := OpenSQLiteOptions(filepath.Join(t.TempDir(), "v.db"), SQLiteOptions{FullSync: full})
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := s.db.QueryRow("PRAGMA synchronous").Scan(&got); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got != want {
			t.Errorf("FullSync %v: PRAGMA synchronous = %d, want %d", full, got, want)
		}
	}
}
