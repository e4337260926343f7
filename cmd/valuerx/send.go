package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"valuerx/cdshooks"
	"valuerx/demo"
)

// runSend fires one hook request at a running valuerx, signed with the development client key,
// and prints the cards. It is the newcomer's "within a minute" path from `make run` to cards.
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("send", flag.ContinueOnError)
	fl.SetOutput(stderr)
	base := fl.String("url", "http://localhost:8080", "base URL of the valuerx service")
	keyFile := fl.String("key", "var/dev-client-key.pem", "development client key (\"\" to send no JWT)")
	raw := fl.Bool("json", false, "print the response JSON as is")
	list := fl.Bool("list", false, "list the demo requests")
	fhirServer := fl.String("fhir-server", "", "override the request's fhirServer (default for demo requests: <url>/fhir)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: valuerx send [flags] DEMO-NAME|request.json")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *list {
		for _, n := range demo.Requests() {
			fmt.Fprintln(stdout, n)
		}
		for _, n := range demo.AdherenceRequests() { // adherence and SUPD cards (fills dated from today)
			fmt.Fprintln(stdout, n)
		}
		return 0
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	body, isDemo, err := readRequest(fl.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "valuerx send:", err)
		return 2
	}
	*base = strings.TrimRight(*base, "/")
	if *fhirServer == "" && isDemo {
		*fhirServer = *base + "/fhir"
	}
	var hdr struct {
		Hook string `json:"hook"`
	}
	if err := json.Unmarshal(body, &hdr); err != nil {
		fmt.Fprintln(stderr, "valuerx send: request is not JSON:", err)
		return 2
	}
	if *fhirServer != "" {
		if body, err = setMember(body, "fhirServer", *fhirServer); err != nil {
			fmt.Fprintln(stderr, "valuerx send:", err)
			return 2
		}
	}
	// A fresh hookInstance per call, as a real EHR would send.
	if body, err = setMember(body, "hookInstance", newUUID()); err != nil {
		fmt.Fprintln(stderr, "valuerx send:", err)
		return 2
	}
	url := *base + "/cds-services/" + serviceFor(hdr.Hook)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(stderr, "valuerx send:", err)
		return 2
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if *keyFile != "" {
		tok, err := mintDev(*keyFile, url)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx send:", err, "(start the server once with `make run` to create the dev key, or pass -key \"\")")
			return 2
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx send:", err)
		return 1
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	elapsed := time.Since(start)
	if *raw {
		var pretty bytes.Buffer
		if json.Indent(&pretty, out, "", "  ") == nil {
			out = pretty.Bytes()
		}
		fmt.Fprintln(stdout, string(out))
	} else {
		printCards(stdout, resp.StatusCode, out, elapsed)
	}
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

func readRequest(arg string) ([]byte, bool, error) {
	if b, err := os.ReadFile(arg); err == nil {
		return b, false, nil
	}
	if b, ok := demo.Request(arg); ok {
		return b, true, nil
	}
	if b, ok := demo.AdherenceRequest(arg); ok {
		return b, true, nil
	}
	return nil, false, fmt.Errorf("%q is neither a file nor a demo request (see valuerx send -list)", arg)
}

func setMember(body []byte, key, value string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("request is not a JSON object: %w", err)
	}
	v, _ := json.Marshal(value)
	m[key] = v
	return json.Marshal(m)
}

func mintDev(keyFile, aud string) (string, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return "", fmt.Errorf("read dev key: %w", err)
	}
	s, err := cdshooks.LoadSignerPEM(b, cdshooks.DevIssuer)
	if err != nil {
		return "", err
	}
	return s.Mint(aud, 5*time.Minute, nil)
}

func printCards(w io.Writer, status int, body []byte, elapsed time.Duration) {
	fmt.Fprintf(w, "HTTP %d in %s\n", status, elapsed.Round(time.Millisecond))
	var resp cdshooks.Response
	if status != http.StatusOK || json.Unmarshal(body, &resp) != nil {
		fmt.Fprintln(w, string(body))
		return
	}
	if len(resp.Cards) == 0 {
		fmt.Fprintln(w, "no cards: valuerx has no better option for this order under this arrangement")
		return
	}
	for i, c := range resp.Cards {
		fmt.Fprintf(w, "\ncard %d [%s] %s\n", i+1, c.Indicator, c.Summary)
		for _, s := range c.Suggestions {
			mark := " "
			if s.IsRecommended {
				mark = "*"
			}
			fmt.Fprintf(w, "  %s suggestion: %s\n", mark, s.Label)
		}
		if c.Detail != "" {
			fmt.Fprintln(w)
			for _, line := range strings.Split(c.Detail, "\n") {
				fmt.Fprintln(w, "    "+line)
			}
		}
	}
}

// runToken mints a development-client JWT, for curl and the CDS Hooks sandbox.
func runToken(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("token", flag.ContinueOnError)
	fl.SetOutput(stderr)
	aud := fl.String("aud", "http://localhost:8080/cds-services/valuerx-order-sign", "audience: the exact URL the token will be sent to")
	keyFile := fl.String("key", "var/dev-client-key.pem", "development client key")
	jwks := fl.Bool("jwks", false, "print the public JWKS of the key instead of a token")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *jwks {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx token:", err)
			return 1
		}
		s, err := cdshooks.LoadSignerPEM(b, cdshooks.DevIssuer)
		if err != nil {
			fmt.Fprintln(stderr, "valuerx token:", err)
			return 1
		}
		fmt.Fprintln(stdout, string(s.PublicJWKS()))
		return 0
	}
	tok, err := mintDev(*keyFile, *aud)
	if err != nil {
		fmt.Fprintln(stderr, "valuerx token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

func newUUID() string { return uuid.NewString() }
