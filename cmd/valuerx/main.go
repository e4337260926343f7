// Command valuerx is the valuerx CDS Hooks gateway and its tools.
//
//	valuerx serve   [-config file.yaml]            run the gateway (embedded demo defaults without a file)
//	valuerx send    [-url base] REQUEST            fire a hook request (a demo name or a JSON file) and print the cards
//	valuerx token   [-aud url]                     mint a development-client JWT
//	valuerx load    [flags]                        drive a running valuerx with signed hooks and report latency
//	valuerx catalog import -from DIR -out FILE     build a catalog snapshot from the agencies' files
//	valuerx catalog diff OLD NEW                   what changed between two snapshots
//	valuerx measures -from DIR -year Y -out DIR    PQA adherence and SUPD rates and a worklist from a Bulk Data export
//	valuerx synth   -out DIR [-patients N]         write a synthetic year of fills as a Bulk Data export
//	valuerx import administrations|claims -config f.yaml -issuer ISS -from FILE   realised savings: administrations (NDJSON) and paid claims (CSV)
//	valuerx divergence -config f.yaml              compute pending divergence for a store
//	valuerx hash-password [-cost 12] < password    bcrypt hash for analytics.accounts[].passwordHash
//
// The conformance suite is its own command, valuerx-conform (see its package documentation).
//
// This is the only package that reads flags, files and the environment; everything else gets values.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the gateway", runServe},
		{"send", "send a hook request (demo name or file) and print the cards", runSend},
		{"token", "mint a development-client JWT for an audience", runToken},
		{"conform", "moved: the conformance suite is the valuerx-conform command", runConformMoved},
		{"load", "load-test a running valuerx against a minimal floor server", runLoad},
		{"catalog", "import the agencies' files into a catalog snapshot, or diff two snapshots", runCatalog},
		{"measures", "adherence and SUPD rates and a worklist from a FHIR Bulk Data export", runMeasures},
		{"synth", "write a synthetic population's year of fills as a Bulk Data export", runSynth},
		{"demo-traffic", "write a year of realistic decisions and feedback into a store for the dashboard", runDemoTraffic},
		{"dashboard-bench", "time the dashboard's overview and per-family queries against a store", runDashboardBench},
		{"import", "import administrations (FHIR NDJSON) or paid claims (CSV) into the decision record", runImport},
		{"divergence", "compute how each recorded decision's answer differs by arrangement (pending ones)", runDivergence},
		{"hash-password", "bcrypt a password from stdin for analytics.accounts", runHashPassword},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "valuerx: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: valuerx <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'valuerx <command> -h' for the flags of a command.")
}

// runConformMoved answers the old `valuerx conform` with where the suite is now. The suite links
// a strict FHIR validator whose start-up cost (about 40 MiB resident) the gateway should not
// carry, so it is a binary of its own.
func runConformMoved(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "valuerx conform: the conformance suite is its own command now, with the same flags:")
	fmt.Fprintln(stderr, "  go run ./cmd/valuerx-conform -url <base> [flags]    (or: make build; bin/valuerx-conform ...)")
	return 2
}
