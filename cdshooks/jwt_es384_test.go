package cdshooks

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"filippo.io/nistec"
	"github.com/golang-jwt/jwt/v5"

	"valuerx/internal/cputime"
)

// Test helpers for the ES384 fast path. crypto/ecdsa, called as golang-jwt's
// own SigningMethodES384 calls it, is the reference every check is held to.

// es384StdVerify is jwt.SigningMethodES384.Verify after hashing: the raw
// 96-byte r || s, then crypto/ecdsa.Verify on the digest.
func es384StdVerify(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	if len(sig) != es384SigSize {
		return false
	}
	r := new(big.Int).SetBytes(sig[:48])
	s := new(big.Int).SetBytes(sig[48:])
	return ecdsa.Verify(pub, digest, r, s)
}

// es384TestKey derives a P-384 key from seed (scalar seed mod (n-1) + 1), so
// fuzz inputs reproduce.
func es384TestKey(t testing.TB, seed []byte) *ecdsa.PrivateKey {
	t.Helper()
	d := new(big.Int).SetBytes(seed)
	d.Mod(d, new(big.Int).Sub(es384N, big.NewInt(1)))
	d.Add(d, big.NewInt(1))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P384(), d.FillBytes(make([]byte, 48)))
	if err != nil {
		t.Fatalf("derive key: %v", err)
	}
	return k
}

// es384Digest48 is the 48-byte digest crypto/ecdsa signs in place of
// digest: its leftmost 48 bytes, or digest left-padded with zeros. Both have
// the same bits2int for P-384, so a signature of one is a signature of the
// other, and signing it deterministically (RFC 6979) needs a SHA-384-sized
// input.
func es384Digest48(digest []byte) []byte {
	if len(digest) >= 48 {
		return bytes.Clone(digest[:48])
	}
	out := make([]byte, 48)
	copy(out[48-len(digest):], digest)
	return out
}

// es384Sign returns the raw r || s signature of digest (any length),
// deterministic for a given key and digest.
func es384Sign(t testing.TB, k *ecdsa.PrivateKey, digest []byte) []byte {
	t.Helper()
	der, err := k.Sign(nil, es384Digest48(digest), crypto.SHA384)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		t.Fatalf("sign: bad DER: %v", err)
	}
	return es384Raw(rs.R, rs.S)
}

func es384Raw(r, s *big.Int) []byte {
	out := make([]byte, 96)
	r.FillBytes(out[:48])
	s.FillBytes(out[48:])
	return out
}

func es384Fast(t testing.TB, pub *ecdsa.PublicKey) *es384PublicKey {
	t.Helper()
	k, err := newES384PublicKey(pub)
	if err != nil {
		t.Fatalf("newES384PublicKey: %v", err)
	}
	return k
}

