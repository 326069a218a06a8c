package paved_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved"
	"github.com/paved-go/paved/internal/httpx"
)

func TestProblemMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, flusher := w.(http.Flusher) // the server's own writer, untouched
		io.WriteString(w, r.Pattern+" id="+r.PathValue("id")+map[bool]string{true: " flusher"}[flusher])
	})
	mux.HandleFunc("POST /instances", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("GET /docs/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "docs") })
	// Correlation ids are set outside the mux, as tracing.Middleware does.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paved.ProblemMux(mux).ServeHTTP(w, r.WithContext(httpx.WithCorrelationID(r.Context(), "req-1")))
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	tests := []struct {
		name         string
		method, path string
		wantStatus   int
		wantBody     string // for routed requests
		wantDetail   string // for problems
		wantAllow    string
		wantLocation string
	}{
		{name: "route", method: "GET", path: "/instances/i-1", wantStatus: 200, wantBody: "GET /instances/{id} id=i-1 flusher"},
		{name: "other route", method: "POST", path: "/instances", wantStatus: 201},
		{name: "no route", method: "GET", path: "/nope", wantStatus: 404, wantDetail: "no route for GET /nope"},
		{name: "wrong method", method: "DELETE", path: "/instances", wantStatus: 405, wantAllow: "POST", wantDetail: "method DELETE is not allowed for /instances; allowed: POST"},
		{name: "wrong method, GET route", method: "PUT", path: "/instances/i-1", wantStatus: 405, wantAllow: "GET, HEAD", wantDetail: "method PUT is not allowed for /instances/i-1; allowed: GET, HEAD"},
		{name: "subtree redirect passes through", method: "GET", path: "/docs", wantStatus: 307, wantLocation: "/docs/"},
		{name: "cleaned path redirect passes through", method: "GET", path: "/x/../instances/i-1", wantStatus: 307, wantLocation: "/instances/i-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			req.URL.Opaque = tc.path // keep "..", as a raw client would send it
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
			if got := resp.Header.Get("Location"); got != tc.wantLocation {
				t.Errorf("Location = %q, want %q", got, tc.wantLocation)
			}
			if tc.wantDetail == "" {
				if tc.wantBody != "" && string(body) != tc.wantBody {
					t.Errorf("body %q, want %q", body, tc.wantBody)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != paved.ContentTypeProblem {
				t.Fatalf("Content-Type %q", ct)
			}
			var p struct {
				Title, Detail string
				Status        int
				CorrelationID string `json:"correlation_id"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if p.Status != tc.wantStatus || p.Title != http.StatusText(tc.wantStatus) || p.Detail != tc.wantDetail || p.CorrelationID != "req-1" {
				t.Fatalf("problem %+v", p)
			}
		})
	}
}

func TestProblemMuxNilIsDefaultServeMux(t *testing.T) {
	w := httptest.NewRecorder()
	paved.ProblemMux(nil).ServeHTTP(w, httptest.NewRequest("GET", "/paved-test-unregistered", nil))
	if w.Code != 404 || w.Header().Get("Content-Type") != paved.ContentTypeProblem {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

func BenchmarkProblemMux(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /instances/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("GET /instances", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("POST /instances", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	req := httptest.NewRequest("GET", "/instances/inst-0001", nil)
	w := httptest.NewRecorder()
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			mux.ServeHTTP(w, req)
		}
	})
	pm := paved.ProblemMux(mux)
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pm.ServeHTTP(w, req)
		}
	})
}
