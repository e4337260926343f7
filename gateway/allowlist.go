package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"valuerx/cdshooks"
	"valuerx/fhir"
)

// Which FHIR servers a hook may make valuerx call (issue 11, "blind SSRF"). A hook names its
// fhirServer and hands over a bearer token of its choosing; without a rule, any trusted client
// could make valuerx send GETs to loopback, the cloud metadata address or any internal name.
//
//   - A client with fhirServers configured (Config.FHIRServers[issuer]) may name only a server at
//     or under one of those bases (same scheme, host and port, path prefix on segment boundaries).
//     An operator-listed server is trusted wherever it lives: a hospital's FHIR server usually has
//     a private address.
//   - A client without fhirServers may name any https server whose every resolved address is
//     public. The check runs in the dialer's Control function, on the address actually being
//     connected to, so a name that resolves to a public address for a check and to 127.0.0.1 for
//     the connection (DNS rebinding) is still refused. Demo mode (AllowPrivateFHIR) lifts it.
//   - Redirects and next links never leave the base path the hook named (fhir.Client).
//
// A refused fhirServer is treated as absent: nothing is fetched, and a hook that needed the data
// gets the 412 of missing prefetch.

// fhirBase is a parsed FHIR service base: the unit the allowlist is written in.
type fhirBase struct {
	scheme, host, port, path string
}

// parseFHIRBase parses an absolute http(s) base URL without user info, query or fragment.
func parseFHIRBase(s string) (fhirBase, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return fhirBase{}, errors.New("does not parse as a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "https" && scheme != "http") || u.Hostname() == "" || u.Opaque != "" {
		return fhirBase{}, errors.New("must be an absolute http(s) URL")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fhirBase{}, errors.New("must be scheme://host[:port]/path without user info, query or fragment")
	}
	p := strings.TrimRight(u.Path, "/")
	if strings.Contains(p+"/", "/../") || strings.Contains(p+"/", "/./") || strings.ContainsAny(p, ";\\") {
		// ";": Java servlet containers read "/..;/" as "/../"; a backslash: IIS reads it as "/"
		// (fhir.underBase says more).
		return fhirBase{}, errors.New("must not contain dot segments, path parameters (;) or backslashes")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[scheme]
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" { // "https://." names no host once the root label's dot is dropped
		return fhirBase{}, errors.New("must be an absolute http(s) URL")
	}
	return fhirBase{scheme: scheme, host: host, port: port, path: p}, nil
}

// covers reports whether b (an allowlist entry) covers s (a hook's fhirServer): the same origin
// and a path equal to b's or below it on a segment boundary (/fhir covers /fhir/r4, not /fhirx).
func (b fhirBase) covers(s fhirBase) bool {
	return b.scheme == s.scheme && b.host == s.host && b.port == s.port &&
		(s.path == b.path || strings.HasPrefix(s.path, b.path+"/"))
}

func (b fhirBase) String() string {
	return b.scheme + "://" + net.JoinHostPort(b.host, b.port) + b.path
}

// fhirAccess is the gateway's FHIR server policy with the two HTTP clients it hands out.
type fhirAccess struct {
	byIssuer     map[string][]fhirBase
	byTenant     map[string]map[string][]fhirBase // issuer -> tenant -> its own list (Config.TenantFHIRServers)
	allowPrivate bool
	allowHTTP    bool
	trusted      *http.Client // allowlisted servers: the configured client as is
	public       *http.Client // everything else: dials public addresses only (unless allowPrivate)
}

// errRefusedServer is why a hook's fhirServer is not called; its text names no URL.
var errRefusedServer = errors.New("fhirServer is not on this client's fhirServers allowlist")

// newFHIRAccess validates the allowlists and builds the guarded client.
func newFHIRAccess(cfg *Config) (*fhirAccess, error) {
	hc := pooledFHIRClient(cfg.FHIRClient, cfg.FHIRMaxConnsPerHost)
	a := &fhirAccess{byIssuer: map[string][]fhirBase{}, byTenant: map[string]map[string][]fhirBase{}, allowPrivate: cfg.AllowPrivateFHIR, allowHTTP: cfg.AllowHTTPFHIR, trusted: hc}
	parse := func(who string, list []string) ([]fhirBase, error) {
		var out []fhirBase
		for _, s := range list {
			b, err := parseFHIRBase(s)
			if err != nil {
				return nil, fmt.Errorf("gateway: fhirServers of %s: %q %w", who, s, err)
			}
			if b.scheme == "http" && !cfg.AllowHTTPFHIR {
				return nil, fmt.Errorf("gateway: fhirServers of %s: %q is plain http, and plain-http FHIR servers are off (fhir.allowHTTP)", who, s)
			}
			out = append(out, b)
		}
		return out, nil
	}
	for iss, list := range cfg.FHIRServers {
		bs, err := parse(fmt.Sprintf("client %q", iss), list)
		if err != nil {
			return nil, err
		}
		a.byIssuer[iss] = append(a.byIssuer[iss], bs...)
	}
	for iss, tenants := range cfg.TenantFHIRServers {
		for tenant, list := range tenants {
			bs, err := parse(fmt.Sprintf("client %q tenant %q", iss, tenant), list)
			if err != nil {
				return nil, err
			}
			if len(bs) == 0 {
				return nil, fmt.Errorf("gateway: fhirServers of client %q tenant %q: empty (omit the tenant to give it its issuer's list)", iss, tenant)
			}
			if a.byTenant[iss] == nil {
				a.byTenant[iss] = map[string][]fhirBase{}
			}
			a.byTenant[iss][tenant] = bs
		}
	}
	if cfg.AllowPrivateFHIR {
		a.public = hc
		return a, nil
	}
	pub, err := publicOnlyClient(hc)
	if err != nil {
		return nil, err
	}
	a.public = pub
	return a, nil
}

