package authz_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/paved-go/paved/authz"
)

// jwkOf returns the JWK of key (a public key, or a []byte secret).
func jwkOf(t testing.TB, kid string, key any, use, alg string) jwkset.JWKMarshal {
	t.Helper()
	_, secret := key.([]byte)
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: secret},
		Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.USE(use), ALG: jwkset.ALG(alg)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return j.Marshal()
}

func jwksDoc(keys ...jwkset.JWKMarshal) []byte {
	return mustJSON(jwkset.JWKSMarshal{Keys: keys})
}

func jwksOf(t testing.TB, kid string, key any, use string) []byte {
	return jwksDoc(jwkOf(t, kid, key, use, ""))
}

func jwksOfAlg(t testing.TB, kid string, key any, alg string) []byte {
	return jwksDoc(jwkOf(t, kid, key, "", alg))
}

// idp is an identity provider's JWKS endpoint as a RoundTripper, so that
// tests under synctest make no network calls. It counts requests, and
// holds them while held.
type idp struct {
	hits atomic.Int32
	mu   sync.Mutex
	code int
	doc  []byte
	gate chan struct{}
}

func newIdP(doc []byte) *idp { return &idp{code: http.StatusOK, doc: doc} }

func (p *idp) set(code int, doc []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.code = code
	if doc != nil {
		p.doc = doc
	}
}

func (p *idp) hold() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
}

func (p *idp) release() {
	p.mu.Lock()
	close(p.gate)
	p.gate = nil
	p.mu.Unlock()
}

func (p *idp) RoundTrip(r *http.Request) (*http.Response, error) {
	p.hits.Add(1)
	p.mu.Lock()
	code, doc, gate := p.code, p.doc, p.gate
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	return &http.Response{
		StatusCode: code,
		Header:     http.Header{"Content-Type": {"application/jwk-set+json"}},
		Body:       io.NopCloser(bytes.NewReader(doc)),
		Request:    r,
	}, nil
}

func newJWKSAuth(t *testing.T, p *idp, opts ...authz.Option) *authz.JWT {
	t.Helper()
	base := []authz.Option{
		authz.WithAlgorithms("ES256", "RS256", "HS256"),
		authz.WithJWKS("https://idp.test/jwks"),
		authz.WithJWKSTransport(p),
		authz.WithIssuer("https://idp.test"),
		authz.WithExpirationRequired(false),
		authz.WithLogger(slog.New(slog.DiscardHandler)),
	}
	j, err := authz.NewJWT(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// unexpiring claims: under synctest the clock starts in 2000.
func idpClaims() jwt.MapClaims {
	return jwt.MapClaims{"iss": "https://idp.test", "sub": "alice"}
}

func TestJWKSCoalescedFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newIdP(jwksOf(t, "k1", &ecKey().PublicKey, "sig"))
		j := newJWKSAuth(t, p)
		tok := sign(t, jwt.SigningMethodES256, ecKey(), "k1", idpClaims())
		p.hold()
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Go(func() { _, errs[i] = j.Authenticate(context.Background(), bearer(tok)) })
		}
		synctest.Wait()
		p.release()
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := p.hits.Load(); n != 1 {
			t.Errorf("%d fetches for 20 concurrent first requests, want 1", n)
		}
		// Cached from then on.
		for range 10 {
			if _, err := j.Authenticate(context.Background(), bearer(tok)); err != nil {
				t.Fatal(err)
			}
		}
		if n := p.hits.Load(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
	})
}

func TestJWKSUnknownKIDRefetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k1 := jwkOf(t, "k1", &ecKey().PublicKey, "sig", "")
		k2 := jwkOf(t, "k2", &rsaKey().PublicKey, "sig", "")
		p := newIdP(jwksDoc(k1))
		j := newJWKSAuth(t, p)
		tok1 := sign(t, jwt.SigningMethodES256, ecKey(), "k1", idpClaims())
		tok2 := sign(t, jwt.SigningMethodRS256, rsaKey(), "k2", idpClaims())
		if _, err := j.Authenticate(context.Background(), bearer(tok1)); err != nil {
			t.Fatal(err)
		}

		// The provider rotates in k2. Right after a fetch, an unknown kid
		// does not cause another.
		p.set(http.StatusOK, jwksDoc(k1, k2))
		if _, err := j.Authenticate(context.Background(), bearer(tok2)); err == nil || !strings.HasSuffix(err.Error(), "unknown key id") {
			t.Fatalf("k2 right after a fetch: %v", err)
		}
		if n := p.hits.Load(); n != 1 {
			t.Fatalf("%d fetches, want 1 (rate-limited)", n)
		}

		// Five minutes on, concurrent requests with k2 share one fetch.
		time.Sleep(5 * time.Minute)
		p.hold()
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Go(func() { _, errs[i] = j.Authenticate(context.Background(), bearer(tok2)) })
		}
		synctest.Wait()
		p.release()
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := p.hits.Load(); n != 2 {
			t.Errorf("%d fetches, want 2 (one refetch for 20 requests)", n)
		}

		// A flood of made-up kids: no fetch within the interval, then one.
		bogus := sign(t, jwt.SigningMethodRS256, rsaKey(), "made-up", idpClaims())
		for range 50 {
			if _, err := j.Authenticate(context.Background(), bearer(bogus)); err == nil {
				t.Fatal("unknown kid accepted")
			}
		}
		if n := p.hits.Load(); n != 2 {
			t.Errorf("%d fetches after unknown kids, want 2", n)
		}
		time.Sleep(5 * time.Minute)
		for range 50 {
			j.Authenticate(context.Background(), bearer(bogus))
		}
		if n := p.hits.Load(); n != 3 {
			t.Errorf("%d fetches after the interval, want 3", n)
		}
	})
}

