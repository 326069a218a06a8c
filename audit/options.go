package audit

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// Option configures an Emitter (New) or one of its sinks (the options
// given to WithSink). Each option says which it applies to; passing one to
// the other is an error from New, never a silent drop.
type Option interface{ apply(*config) }

// Defaults of New.
const (
	DefaultQueueSize    = 10_000
	DefaultBatchSize    = 256
	DefaultTimeout      = time.Second
	DefaultMaxBodyBytes = 64 << 10
)

// Level is how much a route's events record, as in a Kubernetes audit
// policy. The zero Level is "unset": a Route with it gets the emitter's
// default level (WithLevel).
type Level uint8

// Levels, from nothing to everything.
const (
	// None writes no event.
	None Level = iota + 1
	// Metadata records who, what, when, where and the outcome, without
	// bodies or headers.
	Metadata
	// Request adds the request's headers (WithHeaders) and body.
	Request
	// RequestResponse adds the response's headers and body too.
	RequestResponse
)

// String returns the level's name, as the constants spell it.
func (l Level) String() string {
	switch l {
	case None:
		return "None"
	case Metadata:
		return "Metadata"
	case Request:
		return "Request"
	case RequestResponse:
		return "RequestResponse"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// MarshalText returns the level's name, so levels read and write as
// text in configuration (JSON, YAML, flag.TextVar).
func (l Level) MarshalText() ([]byte, error) {
	if l < None || l > RequestResponse {
		return nil, errors.New("audit: unknown level " + l.String())
	}
	return []byte(l.String()), nil
}

// UnmarshalText sets l from a level's name, in any case ("metadata",
// "RequestResponse").
func (l *Level) UnmarshalText(b []byte) error {
	for v := None; v <= RequestResponse; v++ {
		if strings.EqualFold(string(b), v.String()) {
			*l = v
			return nil
		}
	}
	return errors.New("audit: unknown level " + strconv.Quote(string(b)))
}

// Mode is what happens to a request whose event cannot be written in
// time; see WithMode.
type Mode uint8

// Back-pressure modes.
const (
	// DropAndCount never delays a request: an event that finds a sink's
	// queue full is dropped for that sink, counted
	// (paved.audit.events{result=dropped}), logged at most once a second,
	// and announced in the sink by a drop marker.
	DropAndCount Mode = iota
	// Block waits up to the timeout (WithTimeout) for room in a full
	// queue, then drops as DropAndCount does.
	Block
	// FailClosed confirms a RequestReceived event with every sink before
	// the handler runs; when a sink does not confirm it within the
	// timeout the request fails with 503 and the handler never runs.
	FailClosed
)

// String returns the mode's name, as the constants spell it.
func (m Mode) String() string {
	switch m {
	case DropAndCount:
		return "DropAndCount"
	case Block:
		return "Block"
	case FailClosed:
		return "FailClosed"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Route is the audit policy of one route (WithRoute) or gRPC method.
type Route struct {
	// Level is how much the route's events record; zero is the default
	// level (WithLevel).
	Level Level
	// Type is the CloudEvents type of its events
	// ("com.example.instances.launch"); "" is the default (WithType).
	Type string
	// Fields are additionalFields: name to expression (see WithFields).
	// They add to the global fields, replacing those of the same name.
	Fields map[string]string
}

type target uint8

const (
	forNew target = 1 << iota
	forSink
)

func (t target) String() string {
	if t == forSink {
		return "WithSink"
	}
	return "New"
}

type sinkConfig struct {
	sink Sink
	hmac []byte // nil: the emitter's (WithHMAC)
}

type routeConfig struct {
	pattern string
	route   Route
}

type config struct {
	target target
	errs   []error

	source       string
	sinks        []*sinkConfig
	curSink      *sinkConfig
	hmac         []byte
	queueSize    int
	batchSize    int
	batchDelay   time.Duration
	mode         Mode
	timeout      time.Duration
	level        Level
	typ          string
	routes       []routeConfig
	fields       map[string]string
	headers      []string
	maxBody      int
	redact       []string
	errorHandler func(http.ResponseWriter, *http.Request, error)
	filter       func(*http.Request) bool
	clientIP     func(*http.Request) (string, error)
	dryRun       bool

	logger        *slog.Logger         // nil: slog.Default(), read at each use
	meterProvider metric.MeterProvider // nil: the global provider
}

type option struct {
	name    string
	targets target
	fn      func(*config) error
}

func (o option) apply(c *config) {
	if o.targets&c.target == 0 {
		c.errs = append(c.errs, errors.New("audit: "+o.name+" does not apply to "+c.target.String()))
		return
	}
	if err := o.fn(c); err != nil {
		c.errs = append(c.errs, err)
	}
}

func newOption(name string, targets target, fn func(*config) error) Option {
	return option{name: name, targets: targets, fn: fn}
}

func applyOptions(c *config, t target, opts []Option) {
	prev := c.target
	c.target = t
	for i, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("audit: option "+strconv.Itoa(i)+" to "+t.String()+" is nil"))
			continue
		}
		o.apply(c)
	}
	c.target = prev
}

// WithSource sets the CloudEvents source of the emitter's events, a
// URI-reference such as "https://api.example.com/gateway" or
// "/gateway/eu-1" (default: New's name).
func WithSource(uri string) Option {
	return newOption("WithSource", forNew, func(c *config) error {
		if uri == "" {
			return errors.New("audit: WithSource: empty source")
		}
		if _, err := url.Parse(uri); err != nil {
			return errors.New("audit: WithSource: " + strconv.Quote(uri) + " is not a URI-reference")
		}
		c.source = uri
		return nil
	})
}

// WithSink adds a sink: the emitter keeps a queue and a goroutine for it,
// so a slow or failing sink never holds up another. opts are sink options
// (WithSinkHMAC). Sink names must be unique within an emitter: they name
// the sink in metrics and logs. At least one sink is required.
func WithSink(s Sink, opts ...Option) Option {
	return newOption("WithSink", forNew, func(c *config) error {
		if s == nil {
			return errors.New("audit: WithSink: nil sink")
		}
		sc := &sinkConfig{sink: s}
		c.curSink = sc
		applyOptions(c, forSink, opts)
		c.curSink = nil
		c.sinks = append(c.sinks, sc)
		return nil
	})
}

// WithHMAC replaces redacted body values with "hmac-sha256:<hex>", the
// HMAC-SHA256 under key of the value (of a string's bytes, of the JSON of
// any other value), instead of "[REDACTED]", for every sink without a key
// of its own (WithSinkHMAC). Equal values then give equal digests, so
// events can be correlated by a value nobody can read back. key must be
// at least 16 bytes.
func WithHMAC(key []byte) Option {
	return newOption("WithHMAC", forNew, func(c *config) error {
		if len(key) < 16 {
			return errors.New("audit: WithHMAC: key shorter than 16 bytes")
		}
		c.hmac = append([]byte(nil), key...)
		return nil
	})
}

// WithSinkHMAC is WithHMAC for one sink, as Vault keys each audit device:
// given to WithSink, it replaces that sink's redacted values with their
// HMAC under key. key must be at least 16 bytes.
func WithSinkHMAC(key []byte) Option {
	return newOption("WithSinkHMAC", forSink, func(c *config) error {
		if len(key) < 16 {
			return errors.New("audit: WithSinkHMAC: key shorter than 16 bytes")
		}
		c.curSink.hmac = append([]byte(nil), key...)
		return nil
	})
}

// WithQueueSize sets how many events each sink's queue holds (default
// DefaultQueueSize). n must be at least 1.
func WithQueueSize(n int) Option {
	return newOption("WithQueueSize", forNew, func(c *config) error {
		if n < 1 {
			return errors.New("audit: WithQueueSize: n must be at least 1")
		}
		c.queueSize = n
		return nil
	})
}

// WithBatch sets how a sink's goroutine batches events: it writes at most
// size events per Write (default DefaultBatchSize), and with a maxDelay
// above zero it waits up to maxDelay after the first event for the batch
// to fill. With zero (the default) it writes what is queued at once. In
// FailClosed mode a delay adds to every request's wait for confirmation.
// size must be at least 1 and maxDelay not negative.
func WithBatch(size int, maxDelay time.Duration) Option {
	return newOption("WithBatch", forNew, func(c *config) error {
		if size < 1 || maxDelay < 0 {
			return errors.New("audit: WithBatch: size must be at least 1 and maxDelay not negative")
		}
		c.batchSize, c.batchDelay = size, maxDelay
		return nil
	})
}

// WithMode sets what happens when events cannot be written in time
// (default DropAndCount); see Mode. Block and FailClosed wait up to the
// timeout of WithTimeout.
func WithMode(m Mode) Option {
	return newOption("WithMode", forNew, func(c *config) error {
		if m > FailClosed {
			return errors.New("audit: WithMode: unknown mode " + m.String())
		}
		c.mode = m
		return nil
	})
}

// WithTimeout sets how long Block waits for room in a queue and
// FailClosed for room and for every sink's confirmation (default
// DefaultTimeout, 1 s). The wait is detached from the request's context:
// a client that goes away does not cut it short. d must be positive.
func WithTimeout(d time.Duration) Option {
	return newOption("WithTimeout", forNew, func(c *config) error {
		if d <= 0 {
			return errors.New("audit: WithTimeout: d must be positive")
		}
		c.timeout = d
		return nil
	})
}

// WithLevel sets the level of routes without one of their own (default
// Metadata).
func WithLevel(l Level) Option {
	return newOption("WithLevel", forNew, func(c *config) error {
		if l < None || l > RequestResponse {
			return errors.New("audit: WithLevel: unknown level " + l.String())
		}
		c.level = l
		return nil
	})
}

// WithType sets the CloudEvents type of events of routes without one of
// their own (default DefaultType).
func WithType(t string) Option {
	return newOption("WithType", forNew, func(c *config) error {
		if t == "" {
			return errors.New("audit: WithType: empty type")
		}
		c.typ = t
		return nil
	})
}

// WithRoute sets the policy of requests routed to pattern, an
// http.ServeMux pattern ("POST /instances") matched against r.Pattern,
// which the ServeMux sets only for the handlers it routes to: mount the
// middleware inside the mux, on each route
// (mux.Handle(pattern, em.Middleware(h))). For gRPC, auditgrpc's
// WithMethod does the same by method.
func WithRoute(pattern string, r Route) Option {
	return newOption("WithRoute", forNew, func(c *config) error {
		c.routes = append(c.routes, routeConfig{pattern, r})
		return nil
	})
}

// WithFields adds additionalFields to every route's events: each entry
// names an expression (github.com/expr-lang/expr) over the call, compiled
// by New, whose value is recorded under that name. The expressions see
//
//	request.method, request.path, request.pattern
//	request.headers["X-Tenant"]   headers named by WithHeaders only
//	request.body                  the JSON body, parsed and redacted
//	response.status, response.headers, response.body
//	principal.id, principal.type, principal.tenant
//
// e.g. {"ipAddress": "response.body.ipAddress"}. A body is captured (up to
// WithMaxBodyBytes) when a field refers to it, whatever the level. A
// missing JSON member is null; an expression that fails at run time
// records {"error": "..."} for its field, never drops the event. Fields
// are evaluated by the sink goroutines, not on the request path.
func WithFields(fields map[string]string) Option {
	return newOption("WithFields", forNew, func(c *config) error {
		if c.fields == nil {
			c.fields = make(map[string]string, len(fields))
		}
		for k, v := range fields {
			c.fields[k] = v
		}
		return nil
	})
}

// WithHeaders names the request and response headers recorded at the
// Request and RequestResponse levels and shown to field expressions
// (default none). Credential headers (Authorization, Proxy-Authorization,
// Cookie, Set-Cookie, X-API-Key, X-Auth-Token, and any name containing
// "token", "secret", "password", "session" or "api-key") are never
// recorded: naming one is an error.
func WithHeaders(names ...string) Option {
	return newOption("WithHeaders", forNew, func(c *config) error {
		for _, n := range names {
			if n == "" {
				return errors.New("audit: WithHeaders: empty name")
			}
			if secretHeader(n) {
				return errors.New("audit: WithHeaders: " + n + " carries credentials and is never recorded")
			}
			c.headers = append(c.headers, http.CanonicalHeaderKey(n))
		}
		return nil
	})
}

// WithMaxBodyBytes caps the bodies recorded (default DefaultMaxBodyBytes,
// 64 KiB): a longer body is recorded by size with truncated set, without
// its content (a cut JSON document is not JSON). Queued events hold their
// bodies until written, so at the body levels a sink's queue may hold up
// to 2n bytes per event. n must be at least 1.
func WithMaxBodyBytes(n int) Option {
	return newOption("WithMaxBodyBytes", forNew, func(c *config) error {
		if n < 1 {
			return errors.New("audit: WithMaxBodyBytes: n must be at least 1")
		}
		c.maxBody = n
		return nil
	})
}

// WithRedact adds JSON body members to redact, besides the default names
// (password, secret, token, and names containing them, case-insensitive):
// a plain name ("cardNumber") matches a member of that name at any depth,
// case-insensitively; a dotted path ("card.number") matches that member
// below the root, looking through arrays.
func WithRedact(names ...string) Option {
	return newOption("WithRedact", forNew, func(c *config) error {
		for _, n := range names {
			if n == "" || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".") || strings.Contains(n, "..") {
				return errors.New("audit: WithRedact: bad name " + strconv.Quote(n))
			}
			c.redact = append(c.redact, n)
		}
		return nil
	})
}