// TestBits2Int works the FIPS 186-5 / RFC 6979 truncation by hand, including
// orders whose bit length is not a multiple of 8 (which P-384 never needs).
func TestBits2Int(t *testing.T) {
	h := func(s string) []byte {
		b, ok := new(big.Int).SetString(s, 16)
		if !ok {
			t.Fatalf("bad hex %q", s)
		}
		out := b.Bytes()
		if len(s)%2 == 0 && len(out) < len(s)/2 {
			out = append(make([]byte, len(s)/2-len(out)), out...)
		}
		return out
	}
	cases := []struct {
		name string
		hash []byte
		qlen int
		want string // hex
	}{
		// 0xff01 = 1111 1111 0000 0001; leftmost 9 bits 1 1111 1110 = 0x1fe.
		{"16-bit hash, 9-bit order", []byte{0xff, 0x01}, 9, "1fe"},
		// Leftmost 12 bits of 0xabcdef: 0xabc.
		{"24-bit hash, 12-bit order", []byte{0xab, 0xcd, 0xef}, 12, "abc"},
		// Equal lengths: the value itself.
		{"16-bit hash, 16-bit order", []byte{0x12, 0x34}, 16, "1234"},
		// A shorter hash is used whole, not shifted.
		{"8-bit hash, 16-bit order", []byte{0x80}, 16, "80"},
		// Leading zero bytes count as bits: 0x00ff with qlen 12 -> 0x00f.
		{"leading zero byte", []byte{0x00, 0xff}, 12, "f"},
		// P-521's order is 521 bits: a 66-byte all-ones hash keeps 521 ones
		// (528 bits shifted right by 7): hex 1 followed by 130 f.
		{"P-521 sized", bytes.Repeat([]byte{0xff}, 66), 521, "1" + strings.Repeat("f", 130)},
		// P-384 with SHA-512: the leftmost 48 bytes.
		{"SHA-512 digest, P-384", append(bytes.Repeat([]byte{0x11}, 48), bytes.Repeat([]byte{0x22}, 16)...), 384, strings.Repeat("11", 48)},
		{"empty", nil, 384, "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := bits2int(tc.hash, tc.qlen)
			want := new(big.Int).SetBytes(h(tc.want))
			if tc.want == "0" {
				want = new(big.Int)
			}
			if got.Cmp(want) != 0 {
				t.Errorf("bits2int(%x, %d) = %x, want %x", tc.hash, tc.qlen, got, want)
			}
		})
	}
	// For P-384 the truncated value must not exceed 384 bits, whatever the
	// digest length.
	if bl := bits2int(bytes.Repeat([]byte{0xff}, 200), 384).BitLen(); bl != 384 {
		t.Errorf("truncated bit length %d, want 384", bl)
	}
}

