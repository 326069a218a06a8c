package idempotency

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"
	"golang.org/x/net/http/httpguts"
)

// Defaults of New.
const (
	// DefaultHeader is the request header the key is read from.
	DefaultHeader = "Idempotency-Key"
	// DefaultReplayHeader is the response header that marks a replay, set
	// to "true" as payment APIs do.
	DefaultReplayHeader = "Idempotent-Replayed"
	// DefaultTTL is how long a completed response is kept.
	DefaultTTL = 24 * time.Hour
	// DefaultLockTimeout is how long an in-progress record lives when its
	// request never completes (its process crashed).
	DefaultLockTimeout = time.Minute
	// DefaultMaxBody is the most request body bytes read for the
	// fingerprint; a larger body gets 413.
	DefaultMaxBody = 1 << 20
	// DefaultMaxResponse is the most response body bytes stored.
	DefaultMaxResponse = 1 << 20
	// MaxKeyLength is the longest key accepted, in bytes, after parsing.
	MaxKeyLength = 255
)

// Option configures New. Options are validated by New: a bad value is an
// error from New, never a panic at request time.
type Option interface{ apply(*config) }

// target is the constructor an option is applied by.
type target uint8

const (
	forGuard target = 1 << iota
	forMemoryStore
)

func (t target) String() string {
	if t == forMemoryStore {
		return "NewMemoryStore"
	}
	return "New"
}

type option struct {
	name    string
	targets target
	fn      func(*config) error
}

func (o option) apply(c *config) {
	if o.targets&c.target == 0 {
		c.errs = append(c.errs, errors.New("idempotency: "+o.name+" does not apply to "+c.target.String()))
		return
	}
	if err := o.fn(c); err != nil {
		c.errs = append(c.errs, err)
	}
}

func guardOption(name string, fn func(*config) error) Option {
	return option{name: name, targets: forGuard, fn: fn}
}

// applyOptions applies opts for the constructor t and returns every
// option's error at once.
func applyOptions(c *config, t target, opts []Option) error {
	c.target = t
	for i, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("idempotency: option "+strconv.Itoa(i)+" to "+t.String()+" is nil"))
			continue
		}
		o.apply(c)
	}
	return errors.Join(c.errs...)
}

type config struct {
	target target
	errs   []error

	mem memoryConfig // NewMemoryStore

	store         Store
	header        string
	keyFunc       func(*http.Request) (string, error)
	scope         func(*http.Request) string
	required      bool
	docsURL       string
	ttl           time.Duration
	lockTimeout   time.Duration
	wait          time.Duration
	fingerprint   func(*http.Request, []byte) (string, error)
	fields        []string
	maxBody       int64
	maxResponse   int
	storedHeaders []string // nil: every header but the excluded ones
	storeStatus   func(int) bool
	replayHeader  string
	failOpen      bool
	logger        *slog.Logger
	meterProvider metric.MeterProvider
	errorHandler  func(http.ResponseWriter, *http.Request, error)
	filter        func(*http.Request) bool
}

func newConfig() config {
	return config{
		header:       DefaultHeader,
		ttl:          DefaultTTL,
		lockTimeout:  DefaultLockTimeout,
		maxBody:      DefaultMaxBody,
		maxResponse:  DefaultMaxResponse,
		replayHeader: DefaultReplayHeader,
	}
}

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}

func optErr(name, msg string) error { return errors.New("idempotency: " + name + ": " + msg) }

// WithStore sets where records are kept. The default is a NewMemoryStore
// with its defaults, private to the Guard; several instances of a service
// share a redisidempotency store instead.
func WithStore(s Store) Option {
	return guardOption("WithStore", func(c *config) error {
		if s == nil {
			return optErr("WithStore", "nil store")
		}
		c.store = s
		return nil
	})
}

// WithHeader sets the request header the key is read from. The default
// is DefaultHeader, "Idempotency-Key".
func WithHeader(name string) Option {
	return guardOption("WithHeader", func(c *config) error {
		if !httpguts.ValidHeaderFieldName(name) {
			return optErr("WithHeader", "invalid header name "+strconv.Quote(name))
		}
		c.header = http.CanonicalHeaderKey(name)
		return nil
	})
}

// WithKeyFunc replaces reading the key from the header: f returns the
// key of a request, "" when it has none, or an error (answered with 400)
// when the request carries a malformed one.
func WithKeyFunc(f func(*http.Request) (string, error)) Option {
	return guardOption("WithKeyFunc", func(c *config) error {
		if f == nil {
			return optErr("WithKeyFunc", "nil function")
		}
		c.keyFunc = f
		return nil
	})
}