// WithErrorHandler replaces how the middleware answers a request whose
// event a FailClosed emitter could not confirm (ErrUnavailable). The
// default writes RFC 9457 problem+json with status 503.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return newOption("WithErrorHandler", forNew, func(c *config) error {
		if h == nil {
			return errors.New("audit: WithErrorHandler: nil handler")
		}
		c.errorHandler = h
		return nil
	})
}

// WithFilter skips requests for which keep returns false, such as health
// checks: no event is written for them. A nil keep is an error.
func WithFilter(keep func(*http.Request) bool) Option {
	return newOption("WithFilter", forNew, func(c *config) error {
		if keep == nil {
			return errors.New("audit: WithFilter: nil function")
		}
		c.filter = keep
		return nil
	})
}

// WithClientIP sets how the middleware finds a request's client address
// (data.client.ip). The default is the host of r.RemoteAddr, the peer
// address, which behind a load balancer is the balancer's; a function that
// trusts forwarding headers only from known proxies, such as
// ratelimit.ClientIP, gives the client's. When ip fails the peer address
// is recorded. A nil ip is an error.
func WithClientIP(ip func(r *http.Request) (string, error)) Option {
	return newOption("WithClientIP", forNew, func(c *config) error {
		if ip == nil {
			return errors.New("audit: WithClientIP: nil function")
		}
		c.clientIP = ip
		return nil
	})
}

// WithDryRun turns dry-run mode on or off (default off). In dry run a
// FailClosed emitter confirms events as usual but lets a request whose
// event was not confirmed go on, logging it, so a team can see what
// FailClosed would refuse before turning it on.
func WithDryRun(on bool) Option {
	return newOption("WithDryRun", forNew, func(c *config) error {
		c.dryRun = on
		return nil
	})
}

// WithLogger sets the logger for drops, sink failures and dry-run
// refusals. The default, and a nil l, is slog.Default() at the time of
// logging. Events themselves are never logged there (NewSlogSink does).
func WithLogger(l *slog.Logger) Option {
	return newOption("WithLogger", forNew, func(c *config) error {
		c.logger = l
		return nil
	})
}

// WithMeterProvider sets the MeterProvider for paved.audit.events and
// paved.audit.queue.size (default, and for nil, the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return newOption("WithMeterProvider", forNew, func(c *config) error {
		c.meterProvider = mp
		return nil
	})
}

func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}
