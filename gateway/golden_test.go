package gateway

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"valuerx/demo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var compareRefRE = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/compare/[A-Za-z0-9_-]{75}`)

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normalise replaces what differs per call (uuids) with stable placeholders, numbered by first
// appearance, and indents for readable diffs.
func normalise(t *testing.T, body []byte) []byte {
	t.Helper()
	seen := map[string]string{}
	out := uuidRE.ReplaceAllFunc(body, func(u []byte) []byte {
		k := string(u)
		if _, ok := seen[k]; !ok {
			seen[k] = "uuid-" + string(rune('a'+len(seen)%26)) + strings.Repeat("'", len(seen)/26)
		}
		return []byte(seen[k])
	})
	// Comparison links carry a fresh signed reference per response.
	out = compareRefRE.ReplaceAll(out, []byte("{externalURL}/compare/{ref}"))
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// Whole requests and responses: every demo request against its golden response. Run
// `go test ./gateway -run Golden -update` after an intended change and review the diff.
func TestGolden(t *testing.T) {
	e := newEnv(t)
	for _, name := range demo.Requests() {
		t.Run(name, func(t *testing.T) {
			status, body, _ := e.post(serviceOf(name), e.demoRequest(name))
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			got := normalise(t, body)
			path := filepath.Join("testdata", "golden", name+".response.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("response differs from %s (run with -update if intended):\n%s", path, lineDiff(string(want), string(got)))
			}
		})
	}
}

func clip(s string, from int) string {
	if from > len(s) {
		return ""
	}
	s = s[from:]
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			// Long lines (the markdown detail) are shown around their first difference only.
			at := 0
			for at < len(wl) && at < len(gl) && wl[at] == gl[at] {
				at++
			}
			from := max(0, at-80)
			b.WriteString(fmt.Sprintf("line %d, byte %d:\n- %s\n+ %s\n", i+1, at, clip(wl, from), clip(gl, from)))
			if b.Len() > 4000 {
				break
			}
		}
	}
	return b.String()
}
