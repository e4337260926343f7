package conformance

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"valuerx/cdshooks"
)

// setupSigner prepares the suite's signer (a copy; the caller's is never modified) and, when the
// suite advertises its own jku, serves the public JWKS on a loopback listener. The returned stop
// function closes that listener.
func (s *suite) setupSigner(ctx context.Context) (func(), error) {
	noop := func() {}
	var sg cdshooks.Signer
	if s.opts.Signer != nil {
		sg = *s.opts.Signer
	} else {
		key, err := cdshooks.GenerateES384()
		if err != nil {
			return noop, fmt.Errorf("conformance: %w", err)
		}
		iss := s.opts.Issuer
		if iss == "" {
			iss = DefaultIssuer
		}
		gen, err := cdshooks.NewSigner(key, iss, "")
		if err != nil {
			return noop, fmt.Errorf("conformance: %w", err)
		}
		sg = *gen
	}
	s.signer = &sg
	if _, err := s.signer.Mint("https://example.invalid/cds-services", time.Minute, nil); err != nil {
		return noop, fmt.Errorf("conformance: the signing key cannot mint tokens: %w", err)
	}
	switch {
	case s.opts.OmitJKU:
		s.signer.JKU = ""
		return noop, nil
	case s.opts.JKU != "":
		s.signer.JKU = s.opts.JKU
		if s.opts.JWKSListen == "" {
			return noop, nil
		}
	case s.signer.JKU != "" && s.opts.JWKSListen == "":
		return noop, nil
	}
	addr := s.opts.JWKSListen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return noop, fmt.Errorf("conformance: serving the JWKS: %w", err)
	}
	jwks := s.signer.PublicJWKS()
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(jwks)
	}
	mux.HandleFunc("GET /jwks.json", serve)
	mux.HandleFunc("GET /.well-known/jwks.json", serve)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if s.signer.JKU == "" {
		host := ln.Addr().String()
		if h, p, err := net.SplitHostPort(host); err == nil {
			if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
				host = net.JoinHostPort("127.0.0.1", p)
			}
		}
		s.signer.JKU = "http://" + host + "/jwks.json"
	}
	return func() { _ = srv.Close() }, nil
}

// hostileToken builds one of the tokens a service must refuse.
func (s *suite) hostileToken(kind, aud string) (string, error) {
	switch kind {
	case CheckAuthExpired:
		// Issued 20 minutes ago for 5 minutes: expired 15 minutes ago, far past any clock skew.
		old := *s.signer
		old.Now = func() time.Time { return s.now().Add(-20 * time.Minute) }
		return old.Mint(aud, tokenTTL, nil)
	case CheckAuthAudience:
		return s.signer.Mint("https://wrong-audience.invalid/cds-services/other", tokenTTL, nil)
	case CheckAuthAlgNone, CheckAuthSymmetric:
		valid, err := s.signer.Mint(aud, tokenTTL, nil)
		if err != nil {
			return "", err
		}
		parts := strings.Split(valid, ".")
		if len(parts) != 3 {
			return "", errors.New("conformance: minted token is not a JWS")
		}
		if kind == CheckAuthAlgNone {
			hdr := map[string]any{"alg": "none", "typ": "JWT", "kid": s.signer.KID}
			if s.signer.JKU != "" {
				hdr["jku"] = s.signer.JKU
			}
			h, _ := json.Marshal(hdr)
			return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + ".", nil
		}
		// Symmetric: HS384 keyed with the public key's PEM, the classic algorithm-confusion
		// attack on services that let the token choose the algorithm.
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return "", fmt.Errorf("conformance: decoding minted claims: %w", err)
		}
		var claims jwt.MapClaims
		if err := json.Unmarshal(payload, &claims); err != nil {
			return "", fmt.Errorf("conformance: decoding minted claims: %w", err)
		}
		der, err := x509.MarshalPKIXPublicKey(s.signer.Key.Public())
		if err != nil {
			return "", fmt.Errorf("conformance: public key: %w", err)
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		tok := jwt.NewWithClaims(jwt.SigningMethodHS384, claims)
		tok.Header["kid"] = s.signer.KID
		if s.signer.JKU != "" {
			tok.Header["jku"] = s.signer.JKU
		}
		return tok.SignedString(secret)
	}
	return "", fmt.Errorf("conformance: unknown hostile token %q", kind)
}

