package cdshooks

// ES384 (ECDSA P-384 with SHA-384, RFC 7518 §3.4) verification in variable
// time.
//
// crypto/ecdsa verifies in constant time, as it must for signing, although
// every input of a signature check (the key, the message, the signature) is
// public. A CPU profile of valuerx under load put 70 % of its time in that
// check. github.com/cloudflare/circl's ecc/p384 computes u1·G + u2·Q with
// wNAF double-scalar multiplication and a precomputed table for G, made for
// verification; it takes about half the time.
//
// Only the point arithmetic comes from circl. The acceptance rules are
// crypto/ecdsa's (crypto/internal/fips140/ecdsa verifyGeneric, FIPS 186-5
// §6.4.2, reached through crypto/ecdsa.Verify as golang-jwt calls it), copied
// here one by one, and FuzzES384Differential holds the two to the same answer
// on every input:
//
//   - the signature is exactly 96 bytes, r || s big-endian (JWS, not ASN.1);
//   - r and s are in [1, n-1] (crypto/ecdsa refuses r, s >= n rather than
//     reducing them);
//   - e is the digest's leftmost bitlen(n) bits (bits2int), reduced mod n;
//   - R = (e·s⁻¹)·G + (r·s⁻¹)·Q is not the point at infinity, and
//     R.x mod n == r;
//   - Q is checked once, when the key is loaded: coordinates in [0, p-1], on
//     the curve, not the point at infinity (ecdsa.PublicKey.Bytes's checks).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"

	"github.com/cloudflare/circl/ecc/p384"
	"github.com/golang-jwt/jwt/v5"
)

// es384SigSize is the JWS ES384 signature length: r and s, 48 bytes each.
const es384SigSize = 2 * 48

var (
	es384Curve = p384.P384()
	es384N     = elliptic.P384().Params().N
	es384P     = elliptic.P384().Params().P
)

// es384PublicKey is a P-384 key checked at load time, for the fast path.
// Only jwtKey.verificationKey hands one out, so only valuerx's Verifier
// takes the circl path; a plain *ecdsa.PublicKey (the load harness's floor,
// any other caller of the registered method) still gets crypto/ecdsa.
type es384PublicKey struct {
	pub  *ecdsa.PublicKey
	x, y *big.Int // affine coordinates, in [0, p-1] and on the curve
}

// newES384PublicKey validates pub as crypto/ecdsa would at verification
// time, so a key it would refuse is refused when the key set is loaded
// instead of on every token.
func newES384PublicKey(pub *ecdsa.PublicKey) (*es384PublicKey, error) {
	if pub == nil || pub.Curve != elliptic.P384() {
		return nil, errors.New("not a P-384 key")
	}
	if pub.X == nil || pub.Y == nil {
		return nil, errors.New("P-384 key has no coordinates")
	}
	// Bytes refuses negative or oversized coordinates, coordinates >= p,
	// points off the curve and the point at infinity (crypto/ecdsa
	// pointFromAffine and nistec SetBytes).
	enc, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("invalid P-384 public key: %w", err)
	}
	if len(enc) != 1+2*48 || enc[0] != 4 {
		return nil, errors.New("invalid P-384 public key encoding")
	}
	x := new(big.Int).SetBytes(enc[1:49])
	y := new(big.Int).SetBytes(enc[49:])
	// Belt and braces for the arithmetic below, which assumes both.
	if x.Cmp(es384P) >= 0 || y.Cmp(es384P) >= 0 || !es384Curve.IsOnCurve(x, y) || es384Curve.IsAtInfinity(x, y) {
		return nil, errors.New("P-384 public key is not a point of the curve")
	}
	return &es384PublicKey{pub: pub, x: x, y: y}, nil
}

// verifyDigest reports whether sig (raw r || s) is a valid signature of
// digest, by crypto/ecdsa's rules (see the file comment). digest may have
// any length; JWS ES384 always passes a SHA-384 sum.
func (k *es384PublicKey) verifyDigest(digest, sig []byte) bool {
	if len(sig) != es384SigSize {
		return false
	}
	r := new(big.Int).SetBytes(sig[:48])
	s := new(big.Int).SetBytes(sig[48:])
	if r.Sign() <= 0 || r.Cmp(es384N) >= 0 || s.Sign() <= 0 || s.Cmp(es384N) >= 0 {
		return false
	}
	e := bits2int(digest, es384N.BitLen())
	e.Mod(e, es384N)
	// n is prime and 0 < s < n, so the inverse exists.
	w := new(big.Int).ModInverse(s, es384N)
	if w == nil {
		return false
	}
	u1 := e.Mul(e, w)
	u1.Mod(u1, es384N)
	u2 := w.Mul(r, w)
	u2.Mod(u2, es384N)
	x, y := es384Curve.CombinedMult(k.x, k.y, u1.Bytes(), u2.Bytes())
	if es384Curve.IsAtInfinity(x, y) {
		return false
	}
	// circl returns reduced coordinates; reducing again costs little and
	// keeps the comparison right if that ever changed. An infinity that
	// slipped through in another encoding has x ≡ 0 and fails below,
	// because r >= 1.
	x.Mod(x, es384P)
	x.Mod(x, es384N)
	return x.Cmp(r) == 0
}

// bits2int is FIPS 186-5 §6.4.1 step 2 / RFC 6979 §2.3.2: the leftmost
// qlen bits of hash as an integer (the whole hash if it is shorter). It is
// not reduced mod n. For P-384 with SHA-384 the lengths are equal and this
// is the plain big-endian value; a longer hash is truncated, and an order
// whose bit length is not a multiple of 8 needs the right shift.
func bits2int(hash []byte, qlen int) *big.Int {
	if size := (qlen + 7) / 8; len(hash) > size {
		hash = hash[:size]
	}
	e := new(big.Int).SetBytes(hash)
	if excess := len(hash)*8 - qlen; excess > 0 {
		e.Rsh(e, uint(excess))
	}
	return e
}

// es384Method is the jwt.SigningMethod registered for "ES384". With the
// Verifier's pre-checked key it verifies with circl; with anything else it
// is exactly jwt.SigningMethodES384 (crypto/ecdsa), so registering it
// changes nothing for code that passes a *ecdsa.PublicKey. Signing is
// always jwt.SigningMethodES384's.
type es384Method struct{}

func init() {
	// Replace golang-jwt's ES384 entry. The parser still looks methods up
	// by the header's alg, and the Verifier still restricts alg with
	// jwt.WithValidMethods, so no other algorithm is reachable through it.
	jwt.RegisterSigningMethod("ES384", func() jwt.SigningMethod { return es384Method{} })
}

// Alg implements jwt.SigningMethod.
func (es384Method) Alg() string { return "ES384" }

// Sign implements jwt.SigningMethod with crypto/ecdsa (constant time: the
// private key is secret).
func (es384Method) Sign(signingString string, key any) ([]byte, error) {
	return jwt.SigningMethodES384.Sign(signingString, key)
}

// Verify implements jwt.SigningMethod. A failed check returns
// jwt.ErrECDSAVerification, as jwt.SigningMethodES384 does.
func (es384Method) Verify(signingString string, sig []byte, key any) error {
	k, ok := key.(*es384PublicKey)
	if !ok {
		return jwt.SigningMethodES384.Verify(signingString, sig, key)
	}
	if len(sig) != es384SigSize {
		return jwt.ErrECDSAVerification
	}
	sum := sha512.Sum384([]byte(signingString))
	if !k.verifyDigest(sum[:], sig) {
		return jwt.ErrECDSAVerification
	}
	return nil
}
