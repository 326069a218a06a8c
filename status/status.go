package status

import (
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/paved-go/paved/internal/httpx"
	"github.com/paved-go/paved/internal/registry"
)

// Component is one row of the status page and of status.json: one
// breaker (one per key of a breaker registry), rate-limit policy, cache,
// retry budget, overload limit, audit emitter, idempotency store or fault
// injector. Kind, Name and Key identify it; State is a short word
// (closed, open, half_open, ok, limiting, shedding, ...), Health how the
// page colours it (HealthOK, HealthWarn, HealthBad), Value the number the
// page charts and Unit what that number is; Stats holds the kind's own
// figures, with snake_case JSON names.
type Component = registry.Component

// Registration is a component's entry in the process-wide registry; its
// Remove takes the component off the page.
type Registration = registry.Handle

// Health values of a Component.
const (
	HealthOK   = registry.HealthOK   // working normally
	HealthWarn = registry.HealthWarn // degraded but serving
	HealthBad  = registry.HealthBad  // refusing work
)

// SetRegistration turns the process-wide registration of components on
// (the default) or off. Off, breakers, limiters, caches and the rest built
// afterwards are not registered (their constructors skip it, so they carry
// no registration at all), and the page and status.json list nothing.
// Call it at startup, before building components, to keep a process off
// the status page entirely.
func SetRegistration(on bool) { registry.SetEnabled(on) }

// Register lists a component of the user's own on the page, under kind
// and name (a component with an empty name is not listed). The registry
// holds c weakly: once c is unreachable its rows disappear. report appends
// c's rows to dst; it is called only when the page or status.json is
// read, must not block, and must reach c through its argument, not a
// captured variable, or c is never collected. Register returns nil when
// nothing was registered.
func Register[T any](kind, name string, c *T, report func(c *T, dst []Component) []Component) *Registration {
	return registry.Add(kind, name, c, report)
}

// Handler serves the status page, status.json, the event stream, and,
// with WithFaults, the fault control. Mount it on an admin listener,
// under any prefix with http.StripPrefix. It is safe for concurrent use.
type Handler struct {
	cfg      config
	faults   http.Handler // nil: not mounted
	page     pageAssets
	mu       sync.Mutex // guards what follows
	samples  []sample   // oldest first, at most cfg.samples
	subs     map[*subscriber]struct{}
	stop     chan struct{} // closed to stop the sampler; nil while none runs
	sampling sync.WaitGroup
	closed   bool
}

// New returns a Handler configured by opts. It fails on an invalid option.
func New(opts ...Option) (*Handler, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, subs: make(map[*subscriber]struct{}), page: assets}
	if cfg.faults != nil {
		// A browser sends a cross-site POST or DELETE only as a form or
		// with a CORS preflight: requiring JSON rules out the form, and
		// CrossOriginProtection refuses what Sec-Fetch-Site or Origin
		// marks as cross-origin.
		h.faults = http.NewCrossOriginProtection().Handler(http.HandlerFunc(h.serveFaults))
	}
	return h, nil
}

// Errors the handler answers with, as problem+json.
var (
	errNotFound  = httpx.NewError(http.StatusNotFound, "status: not found")
	errMethod    = httpx.NewError(http.StatusMethodNotAllowed, "status: method not allowed")
	errMediaType = httpx.NewError(http.StatusUnsupportedMediaType, "status: the fault rules must be sent as application/json")
	errClosed    = httpx.NewError(http.StatusServiceUnavailable, "status: closed")
)

