package cdshooks

import (
	"errors"
	"fmt"
	"strconv"
)

// Validate checks a discovery document before it is served
// (https://cds-hooks.hl7.org/2.0/#discovery): every service needs a hook, an
// id usable as one URL path segment and a description; a (hook, id) pair may
// appear only once (one id may serve several hooks, the "update stale
// guidance" pattern); every prefetch template must pass ValidateTemplate and
// no prefetch key may be empty. A missing title is allowed (RECOMMENDED).
func (d *Discovery) Validate() error {
	var errs []error
	seen := map[[2]string]bool{}
	for i, s := range d.Services {
		at := "services[" + strconv.Itoa(i) + "]"
		if s.Hook == "" {
			errs = append(errs, fmt.Errorf("cdshooks: %s.hook is required", at))
		}
		switch {
		case s.ID == "":
			errs = append(errs, fmt.Errorf("cdshooks: %s.id is required", at))
		case !discoveryIDOK(s.ID):
			errs = append(errs, fmt.Errorf("cdshooks: %s.id must be a URL path segment of letters, digits, '-', '_' or '.'", at))
		}
		if s.Description == "" {
			errs = append(errs, fmt.Errorf("cdshooks: %s.description is required", at))
		}
		key := [2]string{s.Hook, s.ID}
		if seen[key] {
			errs = append(errs, fmt.Errorf("cdshooks: %s repeats hook %q with id %q", at, s.Hook, s.ID))
		}
		seen[key] = true
		for k, tmpl := range s.Prefetch {
			if k == "" {
				errs = append(errs, fmt.Errorf("cdshooks: %s.prefetch has an empty key", at))
				continue
			}
			if err := ValidateTemplate(tmpl); err != nil {
				errs = append(errs, fmt.Errorf("%s.prefetch[%q]: %w", at, k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Service returns the service with this id for this hook ("" matches any
// hook), and whether there is one.
func (d *Discovery) Service(id, hook string) (Service, bool) {
	for _, s := range d.Services {
		if s.ID == id && (hook == "" || s.Hook == hook) {
			return s, true
		}
	}
	return Service{}, false
}

func discoveryIDOK(id string) bool {
	if id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return false
		}
	}
	return true
}
