package conformance

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"
)

// Targets the response times are reported against.
const (
	SpecTarget = 500 * time.Millisecond // CDS Hooks 2.0: "on the order of 500 ms" (SHOULD)
	CRDTarget  = 5 * time.Second        // Da Vinci CRD: within 5 s 90% of the time
)

// Timing summarises the latencies of one service's 200 answers to valid requests.
type Timing struct {
	Service string        `json:"service"`
	Calls   int           `json:"calls"`
	P50     time.Duration `json:"p50Ns"`
	P90     time.Duration `json:"p90Ns"`
	P95     time.Duration `json:"p95Ns"`
	P99     time.Duration `json:"p99Ns"`
	Max     time.Duration `json:"maxNs"`
}

func (t Timing) String() string { return t.Service + ": " + t.Figures() }

// Figures renders the call count and percentiles in milliseconds.
func (t Timing) Figures() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("n=%d p50=%s p90=%s p95=%s p99=%s max=%s", t.Calls, ms(t.P50), ms(t.P90), ms(t.P95), ms(t.P99), ms(t.Max))
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// Summarize computes the percentiles of samples for a service.
func Summarize(service string, samples []time.Duration) Timing {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	t := Timing{Service: service, Calls: len(sorted)}
	if len(sorted) == 0 {
		return t
	}
	t.P50, t.P90, t.P95, t.P99 = percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 95), percentile(sorted, 99)
	t.Max = sorted[len(sorted)-1]
	return t
}

// timing makes TimingCalls extra calls with the built-in request and judges the p90 of every
// timed call against the spec's 500 ms and CRD's 5 s.
func (s *suite) timing(ctx context.Context, svc service) {
	var req HookRequest
	for _, r := range BuiltinRequests() {
		if r.Hook == svc.Hook {
			req = r
		}
	}
	for i := 0; i < s.opts.TimingCalls; i++ {
		body, err := req.prepare(svc.templates, false)
		if err != nil {
			break
		}
		x := s.send(ctx, http.MethodPost, svc.url, body, s.mint(svc.url), nil, "timed call")
		if x.err != nil || x.status != http.StatusOK {
			continue
		}
		s.samples[svc.key()] = append(s.samples[svc.key()], x.elapsed)
	}
	t := Summarize(svc.label(), s.samples[svc.key()])
	if t.Calls == 0 {
		s.rec.skip(CheckPerfSpec, Evidence{Request: "service " + svc.label(), Message: "no successful calls to time"})
		s.rec.skip(CheckPerfCRD, Evidence{Request: "service " + svc.label(), Message: "no successful calls to time"})
		return
	}
	s.report.Timing = append(s.report.Timing, t)
	ev := Evidence{Request: "service " + svc.label(), Message: t.Figures()}
	for _, c := range []struct {
		id     string
		target time.Duration
	}{{CheckPerfSpec, SpecTarget}, {CheckPerfCRD, CRDTarget}} {
		if t.P90 <= c.target {
			s.rec.pass(c.id, ev)
			continue
		}
		bad := ev
		bad.Message = fmt.Sprintf("p90 %.0f ms is over the %v target (%s)", float64(t.P90)/float64(time.Millisecond), c.target, t.Figures())
		s.rec.violate(c.id, bad)
	}
}
