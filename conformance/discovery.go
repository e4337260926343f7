package conformance

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
)

// discovery fetches and checks {base}/cds-services and keeps the order-select and order-sign
// services for the rest of the run.
func (s *suite) discovery(ctx context.Context) {
	target := s.base + "/cds-services"
	x := s.send(ctx, http.MethodGet, target, nil, s.mint(target), nil, "discovery")
	if x.err != nil {
		s.rec.violate(CheckDiscoveryAvailable, x.evidence("", x.err.Error()))
		return
	}
	if x.status != http.StatusOK {
		msg := fmt.Sprintf("answered %d, not 200", x.status)
		if refused(x) {
			msg += "; the service refused the suite's token: configure it to trust iss " + s.signer.Issuer + " with jku " + orNone(s.signer.JKU)
		}
		s.rec.violate(CheckDiscoveryAvailable, x.evidence("", msg))
		return
	}
	s.discoveryBody(x)
}

// discoveryBody checks a 200 discovery answer and keeps its order services.
func (s *suite) discoveryBody(x *exchange) {
	v, err := decodeJSON(x.body)
	if err != nil {
		s.rec.violate(CheckDiscoveryAvailable, x.evidence("$", "body is not JSON"))
		return
	}
	s.rec.pass(CheckDiscoveryAvailable, Evidence{})
	s.allowOrigin(x)
	obj, ok := v.(map[string]any)
	if !ok {
		s.rec.violate(CheckDiscoveryServices, x.evidence("$", "body is a JSON "+kind(v)+", not an object"))
		return
	}
	r := &rules{}
	r.noNull(obj, "$", true, nil)
	s.record(x, r.out)
	list, present := get(obj, "services")
	arr, isArr := list.([]any)
	if !present || !isArr {
		s.rec.violate(CheckDiscoveryServices, x.evidence("$.services", "services is missing or not an array"))
		return
	}
	s.rec.pass(CheckDiscoveryServices, Evidence{})
	for i, item := range arr {
		p := fmt.Sprintf("$.services[%d]", i)
		svc, ok := item.(map[string]any)
		if !ok {
			s.rec.violate(CheckDiscoveryServiceFields, x.evidence(p, "service is "+ak(item)+", not an object"))
			continue
		}
		fieldsOK := true
		for _, k := range []string{"hook", "description", "id"} {
			val, present := get(svc, k)
			if _, isStr := val.(string); !present || !isStr {
				s.rec.violate(CheckDiscoveryServiceFields, x.evidence(p+"."+k, k+" is missing or not a string"))
				fieldsOK = false
			}
		}
		if ur, present := get(svc, "usageRequirements"); present {
			if _, isStr := ur.(string); !isStr {
				s.rec.violate(CheckDiscoveryServiceFields, x.evidence(p+".usageRequirements", "usageRequirements is not a string"))
				fieldsOK = false
			}
		}
		if fieldsOK {
			s.rec.pass(CheckDiscoveryServiceFields, Evidence{})
		}
		if t, present := get(svc, "title"); present {
			if _, isStr := t.(string); isStr {
				s.rec.pass(CheckDiscoveryTitle, Evidence{})
			} else {
				s.rec.violate(CheckDiscoveryTitle, x.evidence(p+".title", "title is not a string"))
			}
		} else {
			s.rec.violate(CheckDiscoveryTitle, x.evidence(p+".title", "no title"))
		}
		hook, _ := svc["hook"].(string)
		id, _ := svc["id"].(string)
		templates := s.discoveryPrefetch(x, p, hook, svc)
		if (hook == "order-select" || hook == "order-sign") && id != "" {
			s.svcs = append(s.svcs, service{
				ServiceInfo: ServiceInfo{ID: id, Hook: hook, Prefetch: len(templates) > 0},
				url:         s.base + "/cds-services/" + url.PathEscape(id),
				templates:   templates,
			})
		}
	}
	ids := map[string]int{}
	for _, svc := range s.svcs {
		ids[svc.ID]++
	}
	for i := range s.svcs {
		s.svcs[i].shared = ids[s.svcs[i].ID] > 1
		s.report.Services = append(s.report.Services, s.svcs[i].ServiceInfo)
	}
	if len(s.svcs) == 0 {
		s.rec.violate(CheckDiscoveryOrderHooks, x.evidence("$.services", "no order-select or order-sign service; service checks skipped"))
		return
	}
	s.rec.pass(CheckDiscoveryOrderHooks, Evidence{})
}

// discoveryPrefetch checks a service's prefetch member and returns its templates.
func (s *suite) discoveryPrefetch(x *exchange, p, hook string, svc map[string]any) map[string]string {
	pf, present := get(svc, "prefetch")
	if !present {
		return nil
	}
	m, ok := pf.(map[string]any)
	if !ok {
		s.rec.violate(CheckDiscoveryPrefetch, x.evidence(p+".prefetch", "prefetch is "+ak(pf)+", not an object"))
		return nil
	}
	templates := map[string]string{}
	good := true
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t, isStr := m[k].(string)
		if !isStr {
			s.rec.violate(CheckDiscoveryPrefetch, x.evidence(p+".prefetch."+k, "template is not a string"))
			good = false
			continue
		}
		templates[k] = t
		tokensOK := true
		for _, match := range tokenRE.FindAllStringSubmatch(t, -1) {
			if !validToken(hook, match[1]) {
				s.rec.violate(CheckDiscoveryPrefetchToken, x.evidence(p+".prefetch."+k, "token is not a root-level primitive context field or a 2.0 user token"))
				tokensOK = false
			}
		}
		if tokensOK {
			s.rec.pass(CheckDiscoveryPrefetchToken, Evidence{})
		}
	}
	if good {
		s.rec.pass(CheckDiscoveryPrefetch, Evidence{})
	}
	return templates
}

// record turns rule findings about one exchange into evaluations.
func (s *suite) record(x *exchange, fs []finding) {
	for _, f := range fs {
		if f.Msg == "" {
			s.rec.pass(f.ID, Evidence{})
			continue
		}
		if f.advisory {
			s.rec.warn(f.ID, x.evidence(f.Path, f.Msg))
			continue
		}
		s.rec.violate(f.ID, x.evidence(f.Path, f.Msg))
	}
}
