package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"valuerx/gateway"
	"valuerx/imports"
	"valuerx/store"
)

// runImport is `valuerx import administrations|claims`: the realised side of the record from
// the EHR's FHIR Bulk Data export and the payer's claims file (package imports).
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: valuerx import administrations|claims -config FILE -issuer ISS [-tenant T] -from FILE|-")
		fmt.Fprintln(stderr, "  administrations: MedicationAdministration NDJSON (FHIR Bulk Data export), joined by request -> MedicationRequest id and subject -> Patient id")
		fmt.Fprintln(stderr, "  claims: a CSV with the header "+fmt.Sprint(imports.ClaimsHeader)+" (README: the programme report)")
	}
	if len(args) == 0 || (args[0] != "administrations" && args[0] != "claims") {
		usage()
		return 2
	}
	kind := args[0]
	fl := flag.NewFlagSet("import "+kind, flag.ContinueOnError)
	fl.SetOutput(stderr)
	cfgPath := fl.String("config", "", "the gateway's configuration file (its store and order key are used)")
	issuer := fl.String("issuer", "", "the CDS client (JWT iss) whose orders these are")
	tenant := fl.String("tenant", "", "the client's tenant claim, when its tokens carry one")
	from := fl.String("from", "", "the file to import, - for standard input")
	fl.Usage = usage
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if *issuer == "" || *from == "" || fl.NArg() != 0 {
		usage()
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx import:", err)
		return 1
	}
	st, secret, err := openRecord(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx import:", err)
		return 1
	}
	defer st.Close()
	set, err := loadScoring(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx import:", err)
		return 1
	}
	in := io.Reader(os.Stdin)
	if *from != "-" {
		f, err := os.Open(*from)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx import:", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	j := imports.Joiner{Secret: secret, Client: imports.ClientID(*issuer, *tenant)}
	var res imports.Result
	switch kind {
	case "administrations":
		res, err = imports.ImportAdministrations(ctx, in, st, imports.AdministrationOptions{Joiner: j, Catalog: set.cat})
	case "claims":
		res, err = imports.ImportClaims(ctx, in, st, imports.ClaimsOptions{Joiner: j, Catalog: set.cat})
	}
	fmt.Fprintf(stdout, "%s: %s\n", kind, res)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx import:", err)
		return 1
	}
	return 0
}

// runDivergence is `valuerx divergence`: computes the divergence of every decision in the store
// that has none yet (a store filled before the gateway computed it, or by demo-traffic). The
// gateway does the same in the background for the decisions it records.
func runDivergence(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("divergence", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cfgPath := fl.String("config", "", "the gateway's configuration file (its store, catalog and contracts are used)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx divergence:", err)
		return 1
	}
	st, _, err := openRecord(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx divergence:", err)
		return 1
	}
	defer st.Close()
	set, err := loadScoring(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx divergence:", err)
		return 1
	}
	run, err := gateway.ComputePendingDivergence(ctx, st, set.scorer, set.reg, set.version, func() time.Time { return time.Now().UTC() })
	fmt.Fprintf(stdout, "divergence computed for %d scoring requests; not scored: %d no longer scored under their own contract, %d recorded under a contracts or policy configuration no longer loaded, %d on a catalog version no longer loaded; %d recent decisions of another configuration or catalog left pending\n",
		run.Scored, run.NotScored[store.DivNotScoredFailed], run.NotScored[store.DivNotScoredConfig], run.NotScored[store.DivNotScoredCatalog], run.LeftPending)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx divergence:", err)
		return 1
	}
	return 0
}

// openRecord opens the configured store (SQLite or PostgreSQL, as serve does) and its order key.
func openRecord(ctx context.Context, cfg fileConfig) (store.Store, []byte, error) {
	if !cfg.Store.enabled() {
		return nil, nil, errors.New("the configuration names no store")
	}
	var secret []byte
	switch {
	case cfg.OrderKeySecretFile != "":
		b, err := os.ReadFile(cfg.OrderKeySecretFile)
		if err != nil {
			return nil, nil, fmt.Errorf("orderKeySecretFile: %w", err)
		}
		if len(b) < 32 {
			return nil, nil, fmt.Errorf("orderKeySecretFile: %d bytes; at least 32 are needed", len(b))
		}
		secret = b
	case cfg.Store.Driver == driverPostgres:
		return nil, nil, errors.New("store.driver postgres needs orderKeySecretFile (the key every instance hashes orders with)")
	default:
		path := cfg.Store.Path + ".orderkey"
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			// A new key would join nothing the gateway recorded: say so rather than import in vain.
			return nil, nil, fmt.Errorf("no order key beside %s: start the gateway on this store first, or configure orderKeySecretFile", cfg.Store.Path)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("order key: %w", err)
		}
		if len(b) < 32 {
			return nil, nil, fmt.Errorf("order key %s: %d bytes; at least 32 are needed", path, len(b))
		}
		secret = b
	}
	st, err := openStore(ctx, cfg.Store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, nil, err
	}
	return st, secret, nil
}
