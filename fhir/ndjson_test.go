package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t testing.TB, in string, max int) (lines []string, errs []int) {
	r := NewNDJSONReader(strings.NewReader(in), max)
	for i := 0; ; i++ {
		if i > len(in)+2 {
			t.Fatalf("reader does not end")
		}
		b, err := r.Next()
		if err == io.EOF {
			return lines, errs
		}
		var ne *NDJSONError
		if errors.As(err, &ne) {
			errs = append(errs, ne.Line)
			continue
		}
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		lines = append(lines, string(b))
	}
}

func TestNDJSONReader(t *testing.T) {
	long := `{"resourceType":"Patient","id":"` + strings.Repeat("x", 200000) + `"}`
	cases := []struct {
		name  string
		in    string
		max   int
		lines []string
		errs  []int
	}{
		{"two lines", "{\"a\":1}\n{\"b\":2}\n", 0, []string{`{"a":1}`, `{"b":2}`}, nil},
		{"no final newline, CRLF, blank lines, BOM", "\xef\xbb\xbf{\"a\":1}\r\n\n  \n{\"b\":2}", 0, []string{`{"a":1}`, `{"b":2}`}, nil},
		{"not an object", "[1,2]\n{\"a\":1}\n42\n", 0, []string{`{"a":1}`}, []int{1, 3}},
		{"a line longer than the buffer but within the limit", long + "\n{\"b\":2}\n", 0, []string{long, `{"b":2}`}, nil},
		{"a line over the limit is skipped", long + "\n{\"b\":2}\n", 100000, []string{`{"b":2}`}, []int{1}},
		{"a last line over the limit", "{\"b\":2}\n" + long, 100000, []string{`{"b":2}`}, []int{2}},
		{"empty", "", 0, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines, errs := readAll(t, c.in, c.max)
			if strings.Join(lines, "|") != strings.Join(c.lines, "|") || len(errs) != len(c.errs) {
				t.Fatalf("lines %d %q errs %v, want %d lines, errs %v", len(lines), trunc(lines), errs, len(c.lines), c.errs)
			}
			for i := range errs {
				if errs[i] != c.errs[i] {
					t.Fatalf("error lines %v, want %v", errs, c.errs)
				}
			}
		})
	}
	// The error names the line, never its content.
	_, err := NewNDJSONReader(strings.NewReader(`"Jane Doe 1950-01-01"`), 0).Next()
	if err == nil || strings.Contains(err.Error(), "Jane") || !errors.Is(err, ErrNDJSONNotObject) {
		t.Fatalf("error %v", err)
	}
}

func trunc(s []string) []string {
	out := make([]string, len(s))
	for i, l := range s {
		if len(l) > 40 {
			l = l[:40] + "..."
		}
		out[i] = l
	}
	return out
}

// FuzzNDJSONReader: on any input the reader ends, never panics, returns only trimmed lines that
// start with '{' and end with '}' and contain no newline, and returns every line that is a JSON
// object (as bytes.Split on newlines sees them).
func FuzzNDJSONReader(f *testing.F) {
	for _, s := range []string{"{\"a\":1}\n{\"b\":2}", "\xef\xbb\xbf{}\r\n\n[]\n", "{", "}\n{", strings.Repeat("{\"x\":1}", 50), ""} {
		f.Add([]byte(s), 64)
	}
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = max%512 + 8
		if max < 8 {
			max = -max + 8
		}
		r := NewNDJSONReader(bytes.NewReader(in), max)
		var got [][]byte
		for i := 0; ; i++ {
			if i > len(in)+2 {
				t.Fatal("reader does not end")
			}
			b, err := r.Next()
			if err == io.EOF {
				break
			}
			var ne *NDJSONError
			if err != nil && !errors.As(err, &ne) {
				t.Fatalf("error %v", err)
			}
			if err != nil {
				continue
			}
			if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' || bytes.ContainsRune(b, '\n') || len(b) > max {
				t.Fatalf("returned %q", b)
			}
			got = append(got, append([]byte(nil), b...))
		}
		j := 0 // got also holds framed lines that are not valid JSON: find each object in order
		for i, l := range bytes.Split(in, []byte("\n")) {
			if i == 0 {
				l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
			}
			raw := len(l) // the limit is on the line's bytes as read (a BOM excluded), spaces included
			l = bytes.TrimSpace(l)
			if raw <= max && json.Valid(l) && len(l) > 0 && l[0] == '{' {
				for j < len(got) && !bytes.Equal(got[j], l) {
					j++
				}
				if j == len(got) {
					t.Fatalf("object line %q not returned in order", l)
				}
				j++
			}
		}
	})
}
