package httpx_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/internal/httpx"
)

// record serves h behind a wrapping middleware on a real httptest server
// and returns the client's response and the wrapper as the handler left it.
func record(t *testing.T, h http.HandlerFunc) (*http.Response, string, *httpx.ResponseWriter) {
	t.Helper()
	got := make(chan *httpx.ResponseWriter, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := httpx.Wrap(w)
		h(rw, r)
		got <- rw
	}))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body), <-got
}

func TestResponseWriter(t *testing.T) {
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		wantStatus  int
		wantBody    string
		wantBytes   int64
		wantWritten bool
	}{
		{
			name:       "nothing written",
			handler:    func(w http.ResponseWriter, r *http.Request) {},
			wantStatus: http.StatusOK,
		},
		{
			name: "implicit 200 on first write",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello")
			},
			wantStatus: http.StatusOK, wantBody: "hello", wantBytes: 5, wantWritten: true,
		},
		{
			name: "explicit status",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
				io.WriteString(w, "tea")
			},
			wantStatus: http.StatusTeapot, wantBody: "tea", wantBytes: 3, wantWritten: true,
		},
		{
			name: "double WriteHeader keeps the first",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				w.WriteHeader(http.StatusInternalServerError)
			},
			wantStatus: http.StatusCreated, wantWritten: true,
		},
		{
			name: "WriteHeader after Write is ignored",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "x")
				w.WriteHeader(http.StatusBadGateway)
			},
			wantStatus: http.StatusOK, wantBody: "x", wantBytes: 1, wantWritten: true,
		},
		{
			name: "1xx does not end the header phase",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</style.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusAccepted)
			},
			wantStatus: http.StatusAccepted, wantWritten: true,
		},
		{
			name: "ReadFrom counts bytes",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(w, strings.NewReader(strings.Repeat("a", 10000)))
			},
			wantStatus: http.StatusOK, wantBody: strings.Repeat("a", 10000), wantBytes: 10000, wantWritten: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, rw := record(t, tc.handler)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("client saw status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if rw.Status() != tc.wantStatus {
				t.Errorf("Status() = %d, want %d", rw.Status(), tc.wantStatus)
			}
			if body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
			if rw.BytesWritten() != tc.wantBytes {
				t.Errorf("BytesWritten() = %d, want %d", rw.BytesWritten(), tc.wantBytes)
			}
			if rw.WroteHeader() != tc.wantWritten {
				t.Errorf("WroteHeader() = %v, want %v", rw.WroteHeader(), tc.wantWritten)
			}
		})
	}
}

func TestWrapReusesWrapper(t *testing.T) {
	rw := httpx.Wrap(httptest.NewRecorder())
	if httpx.Wrap(rw) != rw {
		t.Fatal("Wrap of a *ResponseWriter allocated a second wrapper")
	}
}

func TestResponseControllerThroughWrapper(t *testing.T) {
	flushed := make(chan struct{})
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := httpx.Wrap(w)
		rc := http.NewResponseController(rw)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			done <- err
			return
		}
		if err := rc.EnableFullDuplex(); err != nil {
			done <- err
			return
		}
		io.WriteString(rw, "first")
		if err := rc.Flush(); err != nil {
			done <- err
			return
		}
		<-flushed // the client read "first" before the handler returned
		io.WriteString(rw, "second")
		done <- nil
	}))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len("first"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatalf("reading flushed bytes: %v", err)
	}
	if string(buf) != "first" {
		t.Fatalf("flushed %q, want %q", buf, "first")
	}
	close(flushed)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second" {
		t.Fatalf("rest = %q, want %q", rest, "second")
	}
	if err := <-done; err != nil {
		t.Fatalf("ResponseController through the wrapper: %v", err)
	}
}

func TestFlushWithoutHeaderSends200(t *testing.T) {
	resp, _, rw := record(t, func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		w.WriteHeader(http.StatusTeapot) // too late
	})
	if resp.StatusCode != http.StatusOK || rw.Status() != http.StatusOK || !rw.WroteHeader() {
		t.Fatalf("client %d, recorded %d (written %v), want 200", resp.StatusCode, rw.Status(), rw.WroteHeader())
	}
}

func TestHijackThroughWrapper(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := httpx.Wrap(w)
		conn, brw, err := rw.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhi")
		brw.Flush()
		if rw.Status() != http.StatusSwitchingProtocols {
			t.Errorf("Status() after hijack = %d, want 101", rw.Status())
		}
	}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
}

func TestHijackUnsupported(t *testing.T) {
	rw := httpx.Wrap(httptest.NewRecorder())
	if _, _, err := rw.Hijack(); !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("Hijack on a recorder: %v, want http.ErrNotSupported", err)
	}
	if rw.WroteHeader() {
		t.Fatal("a failed hijack marked the header written")
	}
}

func BenchmarkWrap(b *testing.B) {
	h := func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }
	w := httptest.NewRecorder()
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h(w)
		}
	})
	b.Run("paved", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rw := httpx.Wrap(w)
			h(rw)
			_ = rw.Status()
		}
	})
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// plainWriter is a ResponseWriter with no optional interfaces.
type plainWriter struct{ h http.Header }

func (w *plainWriter) Header() http.Header         { return w.h }
func (w *plainWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *plainWriter) WriteHeader(int)             {}

// TestResponseControllerFlushErrors checks that http.ResponseController
// reports, through the wrapper, what it reports without it: that the
// writer underneath cannot flush.
func TestResponseControllerFlushErrors(t *testing.T) {
	w := &plainWriter{h: make(http.Header)}
	if err := http.NewResponseController(w).Flush(); !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("unwrapped: %v, want http.ErrNotSupported", err)
	}
	rw := httpx.Wrap(w)
	if err := http.NewResponseController(rw).Flush(); !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("through the wrapper: %v, want http.ErrNotSupported", err)
	}
	if !rw.WroteHeader() || rw.Status() != http.StatusOK {
		t.Fatalf("flush did not send the implicit 200: written %v, status %d", rw.WroteHeader(), rw.Status())
	}
}

// TestEarlyHintsReachTheClient checks that a 1xx goes out through the
// wrapper, with the headers set before it, ahead of the final status.
func TestEarlyHintsReachTheClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := httpx.Wrap(w)
		rw.Header().Set("Link", "</style.css>; rel=preload")
		rw.WriteHeader(http.StatusEarlyHints)
		rw.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	var hints []string
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, strconv.Itoa(code)+" "+h.Get("Link"))
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" {
		t.Fatalf("status %d, 1xx responses %q; want 202 after one 103 with the Link header", resp.StatusCode, hints)
	}
}
