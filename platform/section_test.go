package platform_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paved-go/paved/platform"
)

// A section compiler of a later package: "stamp" adds a response header.
func stampSection(op *platform.Operation, v any) (func(http.Handler) http.Handler, error) {
	m, _ := v.(map[string]any)
	value, ok := m["value"].(string)
	if !ok {
		return nil, &platform.LoadError{Problems: []platform.Problem{{Pointer: "/value", Message: "value must be a string"}}}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Stamp", op.ID+":"+value)
			next.ServeHTTP(w, r)
		})
	}, nil
}

func TestSection(t *testing.T) {
	spec := doc("  stamp:\n    value: root\n",
		op("/a", "get", "a", allow)+
			op("/b", "get", "b", allow+"        stamp:\n          value: b\n")+
			op("/c", "get", "c", allow+"        stamp: null\n"))
	p, err := platform.Load(spec, append(loadOpts(t, "a", "b", "c"),
		platform.WithSection("stamp", platform.SectionFunc(stampSection)))...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	for path, want := range map[string]string{"/a": "a:root", "/b": "b:b", "/c": ""} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-API-Key", aliceKey)
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("X-Stamp") != want {
			t.Errorf("%s: status %d, X-Stamp %q, want %q", path, rec.Code, rec.Header().Get("X-Stamp"), want)
		}
	}
}

func TestSectionProblems(t *testing.T) {
	spec := doc("", op("/a", "get", "a", allow+"        stamp:\n          value: 3\n"))
	_, err := platform.Load(spec, append(loadOpts(t, "a"),
		platform.WithSection("stamp", platform.SectionFunc(stampSection)))...)
	var le *platform.LoadError
	if !errors.As(err, &le) || len(le.Problems) != 1 || le.Problems[0].String() != "/paths/~1a/get/x-platform/stamp/value: value must be a string" {
		t.Fatalf("error %v", err)
	}
}

// registrations numbers the sections TestRegisterSection registers.
var registrations atomic.Int64

func TestRegisterSection(t *testing.T) {
	for name, fn := range map[string]func(){
		"built in": func() { platform.RegisterSection("cache", platform.SectionFunc(stampSection)) },
		"empty":    func() { platform.RegisterSection("", platform.SectionFunc(stampSection)) },
		"nil":      func() { platform.RegisterSection("x", nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "platform: RegisterSection: ") {
					t.Errorf("panic %v", r)
				}
			}()
			fn()
		})
	}
	// Registration is process-wide and a name can be registered once: a
	// fresh name per run keeps the test repeatable (go test -count=N).
	name := "test-stamp-" + strconv.FormatInt(registrations.Add(1), 10)
	platform.RegisterSection(name, platform.SectionFunc(stampSection))
	spec := doc("", op("/a", "get", "a", allow+"        "+name+":\n          value: v\n"))
	p, err := platform.Load(spec, loadOpts(t, "a")...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	req := httptest.NewRequest("GET", "/a", nil)
	req.Header.Set("X-API-Key", aliceKey)
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Stamp"); got != "a:v" {
		t.Errorf("X-Stamp %q", got)
	}
}
