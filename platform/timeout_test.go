package platform_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/platform"
)

// timeoutPlatform loads one public operation GET /t with a 5s timeout
// served by h, inside the caller's synctest bubble.
func timeoutPlatform(t *testing.T, h http.HandlerFunc) http.Handler {
	t.Helper()
	spec := doc("  authentication: {mode: none}\n  timeout: 5s\n", op("/t", "get", "t", ""))
	p, err := platform.Load(spec, platform.WithLogger(slog.New(slog.DiscardHandler)), platform.WithHandler("t", h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p.Handler()
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		name string
		// handler runs as the operation's handler, in a synctest bubble.
		handler func(t *testing.T, ctx context.Context)
	}{
		{
			name: "deadline and no error while time is left",
			handler: func(t *testing.T, ctx context.Context) {
				d, ok := ctx.Deadline()
				if want := time.Now().Add(5 * time.Second); !ok || !d.Equal(want) {
					t.Errorf("Deadline() = %v, %v; want %v, true", d, ok, want)
				}
				time.Sleep(4 * time.Second)
				if err := ctx.Err(); err != nil {
					t.Errorf("Err() after 4s = %v", err)
				}
				select {
				case <-ctx.Done():
					t.Error("Done closed after 4s")
				default:
				}
			},
		},
		{
			name: "done at the deadline",
			handler: func(t *testing.T, ctx context.Context) {
				start := time.Now()
				<-ctx.Done()
				if d := time.Since(start); d != 5*time.Second {
					t.Errorf("Done after %v, want 5s", d)
				}
				if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Err() = %v, want DeadlineExceeded", err)
				}
				if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Cause() = %v, want DeadlineExceeded", err)
				}
			},
		},
		{
			name: "err without done after the deadline",
			handler: func(t *testing.T, ctx context.Context) {
				time.Sleep(6 * time.Second)
				if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Err() after 6s = %v, want DeadlineExceeded", err)
				}
				select {
				case <-ctx.Done():
				default:
					t.Error("Done not closed once Err reported the deadline")
				}
			},
		},
		{
			name: "derived contexts end at the deadline",
			handler: func(t *testing.T, ctx context.Context) {
				child, cancel := context.WithCancel(ctx)
				defer cancel()
				ran := make(chan struct{})
				context.AfterFunc(ctx, func() { close(ran) })
				<-child.Done()
				<-ran
				if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("child Err() = %v, want DeadlineExceeded", err)
				}
			},
		},
		{
			name: "canceled when the handler returns",
			handler: func(t *testing.T, ctx context.Context) {
				go func() {
					<-ctx.Done()
					if err := ctx.Err(); !errors.Is(err, context.Canceled) {
						t.Errorf("Err() after return = %v, want Canceled", err)
					}
				}()
			},
		},
		{
			name: "canceled when the handler returns, looked at later",
			handler: func(t *testing.T, ctx context.Context) {
				go func() {
					time.Sleep(time.Second)
					if err := ctx.Err(); !errors.Is(err, context.Canceled) {
						t.Errorf("Err() after return = %v, want Canceled", err)
					}
					<-ctx.Done()
				}()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				called := false
				h := timeoutPlatform(t, func(w http.ResponseWriter, r *http.Request) {
					called = true
					tt.handler(t, r.Context())
				})
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/t", nil))
				time.Sleep(10 * time.Second) // for goroutines the handler started
				synctest.Wait()
				if !called || rec.Code != http.StatusOK {
					t.Errorf("called %v, status %d", called, rec.Code)
				}
			})
		})
	}
}

// TestTimeoutEarlierDeadline checks that a request whose context has an
// earlier deadline keeps it.
func TestTimeoutEarlierDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got time.Time
		h := timeoutPlatform(t, func(w http.ResponseWriter, r *http.Request) {
			got, _ = r.Context().Deadline()
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		want, _ := ctx.Deadline()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "GET", "/t", nil))
		if !got.Equal(want) {
			t.Errorf("Deadline() = %v, want the request's %v", got, want)
		}
	})
}
