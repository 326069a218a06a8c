package overload_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"

	"github.com/paved-go/paved/overload"
)

func TestLimiterMiddlewareClasses(t *testing.T) {
	tests := []struct {
		name    string
		opts    []overload.Option
		method  string
		path    string
		header  string
		wantErr bool // shed when all but one slot of a limit of 4 are taken
	}{
		{"header critical", []overload.Option{overload.WithClassHeader("X-Priority")}, "GET", "/a", "critical", false},
		{"header sheddable", []overload.Option{overload.WithClassHeader("X-Priority")}, "GET", "/a", "sheddable", true},
		{"header unknown is default", []overload.Option{overload.WithClassHeader("X-Priority")}, "GET", "/a", "urgent", true},
		{"route critical", []overload.Option{overload.WithRouteClass("POST /instances", overload.Critical)}, "POST", "/instances", "", false},
		{"route beats header", []overload.Option{overload.WithClassHeader("X-Priority"), overload.WithRouteClass("GET /instances", overload.Sheddable)}, "GET", "/instances", "critical", true},
		{"other route default", []overload.Option{overload.WithRouteClass("POST /instances", overload.Critical)}, "GET", "/instances", "", true},
		{"classifier", []overload.Option{overload.WithClassifier(func(r *http.Request) overload.Class {
			if r.Method == "POST" {
				return overload.Critical
			}
			return overload.Sheddable
		})}, "POST", "/x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, err := overload.NewLimiter("mw", append(tt.opts, overload.WithLimits(4, 4))...)
				if err != nil {
					t.Fatal(err)
				}
				// 3 of 4 in flight: only critical calls (100% share) get in;
				// default has floor(0.95*4) = 3, sheddable floor(0.8*4) = 3.
				var tickets []overload.Ticket
				for range 3 {
					tk, err := l.Acquire(context.Background(), overload.Critical)
					if err != nil {
						t.Fatal(err)
					}
					tickets = append(tickets, tk)
				}
				h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
				r := httptest.NewRequest(tt.method, tt.path, nil)
				if tt.header != "" {
					r.Header.Set("X-Priority", tt.header)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if shed := rec.Code == http.StatusServiceUnavailable; shed != tt.wantErr {
					t.Errorf("status %d, want shed = %v", rec.Code, tt.wantErr)
				}
				for _, tk := range tickets {
					tk.Done()
				}
			})
		})
	}
}

func TestLimiterLIFOQueueEvictsOldestLowest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := overload.NewLimiter("q", overload.WithLimits(1, 1), overload.WithQueue(2))
		if err != nil {
			t.Fatal(err)
		}
		hold, _ := l.Acquire(context.Background(), overload.Critical)
		type result struct {
			name string
			err  error
		}
		results := make(chan result, 4)
		start := func(name string, c overload.Class) {
			go func() {
				tk, err := l.Acquire(context.Background(), c)
				results <- result{name, err}
				if err == nil {
					tk.Done()
				}
			}()
			synctest.Wait()
		}
		start("sheddable-old", overload.Sheddable)
		start("sheddable-new", overload.Sheddable)
		start("critical", overload.Critical) // evicts sheddable-old
		if r := <-results; r.name != "sheddable-old" || r.err == nil {
			t.Fatalf("first result %v, want sheddable-old shed", r)
		}
		hold.Done() // critical first, then the newest sheddable
		for _, want := range []string{"critical", "sheddable-new"} {
			if r := <-results; r.name != want || r.err != nil {
				t.Fatalf("result %v, want %s admitted", r, want)
			}
		}
	})
}
