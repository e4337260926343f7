package cdshooks

// ES384 (ECDSA P-384 with SHA-384, RFC 7518 §3.4) verification in variable
// time, with per-key precomputation.
//
// crypto/ecdsa verifies in constant time, as it must for signing, although
// every input of a signature check (the key, the message, the signature) is
// public. A CPU profile of valuerx under load put 70 % of its time in that
// check. A verifier checks many signatures under few keys (one or two per
// trusted EHR), so the point multiplications u1·G + u2·Q are done with a
// fixed-base comb for both points, with signed digits: for each w-bit window
// i of the 384-bit scalars a table holds d·2^(w·i)·P for d in [1, 2^(w-1)];
// the scalar is recoded into digits in [-(2^(w-1)-1), 2^(w-1)] (a digit above
// 2^(w-1) becomes d - 2^w and carries one into the next window), and a
// negative digit adds the negation of its entry (nistec's Negate, one field
// subtraction), so a window needs half the entries of unsigned digits. A
// product is one table look-up and at most one complete point addition per
// window, with no doublings. G's table has 10-bit windows (39 windows, 19,472
// points, 3.2 MB, about 17 ms of CPU to build: once per process, in the
// background from the first ES384 key loaded); a key's table 8-bit windows (49
// windows, 6,145 points, 1.0 MB, about 5 ms), built in the background after the
// key's first valid signature and kept in a bounded cache keyed by the key's
// encoding (es384TableCacheSize), so a key set refresh reuses it; until then
// u2·Q is nistec's constant-time ScalarMult. A check is thus at most 39 + 49 =
// 88 table terms, the first copied and the others added (the 6-bit unsigned
// comb before 2 December 2026: 128 additions), one
// field inversion (BytesX, about 15 µs, an eighth of the check) and a few
// math/big operations on reused integers. Worst case memory: G plus 16 key
// tables, about 19 MB of heap (G plus one key: 4.2 MB).
//
// An entry is a copy of a nistec.P384Point struct, which holds pointers to
// its three coordinates: the entries of a table sit in one slice, sharing
// their coordinates with the discarded originals, so a look-up follows one
// pointer less than with a slice of *P384Point and an entry is three heap
// objects instead of four. (The coordinates themselves cannot be stored
// inline: they are nistec's internal fiat elements, allocated by
// NewP384Point, and loading a point from bytes would check it is on the
// curve, several field multiplications a look-up.) Entries are never written
// after the build, only read as Add's, Set's and Negate's operand. A wider
// window saves additions but not time in proportion: a table that does not
// fit the cache costs misses per look-up (BenchmarkES384VerifyDigest's
// comb-varied, which cycles through signatures, shows it). An 11-bit G table
// (6.3 MB) did not beat the 10-bit one; 9-bit key tables may win a little
// more but cost 1.8 MB a key, 29 MB for a full cache. Look-ups index the
// table by the scalar's bits, which is variable time: right for public
// inputs, never to be used with a secret scalar.
//
// Only the point arithmetic comes from a library: filippo.io/nistec, the
// standalone form of the standard library's crypto/internal/fips140/nistec
// (complete projective formulas over fiat-crypto's formally verified P-384
// field arithmetic); complete formulas need no special case for doubling or
// the point at infinity, which a table sum meets. The acceptance rules are
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
//
// Until 1 December 2026 the product came from github.com/cloudflare/circl's
// wNAF CombinedMult (about 290 µs a check here), then from a 6-bit unsigned
// comb (115 µs, a fifth of crypto/ecdsa's 556 µs; docs/performance.md). This
// comb takes a fifth less CPU than that one: on 2 December, in 7 interleaved
// rounds of go test -run '^$' -bench ES384VerifyDigest ./cdshooks on the
// loaded 2-core machine (crypto/ecdsa at 690 µs), median cpu-ns/op 120 µs
// against 154 µs for one repeated signature (comb) and 141 µs against 186 µs
// cycling through 256 signatures (comb-varied); 12 allocations a check
// instead of 22.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"filippo.io/nistec"
	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// es384SigSize is the JWS ES384 signature length: r and s, 48 bytes each.