// TestES384EdgeSignatures: one key, one digest, and the signatures at and
// around the edges of crypto/ecdsa's rules. The expected answer is worked
// out from the rules; crypto/ecdsa must give it too.
func TestES384EdgeSignatures(t *testing.T) {
	k := es384TestKey(t, []byte("valuerx es384 edge key"))
	fast := es384Fast(t, &k.PublicKey)
	digest := sha512.Sum384([]byte("header.payload"))
	good := es384Sign(t, k, digest[:])
	r := new(big.Int).SetBytes(good[:48])
	s := new(big.Int).SetBytes(good[48:])
	n := es384N
	nMinus1 := new(big.Int).Sub(n, big.NewInt(1))
	one := big.NewInt(1)
	zero := new(big.Int)
	highBit := new(big.Int).Lsh(one, 383)
	allOnes := new(big.Int).Sub(new(big.Int).Lsh(one, 384), one)
	der := func() []byte {
		b, err := k.Sign(nil, digest[:], crypto.SHA384)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	rPlusN := new(big.Int).Add(r, n) // may exceed 384 bits; then it cannot be encoded
	cases := []struct {
		name string
		sig  []byte
		ok   bool
	}{
		{"valid", good, true},
		// ECDSA is malleable: (r, n-s) verifies too, and crypto/ecdsa
		// accepts it (JWS does not ask for low s).
		{"(r, n-s)", es384Raw(r, new(big.Int).Sub(n, s)), true},
		{"r = 0", es384Raw(zero, s), false},
		{"s = 0", es384Raw(r, zero), false},
		{"r = n", es384Raw(n, s), false},
		{"s = n", es384Raw(r, n), false},
		{"r = n-1", es384Raw(nMinus1, s), false},
		{"s = n-1", es384Raw(r, nMinus1), false},
		{"r = 1, s = 1", es384Raw(one, one), false},
		{"r = 2^383", es384Raw(highBit, s), false},
		{"s = 2^383", es384Raw(r, highBit), false},
		{"r = 2^384-1", es384Raw(allOnes, s), false},
		{"s = 2^384-1", es384Raw(r, allOnes), false},
		{"all zero", make([]byte, 96), false},
		{"all ones", bytes.Repeat([]byte{0xff}, 96), false},
		{"swapped r and s", es384Raw(s, r), false},
		{"ASN.1 DER instead of raw", der, false},
		{"95 bytes", good[:95], false},
		{"97 bytes", append(bytes.Clone(good), 0), false},
		{"leading zero pushed in", append([]byte{0}, good[:95]...), false},
		{"empty", nil, false},
	}
	if rPlusN.BitLen() <= 384 {
		// r + n reduces to r mod n, but crypto/ecdsa refuses r >= n.
		cases = append(cases, struct {
			name string
			sig  []byte
			ok   bool
		}{"r + n", es384Raw(rPlusN, s), false})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := es384StdVerify(&k.PublicKey, digest[:], tc.sig); got != tc.ok {
				t.Fatalf("crypto/ecdsa says %v, the rules say %v", got, tc.ok)
			}
			if got := fast.verifyDigest(digest[:], tc.sig); got != tc.ok {
				t.Errorf("fast path says %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestES384Digests: the digest rule (bits2int, then mod n) on digests of
// other lengths and on digests at n, which reduce to 0 and 1.
func TestES384Digests(t *testing.T) {
	k := es384TestKey(t, []byte("valuerx es384 digest key"))
	fast := es384Fast(t, &k.PublicKey)
	n := es384N
	cases := []struct {
		name   string
		digest []byte
	}{
		{"SHA-384 sized", bytes.Repeat([]byte{0x5a}, 48)},
		{"SHA-512 sized (truncated)", bytes.Repeat([]byte{0xa5}, 64)},
		{"SHA-256 sized (shorter, used whole)", bytes.Repeat([]byte{0x3c}, 32)},
		{"zero", make([]byte, 48)},
		{"n (reduces to 0)", n.FillBytes(make([]byte, 48))},
		{"n+1 (reduces to 1)", new(big.Int).Add(n, big.NewInt(1)).FillBytes(make([]byte, 48))},
		{"all ones", bytes.Repeat([]byte{0xff}, 48)},
		{"one byte", []byte{7}},
		{"empty", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig := es384Sign(t, k, tc.digest)
			if !es384StdVerify(&k.PublicKey, tc.digest, sig) {
				t.Fatal("crypto/ecdsa refuses its own signature")
			}
			if !fast.verifyDigest(tc.digest, sig) {
				t.Error("fast path refuses a valid signature")
			}
			// Any change to the bits that count must refuse; a change to
			// bits past the first 48 bytes must not matter.
			other := bytes.Clone(tc.digest)
			if len(other) == 0 {
				other = []byte{1}
			} else {
				other[0] ^= 0x80
			}
			if fast.verifyDigest(other, sig) || es384StdVerify(&k.PublicKey, other, sig) {
				t.Error("signature accepted for another digest")
			}
			if len(tc.digest) > 48 {
				tail := bytes.Clone(tc.digest)
				tail[len(tail)-1] ^= 1
				if !fast.verifyDigest(tail, sig) || !es384StdVerify(&k.PublicKey, tail, sig) {
					t.Error("bits beyond the order's length changed the answer")
				}
			}
		})
	}
}

// TestES384KeysCheckedAtLoad: keys crypto/ecdsa would refuse on every token
// are refused when loaded, both by newES384PublicKey and by the Verifier's
// key set parser.
func TestES384KeysCheckedAtLoad(t *testing.T) {
	k := es384TestKey(t, []byte("valuerx es384 load key"))
	p := es384P
	x, y := k.X, k.Y
	cases := []struct {
		name string
		x, y *big.Int
	}{
		{"point at infinity (0, 0)", new(big.Int), new(big.Int)},
		{"off the curve (y+1)", x, new(big.Int).Add(y, big.NewInt(1))},
		{"x = 0, y = 1", new(big.Int), big.NewInt(1)},
		{"x + p (same point mod p, not canonical)", new(big.Int).Add(x, p), y},
		{"y = 2p - y (same point mod p, overflowing)", x, new(big.Int).Sub(new(big.Int).Add(p, p), y)},
		{"x = p", new(big.Int).Set(p), y},
		{"negative y", x, new(big.Int).Neg(y)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub := &ecdsa.PublicKey{Curve: elliptic.P384(), X: tc.x, Y: tc.y}
			if _, err := newES384PublicKey(pub); err == nil {
				t.Error("newES384PublicKey accepted it")
			}
			// crypto/ecdsa refuses a valid signature made for the real key.
			digest := sha512.Sum384([]byte("x"))
			if es384StdVerify(pub, digest[:], es384Sign(t, k, digest[:])) {
				t.Error("crypto/ecdsa accepted a signature under this key")
			}
			if tc.x.Sign() < 0 || tc.y.Sign() < 0 || tc.x.BitLen() > 384 || tc.y.BitLen() > 384 {
				return // not representable in a JWK
			}
			enc := base64.RawURLEncoding
			jwk := map[string]any{"kty": "EC", "crv": "P-384", "kid": "bad", "alg": "ES384",
				"x": enc.EncodeToString(tc.x.FillBytes(make([]byte, 48))),
				"y": enc.EncodeToString(tc.y.FillBytes(make([]byte, 48)))}
			if _, err := NewVerifier(VerifierConfig{Clients: []TrustedClient{{Issuer: "x", JWKS: jwtSetJSON(t, jwk)}}}); err == nil {
				t.Error("NewVerifier accepted a key set holding it")
			}
			if _, err := jwtParseKeySet(jwtSetJSON(t, jwk), false); err == nil {
				t.Error("a fetched key set with only this key parsed")
			}
		})
	}
	t.Run("other curves", func(t *testing.T) {
		p256, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{1}, 32))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newES384PublicKey(&p256.PublicKey); err == nil {
			t.Error("a P-256 key was taken as P-384")
		}
		if _, err := newES384PublicKey(nil); err == nil {
			t.Error("nil key accepted")
		}
	})
	t.Run("control", func(t *testing.T) {
		if _, err := newES384PublicKey(&k.PublicKey); err != nil {
			t.Fatalf("valid key refused: %v", err)
		}
	})
}

// TestES384MethodRegistered: golang-jwt's "ES384" is es384Method; the
// Verifier hands it the prepared key, so the fast path is what runs; any
// other key type gets golang-jwt's own ES384 behaviour, and the answers are
// the same as jwt.SigningMethodES384's.
func TestES384MethodRegistered(t *testing.T) {
	if m, ok := jwt.GetSigningMethod("ES384").(es384Method); !ok || m.Alg() != "ES384" {
		t.Fatalf("ES384 resolves to %T", jwt.GetSigningMethod("ES384"))
	}
	f := newJWTFixture(t)
	v := f.verifier(t, nil)
	ks := v.clients[jwtTestECIss].inline
	key, err := ks[f.ec.KID].verificationKey("ES384")
	if err != nil {
		t.Fatal(err)
	}
	fast, ok := key.(*es384PublicKey)
	if !ok {
		t.Fatalf("verification key for ES384 is %T, want *es384PublicKey", key)
	}
	pub := f.ec.Key.Public().(*ecdsa.PublicKey)
	if !fast.pub.Equal(pub) {
		t.Fatal("prepared key is not the signer's key")
	}

	tok := jwtMint(t, f.ec, jwtTestAud, nil)
	parts := strings.Split(tok, ".")
	signing := parts[0] + "." + parts[1]
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(sig)
	tampered[50] ^= 0x40
	m := es384Method{}
	cases := []struct {
		name    string
		signing string
		sig     []byte
		key     any
		ok      bool
	}{
		{"fast key, valid", signing, sig, fast, true},
		{"ecdsa key, valid", signing, sig, pub, true},
		{"fast key, tampered signature", signing, tampered, fast, false},
		{"ecdsa key, tampered signature", signing, tampered, pub, false},
		{"fast key, other payload", signing + "x", sig, fast, false},
		{"fast key, short signature", signing, sig[:64], fast, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := m.Verify(tc.signing, tc.sig, tc.key)
			if (got == nil) != tc.ok {
				t.Fatalf("Verify = %v, want ok=%v", got, tc.ok)
			}
			var want error
			if k, isFast := tc.key.(*es384PublicKey); isFast {
				want = jwt.SigningMethodES384.Verify(tc.signing, tc.sig, k.pub)
			} else {
				want = jwt.SigningMethodES384.Verify(tc.signing, tc.sig, tc.key)
			}
			if (got == nil) != (want == nil) || (got != nil && !errors.Is(got, jwt.ErrECDSAVerification)) {
				t.Errorf("Verify = %v, golang-jwt's ES384 = %v", got, want)
			}
		})
	}
	if err := m.Verify(signing, sig, "not a key"); !errors.Is(err, jwt.ErrInvalidKeyType) {
		t.Errorf("wrong key type: %v, want ErrInvalidKeyType", err)
	}
	// Signing stays crypto/ecdsa's, and what it signs verifies both ways.
	s2, err := m.Sign(signing, f.ec.Key)
	if err != nil {
		t.Fatal(err)
	}
	if m.Verify(signing, s2, fast) != nil || jwt.SigningMethodES384.Verify(signing, s2, pub) != nil {
		t.Error("a signature made by Sign does not verify")
	}
	// The Verifier still refuses every algorithm outside its list, and an
	// ES384 token through it verifies on the fast path.
	if _, err := v.Verify(context.Background(), tok, jwtTestAud); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	hs := jwtRawToken(`{"alg":"HS384","typ":"JWT","kid":"`+f.ec.KID+`"}`, `{"iss":"`+jwtTestECIss+`"}`, []byte("x"))
	if _, err := v.Verify(context.Background(), hs, jwtTestAud); jwtReason(err) != ReasonAlgorithm {
		t.Errorf("HS384: %v, want %q", err, ReasonAlgorithm)
	}
}

