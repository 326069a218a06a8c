package idempotency_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paved-go/paved/idempotency"
)

// echo answers with the request body and two values of X-Multi.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header()["X-Multi"] = []string{"a", "b"}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
})

// A replayed header changed in place by middleware outside changes
// nothing stored and no other replay: the next replay is the same.
func TestReplayHeaderIsACopy(t *testing.T) {
	g, _ := idempotency.New("test")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.Middleware(echo).ServeHTTP(w, r)
		for _, vs := range w.Header() {
			for i := range vs {
				vs[i] = "changed"
			}
		}
	})
	for i := range 3 {
		w := req{key: []string{`"k"`}, body: "a"}.do(t, h)
		if i == 0 {
			continue
		}
		if got := w.Result().Header["X-Multi"]; len(got) != 2 || w.Body.String() != "a" {
			t.Fatalf("replay %d: X-Multi %q, body %q; want the values changed by the outer middleware only", i, got, w.Body)
		}
	}
	w := httptest.NewRecorder()
	g.Middleware(echo).ServeHTTP(w, func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/instances", strings.NewReader("a"))
		r.Header.Set("Idempotency-Key", `"k"`)
		return r
	}())
	if got := w.Header()["X-Multi"]; len(got) != 2 || got[0] != "a" || got[1] != "b" || w.Header().Get("Content-Type") != "text/plain" ||
		w.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("stored header changed: %v", w.Header())
	}
}

// Do hands out copies of what a memory store keeps.
func TestDoReplayIsACopy(t *testing.T) {
	g, _ := idempotency.New("test")
	call := idempotency.Call{Scope: "s", Method: "M", Key: "k", Fingerprint: "f"}
	fn := func(context.Context) *idempotency.Response {
		return &idempotency.Response{Status: 201, Header: http.Header{"X-A": {"1", "2"}}, Body: []byte("body")}
	}
	first, _, _ := g.Do(t.Context(), call, fn)
	first.Header["X-A"][0], first.Body[0] = "changed", '!'
	for i := range 2 {
		resp, replayed, err := g.Do(t.Context(), call, fn)
		if err != nil || !replayed {
			t.Fatalf("Do %d: replayed %v, err %v", i, replayed, err)
		}
		if resp.Header.Get("X-A") != "1" || len(resp.Header["X-A"]) != 2 || string(resp.Body) != "body" {
			t.Fatalf("Do %d: replayed %v %q, want the response as returned the first time", i, resp.Header, resp.Body)
		}
		resp.Header["X-A"][0], resp.Body[0] = "changed", '!'
		resp.Header["X-B"] = []string{"added"}
	}
}

// The body read for the fingerprint and the captured response reach
// each request's handler and store intact, whatever the sizes, with
// and without a Content-Length, while requests run concurrently.
func TestBodiesOfConcurrentRequests(t *testing.T) {
	g, _ := idempotency.New("test", idempotency.WithMaxBody(1<<20), idempotency.WithMaxResponse(1<<20))
	h := g.Middleware(echo)
	sizes := []int{0, 1, 40, 600, 5000, 70 << 10, 200 << 10}
	var wg sync.WaitGroup
	for worker := range 4 {
		wg.Go(func() {
			for i := range 30 {
				size := sizes[(i+worker)%len(sizes)]
				unit := strconv.Itoa(worker*100+i) + ","
				body := strings.Repeat(unit, size/len(unit)+1)[:size]
				for attempt := range 2 { // the first runs, the second replays
					var rd io.Reader = strings.NewReader(body)
					if i%2 == 1 {
						rd = struct{ io.Reader }{rd} // no Content-Length
					}
					r := httptest.NewRequest(http.MethodPost, "/instances", rd)
					r.Header.Set("Idempotency-Key", `"`+strconv.Itoa(worker)+"-"+strconv.Itoa(i)+`"`)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusCreated || !bytes.Equal(w.Body.Bytes(), []byte(body)) {
						t.Errorf("worker %d request %d attempt %d (%d bytes): status %d, body of %d bytes differs",
							worker, i, attempt, size, w.Code, w.Body.Len())
						return
					}
					if got := w.Header().Get("Idempotent-Replayed") == "true"; got != (attempt == 1) {
						t.Errorf("worker %d request %d attempt %d: replayed %v %v", worker, i, attempt, got, w.Header())
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
