package loadtest

import (
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ResponseSizeHeader tells the floor how many bytes of JSON to answer with, so its response
// costs what valuerx's answer to the same request costs to encode and send. The harness learns
// the size from valuerx during warm-up; only the floor reads the header.
const ResponseSizeHeader = "X-Loadtest-Response-Bytes"

// FloorConfig configures the floor: the minimal conformant CDS service valuerx is measured
// against.
type FloorConfig struct {
	// ExternalURL is the base URL audiences are checked against (as valuerx's externalURL).
	ExternalURL string
	// Issuer and Key identify the one trusted client (the harness's signing key).
	Issuer string
	Key    crypto.PublicKey
	// MaxBodyBytes bounds a request body (default 1 MiB, as valuerx).
	MaxBodyBytes int64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// floorRequest is the request JSON decoded in full: the unavoidable cost of reading a hook
// request is parsing every byte of context and prefetch, whatever a service then uses.
type floorRequest struct {
	Hook              string          `json:"hook"`
	HookInstance      string          `json:"hookInstance"`
	FHIRServer        string          `json:"fhirServer"`
	FHIRAuthorization map[string]any  `json:"fhirAuthorization"`
	Context           map[string]any  `json:"context"`
	Prefetch          map[string]any  `json:"prefetch"`
	Extension         json.RawMessage `json:"extension"`
}

type floorCard struct {
	Summary   string `json:"summary"`
	Indicator string `json:"indicator"`
	Detail    string `json:"detail"`
	Source    struct {
		Label string `json:"label"`
	} `json:"source"`
}

type floorResponse struct {
	Cards []floorCard `json:"cards"`
}

// Floor is an http.Handler doing per request only what any conformant CDS service must do:
// verify the client's JWT (signature, iss, aud, iat, exp, unique jti), read and decode the
// request JSON, and encode a response. It holds no other state.
type Floor struct {
	cfg    FloorConfig
	parser *jwt.Parser

	mu   sync.Mutex
	seen map[string]int64 // jti -> expiry (unix seconds), for replay refusal
}

// NewFloor returns the floor handler for cfg.
func NewFloor(cfg FloorConfig) (*Floor, error) {
	if cfg.Key == nil || cfg.Issuer == "" || cfg.ExternalURL == "" {
		return nil, errors.New("loadtest: floor needs a key, an issuer and an external URL")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.ExternalURL = strings.TrimRight(cfg.ExternalURL, "/")
	f := &Floor{cfg: cfg, seen: map[string]int64{}}
	f.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{"ES384"}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute),
		jwt.WithTimeFunc(cfg.Now),
	)
	return f, nil
}

func (f *Floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
	case r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/cds-services/"):
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if !f.authorized(r) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, f.cfg.MaxBodyBytes))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	var req floorRequest
	// A service answers only the hook it is registered for (its id ends with the hook's name).
	if err := json.Unmarshal(body, &req); err != nil || req.Hook == "" || req.HookInstance == "" || req.Context == nil ||
		!strings.HasSuffix(r.URL.Path, "-"+req.Hook) {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	size, _ := strconv.Atoi(r.Header.Get(ResponseSizeHeader))
	b, err := json.Marshal(floorBody(size))
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

// floorBody returns a response that encodes to size bytes (at least the empty card's size).
func floorBody(size int) floorResponse {
	const empty = `{"cards":[{"summary":"floor","indicator":"info","detail":"","source":{"label":"floor"}}]}`
	if size <= 0 {
		return floorResponse{Cards: []floorCard{}}
	}
	c := floorCard{Summary: "floor", Indicator: "info"}
	c.Source.Label = "floor"
	if pad := size - len(empty); pad > 0 {
		c.Detail = strings.Repeat("x", pad)
	}
	return floorResponse{Cards: []floorCard{c}}
}

// authorized verifies the bearer JWT for the request's audience and refuses a replayed jti.
func (f *Floor) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) < 8 || !strings.EqualFold(h[:7], "Bearer ") {
		return false
	}
	var claims jwt.RegisteredClaims
	// The key is a plain *ecdsa.PublicKey, so the ES384 method cdshooks
	// registers hands it to golang-jwt's own SigningMethodES384, that is to
	// crypto/ecdsa's constant-time check: the floor verifies as a CDS
	// service built on the standard library would, and valuerx's
	// variable-time verification shows as a gain against it.
	_, err := f.parser.ParseWithClaims(strings.TrimSpace(h[7:]), &claims, func(*jwt.Token) (any, error) {
		return f.cfg.Key, nil
	})
	if err != nil || claims.ID == "" || claims.ExpiresAt == nil {
		return false
	}
	aud := f.cfg.ExternalURL + r.URL.Path
	if len(claims.Audience) != 1 || claims.Audience[0] != aud {
		return false
	}
	return f.remember(claims.ID, claims.ExpiresAt.Unix())
}

// remember records jti until exp and reports whether it was new. Expired entries are swept when
// the set grows, so memory stays bounded by the tokens alive at once.
func (f *Floor) remember(jti string, exp int64) bool {
	now := f.cfg.Now().Unix()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.seen[jti]; dup {
		return false
	}
	if len(f.seen) >= 100_000 {
		for k, e := range f.seen {
			if e+60 < now {
				delete(f.seen, k)
			}
		}
		if len(f.seen) >= 100_000 {
			return false // full of live tokens: refuse rather than forget
		}
	}
	f.seen[jti] = exp
	return true
}
