package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/retry"
)

// family is the kind of key an algorithm needs.
type family uint8

const (
	famNone family = iota
	famHMAC
	famRSA
	famEC
	famEd
)

// algFamily returns the key family of a JWS algorithm, and famNone for
// algorithms not supported here ("none" among them).
func algFamily(alg string) family {
	switch alg {
	case "HS256", "HS384", "HS512":
		return famHMAC
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return famRSA
	case "ES256", "ES384", "ES512":
		return famEC
	case "EdDSA":
		return famEd
	}
	return famNone
}

// verifyKey is a key bound to the algorithms it may verify.
type verifyKey struct {
	key  any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
	fam  family
	bits int    // EC curve size, HMAC key size in bits
	alg  string // the JWK's alg; "" for any of the family
}

// allows reports whether k may verify a token signed with alg: same
// family, the curve the algorithm names, an HMAC key at least as long as
// the hash (RFC 7518 section 3.2), and the JWK's own alg when it has one.
func (k *verifyKey) allows(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	if algFamily(alg) != k.fam {
		return false
	}
	switch alg {
	case "ES256":
		return k.bits == 256
	case "ES384":
		return k.bits == 384
	case "ES512":
		return k.bits == 521
	case "HS384":
		return k.bits >= 384
	case "HS512":
		return k.bits >= 512
	}
	return true
}

// newVerifyKey checks key and binds it to alg ("" for its whole family).
// Private keys are reduced to their public halves.
func newVerifyKey(key any, alg string) (*verifyKey, error) {
	var k *verifyKey
	switch key := key.(type) {
	case []byte:
		if len(key) < 32 {
			return nil, errors.New("HMAC key shorter than 32 bytes")
		}
		k = &verifyKey{key: slices.Clone(key), fam: famHMAC, bits: 8 * len(key)}
	case *rsa.PrivateKey:
		return newVerifyKey(&key.PublicKey, alg)
	case *rsa.PublicKey:
		if key == nil || key.N == nil || key.N.BitLen() < 2048 {
			return nil, errors.New("RSA key shorter than 2048 bits")
		}
		k = &verifyKey{key: key, fam: famRSA}
	case *ecdsa.PrivateKey:
		return newVerifyKey(&key.PublicKey, alg)
	case *ecdsa.PublicKey:
		if key == nil || key.Curve == nil {
			return nil, errors.New("nil ECDSA key")
		}
		switch key.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, errors.New("ECDSA key on an unsupported curve")
		}
		k = &verifyKey{key: key, fam: famEC, bits: key.Curve.Params().BitSize}
	case ed25519.PrivateKey:
		return newVerifyKey(key.Public(), alg)
	case ed25519.PublicKey:
		if len(key) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key of the wrong size")
		}
		k = &verifyKey{key: key, fam: famEd}
	default:
		return nil, errors.New("unsupported key type")
	}
	if alg != "" {
		if algFamily(alg) == famNone {
			return nil, errors.New("unsupported alg " + strconv.Quote(alg))
		}
		k.alg = alg
		if !k.allows(alg) {
			return nil, errors.New("key does not fit its alg " + strconv.Quote(alg))
		}
	}
	return k, nil
}

// keySet is a set of keys by kid. It is not changed once in use.
type keySet struct {
	byKID map[string]*verifyKey
	only  *verifyKey // for a token without kid: the key with kid "", or the only key
}

func (s *keySet) add(kid string, k *verifyKey) error {
	if _, dup := s.byKID[kid]; dup {
		return errors.New("duplicate kid " + strconv.Quote(kid))
	}
	s.byKID[kid] = k
	return nil
}

// seal picks the key for tokens without a kid, once all keys are added.
func (s *keySet) seal() {
	if k, ok := s.byKID[""]; ok {
		s.only = k
		return
	}
	if len(s.byKID) == 1 {
		for _, k := range s.byKID {
			s.only = k
		}
	}
}

// find returns the key of kid, nil when there is none. A token without a
// kid (or an empty one) gets the set's key with no kid, or its only key.
func (s *keySet) find(kid string) *verifyKey {
	if kid == "" {
		return s.only
	}
	return s.byKID[kid]
}

