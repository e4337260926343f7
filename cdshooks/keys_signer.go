package cdshooks

// Minting CDS client JWTs: for valuerx's own dev client, the `valuerx
// token` subcommand, the conformance suite (which calls other people's
// services) and the load harness.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// jwtRSABits is the modulus size of generated RSA keys.
const jwtRSABits = 3072

// Signer mints CDS Hooks client JWTs with one private key.
type Signer struct {
	// Key is an *ecdsa.PrivateKey or *rsa.PrivateKey.
	Key crypto.Signer
	// KID goes in the header; NewSigner defaults it to the key's RFC 7638
	// thumbprint, so a key file needs no side-car metadata.
	KID string
	// Issuer is the iss claim.
	Issuer string
	// JKU, when set, goes in the header so services can fetch PublicJWKS
	// from there.
	JKU string
	// Alg is the JWS algorithm: ES256/384/512 by curve for EC keys,
	// RS384 by default for RSA (RS256/512 and PS256/384/512 also work).
	Alg string
	// Now is the clock for iat and exp (default time.Now).
	Now func() time.Time
}

// NewSigner returns a Signer for key with the default alg for its type and
// curve. An empty kid selects the key's RFC 7638 thumbprint.
func NewSigner(key crypto.Signer, issuer, kid string) (*Signer, error) {
	if key == nil {
		return nil, errors.New("cdshooks: signer: nil key")
	}
	if issuer == "" {
		return nil, errors.New("cdshooks: signer: empty issuer")
	}
	alg := jwtDefaultAlg(key.Public(), "")
	if alg == "" {
		return nil, fmt.Errorf("cdshooks: signer: unsupported key type %T", key)
	}
	s := &Signer{Key: key, Issuer: issuer, KID: kid, Alg: alg}
	if s.KID == "" {
		tp, err := jwtThumbprint(key.Public())
		if err != nil {
			return nil, fmt.Errorf("cdshooks: signer: %w", err)
		}
		s.KID = tp
	}
	if _, err := s.method(); err != nil {
		return nil, err
	}
	return s, nil
}

// method checks that Alg is allowed and fits Key, and returns the JWT
// library's signing method for it.
func (s *Signer) method() (jwt.SigningMethod, error) {
	switch s.Key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
	default:
		return nil, fmt.Errorf("cdshooks: signer: key type %T cannot sign (want *ecdsa.PrivateKey or *rsa.PrivateKey)", s.Key)
	}
	if _, err := (jwtKey{pub: s.Key.Public()}).verificationKey(s.Alg); err != nil {
		return nil, fmt.Errorf("cdshooks: signer: alg %q does not fit the key", s.Alg)
	}
	m := jwt.GetSigningMethod(s.Alg)
	if m == nil {
		return nil, fmt.Errorf("cdshooks: signer: unknown alg %q", s.Alg)
	}
	return m, nil
}

// Mint returns a signed JWT for audience (the exact URL to be called) that
// is valid for ttl from now (a ttl <= 0 yields an already expired token,
// which the conformance suite uses on purpose), with header {alg, typ: "JWT", kid[, jku]} and
// claims {iss, aud, iat, exp, jti} where jti is 32 fresh random hex digits.
// extra adds claims (e.g. "tenant") and may override the standard ones; an
// extra value of nil removes that claim (for building broken tokens in
// tests and in the conformance suite).
func (s *Signer) Mint(audience string, ttl time.Duration, extra map[string]any) (string, error) {
	m, err := s.method()
	if err != nil {
		return "", err
	}
	if s.KID == "" || s.Issuer == "" {
		return "", errors.New("cdshooks: signer: kid and issuer are required")
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("cdshooks: signer: jti: %w", err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	claims := jwt.MapClaims{
		"iss": s.Issuer,
		"iat": t.Unix(),
		"exp": t.Add(ttl).Unix(),
		"jti": hex.EncodeToString(nonce[:]),
	}
	if audience != "" {
		claims["aud"] = audience
	}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = s.KID
	if s.JKU != "" {
		tok.Header["jku"] = s.JKU
	}
	signed, err := tok.SignedString(s.Key)
	if err != nil {
		return "", fmt.Errorf("cdshooks: signer: sign: %w", err)
	}
	return signed, nil
}

// PublicJWKS returns {"keys":[…]} with the public half of Key, its kid,
// alg and use "sig", to serve at JKU or hand to a service out of band.
// It returns nil if the key is unusable (NewSigner would have refused it).
func (s *Signer) PublicJWKS() json.RawMessage {
	if _, err := s.method(); err != nil {
		return nil
	}
	j, err := jwkset.NewJWKFromKey(s.Key.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(s.Alg), KID: s.KID, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil
	}
	b, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{j.Marshal()}})
	if err != nil {
		return nil
	}
	return b
}

// TrustedClient returns the entry a Verifier needs to accept this signer's
// tokens: its issuer and its public key inline, plus its jku if set.
func (s *Signer) TrustedClient() TrustedClient {
	tc := TrustedClient{Issuer: s.Issuer, JWKS: s.PublicJWKS()}
	if s.JKU != "" {
		tc.JKUAllow = []string{s.JKU}
	}
	return tc
}

// GenerateES384 returns a new P-384 key, the CDS Hooks Sandbox's choice.
func GenerateES384() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cdshooks: generate P-384 key: %w", err)
	}
	return k, nil
}

// GenerateRS384 returns a new 3072-bit RSA key for RS384.
func GenerateRS384() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, jwtRSABits)
	if err != nil {
		return nil, fmt.Errorf("cdshooks: generate RSA key: %w", err)
	}
	return k, nil
}

// MarshalPrivatePEM encodes key as a PKCS #8 "PRIVATE KEY" PEM block, the
// form cmd writes to the dev key file (mode 0600 is cmd's job).
func MarshalPrivatePEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("cdshooks: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadSignerPEM reads the first private key in pemBytes (PKCS #8, SEC 1
// "EC PRIVATE KEY" or PKCS #1 "RSA PRIVATE KEY") and returns a Signer for
// issuer with the default alg and the thumbprint kid.
func LoadSignerPEM(pemBytes []byte, issuer string) (*Signer, error) {
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("cdshooks: no private key PEM block found")
		}
		var (
			key any
			err error
		)
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("cdshooks: encrypted private keys are not supported; store the dev key unencrypted with mode 0600")
		default:
			continue
		}
		if err != nil {
			// The parse error says nothing about the key material.
			return nil, fmt.Errorf("cdshooks: parse %s: %w", b.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("cdshooks: %T is not a signing key", key)
		}
		return NewSigner(signer, issuer, "")
	}
}

// jwtThumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of a
// public key: a stable kid derived from the key alone.
func jwtThumbprint(pub crypto.PublicKey) (string, error) {
	j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{})
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	m := j.Marshal()
	// Required members only, in lexicographic order, no whitespace.
	var members map[string]string
	switch m.KTY {
	case jwkset.KtyEC:
		members = map[string]string{"crv": m.CRV.String(), "kty": "EC", "x": m.X, "y": m.Y}
	case jwkset.KtyRSA:
		members = map[string]string{"e": m.E, "kty": "RSA", "n": m.N}
	default:
		return "", fmt.Errorf("thumbprint: unsupported kty %q", m.KTY)
	}
	// encoding/json writes map keys sorted, which is the order RFC 7638 wants.
	b, err := json.Marshal(members)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