// FuzzES384Differential holds the fast path to crypto/ecdsa: on every key,
// digest and signature the two give the same answer. op's low bit picks a
// key derived from keyIn (valid, with a real signature to mutate) or keyIn
// taken as raw coordinates (almost always off the curve: both must refuse at
// load); the rest picks a mutation of the signature, using mask.
func FuzzES384Differential(f *testing.F) {
	n := es384N
	nb := n.FillBytes(make([]byte, 48))
	nMinus1 := new(big.Int).Sub(n, big.NewInt(1)).FillBytes(make([]byte, 48))
	high := append([]byte{0x80}, make([]byte, 47)...)
	ones := bytes.Repeat([]byte{0xff}, 96)
	d48 := bytes.Repeat([]byte{0x42}, 48)
	for op := range 32 {
		f.Add([]byte("seed key"), d48, []byte{byte(op), 1, 2, 3}, uint8(op<<1))
	}
	f.Add([]byte("k"), nb, nb, uint8(2<<1))                             // digest n, r = n
	f.Add([]byte("k"), d48, nMinus1, uint8(2<<1))                       // r = n-1
	f.Add([]byte("k"), d48, nb, uint8(3<<1))                            // s = n
	f.Add([]byte("k"), d48, high, uint8(3<<1))                          // s = 2^383
	f.Add([]byte("k"), d48, ones, uint8(14<<1))                         // the whole signature all ones
	f.Add([]byte("k"), bytes.Repeat([]byte{9}, 64), []byte{}, uint8(0)) // a SHA-512-sized digest
	f.Add([]byte("k"), []byte{1}, []byte{}, uint8(0))                   // a one-byte digest
	f.Add(make([]byte, 96), d48, ones, uint8(1))                        // raw key (0, 0): infinity
	k0 := es384TestKey(f, []byte("raw"))
	raw := append(k0.X.FillBytes(make([]byte, 48)), k0.Y.FillBytes(make([]byte, 48))...)
	f.Add(raw, d48, es384Sign(f, k0, d48), uint8(1)) // a valid raw key with its own signature
	f.Fuzz(func(t *testing.T, keyIn, digest, mask []byte, op uint8) {
		if len(keyIn) > 200 || len(digest) > 200 || len(mask) > 200 {
			return
		}
		var pub *ecdsa.PublicKey
		var sig []byte
		if op&1 == 1 {
			// Raw coordinates: validity at load must agree with crypto/ecdsa's.
			buf := make([]byte, 96)
			copy(buf, keyIn)
			pub = &ecdsa.PublicKey{Curve: elliptic.P384(), X: new(big.Int).SetBytes(buf[:48]), Y: new(big.Int).SetBytes(buf[48:])}
			_, stdErr := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), append([]byte{4}, buf...))
			fast, err := newES384PublicKey(pub)
			if (err == nil) != (stdErr == nil) {
				t.Fatalf("key %x: fast load err %v, crypto/ecdsa %v", buf, err, stdErr)
			}
			if err != nil {
				if es384StdVerify(pub, digest, mask) {
					t.Fatalf("crypto/ecdsa accepted a signature under an invalid key")
				}
				return
			}
			if got, want := fast.verifyDigest(digest, mask), es384StdVerify(pub, digest, mask); got != want {
				t.Fatalf("key %x digest %x sig %x: fast %v, crypto/ecdsa %v", buf, digest, mask, got, want)
			}
			return
		}
		k := es384TestKey(t, keyIn)
		pub = &k.PublicKey
		fast := es384Fast(t, pub)
		sig = es384Sign(t, k, digest)
		r := new(big.Int).SetBytes(sig[:48])
		s := new(big.Int).SetBytes(sig[48:])
		maskInt := new(big.Int).SetBytes(mask)
		fit := func(v *big.Int) *big.Int { // keep a value encodable in 48 bytes
			if v.BitLen() > 384 {
				return new(big.Int).Set(n)
			}
			return v
		}
		switch (op >> 1) & 15 {
		case 0: // unchanged: both accept
		case 1:
			for i := range sig {
				if len(mask) > 0 {
					sig[i] ^= mask[i%len(mask)]
				}
			}
		case 2:
			sig = es384Raw(fit(maskInt), s)
		case 3:
			sig = es384Raw(r, fit(maskInt))
		case 4:
			sig = es384Raw(r, new(big.Int).Sub(n, s))
		case 5:
			sig = es384Raw(fit(new(big.Int).Add(r, n)), s)
		case 6:
			sig = es384Raw(r, fit(new(big.Int).Add(s, n)))
		case 7:
			sig = es384Raw(new(big.Int), s)
		case 8:
			sig = es384Raw(r, new(big.Int))
		case 9:
			if len(mask) > 0 && mask[0]%2 == 0 {
				sig = sig[:len(sig)-1-int(mask[0]%8)]
			} else {
				sig = append(sig, mask...)
			}
		case 10:
			sig = es384Raw(s, r)
		case 11:
			sig = es384Raw(new(big.Int).Sub(n, big.NewInt(1)), s)
		case 12:
			digest = bytes.Clone(digest)
			if len(digest) == 0 {
				digest = []byte{0}
			}
			for i, m := range mask {
				digest[i%len(digest)] ^= m
			}
		case 13:
			der, err := k.Sign(nil, es384Digest48(digest), crypto.SHA384)
			if err != nil {
				t.Fatal(err)
			}
			sig = der
		case 14:
			sig = mask
		case 15:
			sig = es384Sign(t, es384TestKey(t, append([]byte("other"), mask...)), digest)
		}
		got, want := fast.verifyDigest(digest, sig), es384StdVerify(pub, digest, sig)
		if got != want {
			t.Fatalf("key seed %x digest %x op %d sig %x: fast %v, crypto/ecdsa %v", keyIn, digest, op, sig, got, want)
		}
		if (op>>1)&15 == 0 && !got {
			t.Fatalf("unmodified signature refused by both")
		}
		// The whole method agrees too, on the JWS signing input.
		if (op>>1)&15 == 14 {
			ss := string(digest)
			if g, w := (es384Method{}).Verify(ss, sig, fast), jwt.SigningMethodES384.Verify(ss, sig, pub); (g == nil) != (w == nil) {
				t.Fatalf("method: fast %v, golang-jwt %v", g, w)
			}
		}
	})
}

