// Package status serves a live status page of everything paved runs in
// the process: every named breaker, rate-limit policy, cache, retry
// budget, overload limit, audit emitter, idempotency store and fault
// injector, as one HTML page, as status.json, and as a stream of
// server-sent events, read from the components' own state without a
// metrics backend and without stopping traffic.
//
// # Mount it on an admin listener
//
// A Handler is an http.Handler that answers relative to where it is
// mounted, so it goes under any prefix with http.StripPrefix. Put it on a
// listener of its own (a loopback or internal address), never the public
// one, and wrap it with authz like any other route:
//
//	page, err := status.New(status.WithTitle("gateway"))
//	...
//	az, err := authz.New(authz.WithAuthenticator(keys),
//		authz.WithRoute("/admin/status/", authz.Allow("operators", `hasRole("operator")`)))
//	admin := http.NewServeMux()
//	admin.Handle("/admin/status/", az.Middleware(http.StripPrefix("/admin/status", page)))
//	srv := &http.Server{Addr: "127.0.0.1:9090", Handler: admin}
//	srv.RegisterOnShutdown(page.Close) // ends the event streams
//	go srv.ListenAndServe()
//
// It answers:
//   - GET …/ : the page. It is one HTML document with its style and
//     script inline, built into the binary (go:embed): no build step, no
//     other request, nothing from a CDN, so it works offline. The HTML
//     already holds the current rows as plain tables, one per kind, so a
//     terminal browser (lynx, w3m) or curl reads it without JavaScript;
//     with JavaScript it updates live, colours each row by its health,
//     and draws a small chart of each row's value over the last minutes.
//   - GET …/status.json : the same rows as JSON (below); ?history=1 adds
//     the samples behind the charts.
//   - GET …/events : text/event-stream, one status.json document per
//     sample interval, the first with history. The page uses it, and falls
//     back to polling status.json when a proxy or server cannot stream.
//   - GET, POST, DELETE …/faults : the fault control, only WithFaults.
//
// Anything else is 404 and another method 405, as problem+json. Every
// response carries X-Content-Type-Options: nosniff, Cache-Control:
// no-store, Referrer-Policy: no-referrer and a Content-Security-Policy
// with default-src 'none' that allows only the page's own inline script
// and style, by hash, and requests to its own origin (connect-src
// 'self'); the page cannot be framed.
//
// # What it shows
//
// Components list themselves in a process-wide registry when they are
// built with a name; the page reads that registry. Each row (Component) has
// a kind, a name, a key for the breakers of a keyed registry, a state (a
// short word), a health (ok, warn, bad: the row's colour), a value (the
// number charted, with its unit) and the kind's own stats:
//   - breaker: state closed, open or half_open (ok, bad, warn; an open
//     breaker in dry-run mode is warn, since it lets calls through); value
//     the failure rate of the calls in its window, 1 while open; stats the
//     calls and failures in the window, consecutive failures, seconds
//     until half-open, the failure threshold and minimum calls. A
//     breaker.Registry built with breaker.WithName shows a summary row
//     (keys held, open, half-open, how many rows were left out) and one row
//     per key, at most breaker.StatusRows of them, every key that is not
//     closed among them.
//   - ratelimit policies (keys held, overflow in use, rejections per
//     minute), caches (entries, bytes, hit ratio, stale served,
//     coalesced), retry budgets (retries available), overload limits
//     (current limit, in flight, queued, shed per class), audit emitters
//     (queue depth, drops, sink state), idempotency stores and fault
//     injectors: each package documents its row in its own status.go.
//
// Register lists a component of the application's own beside them.
//
// # status.json
//
// A Document, with components ordered by kind, then name, then key (the
// order of the page):
//
//	{
//	  "time": "2026-12-01T01:20:07.132909234Z",
//	  "registration": true,
//	  "interval_seconds": 1,
//	  "faults": false,
//	  "components": [
//	    {"kind": "breaker", "name": "inventory", "state": "open", "health": "bad",
//	     "value": 1, "unit": "failure rate",
//	     "stats": {"calls": 0, "failures": 0, "consecutive_failures": 0,
//	               "half_open_in_seconds": 27.5, "failure_threshold": 0.5, "min_calls": 10}}
//	  ],
//	  "history": {"times": [1795915206000, 1795915207000],
//	              "series": {"breaker/inventory/": [0.4, 1]}}
//	}
//
// history is present only with ?history=1 and in the first event of a
// stream; its series are keyed by ID (kind/name/key), with null where a
// component was not listed at that time.
//
// # History only while someone watches
//
// The charts need the last minutes on load, so the handler keeps a
// bounded ring of samples (WithHistory: one a second, 300 of them, by
// default). It samples only while someone reads: each status.json read
// records one (at most one per interval), and one goroutine samples every
// interval while at least one event stream is open, stopping with the
// last one. Nobody watching, nothing runs. Each sample reads every
// component once and sends the same document to every stream; a slow
// stream skips samples rather than holding the others.
//
// # Faults
//
// WithFaults(inj) mounts inj's control endpoint (faults.Injector.ServeHTTP)
// at …/faults and shows a faults panel on the page: the rules in force,
// and a box to POST new ones, such as
//
//	{"rules":[{"name":"drill","percent":50,"status":503}]}
//
// or to clear them (DELETE). Without WithFaults, …/faults is 404: faults
// can be switched on at run time only where the user mounted the control.
// A POST must be Content-Type: application/json (415 otherwise), which a
// cross-site HTML form cannot send, and http.CrossOriginProtection
// refuses (403) a POST or DELETE that the browser marks as coming from
// another origin.
//
// # Turning registration off
//
// SetRegistration(false), called at startup before components are built,
// keeps the process off the page: constructors skip registering, so those
// components carry no registration at all, and the page and status.json
// list nothing. Registration costs nothing on a request's path either way:
// a component adds itself once when it is built, held weakly (it drops
// out once unreachable), and is read only when the page asks.
//
// # Performance
//
// Measured on this 2-core machine, shared with other work; the breaker
// and Enforcer lines are medians of 6 from a quieter run (load average
// 2.3), the status.json lines medians of 5 (load average 3 to 5)
// (go test -run '^$' -bench . -benchmem -count 6 ./status/):
//
//	breaker.Do, registration on / off                       182 / 186 ns/op, 0 allocs
//	ratelimit Enforcer.Allow (Keyed), registration on / off 153 / 156 ns/op, 0 allocs
//	status.json with 10 components                          17 µs/op, 43 allocs
//	status.json with 100 components                         109 µs/op, 226 allocs
//	status.json with 1000 components                        1.4 ms/op, 2934 allocs
//
// The registered and unregistered paths run the same instructions (the
// registry is read only by the page), so their difference, either way,
// is the machine's noise. A status.json answer costs about 1.1 to 1.4 µs
// per component (reading it, the sample for the charts, the JSON).
package status