func TestJWKSStaleIfError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newIdP(jwksOf(t, "k1", &ecKey().PublicKey, "sig"))
		j := newJWKSAuth(t, p, authz.WithJWKSRefresh(time.Minute), authz.WithJWKSMaxStale(10*time.Minute))
		tok := sign(t, jwt.SigningMethodES256, ecKey(), "k1", idpClaims())
		auth := func() error {
			_, err := j.Authenticate(context.Background(), bearer(tok))
			synctest.Wait() // let a background refresh finish
			return err
		}
		if err := auth(); err != nil {
			t.Fatal(err)
		}
		p.set(http.StatusServiceUnavailable, nil)
		time.Sleep(2 * time.Minute)
		before := p.hits.Load()
		if err := auth(); err != nil {
			t.Fatalf("stale keys not used while the provider is down: %v", err)
		}
		if p.hits.Load() == before {
			t.Error("no refresh attempted")
		}
		time.Sleep(time.Minute)
		if err := auth(); err != nil {
			t.Fatalf("stale keys not used: %v", err)
		}
		// Past the stale limit, tokens are refused.
		time.Sleep(10 * time.Minute)
		err := auth()
		if !errors.Is(err, authz.ErrUnauthenticated) || !strings.HasSuffix(err.Error(), "key set unavailable") {
			t.Fatalf("past max stale: %v", err)
		}
		// The provider recovers: once the backoff has passed, keys are
		// fetched again.
		p.set(http.StatusOK, nil)
		time.Sleep(5 * time.Minute)
		if err := auth(); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	})
}

func TestJWKSBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 404 is not retried, so each fetch is one request.
		p := newIdP(nil)
		p.set(http.StatusNotFound, []byte("not found"))
		j := newJWKSAuth(t, p)
		tok := sign(t, jwt.SigningMethodES256, ecKey(), "k1", idpClaims())
		steps := []struct {
			sleep time.Duration
			hits  int32
		}{
			{0, 1},
			{0, 1},               // backing off 5s
			{5 * time.Second, 2}, // then 10s
			{5 * time.Second, 2},
			{5 * time.Second, 3}, // then 20s
			{19 * time.Second, 3},
			{time.Second, 4},
		}
		for i, s := range steps {
			time.Sleep(s.sleep)
			_, err := j.Authenticate(context.Background(), bearer(tok))
			if !errors.Is(err, authz.ErrUnauthenticated) {
				t.Fatalf("step %d: %v", i, err)
			}
			if n := p.hits.Load(); n != s.hits {
				t.Fatalf("step %d: %d fetches, want %d", i, n, s.hits)
			}
		}
	})
}

func TestJWKSSkipsUnusableKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		p := newIdP(jwksDoc(
			jwkOf(t, "secret", hmacK, "sig", ""),
			jwkOf(t, "enc", &rsaKey().PublicKey, "enc", ""),
			jwkOf(t, "k1", &ecKey().PublicKey, "sig", ""),
		))
		j := newJWKSAuth(t, p, authz.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if _, err := j.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodES256, ecKey(), "k1", idpClaims()))); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, tok string }{
			{"secret from a URL", sign(t, jwt.SigningMethodHS256, hmacK, "secret", idpClaims())},
			{"encryption key", sign(t, jwt.SigningMethodRS256, rsaKey(), "enc", idpClaims())},
		} {
			if _, err := j.Authenticate(context.Background(), bearer(tc.tok)); err == nil || !strings.HasSuffix(err.Error(), "unknown key id") {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		if n := strings.Count(logs.String(), "JWKS key skipped"); n != 2 {
			t.Errorf("%d skipped keys logged, want 2:\n%s", n, logs.String())
		}
		if strings.Contains(logs.String(), string(hmacK)) {
			t.Error("a secret reached the log")
		}
	})
}

// TestJWKSOverHTTP fetches from a loopback server through the default
// retrying client.
func TestJWKSOverHTTP(t *testing.T) {
	defer goleak.VerifyNone(t)
	var hits atomic.Int32
	var accept atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		accept.Store(r.Header.Get("Accept"))
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(jwksOf(t, "k1", &ecKey().PublicKey, "sig"))
	}))
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	j, err := authz.NewJWT(authz.WithAlgorithms("ES256"), authz.WithJWKS(srv.URL+"/jwks"), authz.WithJWKSTransport(tr),
		authz.WithTimeFunc(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	tok := sign(t, jwt.SigningMethodES256, ecKey(), "k1", claims())
	for range 5 {
		if _, err := j.Authenticate(context.Background(), bearer(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
	if a, _ := accept.Load().(string); !strings.Contains(a, "application/jwk-set+json") {
		t.Errorf("Accept = %q", a)
	}
}

func TestJWKSDocumentErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  []byte
	}{
		{"not JSON", []byte("<html>")},
		{"no keys", []byte(`{"keys":[]}`)},
		{"only secrets", jwksOf(t, "s", hmacK, "sig")},
		{"too large", append(append([]byte(`{"keys":[],"x":"`), bytes.Repeat([]byte("a"), 1<<20)...), `"}`...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newIdP(tc.doc)
				j := newJWKSAuth(t, p)
				_, err := j.Authenticate(context.Background(), bearer(sign(t, jwt.SigningMethodES256, ecKey(), "k1", idpClaims())))
				if err == nil || !strings.HasSuffix(err.Error(), "key set unavailable") {
					t.Fatalf("err = %v", err)
				}
			})
		})
	}
}