// BenchmarkES384VerifyDigest is the signature check alone, without the JWT
// around it, against crypto/ecdsa on the same input.
func BenchmarkES384VerifyDigest(b *testing.B) {
	k := es384TestKey(b, []byte("bench"))
	digest := sha512.Sum384([]byte("bench"))
	sig := es384Sign(b, k, digest[:])
	fast := es384Fast(b, &k.PublicKey)
	// The key's table is built in the background after its first valid signature: wait for it,
	// so the figures are the comb's alone.
	if !fast.verifyDigest(digest[:], sig) {
		b.Fatal("refused")
	}
	for !es384Tables().Contains(fast.enc) {
		time.Sleep(time.Millisecond)
	}
	b.Run("comb", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPUClock()
		for b.Loop() {
			if !fast.verifyDigest(digest[:], sig) {
				b.Fatal("refused")
			}
		}
		cpu.report(b)
	})
	// comb-varied cycles through 256 signatures of different digests, so each check reads other
	// table entries, as a server's checks do; comb repeats one signature, whose entries stay in
	// the cache.
	var digests, sigs [][]byte
	for i := range 256 {
		d := sha512.Sum384([]byte{'v', byte(i)})
		digests = append(digests, d[:])
		sigs = append(sigs, es384Sign(b, k, d[:]))
	}
	b.Run("comb-varied", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		cpu := startCPUClock()
		for b.Loop() {
			if !fast.verifyDigest(digests[i%256], sigs[i%256]) {
				b.Fatal("refused")
			}
			i++
		}
		cpu.report(b)
	})
	b.Run("crypto-ecdsa", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPUClock()
		for b.Loop() {
			if !es384StdVerify(&k.PublicKey, digest[:], sig) {
				b.Fatal("refused")
			}
		}
		cpu.report(b)
	})
}

