package redisidempotency_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/internal/redistest"
)

// TestGuardOnRedis runs the middleware on a real Redis: a retry is
// replayed from Redis, and when Redis dies in the middle of a request the
// documented behaviour holds: the response that ran still reaches its
// client, and every later request with a key fails closed with 503
// instead of running unprotected, until Redis is back.
func TestGuardOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	g, err := idempotency.New("orders", idempotency.WithStore(store(t, client(t, srv))),
		idempotency.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	kill := false
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		if kill {
			srv.Stop() // Redis dies while the order is placed
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"order":` + r.Header.Get("Idempotency-Key") + `}`))
	}))
	send := func(key, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/orders", strings.NewReader(body))
		r.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	first := send(`"a"`, `{"n":1}`)
	again := send(`"a"`, `{"n":1}`)
	if first.Code != 201 || again.Code != 201 || again.Header().Get("Idempotent-Replayed") != "true" ||
		again.Body.String() != first.Body.String() || runs.Load() != 1 {
		t.Fatalf("retry on Redis: %d %d %v %q, %d runs; want one run, replayed", first.Code, again.Code, again.Header(), again.Body, runs.Load())
	}

	kill = true
	mid := send(`"b"`, `{"n":2}`)
	kill = false
	if mid.Code != 201 || runs.Load() != 2 {
		t.Fatalf("the request Redis died under: %d, %d runs; want its 201 delivered", mid.Code, runs.Load())
	}
	for _, key := range []string{`"b"`, `"c"`} {
		w := send(key, `{"n":2}`)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "idempotency: store unavailable") {
			t.Fatalf("key %s with Redis down: %d %s; want 503", key, w.Code, w.Body)
		}
	}
	if runs.Load() != 2 {
		t.Fatalf("%d runs: a request ran unprotected while Redis was down", runs.Load())
	}

	srv.Restart()
	// With Redis back, keys work again.
	if w := send(`"c"`, `{"n":3}`); w.Code != 201 || runs.Load() != 3 {
		t.Fatalf("after Redis is back: %d, %d runs", w.Code, runs.Load())
	}
}
