// Command valuerx-conform runs valuerx's CDS Hooks 2.0 conformance suite against any CDS
// service's base URL and writes the report (text, JSON or JUnit):
//
//	valuerx-conform -url https://cds.example.org [flags]
//
// It is its own binary, not a subcommand of valuerx, because the suite's strict FHIR R4
// validation (github.com/google/fhir) builds its protobuf descriptors when the program starts:
// linked into the gateway it cost every `valuerx serve` about 40 MiB of resident memory and made
// each garbage collection scan 12 MB more (docs/performance.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"valuerx/cdshooks"
	"valuerx/conformance"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runConform(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runConform runs the CDS Hooks 2.0 conformance suite against any
// service's base URL and writes the report. Exit status: 0 when no SHALL failed, 1 when one did,
// 2 on usage errors or when the suite could not run.
func runConform(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("valuerx-conform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		base        = fs.String("url", "", "base URL of the CDS service (discovery is at <url>/cds-services); required")
		format      = fs.String("format", conformance.FormatText, "report format: text, json or junit")
		out         = fs.String("out", "", "write the report to this file instead of stdout")
		timingCalls = fs.Int("timing-calls", 20, "extra timed calls per service for the response-time percentiles")
		timeout     = fs.Duration("timeout", conformance.DefaultTimeout, "limit for one HTTP exchange")
		issuer      = fs.String("issuer", conformance.DefaultIssuer, "iss of the suite's JWTs")
		keyFile     = fs.String("key", "", "PEM private key (EC P-384 for ES384, RSA for RS384) the service already trusts; default: a fresh key per run")
		kid         = fs.String("kid", "", "kid for the JWT header (default: the key's RFC 7638 thumbprint)")
		alg         = fs.String("alg", "ES384", "algorithm of a generated key: ES384 or RS384")
		jkuURL      = fs.String("jku-url", "", "jku to advertise in the JWT header (where the team serves the suite's JWKS)")
		noJKU       = fs.Bool("no-jku", false, "send no jku: the service has the public key out of band")
		jwksListen  = fs.String("jwks-listen", "", "address to serve the suite's JWKS on (default 127.0.0.1:<random> when advertising the suite's own jku)")
		jwksOut     = fs.String("jwks-out", "", "also write the suite's public JWKS to this file (to register it with the service)")
		origin      = fs.String("origin", conformance.DefaultOrigin, "Origin header for the CORS checks")
		noBuiltin   = fs.Bool("no-builtin", false, "post only the -request files to the services (the 412, JWT and timing probes still use the built-in Herceptin request)")
		requests    []conformance.HookRequest
	)
	fs.Func("request", "a CDS Hooks request JSON file (one object or an array); repeatable; the hook is taken from the file", func(path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading request file: %w", err)
		}
		rs, err := conformance.ParseRequests(filepath.Base(path), data)
		if err != nil {
			return err
		}
		requests = append(requests, rs...)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: valuerx-conform -url <base> [flags]")
		fmt.Fprintln(stderr, "\nRuns the CDS Hooks 2.0 conformance suite (discovery, order-select/order-sign calls, card rules,")
		fmt.Fprintln(stderr, "strict FHIR R4 validation, feedback, CORS, 412, JWT, response times) against any service.")
		fmt.Fprintln(stderr, "Exit status: 0 no SHALL failed, 1 a SHALL failed, 2 usage error.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(msg string) int {
		fmt.Fprintln(stderr, "valuerx-conform: "+msg)
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected arguments: " + strings.Join(fs.Args(), " "))
	}
	if *base == "" {
		return usageErr("-url is required")
	}
	switch *format {
	case conformance.FormatText, conformance.FormatJSON, conformance.FormatJUnit:
	default:
		return usageErr("-format must be text, json or junit")
	}
	if *noJKU && *jkuURL != "" {
		return usageErr("-no-jku and -jku-url exclude each other")
	}

	signer, err := conformSigner(*keyFile, *issuer, *kid, *alg)
	if err != nil {
		return usageErr(err.Error())
	}
	opts := conformance.Options{
		BaseURL: *base, Requests: requests, SkipBuiltin: *noBuiltin, Timeout: *timeout, TimingCalls: *timingCalls,
		Signer: signer, Issuer: *issuer, JKU: *jkuURL, OmitJKU: *noJKU, JWKSListen: *jwksListen, Origin: *origin,
	}
	if *noBuiltin && len(requests) == 0 {
		return usageErr("-no-builtin needs at least one -request")
	}
	rep, err := conformance.Run(ctx, opts)
	if err != nil {
		return usageErr(err.Error())
	}
	if *jwksOut != "" {
		if err := os.WriteFile(*jwksOut, append(rep.Trust.JWKS, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "valuerx-conform: writing the JWKS: %v\n", err)
			return 2
		}
	}
	w := stdout
	var f *os.File
	if *out != "" {
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "valuerx-conform: %v\n", err)
			return 2
		}
		w = f
	}
	werr := rep.Write(w, *format)
	if f != nil {
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		c := conformance.Counts(rep.Results)
		fmt.Fprintf(stderr, "valuerx-conform: %s: %d pass, %d fail, %d warning, %d skipped; report in %s\n",
			rep.Verdict(), c[conformance.Pass], c[conformance.Fail], c[conformance.Warning], c[conformance.Skipped], *out)
	}
	if werr != nil {
		fmt.Fprintf(stderr, "valuerx-conform: writing the report: %v\n", werr)
		return 2
	}
	if rep.ShallFailed() {
		return 1
	}
	return 0
}

// conformSigner loads the team's key, or returns nil to let the suite generate an ES384 key (or
// generates an RS384 one here when asked).
func conformSigner(keyFile, issuer, kid, alg string) (*cdshooks.Signer, error) {
	if keyFile != "" {
		pemBytes, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("reading -key: %w", err)
		}
		s, err := cdshooks.LoadSignerPEM(pemBytes, issuer)
		if err != nil {
			return nil, fmt.Errorf("-key: %w", err)
		}
		if kid != "" {
			s.KID = kid
		}
		return s, nil
	}
	switch alg {
	case "ES384":
		if kid == "" {
			return nil, nil // the suite generates the key
		}
		k, err := cdshooks.GenerateES384()
		if err != nil {
			return nil, err
		}
		return cdshooks.NewSigner(k, issuer, kid)
	case "RS384":
		k, err := cdshooks.GenerateRS384()
		if err != nil {
			return nil, err
		}
		return cdshooks.NewSigner(k, issuer, kid)
	}
	return nil, fmt.Errorf("-alg must be ES384 or RS384")
}
