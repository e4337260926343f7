package clinical

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps the package pure (doc.go): its own files import only these parts of the
// standard library, so no HTTP, file, logging or clock dependency, and nothing
// of valuerx, can creep in. `make imports` checks the transitive set.
func TestPureImports(t *testing.T) {
	allowed := map[string]bool{"encoding/json": true, "errors": true, "fmt": true, "math": true,
		"sort": true, "strconv": true, "strings": true, "time": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
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
			if !allowed[p] {
				t.Errorf("%s imports %s: clinical imports only the standard library's pure packages", f, p)
			}
		}
		checked++
	}
	if checked < 4 {
		t.Fatalf("checked only %d files", checked)
	}
}
