package authz

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"unsafe"

	"github.com/paved-go/paved/internal/httpx"
)

// ErrRevoked is what a key lookup (WithKeyLookup) returns for a key that
// exists but has been revoked. APIKeys answers a revoked key exactly as an
// unknown one (401, the same challenge); the error it returns unwraps to
// both ErrUnauthenticated and ErrRevoked, so logs say "revoked".
var ErrRevoked = errors.New("authz: credential revoked")

// DefaultAPIKeyHeader is the request header APIKeys reads unless
// WithKeyHeader names another.
const DefaultAPIKeyHeader = "X-API-Key"

// MaxAPIKeyLength is the longest API key APIKeys accepts, in bytes. A
// longer header value is rejected before it is hashed.
const MaxAPIKeyLength = 4096

type apiKeyConfig struct {
	header  string
	realm   string
	lookup  func(ctx context.Context, digest [32]byte) (*Principal, error)
	revoked [][32]byte
}

// APIKeys authenticates requests by a secret key in a header, X-API-Key by
// default. It is safe for concurrent use.
//
// Only the SHA-256 digests of the keys are kept. A request's key is hashed
// and looked up by its digest, in the map given to NewAPIKeys or through
// WithKeyLookup. The lookup is timing-safe although a map compares digests
// byte by byte and stops at the first difference: the time it takes can at
// most tell a caller how many leading bytes of the digest of its guess match
// a stored digest, and a caller cannot choose a digest's bytes (that would
// take a SHA-256 preimage), so it learns nothing that brings it closer to a
// key. The digest found in the map is then compared with the request's in
// constant time (crypto/subtle), so the decision itself never rests on a
// comparison that stops early. A WithKeyLookup store finds keys by digest
// too, and the same reasoning covers its index. Keys should be long and
// random (128 bits or more): hashing without a salt is right for such
// keys, and wrong for passwords.
//
// A request without the header gets ErrNoCredentials; an empty, oversize
// (over MaxAPIKeyLength), repeated, unknown or revoked key gets an error
// unwrapping ErrUnauthenticated whose message gives the reason, never the
// key. The key is read from the configured header only, not from
// Authorization: one place for the secret keeps it out of any layer that
// handles Authorization (a bearer authenticator, a proxy's logging rules)
// and means a request never presents two different keys.
type APIKeys struct {
	keys      map[[32]byte]*storedKey
	lookup    func(ctx context.Context, digest [32]byte) (*Principal, error)
	revoked   map[[32]byte]struct{}
	header    string
	challenge string
}

// NewAPIKeys returns an authenticator for the keys, which maps each secret
// key to its caller. The Principals are copied; their Scheme is "apikey"
// and an empty Type becomes "apikey". keys may be nil when WithKeyLookup
// is given; both may be given, and the map is consulted first.
//
// Options: WithKeyHeader, WithKeyLookup, WithRevoked, WithRealm. NewAPIKeys
// fails on an empty or oversize key, a nil Principal, no keys and no
// lookup, or an invalid option.
func NewAPIKeys(keys map[string]*Principal, opts ...Option) (*APIKeys, error) {
	cfg := config{apiKeys: apiKeyConfig{header: DefaultAPIKeyHeader}}
	errs := []error{applyOptions(&cfg, forAPIKeys, opts)}
	c := cfg.apiKeys
	a := &APIKeys{
		keys:   make(map[[32]byte]*storedKey, len(keys)),
		lookup: c.lookup,
		header: http.CanonicalHeaderKey(c.header), // so that Get and Values do not allocate
	}
	for k, p := range keys {
		switch {
		case k == "":
			errs = append(errs, errors.New("authz: NewAPIKeys: empty key"))
			continue
		case len(k) > MaxAPIKeyLength:
			errs = append(errs, errors.New("authz: NewAPIKeys: key longer than "+strconv.Itoa(MaxAPIKeyLength)+" bytes"))
			continue
		case p == nil:
			// The key is a secret: name the caller-visible position, not it.
			errs = append(errs, errors.New("authz: NewAPIKeys: nil Principal for a key"))
			continue
		}
		cp := *p
		cp.Scheme = "apikey"
		if cp.Type == "" {
			cp.Type = "apikey"
		}
		d := sha256.Sum256([]byte(k))
		a.keys[d] = &storedKey{digest: d, p: &cp}
	}
	if len(keys) == 0 && c.lookup == nil {
		errs = append(errs, errors.New("authz: NewAPIKeys: no keys and no WithKeyLookup"))
	}
	if len(c.revoked) > 0 {
		a.revoked = make(map[[32]byte]struct{}, len(c.revoked))
		for _, d := range c.revoked {
			a.revoked[d] = struct{}{}
		}
	}
	b := []byte("ApiKey ")
	if c.realm != "" {
		b = append(b, "realm="...)
		b = httpx.AppendQuoted(b, c.realm)
		b = append(b, ", "...)
	}
	b = append(b, "header="...)
	a.challenge = string(httpx.AppendQuoted(b, c.header))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return a, nil
}

var (
	errKeyEmpty    = invalid("empty API key")
	errKeyTooLong  = invalid("API key longer than " + strconv.Itoa(MaxAPIKeyLength) + " bytes")
	errKeyRepeated = invalid("more than one API key header")
	errKeyUnknown  = invalid("unknown API key")
	errKeyRevoked  = newCredentialError("revoked API key", "", ErrRevoked)
)

