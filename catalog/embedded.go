package catalog

import (
	"bytes"
	_ "embed"
	"fmt"

	"valuerx/scoring"
)

// embeddedSnapshot is the snapshot `make catalog` imports from catalog/data (agency copies and
// supplementary inputs). TestEmbeddedSnapshotCurrent fails when it is older than those files.
//
//go:embed data/snapshot.json.gz
var embeddedSnapshot []byte

// EmbeddedDirs are the directories the embedded snapshot is imported from, relative to the
// module root (what `make catalog` passes to -from).
var EmbeddedDirs = []string{"catalog/data/agency", "catalog/data/supplementary"}

// Embedded returns the snapshot built into the binary, decoded and checked like any other.
func Embedded() (*scoring.Snapshot, error) {
	s, err := Decode(bytes.NewReader(embeddedSnapshot))
	if err != nil {
		return nil, fmt.Errorf("catalog: embedded snapshot: %w", err)
	}
	return s, nil
}
