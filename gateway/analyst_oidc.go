package gateway

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The browser sign-in with the OpenID Connect provider: the authorization code flow with PKCE
// (golang.org/x/oauth2), state and nonce. valuerx keeps nothing server-side: state, nonce, the
// PKCE verifier and where to go next travel in a cookie sealed with the session key, bound to
// this browser, for ten minutes. The ID token must be signed by the provider, name ClientID in
// aud, carry the nonce, and hold the configured group or role; valuerx then sets its own session
// cookie, as the login form does.

const oidcStateTTL = 10 * time.Minute

func (o *oidcAnalysts) oauth(redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: redirect,
		Endpoint: o.provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile"},
	}
}

func (g *Gateway) oidcRedirectURL() string { return g.cfg.ExternalURL + analystOIDCCallbackPath }

// handleOIDCLogin sends the browser to the provider.
func (g *Gateway) handleOIDCLogin(w http.ResponseWriter, r *http.Request) {
	o := g.analysts.oidc
	if !o.browser() {
		writeOutcome(w, http.StatusNotFound, "not-supported", "sign-in with the OpenID Connect provider is not configured (analytics.oidc.clientID)")
		return
	}
	if _, err := o.get(); err != nil {
		g.analystRefused(r, &analystFailure{status: http.StatusServiceUnavailable, reason: "OpenID Connect provider unavailable"})
		writeOutcome(w, http.StatusServiceUnavailable, "transient", "the OpenID Connect provider cannot be reached; try again shortly")
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	next := safeNext(r.URL.Query().Get("next"))
	sealed := g.analysts.seal("oidc-state", strings.Join([]string{state, nonce, verifier, next}, "\n"), g.analysts.now().Add(oidcStateTTL))
	// Lax, not Strict: the provider's redirect back to the callback is a cross-site navigation,
	// on which a Strict cookie would not be sent.
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: sealed, Path: "/analytics/oidc/", MaxAge: int(oidcStateTTL / time.Second),
		HttpOnly: true, Secure: g.analysts.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, o.oauth(g.oidcRedirectURL()).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusFound)
}

// handleOIDCCallback checks the provider's answer and starts a session.
func (g *Gateway) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	o := g.analysts.oidc
	if !o.browser() {
		writeOutcome(w, http.StatusNotFound, "not-supported", "sign-in with the OpenID Connect provider is not configured")
		return
	}
	fail := func(status int, reason string) {
		g.analystRefused(r, &analystFailure{status: status, reason: reason})
		g.renderLogin(w, status, "", "Sign-in with your organisation's account failed. Try again.")
	}
	c, err := r.Cookie(oidcStateCookie)
	if err != nil {
		fail(http.StatusBadRequest, "sign-in state cookie missing")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: "", Path: "/analytics/oidc/", MaxAge: -1, HttpOnly: true, Secure: g.analysts.secure, SameSite: http.SameSiteLaxMode})
	raw, ok := g.analysts.open("oidc-state", c.Value)
	parts := strings.Split(raw, "\n")
	if !ok || len(parts) != 4 {
		fail(http.StatusBadRequest, "sign-in state invalid or expired")
		return
	}
	state, nonce, verifier, next := parts[0], parts[1], parts[2], parts[3]
	q := r.URL.Query()
	if got := q.Get("state"); subtle.ConstantTimeCompare([]byte(got), []byte(state)) != 1 {
		fail(http.StatusBadRequest, "sign-in state mismatch")
		return
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		fail(http.StatusUnauthorized, "provider returned no code")
		return
	}
	if _, err := o.get(); err != nil {
		fail(http.StatusServiceUnavailable, "OpenID Connect provider unavailable")
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), o.hc), 10*time.Second)
	defer cancel()
	tok, err := o.oauth(g.oidcRedirectURL()).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		fail(http.StatusUnauthorized, "code exchange refused")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		fail(http.StatusUnauthorized, "no id_token in the token response")
		return
	}
	id, err := o.idTokens.Verify(ctx, rawID)
	if err != nil {
		fail(http.StatusUnauthorized, oidcReason(err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(nonce)) != 1 {
		fail(http.StatusUnauthorized, "id_token nonce mismatch")
		return
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil || !claimHasAny(claims, o.cfg.Claim, o.cfg.Values) {
		fail(http.StatusForbidden, "token lacks the required "+o.cfg.Claim+" value")
		return
	}
	who := oidcIdentity(o.cfg, id.Subject, claims)
	g.setSession(w, who)
	g.log.Info("analyst signed in", "account", displayIdentity(who), "request_id", requestID(r.Context()))
	// A page on valuerx's origin moves on, not a redirect: the session cookie is SameSite=Strict
	// and a redirect chain that began at the provider is cross-site, so it would not be sent.
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	_ = continuePage.Execute(w, safeNext(next))
}

var continuePage = template.Must(template.New("continue").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={{.}}">
<title>valuerx analytics: signed in</title></head>
<body><p>Signed in. <a href="{{.}}">Continue</a></p></body></html>
`))

// randomToken is 32 random bytes in base64url, for state and nonce.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