func accepted(x *exchange) bool { return x.err == nil && x.status >= 200 && x.status <= 299 }
func refused(x *exchange) bool {
	return x.err == nil && (x.status == http.StatusUnauthorized || x.status == http.StatusForbidden)
}

// auth probes JWT handling on the first order service: no token, then hostile tokens. A service
// that accepts requests without a token does not authenticate (a SHOULD warning); only a service
// that refuses a missing token but accepts a bad one fails.
func (s *suite) auth(ctx context.Context) {
	hostile := []string{CheckAuthAlgNone, CheckAuthSymmetric, CheckAuthExpired, CheckAuthAudience}
	all := append([]string{CheckAuthRequired, CheckAuthValidToken}, hostile...)
	if len(s.svcs) == 0 {
		for _, id := range all {
			s.rec.skip(id, Evidence{Message: "no order service to call"})
		}
		return
	}
	svc := s.svcs[0]
	var req HookRequest
	for _, r := range BuiltinRequests() {
		if r.Hook == svc.Hook {
			req = r
		}
	}
	body, err := req.prepare(svc.templates, false)
	if err != nil {
		for _, id := range all {
			s.rec.skip(id, Evidence{Message: err.Error()})
		}
		return
	}
	post := func(token, purpose string) *exchange {
		return s.send(ctx, http.MethodPost, svc.url, body, token, nil, req.Name+", "+purpose)
	}
	x0 := post("", "no JWT")
	if x0.err != nil {
		s.rec.warn(CheckAuthRequired, x0.evidence("", x0.err.Error()))
		return
	}
	if accepted(x0) {
		s.rec.warn(CheckAuthRequired, x0.evidence("", "the service answers requests that carry no JWT: it does not authenticate clients"))
		s.rec.pass(CheckAuthValidToken, Evidence{Message: "authentication not required"})
		tok, err := s.hostileToken(CheckAuthAlgNone, svc.url)
		if err != nil {
			s.rec.skip(CheckAuthAlgNone, Evidence{Message: err.Error()})
		} else {
			xn := post(tok, "alg none JWT")
			switch {
			case refused(xn):
				s.rec.pass(CheckAuthAlgNone, Evidence{})
			default:
				s.rec.warn(CheckAuthAlgNone, xn.evidence("", "an unsigned token is not refused, as no token is not: the service does not authenticate"))
			}
		}
		for _, id := range hostile[1:] {
			s.rec.skip(id, Evidence{Message: "the service does not require authentication"})
		}
		return
	}
	if refused(x0) {
		s.rec.pass(CheckAuthRequired, Evidence{})
	} else {
		s.rec.warn(CheckAuthRequired, x0.evidence("", fmt.Sprintf("answered %d to a request without JWT; expected 401", x0.status)))
	}
	st, ok := s.valid[svc.key()]
	if !ok {
		xv := post(s.mint(svc.url), "valid JWT")
		st = xv.status
	}
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		s.rec.violate(CheckAuthValidToken, Evidence{Request: "POST " + strings.TrimPrefix(svc.url, s.base), Status: st,
			Message: "the service refused the suite's valid token: configure it to trust iss " + s.signer.Issuer + " with jku " + orNone(s.signer.JKU) + " or the JWKS in the report"})
	case st >= 200 && st <= 299:
		s.rec.pass(CheckAuthValidToken, Evidence{})
	default:
		s.rec.pass(CheckAuthValidToken, Evidence{Status: st, Message: "token accepted (the request failed for another reason)"})
	}
	for _, id := range hostile {
		tok, err := s.hostileToken(id, svc.url)
		if err != nil {
			s.rec.skip(id, Evidence{Message: err.Error()})
			continue
		}
		x := post(tok, strings.TrimPrefix(id, "auth.")+" JWT")
		switch {
		case refused(x):
			s.rec.pass(id, Evidence{})
		case accepted(x):
			s.rec.violate(id, x.evidence("", "the service refuses requests without a token but accepted this bad token"))
		case x.err != nil:
			s.rec.warn(id, x.evidence("", x.err.Error()))
		default:
			s.rec.warn(id, x.evidence("", fmt.Sprintf("refused with %d; 401 is expected", x.status)))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none: out-of-band JWKS)"
	}
	return s
}