// FHIR connection pool per server. A hook reads five to eight resources from its FHIR server at
// once (resolve.go, fetchplan.go), so with Go's default of two idle connections per host nearly
// every fetch under load dialled a new connection and closed it afterwards (8 000 sockets in
// TIME_WAIT during a 3 000-hook no-prefetch run at four connections), paying a handshake (a TLS
// one against a real EHR) per fetch. The pool is also a cap (Config.FHIRMaxConnsPerHost, by
// default as many as it keeps idle): beyond it a request waits for a connection, within its
// hook's deadline, instead of dialling another.
const (
	fhirIdleConnsPerHost = 64
	fhirIdleConns        = 256
)

// pooledFHIRClient is hc with a transport that keeps fhirIdleConnsPerHost idle connections per
// FHIR server and opens at most maxConns (negative: any number) when hc names no transport of its
// own (Go's default transport keeps two and opens without limit); a configured transport is the
// operator's and is used as it is.
func pooledFHIRClient(hc *http.Client, maxConns int) *http.Client {
	if hc == nil || hc.Transport != nil {
		return hc
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = fhirIdleConnsPerHost
	tr.MaxIdleConns = fhirIdleConns
	if maxConns > 0 {
		tr.MaxConnsPerHost = maxConns
		tr.MaxIdleConnsPerHost = min(tr.MaxIdleConnsPerHost, maxConns)
	}
	out := *hc
	out.Transport = tr
	return &out
}

// closeIdle closes the idle FHIR connections (Gateway.Close).
func (a *fhirAccess) closeIdle() {
	for _, hc := range []*http.Client{a.trusted, a.public} {
		if hc != nil {
			hc.CloseIdleConnections()
		}
	}
}

// publicOnlyClient copies hc with a transport whose dialer refuses non-public addresses. It
// needs hc's transport to be an *http.Transport (or nil: the default one), whose dialer it can
// replace; anything else could not be guarded and is an error. The copy uses no proxy: a proxy
// would connect on valuerx's behalf to an address this dialer never sees.
func publicOnlyClient(hc *http.Client) (*http.Client, error) {
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("gateway: FHIRClient.Transport is a %T; the private-address guard needs an *http.Transport (or AllowPrivateFHIR)", t)
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: publicOnlyControl}
	tr.Proxy = nil
	tr.DialContext = d.DialContext
	tr.DialTLSContext = nil
	out := *hc
	out.Transport = tr
	return &out, nil
}

// errPrivateAddress is what the dialer returns for a refused address.
var errPrivateAddress = fmt.Errorf("FHIR server address is loopback, private, link-local or reserved; allowlist it in the client's fhirServers to call it: %w", fhir.ErrAddressRefused)

// publicOnlyControl runs after name resolution, before connect, for every address tried.
func publicOnlyControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errPrivateAddress
	}
	if !publicAddr(ap.Addr()) {
		return errPrivateAddress
	}
	return nil
}

// nonPublic lists the special-purpose ranges (IANA IPv4 and IPv6 special-purpose registries)
// valuerx must not reach on a client's say-so.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/96", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// embedsIPv4 lists IPv6 ranges that carry an IPv4 address a gateway may forward to: NAT64
// (64:ff9b::/96, the IPv4 address in the last 32 bits), local-use NAT64 (64:ff9b:1::/48) and
// 6to4 (2002::/16, the IPv4 address in bits 16-48).
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
)

// publicAddr reports whether ip is a globally routable unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64Local.Contains(ip):
			return false
		case nat64.Contains(ip):
			return publicAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(ip):
			return publicAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	return true
}

// client returns the FHIR client for a hook's fhirServer, or an error (errRefusedServer, or the
// fhir package's for a URL it does not accept) when valuerx must not call it. The calling client
// is the verified JWT's issuer in ctx, and its tenant when the token carries one and that tenant
// has its own list (Config.TenantFHIRServers); without authentication (tests, a local demo) no
// client has an allowlist and the public-address rule applies.
func (a *fhirAccess) client(ctx context.Context, server, token string) (*fhir.Client, error) {
	b, err := parseFHIRBase(server)
	if err != nil {
		return nil, fmt.Errorf("fhirServer %w", err)
	}
	hc := a.public
	issuer, tenant := "", ""
	if c, ok := ctx.Value(ctxClaims).(*cdshooks.Claims); ok && c != nil {
		issuer, tenant = c.Issuer, c.Tenant
	}
	list := a.byIssuer[issuer]
	if own, ok := a.byTenant[issuer][tenant]; ok && tenant != "" {
		list = own // a tenant with its own list: only it, never its issuer's other tenants' servers
	}
	if len(list) > 0 {
		listed := false
		for _, e := range list {
			if e.covers(b) {
				listed = true
				break
			}
		}
		if !listed {
			return nil, errRefusedServer
		}
		hc = a.trusted
	}
	return fhir.NewClient(server, token, hc, a.allowHTTP)
}

// hookRef is what logs carry instead of a hookInstance: the first 12 hex digits of its SHA-256,
// enough to match the lines of one hook call, not the client's value itself.
func hookRef(hookInstance string) string {
	if hookInstance == "" {
		return ""
	}
	h := sha256.Sum256([]byte(hookInstance))
	return hex.EncodeToString(h[:6])
}