const es384SigSize = 2 * 48

var (
	es384N = elliptic.P384().Params().N
	es384P = elliptic.P384().Params().P
)

// combWindowG and combWindowQ are the comb's window widths in bits, for G's
// table (one per process) and for a key's (up to es384TableCacheSize). Tables
// of w bits hold (ceil(385/w) - 1)·2^(w-1) points plus the top window's, at
// about 168 bytes a point (24 for the struct, 48 for each coordinate).
const (
	combWindowG = 10
	combWindowQ = 8
)

// combTable is a fixed-base comb with signed digits: for window i (bits w·i .. w·i+w-1 of the
// scalar) and digit d in [1, 2^(w-1)] it holds d·2^(w·i)·P at pts[i·half + d-1]. A scalar is
// recoded into digits in [-(2^(w-1)-1), 2^(w-1)], a negative digit being the negation (one field
// subtraction) of the entry for |d|, so a window needs half the entries of unsigned digits. The
// recoding carries into one more bit, so there are ceil(385/w) windows; the top one holds only
// the multiples its digit can reach (bits 384 - w·(m-1) real bits plus the carry).
type combTable struct {
	w    uint
	half int
	m    int
	pts  []nistec.P384Point
}

func newCombTable(p *nistec.P384Point, w uint) *combTable {
	half := 1 << (w - 1)
	m := int((385 + w - 1) / w)
	topBits := 384 - int(w)*(m-1)
	topCount := min(half, 1<<topBits)
	t := &combTable{w: w, half: half, m: m, pts: make([]nistec.P384Point, (m-1)*half+topCount)}
	base := nistec.NewP384Point().Set(p)
	for i := range m {
		n := half
		if i == m-1 {
			n = topCount
		}
		row := t.pts[i*half : i*half+n]
		row[0] = *nistec.NewP384Point().Set(base)
		for d := 1; d < n; d++ {
			row[d] = *nistec.NewP384Point().Add(&row[d-1], base)
		}
		if i < m-1 {
			base.Double(&row[half-1]) // 2·2^(w-1)·base = 2^w·base
		}
	}
	return t
}

// bitsAt returns bits pos .. pos+w-1 of the 48-byte big-endian k, counted from the least
// significant, zero above bit 383 (w <= 16).
func bitsAt(k *[48]byte, pos, w uint) uint {
	lo := 47 - int(pos/8)
	var v uint
	for j := 0; j < 3 && lo-j >= 0; j++ {
		v |= uint(k[lo-j]) << (8 * j)
	}
	return (v >> (pos % 8)) & (1<<w - 1)
}

// addMult adds k·P to acc, k a 48-byte big-endian scalar, in variable time. If empty, acc is
// the point at infinity and the first term is copied instead of added. It reports whether acc
// is still known to be the point at infinity (k == 0 and empty).
func (t *combTable) addMult(acc *nistec.P384Point, k *[48]byte, empty bool) bool {
	w := t.w
	full := uint(1) << w
	carry := uint(0)
	neg := nistec.NewP384Point()
	for i := range t.m {
		v := bitsAt(k, uint(i)*w, w) + carry
		carry = 0
		var e *nistec.P384Point
		switch {
		case v == 0:
			continue
		case i < t.m-1 && v > uint(t.half):
			carry = 1
			if v == full {
				continue
			}
			e = neg.Negate(&t.pts[i*t.half+int(full-v)-1])
		default:
			e = &t.pts[i*t.half+int(v)-1]
		}
		if empty {
			acc.Set(e)
			empty = false
		} else {
			acc.Add(acc, e)
		}
	}
	return empty
}

// es384G is the comb table of the generator, built on first use: in the background when the
// first ES384 key is loaded (es384WarmG), so the first check does not wait the 17 ms.
var es384G = sync.OnceValue(func() *combTable {
	return newCombTable(nistec.NewP384Point().SetGenerator(), combWindowG)
})