// usableBy reports whether some key may verify one of algs.
func (s *keySet) usableBy(algs []string) bool {
	for _, k := range s.byKID {
		for _, a := range algs {
			if k.allows(a) {
				return true
			}
		}
	}
	return false
}

// addJWKS adds the keys of a JWK Set document (RFC 7517 section 5), parsed
// with jwkset. A static set (from the configuration) may hold HMAC secrets
// (kty "oct") and any key it cannot use is an error. A fetched set may not
// hold secrets (a symmetric key at a URL is no secret), and keys it cannot
// use (encryption keys, unknown types, secrets) are skipped and reported
// to skip, so that an identity provider adding a new kind of key does not
// take every token down.
func (s *keySet) addJWKS(doc []byte, static bool, skip func(kid, reason string)) error {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(doc, &set); err != nil {
		return errors.New("not a JWK Set: " + err.Error())
	}
	added := 0
	for i, m := range set.Keys {
		reason := ""
		switch {
		case m.USE != "" && m.USE != jwkset.UseSig:
			reason = "use is not sig"
		case len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify):
			reason = "key_ops has no verify"
		case m.KTY == jwkset.KtyOct && !static:
			reason = "a secret key in a fetched set"
		}
		var vk *verifyKey
		if reason == "" {
			// Certificates are not used: the key is taken from its own
			// parameters, and x5u is never fetched.
			m.X5U, m.X5C, m.X5T, m.X5TS256 = "", nil, "", ""
			jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: m.KTY == jwkset.KtyOct}, jwkset.JWKValidateOptions{})
			if err != nil {
				reason = err.Error()
			} else if vk, err = newVerifyKey(jwk.Key(), string(m.ALG)); err != nil {
				reason = err.Error()
			} else if err := s.add(m.KID, vk); err != nil {
				reason = err.Error()
			}
		}
		if reason != "" {
			if static {
				return errors.New("key " + strconv.Itoa(i) + " (kid " + strconv.Quote(m.KID) + "): " + reason)
			}
			if skip != nil {
				skip(m.KID, reason)
			}
			continue
		}
		added++
	}
	if added == 0 {
		return errors.New("no usable keys in the JWK Set")
	}
	return nil
}

// jwksSource is a key set fetched from a URL through a cache (coalesced
// loads, stale-while-revalidate, stale-if-error) and a retrying client,
// refetched early, at a bounded rate, when a token names an unknown kid.
type jwksSource struct {
	url     string
	client  *http.Client
	keys    *cache.Cache[string, *keySet]
	load    func(context.Context, string) (*keySet, error)
	logger  *slog.Logger // nil: slog.Default() at log time
	maxBody int64
	every   time.Duration // least time between fetches caused by unknown kids

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	lastFetch time.Time      // last fetch attempt
	flight    *refetchFlight // the unknown-kid refetch running, if any
	failures  int            // consecutive failed fetches
	retryAt   time.Time      // no fetch before this after failures
}

type refetchFlight struct {
	done chan struct{}
	set  *keySet // nil when the fetch failed
}

// Backoff after failed fetches: jwksBackoffBase doubled per failure, up
// to jwksBackoffMax.
const (
	jwksBackoffBase = 5 * time.Second
	jwksBackoffMax  = 5 * time.Minute
)

var errJWKSBackoff = errors.New("authz: JWKS fetch backing off after failures")

