package cache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/paved-go/paved/cache"
)

// A successful unsafe request invalidates what it changed: the next GET
// reaches the handler and sees the change.
func ExampleResponseCache_Middleware_invalidation() {
	rc, err := cache.NewResponseCache("notes", cache.WithCacheStatus(false))
	if err != nil {
		panic(err)
	}
	defer rc.Close()

	note := "first"
	h := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			note = "second"
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, note)
	}))
	do := func(method string) string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "/notes/1", nil))
		return fmt.Sprintf("%d %q", w.Code, w.Body.String())
	}
	fmt.Println(do("GET"))
	fmt.Println(do("PUT"))
	fmt.Println(do("GET"))
	// Output:
	// 200 "first"
	// 204 ""
	// 200 "second"
}

// A stale response with an ETag is revalidated: the handler answers 304
// and the cache sends the body it kept, with the new freshness.
func ExampleResponseCache_Middleware_revalidation() {
	rc, err := cache.NewResponseCache("reports")
	if err != nil {
		panic(err)
	}
	defer rc.Close()

	h := rc.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"r1"`)
		w.Header().Set("Cache-Control", "no-cache") // revalidate before every use
		if r.Header.Get("If-None-Match") == `"r1"` {
			fmt.Println("handler: 304")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Println("handler: 200")
		fmt.Fprint(w, "a large report")
	}))
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/reports/7", nil))
		fmt.Println(w.Code, w.Body.String(), "|", w.Header().Get("Cache-Status"))
	}
	// Output:
	// handler: 200
	// 200 a large report | reports; fwd=uri-miss; stored; ttl=0
	// handler: 304
	// 200 a large report | reports; fwd=stale; fwd-status=304; stored; ttl=0
}

// Two instances of a service each cache responses; when one of them
// serves a change, its invalidation hook tells the other (here directly;
// in a fleet through a message bus), which drops its copy too.
func ExampleWithInvalidationHook() {
	var peer *cache.ResponseCache
	hook := cache.WithInvalidationHook(func(_ context.Context, host, uri string) {
		if err := peer.InvalidateURI(host, uri); err != nil {
			fmt.Println(err)
		}
	})
	a, err := cache.NewResponseCache("items", hook)
	if err != nil {
		panic(err)
	}
	defer a.Close()
	peer, err = cache.NewResponseCache("items")
	if err != nil {
		panic(err)
	}
	defer peer.Close()

	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Cache-Control", "max-age=300")
		}
		fmt.Fprintln(w, "item 1")
	})
	serve := func(rc *cache.ResponseCache, method string) {
		rc.Middleware(origin).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/items/1", nil))
	}
	serve(peer, http.MethodGet)
	fmt.Println("peer stores", peer.Len())
	serve(a, http.MethodPut) // a change through the other instance
	fmt.Println("peer stores", peer.Len())
	// Output:
	// peer stores 1
	// peer stores 0
}