var es384WarmG sync.Once

// WaitES384Precomputed returns once the generator's comb table is built (building it now if no
// ES384 key has started it). The background build allocates about 58,000 objects: a test that
// counts a hook's allocations (testing.AllocsPerRun counts the whole process's) waits for it
// first, or counts part of it.
func WaitES384Precomputed() { es384G() }

// es384TableCacheSize bounds the keys whose tables are kept (about 1.0 MB
// each, so at most about 16 MB, 19 MB with G's): more than a deployment's
// signing keys in use, and tables exist only for keys that signed a valid
// token (see mulQ), so a key set of hundreds of keys cannot hold hundreds of
// megabytes.
const es384TableCacheSize = 16

// es384Tables holds the tables of the keys verified lately, by the key's
// uncompressed encoding, so the key set's periodic refresh (new key objects
// for the same keys) does not rebuild them.
var es384Tables = sync.OnceValue(func() *lru.Cache[string, *combTable] {
	c, err := lru.New[string, *combTable](es384TableCacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return c
})

// es384PublicKey is a P-384 key checked at load time, for the fast path.
// Only jwtKey.verificationKey hands one out, so only valuerx's Verifier
// takes the comb path; a plain *ecdsa.PublicKey (the load harness's floor,
// any other caller of the registered method) still gets crypto/ecdsa.
type es384PublicKey struct {
	pub *ecdsa.PublicKey
	enc string            // uncompressed SEC 1 encoding, checked: on the curve, not infinity
	q   *nistec.P384Point // the same point
}

// es384Builds makes concurrent first uses of one key build its table once.
var es384Builds singleflight.Group

// mulQ adds u2·Q to acc: with q's table when it is cached, else with nistec's own scalar
// multiplication (constant time, about three times the comb's cost).
//
// A table is built only for a key that has verified a valid signature (learn), in the
// background: anyone can send a token naming any kid of a trusted key set with a junk signature,
// and building on first use let such tokens pin a table (now about 1 MB) per key of every trusted set
// (crypto review, 1 December 2026). Tables live only in the cache, looked up on every check, so
// the cache's bound is the memory's bound and its order is that of real use.
func (k *es384PublicKey) mulQ(acc *nistec.P384Point, u2 *[48]byte, empty bool) (cached bool) {
	if t, ok := es384Tables().Get(k.enc); ok {
		t.addMult(acc, u2, empty)
		return true
	}
	p, err := nistec.NewP384Point().ScalarMult(k.q, u2[:])
	if err != nil {
		acc.Set(nistec.NewP384Point()) // cannot happen for a 48-byte scalar; fails the check
		return false
	}
	acc.Add(acc, p)
	return false
}

// learn builds and caches q's table after a valid signature, off the caller's request.
func (k *es384PublicKey) learn() {
	go es384Builds.Do(k.enc, func() (any, error) {
		if !es384Tables().Contains(k.enc) {
			es384Tables().Add(k.enc, newCombTable(k.q, combWindowQ))
		}
		return nil, nil
	})
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
	// Belt and braces for the arithmetic below: nistec's SetBytes checks
	// the coordinates are below p and the point is on the curve again, and
	// an uncompressed encoding is never the point at infinity.
	q, err := nistec.NewP384Point().SetBytes(enc)
	if err != nil || q.IsInfinity() == 1 {
		return nil, errors.New("P-384 public key is not a point of the curve")
	}
	es384WarmG.Do(func() { go es384G() })
	return &es384PublicKey{pub: pub, enc: string(enc), q: q}, nil
}

// es384Scratch holds a check's integers, reused through es384ScratchPool so their words are
// not allocated on every check.
type es384Scratch struct{ r, s, e, w, t, q, u big.Int }

var es384ScratchPool = sync.Pool{New: func() any { return new(es384Scratch) }}

// verifyDigest reports whether sig (raw r || s) is a valid signature of
// digest, by crypto/ecdsa's rules (see the file comment). digest may have
// any length; JWS ES384 always passes a SHA-384 sum.
func (k *es384PublicKey) verifyDigest(digest, sig []byte) bool {
	if len(sig) != es384SigSize {
		return false
	}
	sc := es384ScratchPool.Get().(*es384Scratch)
	defer es384ScratchPool.Put(sc)
	r, s := sc.r.SetBytes(sig[:48]), sc.s.SetBytes(sig[48:])
	if r.Sign() <= 0 || r.Cmp(es384N) >= 0 || s.Sign() <= 0 || s.Cmp(es384N) >= 0 {
		return false
	}
	// e < 2^384 < 2n, so e mod n is e or e - n.
	e := setBits2Int(&sc.e, digest, es384N.BitLen())
	if e.Cmp(es384N) >= 0 {
		e.Sub(e, es384N)
	}
	// n is prime and 0 < s < n, so the inverse exists.
	w := sc.w.ModInverse(s, es384N)
	if w == nil {
		return false
	}
	var k1, k2 [48]byte
	sc.q.QuoRem(sc.t.Mul(e, w), es384N, &sc.u) // u1 = e·w mod n (non-negative: Rem is Mod)
	sc.u.FillBytes(k1[:])
	sc.q.QuoRem(sc.t.Mul(r, w), es384N, &sc.u) // u2 = r·w mod n
	sc.u.FillBytes(k2[:])
	acc := nistec.NewP384Point()
	empty := es384G().addMult(acc, &k1, true)
	cached := k.mulQ(acc, &k2, empty)
	xb, err := acc.BytesX() // refuses the point at infinity
	if err != nil {
		return false
	}
	// x is in [0, p-1] and n < p < 2n: x mod n is x or x - n.
	x := sc.t.SetBytes(xb)
	if x.Cmp(es384N) >= 0 {
		x.Sub(x, es384N)
	}
	if x.Cmp(r) != 0 {
		return false
	}
	if !cached {
		k.learn()
	}
	return true
}

// bits2int is FIPS 186-5 §6.4.1 step 2 / RFC 6979 §2.3.2: the leftmost
// qlen bits of hash as an integer (the whole hash if it is shorter). It is
// not reduced mod n. For P-384 with SHA-384 the lengths are equal and this
// is the plain big-endian value; a longer hash is truncated, and an order
// whose bit length is not a multiple of 8 needs the right shift.
func bits2int(hash []byte, qlen int) *big.Int {
	return setBits2Int(new(big.Int), hash, qlen)
}

// setBits2Int sets e to bits2int(hash, qlen) and returns e.
func setBits2Int(e *big.Int, hash []byte, qlen int) *big.Int {
	if size := (qlen + 7) / 8; len(hash) > size {
		hash = hash[:size]
	}
	e.SetBytes(hash)
	if excess := len(hash)*8 - qlen; excess > 0 {
		e.Rsh(e, uint(excess))
	}
	return e
}

// es384Method is the jwt.SigningMethod registered for "ES384". With the
// Verifier's pre-checked key it verifies with the comb; with anything else it
// is exactly jwt.SigningMethodES384 (crypto/ecdsa), so registering it
// changes nothing for code that passes a *ecdsa.PublicKey. Signing is
// always jwt.SigningMethodES384's.
type es384Method struct{}

func init() {
	// Replace golang-jwt's ES384 entry. The parser still looks methods up
	// by the header's alg, and the Verifier still restricts alg with
	// jwt.WithValidMethods, so no other algorithm is reachable through it.
	// The entry is process-wide: code that type-asserts
	// jwt.GetSigningMethod("ES384") to *jwt.SigningMethodECDSA would now fail
	// (nothing in valuerx does; the load harness and the conformance suite pass
	// plain *ecdsa.PublicKey keys, which take golang-jwt's own path).
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