// WithScope sets whose keys a request's key is told apart from: f returns
// the caller's identity. The default is the ID of the authz principal in
// the request's context, else the client's address (the host of
// RemoteAddr), so two callers sending the same key never see each other's
// responses.
func WithScope(f func(*http.Request) string) Option {
	return guardOption("WithScope", func(c *config) error {
		if f == nil {
			return optErr("WithScope", "nil function")
		}
		c.scope = f
		return nil
	})
}

// WithRequired makes Middleware answer a request without a key with 400
// problem+json instead of passing it through without protection. The
// default is false. Mount the middleware with it on the routes whose
// documentation requires a key.
func WithRequired(on bool) Option {
	return guardOption("WithRequired", func(c *config) error {
		c.required = on
		return nil
	})
}

// WithDocsURL sets the documentation of the key's use, an absolute URL:
// the problems Middleware answers with (missing key, conflict, mismatch)
// carry it as their type, as the Idempotency-Key draft's examples do. The
// default is none ("about:blank").
func WithDocsURL(u string) Option {
	return guardOption("WithDocsURL", func(c *config) error {
		p, err := url.Parse(u)
		if err != nil || !p.IsAbs() {
			return optErr("WithDocsURL", "not an absolute URL: "+strconv.Quote(u))
		}
		c.docsURL = u
		return nil
	})
}

// WithTTL sets how long a completed response is kept and replayed. The
// default is DefaultTTL, 24 hours.
func WithTTL(d time.Duration) Option {
	return guardOption("WithTTL", func(c *config) error {
		if d <= 0 {
			return optErr("WithTTL", "duration must be positive, got "+d.String())
		}
		c.ttl = d
		return nil
	})
}

// WithLockTimeout sets how long a request's in-progress record lives:
// when its process dies before completing, the key is free again after
// d, not after the TTL. It must exceed the longest the handler runs (a
// handler still running after it may see its key claimed by a retry;
// its response is then not stored). The default is DefaultLockTimeout,
// one minute.
func WithLockTimeout(d time.Duration) Option {
	return guardOption("WithLockTimeout", func(c *config) error {
		if d <= 0 {
			return optErr("WithLockTimeout", "duration must be positive, got "+d.String())
		}
		c.lockTimeout = d
		return nil
	})
}

// WithWait makes a retry that arrives while the first request with its
// key is in progress wait up to d for it to finish and then replay its
// response (or run, if the first released the key), instead of getting
// 409 Conflict at once. The default is 0: no wait.
func WithWait(d time.Duration) Option {
	return guardOption("WithWait", func(c *config) error {
		if d < 0 {
			return optErr("WithWait", "negative duration "+d.String())
		}
		c.wait = d
		return nil
	})
}

// WithFingerprint replaces how a request is told apart from another one
// sent with the same key: f returns a string identifying the request from
// the request and its body (read up to WithMaxBody). An error from f is
// answered with 400. The default is a SHA-256 hash of the method, the
// route and the body.
func WithFingerprint(f func(r *http.Request, body []byte) (string, error)) Option {
	return guardOption("WithFingerprint", func(c *config) error {
		if f == nil {
			return optErr("WithFingerprint", "nil function")
		}
		c.fingerprint = f
		return nil
	})
}

// WithFingerprintFields fingerprints only the named fields of a JSON
// request body (dotted paths into nested objects, "customer.id"), like
// AWS Lambda Powertools' payload validation: a retry that changes another
// field (a timestamp, a trace id) still replays, one that changes a named
// field gets 422. A missing field counts as null; a body that is not a
// JSON object is answered with 400.
func WithFingerprintFields(paths ...string) Option {
	return guardOption("WithFingerprintFields", func(c *config) error {
		if len(paths) == 0 {
			return optErr("WithFingerprintFields", "no fields")
		}
		for _, p := range paths {
			if p == "" {
				return optErr("WithFingerprintFields", "empty field path")
			}
		}
		c.fields = append([]string(nil), paths...)
		return nil
	})
}

// WithMaxBody bounds the request body read for the fingerprint, in bytes;
// a request with a longer body is answered with 413. The default is
// DefaultMaxBody, 1 MiB.
func WithMaxBody(n int64) Option {
	return guardOption("WithMaxBody", func(c *config) error {
		if n <= 0 {
			return optErr("WithMaxBody", "size must be positive, got "+strconv.FormatInt(n, 10))
		}
		c.maxBody = n
		return nil
	})
}

// WithMaxResponse bounds the response body stored, in bytes. A response
// with a longer body is still sent to its client in full, but is not
// stored: its key is kept as executed, and a retry gets 409 Conflict
// (ErrNotReplayable) rather than a second execution or a truncated body.
// The default is DefaultMaxResponse, 1 MiB.
func WithMaxResponse(n int) Option {
	return guardOption("WithMaxResponse", func(c *config) error {
		if n < 0 {
			return optErr("WithMaxResponse", "negative size "+strconv.Itoa(n))
		}
		c.maxResponse = n
		return nil
	})
}