// cpuClock reports cpu-ns/op, the process CPU time (user + system, all
// threads) per operation, beside wall ns/op: on the shared machine the run
// queue inflates wall time far more than CPU time.
type cpuClock struct{ start time.Duration }

func startCPUClock() cpuClock { return cpuClock{cputime.Now()} }

func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(cputime.Now()-c.start)/float64(b.N), "cpu-ns/op")
	}
}

// TestCombMatchesScalarMult holds the comb to nistec's own (constant-time) scalar
// multiplication on scalars that touch every window edge and every branch of the signed
// recoding: zero, one, each digit value (all of them up to 8-bit windows, the boundaries and a
// sample for wider ones) in the lowest and highest windows, digits straddling a byte,
// two windows at once, runs of ones that carry through every window (up to 2^384 - 1, above n),
// n-1 and n-2, and pseudo-random scalars; for G's table and for a key's point with the
// production widths and others, added to the identity and to G.
func TestCombMatchesScalarMult(t *testing.T) {
	key := es384TestKey(t, []byte("comb"))
	fast := es384Fast(t, &key.PublicKey)
	mask384 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 384), big.NewInt(1))
	scalarsFor := func(w uint) [][48]byte {
		scalars := [][48]byte{{}}
		set := func(v *big.Int) {
			var k [48]byte
			new(big.Int).And(v, mask384).FillBytes(k[:])
			scalars = append(scalars, k)
		}
		half, full := int64(1)<<(w-1), int64(1)<<w
		var digits []int64
		if w <= 8 {
			for d := int64(1); d <= full; d++ {
				digits = append(digits, d)
			}
		} else { // the boundaries and a sample (every digit under -race takes a minute)
			digits = []int64{1, 2, 3, half - 1, half, half + 1, full - 2, full - 1, full}
			for d := int64(5); d < full; d += 37 {
				digits = append(digits, d)
			}
		}
		for _, d := range digits {
			set(big.NewInt(d))                                                         // lowest window
			set(new(big.Int).Lsh(big.NewInt(d), 384-w))                                // highest window
			set(new(big.Int).Lsh(big.NewInt(d), 6*w+2))                                // a window across bytes
			set(new(big.Int).Add(new(big.Int).Lsh(big.NewInt(d), 100), big.NewInt(d))) // two windows
		}
		var ones, alt [48]byte
		for i := range ones {
			ones[i] = 0xff
			alt[i] = 0x80 >> (i % 8)
		}
		scalars = append(scalars, ones, alt)
		set(new(big.Int).Sub(es384N, big.NewInt(1)))
		set(new(big.Int).Sub(es384N, big.NewInt(2)))
		x := big.NewInt(7)
		for range 32 {
			x.Mul(x, big.NewInt(0x5DEECE66D))
			x.Add(x, big.NewInt(11))
			x.Mod(x, es384N)
			set(x)
		}
		return scalars
	}
	g := nistec.NewP384Point().SetGenerator()
	type tc struct {
		name  string
		p     *nistec.P384Point
		table *combTable
	}
	cases := []tc{{"G", g, es384G()}, {"Q", fast.q, newCombTable(fast.q, combWindowQ)}}
	for _, w := range []uint{2, 5, 7, 9, 11} {
		cases = append(cases, tc{fmt.Sprintf("Q w=%d", w), fast.q, newCombTable(fast.q, w)})
	}
	for _, c := range cases {
		for _, k := range scalarsFor(c.table.w) {
			want, err := nistec.NewP384Point().ScalarMult(c.p, k[:])
			if err != nil {
				t.Fatal(err)
			}
			got := nistec.NewP384Point()
			if empty := c.table.addMult(got, &k, true); empty != (k == [48]byte{}) {
				t.Fatalf("%s: comb(%x) reports empty %v", c.name, k, empty)
			}
			if got.Equal(want) != 1 {
				t.Fatalf("%s: comb(%x) != ScalarMult", c.name, k)
			}
			// Added to a point that is not the identity.
			got.Set(g)
			c.table.addMult(got, &k, false)
			if got.Equal(want.Add(want, g)) != 1 {
				t.Fatalf("%s: G + comb(%x) != G + ScalarMult", c.name, k)
			}
		}
	}
}

