package csvcell_test

import (
	"bytes"
	"encoding/csv"
	"testing"

	"valuerx/csvcell"
)

func TestSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"mssp-aco", "mssp-aco"},
		{"Practitioner/dr-07", "Practitioner/dr-07"},
		{"-12.50", "-12.50"},
		{"1241.68", "1241.68"},
		{"0", "0"},
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1+1", "'-1+1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"\n=1+1", "'\n=1+1"},
		{"＝1+1", "'＝1+1"},
		{"＋1", "'＋1"},
		{"－1", "'－1"},
		{"＠SUM(A1)", "'＠SUM(A1)"},
		{"+Inf", "'+Inf"},
		{"-Inf", "'-Inf"},
		{"-0x1p3", "'-0x1p3"},
		{"-1e9", "'-1e9"},
		{"-1_000", "'-1_000"},
		{"+12", "'+12"},
		{"  =1+1", "'  =1+1"},
		{" 12", " 12"},
		{"a=1", "a=1"},
	} {
		if got := csvcell.Safe(tc.in); got != tc.want {
			t.Errorf("Safe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWriter: every cell of every record goes through Safe, and the record passed is unchanged.
func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := csvcell.NewWriter(&b)
	rec := []string{"=HYPERLINK(\"x\")", "-3.25", "\n@x"}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&b).Read()
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "'=HYPERLINK(\"x\")" || got[1] != "-3.25" || got[2] != "'\n@x" || rec[0] != "=HYPERLINK(\"x\")" {
		t.Fatalf("got %q (passed %q)", got, rec)
	}
}