// ServeHTTP answers, relative to where the handler is mounted:
//   - GET / : the page, with the current rows as a plain table;
//   - GET /status.json : the current rows as JSON (Document);
//     ?history=1 adds the samples the charts draw;
//   - GET /events : a text/event-stream of Documents, one per sample
//     interval, the first one with history;
//   - GET, POST, DELETE /faults : the fault control, with WithFaults only.
//
// Anything else is 404, and another method on a known path 405. A nil
// *Handler (a New error ignored) answers 404 to everything.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h == nil {
		httpx.WriteError(w, r, errNotFound)
		return
	}
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", h.page.csp)
	path := r.URL.Path
	if path == "" { // mounted at "/admin" and asked for "/admin": the page's links are relative
		// Only the path of the request, so the redirect stays on this
		// origin whatever the request line held.
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			if p := u.EscapedPath(); strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasSuffix(p, "/") {
				http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
				return
			}
		}
		path = "/"
	}
	switch path {
	case "/", "/status.json", "/events":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hd.Set("Allow", "GET, HEAD")
			httpx.WriteError(w, r, errMethod)
			return
		}
	case "/faults":
		if h.faults == nil {
			httpx.WriteError(w, r, errNotFound)
			return
		}
		h.faults.ServeHTTP(w, r)
		return
	default:
		httpx.WriteError(w, r, errNotFound)
		return
	}
	switch path {
	case "/":
		h.servePage(w, r)
	case "/status.json":
		h.serveJSON(w, r)
	case "/events":
		h.serveEvents(w, r)
	}
}

func (h *Handler) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	case http.MethodPost:
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			httpx.WriteError(w, r, errMediaType)
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, DELETE")
		httpx.WriteError(w, r, errMethod)
		return
	}
	h.cfg.faults.ServeHTTP(w, r)
}

// Document is the body of status.json and of each event: the time it was
// taken, whether registration is on, the sample interval, every
// registered component ordered by kind, name and key, and, when asked
// for, the history the charts draw.
type Document struct {
	Time         time.Time   `json:"time"`
	Registration bool        `json:"registration"`
	Interval     float64     `json:"interval_seconds"`
	Faults       bool        `json:"faults"` // the fault control is mounted at …/faults
	Components   []Component `json:"components"`
	History      *History    `json:"history,omitempty"`
}

// History is the samples behind the charts: Times (Unix milliseconds,
// oldest first) and, per component ID, its Value at each of those times,
// null where the component was not listed.
type History struct {
	Times  []int64               `json:"times"`
	Series map[string][]*float64 `json:"series"`
}

// ID identifies c in History: kind, name and key joined by "/".
func ID(c Component) string { return c.Kind + "/" + c.Name + "/" + c.Key }

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request) {
	b := encode(h.take(time.Now(), r.URL.Query().Get("history") == "1"))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// take snapshots every component, records the sample, and returns the
// document, with history when asked.
func (h *Handler) take(now time.Time, withHistory bool) *Document {
	comps := registry.Snapshot()
	if comps == nil {
		comps = []Component{}
	}
	for i := range comps {
		// JSON has no NaN or infinity (a ratio of nothing): one such value
		// must not take the whole page down.
		if v := comps[i].Value; math.IsNaN(v) || math.IsInf(v, 0) {
			comps[i].Value = 0
		}
	}
	d := &Document{
		Time:         now.UTC(),
		Registration: registry.Enabled(),
		Interval:     h.cfg.interval.Seconds(),
		Faults:       h.faults != nil,
		Components:   comps,
	}
	h.mu.Lock()
	h.record(now, comps)
	if withHistory {
		d.History = h.history()
	}
	h.mu.Unlock()
	return d
}

// encode returns d as JSON. A component whose Stats cannot be encoded
// (a NaN, a channel) gets {"error": ...} as its stats instead, so one bad
// report never hides the others.
func encode(d *Document) []byte {
	b, err := json.Marshal(d)
	if err == nil {
		return b
	}
	for i, c := range d.Components {
		if _, err := json.Marshal(c.Stats); err != nil {
			d.Components[i].Stats = map[string]string{"error": "stats cannot be encoded as JSON"}
		}
	}
	if b, err = json.Marshal(d); err != nil { // only Stats can fail, and no longer do
		b, _ = json.Marshal(&Document{Time: d.Time, Registration: d.Registration, Interval: d.Interval, Faults: d.Faults, Components: []Component{}})
	}
	return b
}