// TestCombTableOnlyAfterValidSignature: a token naming a trusted kid with a junk signature must
// not make valuerx build and keep a table (anyone can send one; crypto review F1), a valid
// signature does, in the background, and key objects of a refreshed key set share it; however
// many keys sign, the cache stays within its bound. Answers are the same with and without a
// table.
func TestCombTableOnlyAfterValidSignature(t *testing.T) {
	digest := sha512.Sum384([]byte("payload"))
	junk := es384Raw(big.NewInt(1), big.NewInt(1))
	before := es384Tables().Len()
	var keys []*ecdsa.PrivateKey
	for i := range es384TableCacheSize + 4 {
		k := es384TestKey(t, []byte{byte(i), 'j'})
		keys = append(keys, k)
		if es384Fast(t, &k.PublicKey).verifyDigest(digest[:], junk) {
			t.Fatal("junk signature accepted")
		}
	}
	if n := es384Tables().Len(); n != before {
		t.Fatalf("junk signatures built tables: %d cached, %d before", n, before)
	}
	key := keys[0]
	sig := es384Sign(t, key, digest[:])
	first := es384Fast(t, &key.PublicKey)
	if !first.verifyDigest(digest[:], sig) {
		t.Fatal("valid signature refused without a table")
	}
	waitForTable(t, first.enc)
	refreshed := es384Fast(t, &key.PublicKey) // a new object for the same key, as after a refresh
	acc := nistec.NewP384Point()
	if !refreshed.mulQ(acc, new([48]byte), true) {
		t.Fatal("the refreshed key object did not find the table built for the first")
	}
	if !refreshed.verifyDigest(digest[:], sig) || refreshed.verifyDigest(digest[:], junk) {
		t.Fatal("answers changed with the table")
	}
	for _, k := range keys {
		fk := es384Fast(t, &k.PublicKey)
		if !fk.verifyDigest(digest[:], es384Sign(t, k, digest[:])) {
			t.Fatal("valid signature refused")
		}
		waitForTable(t, fk.enc)
	}
	if n := es384Tables().Len(); n > es384TableCacheSize {
		t.Fatalf("%d tables cached, bound %d", n, es384TableCacheSize)
	}
}

// waitForTable waits for the background build of enc's table (a readiness wait, not a timing
// assertion: ten seconds is a hang, a build takes milliseconds).
func waitForTable(t *testing.T, enc string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !es384Tables().Contains(enc) {
		if time.Now().After(deadline) {
			t.Fatal("no table built after a valid signature")
		}
		time.Sleep(time.Millisecond)
	}
}