// WithStoredHeaders stores and replays only the named response headers.
// By default every header is stored except the hop-by-hop ones
// (Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding,
// Upgrade), Date and Content-Length (written afresh), and Set-Cookie
// (credentials do not belong in the store, and a session cookie must not
// be handed out twice). Naming one of those here is an error.
func WithStoredHeaders(names ...string) Option {
	return guardOption("WithStoredHeaders", func(c *config) error {
		hs := make([]string, 0, len(names))
		for _, n := range names {
			if !httpguts.ValidHeaderFieldName(n) {
				return optErr("WithStoredHeaders", "invalid header name "+strconv.Quote(n))
			}
			n = http.CanonicalHeaderKey(n)
			if excludedHeader(n) {
				return optErr("WithStoredHeaders", n+" is never stored")
			}
			hs = append(hs, n)
		}
		c.storedHeaders = hs
		return nil
	})
}

// WithStoreStatus sets which response statuses are final and stored; a
// response with another status releases the key, so a retry runs again.
// The default stores 2xx and 4xx except 408, 409, 425 and 429 (which ask
// the client to try again), and releases everything else: 1xx, 3xx and
// 5xx.
func WithStoreStatus(f func(status int) bool) Option {
	return guardOption("WithStoreStatus", func(c *config) error {
		if f == nil {
			return optErr("WithStoreStatus", "nil function")
		}
		c.storeStatus = f
		return nil
	})
}

// WithReplayHeader sets the response header that marks a replay (set to
// "true"). The default is DefaultReplayHeader, "Idempotent-Replayed"; ""
// sends none.
func WithReplayHeader(name string) Option {
	return guardOption("WithReplayHeader", func(c *config) error {
		if name != "" && !httpguts.ValidHeaderFieldName(name) {
			return optErr("WithReplayHeader", "invalid header name "+strconv.Quote(name))
		}
		c.replayHeader = http.CanonicalHeaderKey(name)
		return nil
	})
}

// WithFailOpen makes a store error let the request run unprotected
// (logged and counted) instead of failing it. The default is false: a
// store error fails the request with 503 (ErrUnavailable), because
// executing a request twice is the harm this package prevents.
func WithFailOpen(on bool) Option {
	return guardOption("WithFailOpen", func(c *config) error {
		c.failOpen = on
		return nil
	})
}

// WithLogger sets the logger for store errors and lost keys. A nil logger
// (the default) means slog.Default() at the time of logging.
func WithLogger(l *slog.Logger) Option {
	return guardOption("WithLogger", func(c *config) error {
		c.logger = l
		return nil
	})
}

// WithMeterProvider sets the MeterProvider of paved.idempotency.requests.
// A nil one (the default) means the global provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return guardOption("WithMeterProvider", func(c *config) error {
		c.meterProvider = mp
		return nil
	})
}

// WithErrorHandler sets how Middleware answers a request it refuses; the
// error unwraps to one of the package's sentinels (ErrKeyMissing,
// ErrKeyInvalid, ErrInProgress, ErrMismatch, ErrNotReplayable,
// ErrUnavailable) or is an *http.MaxBytesError. The default writes the
// error's problem+json (paved.WriteError) with WithDocsURL's URL as the
// problem's type.
func WithErrorHandler(h func(http.ResponseWriter, *http.Request, error)) Option {
	return guardOption("WithErrorHandler", func(c *config) error {
		if h == nil {
			return optErr("WithErrorHandler", "nil function")
		}
		c.errorHandler = h
		return nil
	})
}

// WithFilter makes Middleware pass the requests for which f returns false
// straight to the next handler, without a key check.
func WithFilter(f func(*http.Request) bool) Option {
	return guardOption("WithFilter", func(c *config) error {
		if f == nil {
			return optErr("WithFilter", "nil function")
		}
		c.filter = f
		return nil
	})
}

// excludedHeader reports whether the canonical header name is never
// stored.
func excludedHeader(name string) bool {
	switch name {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Date", "Content-Length", "Set-Cookie":
		return true
	}
	return false
}

// defaultStoreStatus is the default of WithStoreStatus.
func defaultStoreStatus(s int) bool {
	switch {
	case s >= 200 && s < 300:
		return true
	case s == http.StatusRequestTimeout, s == http.StatusConflict, s == http.StatusTooEarly, s == http.StatusTooManyRequests:
		return false
	case s >= 400 && s < 500:
		return true
	}
	return false
}
