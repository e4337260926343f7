package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"valuerx/catalog"
)

// stringList is a repeatable flag (-from DIR -from DIR).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runCatalog dispatches `valuerx catalog import|diff`.
func runCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: valuerx catalog import -from DIR [-from DIR ...] -out FILE")
		fmt.Fprintln(stderr, "       valuerx catalog diff [-threshold PCT] [-json] OLD NEW")
		return 2
	}
	switch args[0] {
	case "import":
		return runCatalogImport(ctx, args[1:], stdout, stderr)
	case "diff":
		return runCatalogDiff(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "valuerx catalog: unknown subcommand %q (import, diff)\n", args[0])
	return 2
}

func runCatalogImport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("catalog import", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var from stringList
	fl.Var(&from, "from", "directory of agency and organisation files (repeatable; read recursively, each file recognised by its content)")
	out := fl.String("out", "", "snapshot file to write (.json, or .json.gz to compress)")
	asJSON := fl.Bool("json", false, "print the import report as JSON instead of text")
	reproducible := fl.Bool("reproducible", false, "date the snapshot by its newest payment limit file, not now: the same files give the same bytes (make catalog)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if len(from) == 0 || *out == "" || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: valuerx catalog import -from DIR [-from DIR ...] -out FILE")
		return 2
	}
	start := time.Now()
	created := time.Now()
	if *reproducible {
		created = time.Time{}
	}
	snap, rep, err := catalog.Import(from, created)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx catalog import:", err)
		return 1
	}
	if err := catalog.WriteFile(*out, snap); err != nil {
		fmt.Fprintln(stderr, "valuerx catalog import:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "valuerx catalog import:", err)
			return 1
		}
	} else if err := rep.WriteSummary(stdout, snap); err != nil {
		fmt.Fprintln(stderr, "valuerx catalog import:", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s (snapshot %s) in %s\n", *out, snap.Version, time.Since(start).Round(time.Millisecond))
	return 0
}

func runCatalogDiff(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("catalog diff", flag.ContinueOnError)
	fl.SetOutput(stderr)
	threshold := fl.Float64("threshold", 5, "report payment limits that moved by more than this many percent")
	asJSON := fl.Bool("json", false, "print JSON instead of text")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 2 || *threshold < 0 {
		fmt.Fprintln(stderr, "usage: valuerx catalog diff [-threshold PCT] [-json] OLD NEW")
		return 2
	}
	old, err := catalog.ReadFile(fl.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "valuerx catalog diff:", err)
		return 1
	}
	cur, err := catalog.ReadFile(fl.Arg(1))
	if err != nil {
		fmt.Fprintln(stderr, "valuerx catalog diff:", err)
		return 1
	}
	ch := catalog.Diff(old, cur, *threshold)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ch); err != nil {
			fmt.Fprintln(stderr, "valuerx catalog diff:", err)
			return 1
		}
		return 0
	}
	if err := ch.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, "valuerx catalog diff:", err)
		return 1
	}
	return 0
}
