package scoring

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps the domain core pure (architecture.md): no HTTP, no
// logging, no file or process access, no FHIR and no other valuerx package.
// (`go list -deps ./scoring` shows the transitive set; this guards the
// package's own imports in every build.)
func TestPureImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"net/http", "net", "log", "log/slog", "os", "os/exec", "github.com/samply/golang-fhir-models", "github.com/google/fhir"}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "valuerx" || strings.HasPrefix(p, "valuerx/") {
				t.Errorf("%s imports %s: scoring imports nothing from the project", f, p)
			}
			for _, bad := range forbidden {
				if p == bad || strings.HasPrefix(p, bad+"/") && bad != "net" && bad != "os" && bad != "log" {
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
		checked++
	}
	if checked < 8 {
		t.Fatalf("checked only %d files", checked)
	}
}