func newJWKSSource(cfg *config) (*jwksSource, error) {
	c := &cfg.jwt
	r, err := retry.New("authz.jwks", retry.WithLogger(cfg.logger))
	if err != nil {
		return nil, errors.New("authz: NewJWT: " + err.Error())
	}
	s := &jwksSource{
		url:     c.jwksURL,
		client:  &http.Client{Transport: r.Transport(c.jwksTransport), Timeout: 20 * time.Second},
		logger:  cfg.logger,
		maxBody: c.jwksMaxBodySize,
		every:   c.jwksRefetch,
	}
	s.load = s.loadSet
	s.keys, err = cache.New[string, *keySet]("authz.jwks",
		cache.WithTTL(c.jwksRefresh),
		cache.WithStaleWhileRevalidate(c.jwksMaxStale),
		cache.WithStaleIfError(c.jwksMaxStale),
		cache.WithMaxKeys(1),
		cache.WithLogger(cfg.logger),
	)
	if err != nil {
		return nil, errors.New("authz: NewJWT: " + err.Error())
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func (s *jwksSource) log() *slog.Logger {
	if s.logger != nil {
		return s.logger
	}
	return slog.Default()
}

// get returns the current key set: cached, stale while a refresh runs or
// the provider fails, or fetched now (once for all concurrent callers).
func (s *jwksSource) get(ctx context.Context) (*keySet, error) {
	return s.keys.Get(ctx, s.url, s.load)
}

func (s *jwksSource) loadSet(ctx context.Context, _ string) (*keySet, error) {
	return s.fetch(ctx)
}

// refetch fetches the set again for a token whose kid is not in seen, the
// set the caller has, unless a fetch was attempted within s.every (an
// unknown kid is cheap to send and must not become a flood of fetches).
// Concurrent callers share one fetch. It returns the newer set, or nil.
func (s *jwksSource) refetch(ctx context.Context, seen *keySet) *keySet {
	s.mu.Lock()
	f := s.flight
	if f == nil {
		if !s.lastFetch.IsZero() && time.Since(s.lastFetch) < s.every {
			s.mu.Unlock()
			// A refresh may have stored a newer set since the caller
			// read its own.
			if cur, ok := s.keys.Peek(s.url); ok && cur != seen {
				return cur
			}
			return nil
		}
		f = &refetchFlight{done: make(chan struct{})}
		s.flight = f
		s.wg.Add(1)
		go s.runRefetch(f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.set
	case <-ctx.Done():
		return nil
	}
}

func (s *jwksSource) runRefetch(f *refetchFlight) {
	defer s.wg.Done()
	set, err := s.fetch(s.ctx)
	if err == nil {
		s.keys.Set(s.url, set)
		f.set = set
	}
	s.mu.Lock()
	s.flight = nil
	s.mu.Unlock()
	close(f.done)
}

// fetch gets and parses the set, unless failures have it backing off.
func (s *jwksSource) fetch(ctx context.Context) (*keySet, error) {
	s.mu.Lock()
	now := time.Now()
	if now.Before(s.retryAt) {
		s.mu.Unlock()
		return nil, errJWKSBackoff
	}
	s.lastFetch = now
	s.mu.Unlock()

	set, err := s.download(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failures++
		wait := jwksBackoffMax
		if s.failures <= 6 {
			wait = min(jwksBackoffBase<<(s.failures-1), jwksBackoffMax)
		}
		s.retryAt = time.Now().Add(wait)
		s.log().LogAttrs(ctx, slog.LevelWarn, "authz: JWKS fetch failed",
			slog.String("url", s.url), slog.String("error", err.Error()),
			slog.Int("failures", s.failures), slog.Duration("retry_in", wait))
		return nil, err
	}
	if s.failures > 0 {
		s.log().LogAttrs(ctx, slog.LevelInfo, "authz: JWKS fetch recovered",
			slog.String("url", s.url), slog.Int("failures", s.failures))
	}
	s.failures = 0
	s.retryAt = time.Time{}
	return set, nil
}

func (s *jwksSource) download(ctx context.Context) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := retry.CheckResponse(s.client.Do(req))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, errors.New("authz: JWKS: status " + strconv.Itoa(resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > s.maxBody {
		return nil, errors.New("authz: JWKS: document larger than " + strconv.FormatInt(s.maxBody, 10) + " bytes")
	}
	set := &keySet{byKID: map[string]*verifyKey{}}
	err = set.addJWKS(body, false, func(kid, reason string) {
		s.log().LogAttrs(ctx, slog.LevelWarn, "authz: JWKS key skipped",
			slog.String("url", s.url), slog.String("kid", kid), slog.String("reason", reason))
	})
	if err != nil {
		return nil, errors.New("authz: JWKS: " + err.Error())
	}
	set.seal()
	return set, nil
}

func (s *jwksSource) close() error {
	s.cancel()
	s.wg.Wait()
	return s.keys.Close()
}

// WithKey adds a verification key named kid (the kid header of the tokens
// it signs; "" for tokens without one): an *rsa.PublicKey (2048 bits or
// more), an *ecdsa.PublicKey (P-256, P-384 or P-521), an ed25519.PublicKey,
// the private key of one of these (its public half is kept), or a []byte
// HMAC secret of at least 32 bytes. A key verifies only the algorithms of
// its kind, whatever a token says.
func WithKey(kid string, key any) Option {
	return newOption("WithKey", forJWT, func(c *config) error {
		if key == nil {
			return errors.New("authz: WithKey: nil key")
		}
		c.jwt.keys = append(c.jwt.keys, namedKey{kid: kid, key: key})
		return nil
	})
}

// WithKeySet adds the keys of a JWK Set document (RFC 7517 section 5),
// parsed with github.com/MicahParks/jwkset. A key with alg verifies only
// that algorithm; one whose use is not "sig" or whose key_ops lacks
// "verify" is an error, as is any key NewJWT cannot use. Symmetric keys
// (kty "oct") are allowed here, for HMAC. x5u, x5c and the thumbprints
// are ignored.
func WithKeySet(jwksJSON []byte) Option {
	return newOption("WithKeySet", forJWT, func(c *config) error {
		if len(jwksJSON) == 0 {
			return errors.New("authz: WithKeySet: empty document")
		}
		c.jwt.keySets = append(c.jwt.keySets, slices.Clone(jwksJSON))
		return nil
	})
}

// WithJWKS fetches the keys from a JWK Set URL, such as an OpenID
// provider's jwks_uri. The URL must be https, or http to a loopback
// address. The set is fetched on first use through paved's retry (GET with
// backoff) and kept in paved's cache: refreshed in the background every
// WithJWKSRefresh (1 hour), served stale while a refresh runs or when the
// provider is down for up to WithJWKSMaxStale (24 hours), with concurrent
// requests sharing one fetch. A token whose kid is not in the set causes
// one early fetch, shared by concurrent requests, unless a fetch was made
// within WithUnknownKIDRefetch (5 minutes). After a failed fetch the next
// waits 5 seconds, doubling per failure up to 5 minutes. Keys the set holds
// that cannot verify (encryption keys, secrets, unknown types) are skipped
// and logged.
func WithJWKS(rawURL string) Option {
	return newOption("WithJWKS", forJWT, func(c *config) error {
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" {
			return errors.New("authz: WithJWKS: not an absolute URL")
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname())) {
			return errors.New("authz: WithJWKS: the URL must be https (or http to a loopback address)")
		}
		c.jwt.jwksURL = rawURL
		return nil
	})
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WithJWKSRefresh sets how long a fetched key set is used before it is
// refreshed in the background (default 1 hour).
func WithJWKSRefresh(d time.Duration) Option {
	return newOption("WithJWKSRefresh", forJWT, func(c *config) error {
		if d <= 0 {
			return errors.New("authz: WithJWKSRefresh: interval must be positive")
		}
		c.jwt.jwksRefresh = d
		return nil
	})
}

// WithJWKSMaxStale sets how long after its refresh time a key set is still
// used while refreshing fails (default 24 hours). Past that, tokens are
// refused until a fetch succeeds.
func WithJWKSMaxStale(d time.Duration) Option {
	return newOption("WithJWKSMaxStale", forJWT, func(c *config) error {
		if d < 0 {
			return errors.New("authz: WithJWKSMaxStale: negative duration")
		}
		c.jwt.jwksMaxStale = d
		return nil
	})
}

// WithUnknownKIDRefetch sets the least time between fetches of the key set
// caused by tokens with an unknown kid (default 5 minutes): a new key is
// found within that time of its first use, and a flood of made-up kids
// causes at most one fetch per interval.
func WithUnknownKIDRefetch(d time.Duration) Option {
	return newOption("WithUnknownKIDRefetch", forJWT, func(c *config) error {
		if d <= 0 {
			return errors.New("authz: WithUnknownKIDRefetch: interval must be positive")
		}
		c.jwt.jwksRefetch = d
		return nil
	})
}

// WithJWKSTransport sets the transport the key set is fetched with, under
// paved's retry. A nil transport, the default, is paved's default base
// transport.
func WithJWKSTransport(base http.RoundTripper) Option {
	return newOption("WithJWKSTransport", forJWT, func(c *config) error {
		c.jwt.jwksTransport = base
		return nil
	})
}
