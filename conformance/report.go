package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Formats accepted by Write.
const (
	FormatText  = "text"
	FormatJSON  = "json"
	FormatJUnit = "junit"
)

// Write renders the report in one of the formats.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case FormatText, "":
		return r.WriteText(w)
	case FormatJSON:
		return r.WriteJSON(w)
	case FormatJUnit:
		return r.WriteJUnit(w)
	}
	return fmt.Errorf("conformance: unknown report format %q (want text, json or junit)", format)
}

// Verdict is the one-word outcome: FAILED when a SHALL failed, else PASSED.
func (r *Report) Verdict() string {
	if r.ShallFailed() {
		return "FAILED"
	}
	return "PASSED"
}

// WriteText writes the readable report: a header, one line per check (status, id, level, title,
// requirement) and, indented under it, the evidence of failures, warnings and skips.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "CDS Hooks 2.0 conformance report (valuerx-conform)\n")
	fmt.Fprintf(&b, "base URL:  %s\n", r.BaseURL)
	fmt.Fprintf(&b, "started:   %s  elapsed: %s\n", r.Started.Format(time.RFC3339), r.Elapsed.Round(time.Millisecond))
	if len(r.Services) == 0 {
		fmt.Fprintf(&b, "services:  none tested\n")
	}
	for _, s := range r.Services {
		pf := "no prefetch"
		if s.Prefetch {
			pf = "declares prefetch"
		}
		fmt.Fprintf(&b, "service:   %s (%s, %s)\n", s.ID, s.Hook, pf)
	}
	fmt.Fprintf(&b, "trust:     iss=%s jku=%s kid=%s alg=%s\n", r.Trust.Issuer, orNone(r.Trust.JKU), r.Trust.KID, r.Trust.Alg)
	for _, t := range r.Timing {
		fmt.Fprintf(&b, "timing:    %s (targets: %v spec SHOULD, %v CRD)\n", t, SpecTarget, CRDTarget)
	}
	b.WriteString("\n")
	idw := 0
	for _, res := range r.Results {
		idw = max(idw, len(res.ID))
	}
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%-7s %-*s %-6s %s  [%s]\n", strings.ToUpper(string(res.Status)), idw, res.ID, res.Level, res.Title, res.Requirement())
		for _, ev := range res.Evidence {
			fmt.Fprintf(&b, "        - %s\n", ev)
		}
		if res.Omitted > 0 {
			fmt.Fprintf(&b, "        - ... and %d more\n", res.Omitted)
		}
	}
	c := Counts(r.Results)
	fmt.Fprintf(&b, "\n%d checks: %d pass, %d fail, %d warning, %d skipped. %s", len(r.Results), c[Pass], c[Fail], c[Warning], c[Skipped], r.Verdict())
	if r.ShallFailed() {
		b.WriteString(" (a SHALL requirement failed)")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as indented JSON (durations in nanoseconds).
func (r *Report) WriteJSON(w io.Writer) error {
	type summary struct {
		Verdict string         `json:"verdict"`
		Counts  map[Status]int `json:"counts"`
	}
	out := struct {
		*Report
		Summary summary `json:"summary"`
	}{r, summary{Verdict: r.Verdict(), Counts: Counts(r.Results)}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// JUnit XML structures (the de-facto schema read by CI systems: Jenkins, GitLab, GitHub actions).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one testcase per check. Failures are <failure>; skips are <skipped>; warnings
// pass (they are not failures) with their evidence in <system-out> prefixed "WARNING".
func (r *Report) WriteJUnit(w io.Writer) error {
	secs := fmt.Sprintf("%.3f", r.Elapsed.Seconds())
	s := junitSuite{
		Name: "CDS Hooks 2.0 conformance " + r.BaseURL, Time: secs, Timestamp: r.Started.Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{{"baseUrl", r.BaseURL}, {"iss", r.Trust.Issuer}, {"jku", r.Trust.JKU}, {"kid", r.Trust.KID}, {"alg", r.Trust.Alg}},
	}
	for _, t := range r.Timing {
		s.Properties = append(s.Properties, junitProperty{"timing." + t.Service, t.String()})
	}
	for _, res := range r.Results {
		c := junitCase{
			Classname: "conformance." + strings.SplitN(res.ID, ".", 2)[0],
			Name:      res.ID + " [" + string(res.Level) + "] " + res.Title,
			Time:      "0",
		}
		var lines []string
		for _, ev := range res.Evidence {
			lines = append(lines, ev.String())
		}
		if res.Omitted > 0 {
			lines = append(lines, fmt.Sprintf("... and %d more", res.Omitted))
		}
		text := res.Requirement() + "\n" + strings.Join(lines, "\n")
		switch res.Status {
		case Fail:
			msg := res.Title
			if len(res.Evidence) > 0 {
				msg = res.Evidence[0].String()
			}
			c.Failure = &junitMessage{Message: msg, Type: string(res.Level), Text: text}
			s.Failures++
		case Skipped:
			msg := "not applicable"
			if len(res.Evidence) > 0 {
				msg = res.Evidence[0].Message
			}
			c.Skipped = &junitMessage{Message: msg}
			s.Skipped++
		case Warning:
			c.SystemOut = "WARNING (" + string(res.Level) + "): " + text
		default:
			if len(lines) > 0 {
				c.SystemOut = text
			}
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
	}
	all := junitSuites{Name: "valuerx-conform", Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Time: secs, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("conformance: writing JUnit XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
