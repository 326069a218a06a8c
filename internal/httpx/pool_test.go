package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-go/paved/internal/httpx"
)

func TestAcquireRelease(t *testing.T) {
	outer := httpx.Wrap(httptest.NewRecorder())
	if rw, owned := httpx.Acquire(outer); rw != outer || owned {
		t.Fatalf("Acquire(wrapper) = %p, %v; want the wrapper itself, not owned", rw, owned)
	}
	for i, status := range []int{http.StatusTeapot, 0} { // a recycled wrapper starts fresh
		rec := httptest.NewRecorder()
		rw, owned := httpx.Acquire(rec)
		if !owned || rw.Unwrap() != rec {
			t.Fatalf("round %d: Acquire = %v, owned %v", i, rw.Unwrap(), owned)
		}
		if rw.WroteHeader() || rw.BytesWritten() != 0 || rw.Status() != http.StatusOK {
			t.Fatalf("round %d: fresh wrapper reports header %v, %d bytes, status %d", i, rw.WroteHeader(), rw.BytesWritten(), rw.Status())
		}
		if status != 0 {
			rw.WriteHeader(status)
			_, _ = rw.Write([]byte("x"))
		}
		httpx.Release(rw)
	}
	if n := testing.AllocsPerRun(100, func() {
		rw, _ := httpx.Acquire(outer.ResponseWriter)
		httpx.Release(rw)
	}); n != 0 {
		t.Errorf("Acquire+Release allocates %v", n)
	}
}
