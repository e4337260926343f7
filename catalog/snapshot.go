package catalog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"valuerx/scoring"
)

// maxSnapshotBytes bounds a snapshot file (compressed or not) and its decompressed JSON.
const maxSnapshotBytes = 256 << 20

// Encode writes the snapshot as JSON, gzip-compressed when gz is set.
func Encode(w io.Writer, s *scoring.Snapshot, gz bool) error {
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(w)
		w = zw
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("catalog: encode snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("catalog: write snapshot: %w", err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("catalog: write snapshot: %w", err)
		}
	}
	return nil
}

// WriteFile writes the snapshot to path atomically (a temporary file in the same directory,
// synced, then renamed), so that a gateway watching the file never reads half of it. A path
// ending in .gz is gzip-compressed.
func WriteFile(path string, s *scoring.Snapshot) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("catalog: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := Encode(tmp, s, strings.HasSuffix(path, ".gz")); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("catalog: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("catalog: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("catalog: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("catalog: write %s: %w", path, err)
	}
	return nil
}

// Decode reads a snapshot (JSON, gzip-compressed or not) and checks that it is whole: the
// format is known, no field is unknown, nothing follows the JSON value, and the content hashes
// to the version it claims (a truncated, edited or half-written file is refused).
func Decode(r io.Reader) (*scoring.Snapshot, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSnapshotBytes+1))
	if err != nil {
		return nil, fmt.Errorf("catalog: read snapshot: %w", err)
	}
	if len(b) > maxSnapshotBytes {
		return nil, errors.New("catalog: snapshot larger than 256 MiB")
	}
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("catalog: snapshot: %w", err)
		}
		if b, err = io.ReadAll(io.LimitReader(zr, maxSnapshotBytes+1)); err != nil {
			return nil, fmt.Errorf("catalog: snapshot: gzip: %w", err)
		}
		if len(b) > maxSnapshotBytes {
			return nil, errors.New("catalog: snapshot larger than 256 MiB uncompressed")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s scoring.Snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("catalog: snapshot is not a valid snapshot JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("catalog: snapshot: data after the JSON value")
	}
	if s.Format != scoring.SnapshotFormat {
		return nil, fmt.Errorf("catalog: snapshot format %d, this build reads %d", s.Format, scoring.SnapshotFormat)
	}
	if v := rawVersion(b, &s); v != s.Version {
		return nil, fmt.Errorf("catalog: snapshot claims version %q but its content hashes to %q: edited or incomplete", s.Version, v)
	}
	return &s, nil
}

// rawVersion hashes the snapshot's bytes as written, with its version and creation time blanked,
// which is what Version hashed when the snapshot was encoded. Hashing the bytes rather than a
// re-encoding keeps a snapshot valid for a build whose scoring types gained fields since.
func rawVersion(b []byte, s *scoring.Snapshot) string {
	v, _ := json.Marshal(s.Version)
	c, _ := json.Marshal(s.Created)
	z, _ := json.Marshal(time.Time{})
	b = bytes.Replace(b, append([]byte(`"version":`), v...), []byte(`"version":""`), 1)
	b = bytes.Replace(b, append([]byte(`"created":`), c...), append([]byte(`"created":`), z...), 1)
	b = bytes.TrimRight(b, "\n")
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// ReadFile reads and checks a snapshot file.
func ReadFile(path string) (*scoring.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer f.Close()
	s, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return s, nil
}

// Load reads a snapshot file and builds its catalog; either fails whole.
func Load(path string) (*scoring.Snapshot, *scoring.Catalog, error) {
	s, err := ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	c, err := scoring.NewCatalog(s)
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: %s: %w", path, err)
	}
	return s, c, nil
}