// valuer is implemented by http.Header (and authzgrpc's metadata adapter):
// every value of a header, to refuse a repeated credential.
type valuer interface {
	Values(name string) []string
}

// Authenticate returns the Principal of the request's API key. See APIKeys
// for the errors. A nil *APIKeys finds no credentials.
func (a *APIKeys) Authenticate(ctx context.Context, h Headers) (*Principal, error) {
	if a == nil {
		return nil, ErrNoCredentials
	}
	key, n := a.read(h)
	if key == "" {
		if n > 0 {
			return nil, errKeyEmpty // present, empty
		}
		return nil, ErrNoCredentials
	}
	if len(key) > MaxAPIKeyLength {
		return nil, errKeyTooLong
	}
	if n > 1 {
		return nil, errKeyRepeated
	}
	d := digest(key)
	if _, ok := a.revoked[d]; ok {
		return nil, errKeyRevoked
	}
	if k, ok := a.keys[d]; ok && digestEqual(k.digest, d) {
		return k.p, nil
	}
	if a.lookup == nil {
		return nil, errKeyUnknown
	}
	p, err := a.lookup(ctx, d)
	switch {
	case errors.Is(err, ErrRevoked):
		return nil, errKeyRevoked
	case err != nil:
		return nil, newCredentialError("API key lookup failed", "", err)
	case p == nil:
		return nil, errKeyUnknown
	}
	if p.Scheme != "apikey" {
		cp := *p
		cp.Scheme = "apikey"
		p = &cp
	}
	return p, nil
}

// read returns the first value of the key header in h and how many values
// it has (0 or 1, by Get, for headers that cannot list them). An
// http.Header is read once, straight from the map: a.header is canonical.
func (a *APIKeys) read(h Headers) (key string, n int) {
	if hh, ok := h.(http.Header); ok {
		vs := hh[a.header]
		if len(vs) == 0 {
			return "", 0
		}
		return vs[0], len(vs)
	}
	key = h.Get(a.header)
	if v, ok := h.(valuer); ok {
		return key, len(v.Values(a.header))
	}
	if key == "" {
		return "", 0
	}
	return key, 1
}

// storedKey is a key of NewAPIKeys' map: its digest and its caller.
type storedKey struct {
	digest [32]byte
	p      *Principal
}

// digestEqual compares two digests in constant time. It is a variable so
// that a test can see the comparison is made.
var digestEqual = func(a, b [32]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// digest returns the SHA-256 digest of key without copying it: a key
// longer than 32 bytes would otherwise be copied to the heap on every
// request. sha256 only reads its input.
func digest(key string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(key), len(key)))
}

// Challenge returns the APIKeys challenge, the same for every error, so a
// revoked key cannot be told from an unknown one: `ApiKey header="X-API-Key"`,
// with a realm parameter first when WithRealm is set. ApiKey is not a
// registered HTTP authentication scheme; the value follows the challenge
// syntax of RFC 9110 section 11.6.1 and names the header to send the key in.
func (a *APIKeys) Challenge(error) string {
	if a == nil {
		return ""
	}
	return a.challenge
}

// WithKeyHeader sets the request header NewAPIKeys reads the key from
// (default X-API-Key). The name must be a valid header field name.
func WithKeyHeader(name string) Option {
	return newOption("WithKeyHeader", forAPIKeys, func(c *config) error {
		if !validToken(name) {
			return errors.New("authz: WithKeyHeader: invalid header name " + strconv.Quote(name))
		}
		c.apiKeys.header = name
		return nil
	})
}

// WithKeyLookup finds the caller of a key that is not in NewAPIKeys' map by
// the SHA-256 digest of the key (sha256.Sum256 of its bytes), so that a
// store of keys never holds the keys themselves. lookup returns the
// Principal; (nil, nil) for an unknown key; ErrRevoked (or an error wrapping
// it) for a revoked one; any other error when the store fails, which
// Authenticate reports as an authentication failure wrapping it. The
// Principal is used as it is, except that a Scheme other than "apikey" is
// set to "apikey" on a copy. lookup is
// called on every request that presents a key not in the map, and must be
// safe for concurrent use; put a cache in it when the store is remote.
func WithKeyLookup(lookup func(ctx context.Context, digest [32]byte) (*Principal, error)) Option {
	return newOption("WithKeyLookup", forAPIKeys, func(c *config) error {
		if lookup == nil {
			return errors.New("authz: WithKeyLookup: nil lookup")
		}
		c.apiKeys.lookup = lookup
		return nil
	})
}

// WithRevoked revokes keys by the SHA-256 digests of the keys
// (sha256.Sum256 of their bytes), so that a revocation list never holds the
// keys themselves. A revoked key is refused even when it is in NewAPIKeys'
// map or its lookup finds it.
func WithRevoked(digests ...[32]byte) Option {
	return newOption("WithRevoked", forAPIKeys, func(c *config) error {
		c.apiKeys.revoked = append(c.apiKeys.revoked, digests...)
		return nil
	})
}

// validToken reports whether s is an RFC 9110 token (a header field name,
// an auth-scheme).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			continue
		}
		return false
	}
	return true
}
