package platform_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/platform"
)

// send is serve with an Idempotency-Key.
func send(h http.Handler, path, apiKey, idemKey, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("X-API-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestIdempotencySection(t *testing.T) {
	spec := doc("", op("/orders", "post", "order", allow+
		"        idempotency: {required: true, fingerprint: [item], docs: \"https://example.com/docs/idempotency\"}\n"))
	var runs atomic.Int64
	p := mustLoad(t, spec, append(loadOpts(t)[:2:2], platform.WithHandler("order", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := runs.Add(1)
		writeJSON(w, http.StatusCreated, map[string]int64{"order": n})
	})))...)
	h := p.Handler()

	if rec := send(h, "/orders", aliceKey, "", `{"item":"a"}`); rec.Code != 400 || !strings.Contains(rec.Body.String(), "https://example.com/docs/idempotency") {
		t.Fatalf("no key: %d %s; want 400 with the docs link", rec.Code, rec.Body)
	}
	first := send(h, "/orders", aliceKey, `"k1"`, `{"item":"a","note":"x"}`)
	if first.Code != 201 || first.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v", first.Code, first.Header())
	}
	// The fingerprint is the item alone: another note is the same request.
	again := send(h, "/orders", aliceKey, `"k1"`, `{"item":"a","note":"y"}`)
	if again.Code != 201 || again.Header().Get("Idempotent-Replayed") != "true" || again.Body.String() != first.Body.String() {
		t.Fatalf("retry: %d %v %s; want the first response replayed", again.Code, again.Header(), again.Body)
	}
	if rec := send(h, "/orders", aliceKey, `"k1"`, `{"item":"b"}`); rec.Code != 422 {
		t.Fatalf("another item with the key: %d, want 422", rec.Code)
	}
	// Keys are scoped to the principal: bob's k1 is his own.
	if rec := send(h, "/orders", bobKey, `"k1"`, `{"item":"b"}`); rec.Code != 201 {
		t.Fatalf("bob's k1: %d, want 201", rec.Code)
	}
	if runs.Load() != 2 {
		t.Fatalf("the handler ran %d times, want 2", runs.Load())
	}
	// Authorization comes first: a caller who may not order claims no key.
	if rec := send(h, "/orders", "", `"k2"`, `{"item":"a"}`); rec.Code != 401 {
		t.Fatalf("anonymous: %d, want 401", rec.Code)
	}
}

func TestIdempotencyStoreOption(t *testing.T) {
	store, err := idempotency.NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	spec := doc("  idempotency: {}\n", op("/orders", "post", "order", allow)+op("/items", "get", "items", allow))
	p := mustLoad(t, spec, append(loadOpts(t, "order", "items"), platform.WithIdempotency(idempotency.WithStore(store)))...)
	h := p.Handler()
	if rec := send(h, "/orders", aliceKey, `"k"`, `{}`); rec.Code != 200 {
		t.Fatalf("order: %d", rec.Code)
	}
	if store.Len() != 1 {
		t.Fatalf("the store given holds %d records, want 1", store.Len())
	}
	// The root's default applies to writes only: the GET is untouched.
	if rec := serve(h, "GET", "/items", aliceKey, ""); rec.Code != 200 || store.Len() != 1 {
		t.Fatalf("get: %d, %d records", rec.Code, store.Len())
	}
	// Not required: a request without a key runs unprotected.
	if rec := send(h, "/orders", aliceKey, "", `{}`); rec.Code != 200 {
		t.Fatalf("order without a key: %d", rec.Code)
	}
}

func TestIdempotencyLoadErrors(t *testing.T) {
	for _, tc := range []struct{ name, spec, pointer, want string }{
		{"on a GET", string(doc("", op("/a", "get", "a", allow+"        idempotency: {}\n"))),
			"/paths/~1a/get/x-platform/idempotency", "POST, PUT, PATCH and DELETE"},
		{"bad duration", string(doc("", op("/a", "post", "a", allow+"        idempotency: {ttl: soon}\n"))),
			"/paths/~1a/post/x-platform/idempotency/ttl", "duration"},
		{"unknown field", string(doc("", op("/a", "post", "a", allow+"        idempotency: {replay: true}\n"))),
			"/paths/~1a/post/x-platform/idempotency", "replay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := platform.Load([]byte(tc.spec), loadOpts(t, "a")...)
			var le *platform.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v, want a *platform.LoadError", err)
			}
			found := false
			for _, pr := range le.Problems {
				if strings.HasPrefix(pr.Pointer, tc.pointer) && strings.Contains(pr.Message, tc.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("problems %v; want one at %s about %q", le.Problems, tc.pointer, tc.want)
			}
		})
	}
}
