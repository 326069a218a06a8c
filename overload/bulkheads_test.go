package overload_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved/overload"
)

func TestBulkheadsPerKey(t *testing.T) {
	r, err := overload.NewBulkheads("tenants", 1, overload.WithMaxKeys(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	relA, err := r.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Acquire(ctx, "a"); !errors.Is(err, overload.ErrShed) {
		t.Fatalf("second call of a = %v, want ErrShed", err)
	}
	relB, err := r.Acquire(ctx, "b")
	if err != nil {
		t.Fatalf("b is limited by a's calls: %v", err)
	}
	// Full of busy bulkheads: a new key shares the overflow bulkhead.
	relC, err := r.Acquire(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Acquire(ctx, "d"); !errors.Is(err, overload.ErrShed) {
		t.Fatalf("d beside c in the overflow bulkhead = %v, want ErrShed", err)
	}
	if r.Get("a") == r.Get("c") || r.Get("c") != r.Get("d") || r.Len() != 2 {
		t.Fatalf("a, c and d should map to a's bulkhead, then one overflow bulkhead (len %d)", r.Len())
	}
	relC()
	relA()
	// a is idle now: e evicts it rather than overflowing.
	relE, err := r.Acquire(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	if r.Get("e") == r.Get("d") || r.Len() != 2 {
		t.Fatalf("e should have its own bulkhead (len %d)", r.Len())
	}
	relE()
	relB()
}

func TestBulkheadsMiddlewareByKey(t *testing.T) {
	r, err := overload.NewBulkheads("tenants", 1,
		overload.WithRequestKey(func(r *http.Request) string { return r.Header.Get("X-Tenant") }))
	if err != nil {
		t.Fatal(err)
	}
	hold, _ := r.Acquire(context.Background(), "t1")
	defer hold()
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tc := range []struct {
		tenant string
		want   int
	}{{"t1", http.StatusServiceUnavailable}, {"t2", http.StatusOK}} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Tenant", tc.tenant)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("tenant %s: status %d, want %d", tc.tenant, rec.Code, tc.want)
		}
	}
}

func TestNewBulkheadsErrors(t *testing.T) {
	for name, opts := range map[string][]overload.Option{
		"max keys":    {overload.WithMaxKeys(0)},
		"request key": {overload.WithRequestKey(nil)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := overload.NewBulkheads("r", 1, opts...); err == nil {
				t.Error("NewBulkheads accepted an invalid option")
			}
		})
	}
	if _, err := overload.NewBulkhead("b", 1, overload.WithMaxKeys(3)); err == nil {
		t.Error("NewBulkhead accepted WithMaxKeys")
	}
}
