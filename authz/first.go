package authz

import (
	"context"
	"errors"
	"strings"
)

// First returns an Authenticator that asks auths in order and lets the
// first one that finds its credential decide: the first that returns
// anything but ErrNoCredentials (a Principal or an error) answers for
// the request, and when none finds a credential the result is
// ErrNoCredentials. A request that carries both a bearer token and an API
// key is therefore judged by whichever comes first, never by both.
//
// Nil entries are skipped, so that a conditionally configured
// authenticator (nil when its feature is off) can be passed as it is; First
// of no authenticators (or only nil ones) returns ErrNoCredentials for every
// request and an empty challenge.
//
// Challenge of the result answers an error from one of auths with that
// authenticator's challenge, and ErrNoCredentials (or an error from
// elsewhere) with the challenges of all of them joined by ", ": RFC 9110
// section 11.6.1 lets a WWW-Authenticate value list several challenges, so a
// client learns every scheme it may use.
func First(auths ...Authenticator) Authenticator {
	f := &first{}
	for _, a := range auths {
		if a != nil {
			f.auths = append(f.auths, a)
		}
	}
	return f
}

type first struct {
	auths []Authenticator
}

// decidedError remembers which authenticator decided, so that Challenge
// answers with that one's challenge only.
type decidedError struct {
	err error
	f   *first
	i   int // index of the deciding authenticator in f.auths
}

func (e *decidedError) Error() string { return e.err.Error() }
func (e *decidedError) Unwrap() error { return e.err }

func (f *first) Authenticate(ctx context.Context, h Headers) (*Principal, error) {
	for i, a := range f.auths {
		p, err := a.Authenticate(ctx, h)
		if errors.Is(err, ErrNoCredentials) {
			continue
		}
		if err != nil {
			return nil, &decidedError{err: err, f: f, i: i}
		}
		return p, nil
	}
	return nil, ErrNoCredentials
}

func (f *first) Challenge(err error) string {
	if d, ok := errors.AsType[*decidedError](err); ok && d.f == f {
		return f.auths[d.i].Challenge(d.err)
	}
	var b strings.Builder
	for _, a := range f.auths {
		c := a.Challenge(ErrNoCredentials)
		if c == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c)
	}
	return b.String()
}

// credentialError is a credential that is present but not valid. Its
// message gives the reason for logs; it unwraps to ErrUnauthenticated, whose
// message is all a client sees (httpx.PublicMessage), and to the cause, if
// any, which never holds the credential.
type credentialError struct {
	reason string  // for logs: "token expired", "revoked", ...
	desc   string  // the error_description of a bearer challenge; "" for none
	cause  error   // nil for none
	chain  []error // ErrUnauthenticated and cause, made once
}

func newCredentialError(reason, desc string, cause error) *credentialError {
	e := &credentialError{reason: reason, desc: desc, cause: cause, chain: []error{ErrUnauthenticated}}
	if cause != nil {
		e.chain = append(e.chain, cause)
	}
	return e
}

func (e *credentialError) Error() string {
	s := "authz: unauthenticated: " + e.reason
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *credentialError) Unwrap() []error { return e.chain }

// invalid returns a credentialError whose reason is also its description.
func invalid(reason string) error {
	return newCredentialError(reason, reason, nil)
}

// validParam reports whether s can be an auth-param value: visible ASCII
// and spaces (qdtext and quoted-pair without obs-text).
func validParam(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// WithRealm sets the realm named in the WWW-Authenticate challenges of
// NewJWT and NewAPIKeys (RFC 9110 section 11.5), such as "api". The default
// is none: the challenge has no realm parameter. The realm must be visible
// ASCII and spaces.
func WithRealm(realm string) Option {
	return newOption("WithRealm", forJWT|forAPIKeys, func(c *config) error {
		if !validParam(realm) {
			return errors.New("authz: WithRealm: realm must be visible ASCII and spaces")
		}
		c.jwt.realm = realm
		c.apiKeys.realm = realm
		return nil
	})
}
