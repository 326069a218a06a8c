package paved_test

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

	"github.com/paved-go/paved"
)

// serve runs h behind paved.NewResponseWriter on a real server, returns
// what the client got and the recorder as the handler left it.
func serve(t *testing.T, h func(rw *paved.ResponseWriter, r *http.Request)) (*http.Response, string, []string, *paved.ResponseWriter) {
	t.Helper()
	got := make(chan *paved.ResponseWriter, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := paved.NewResponseWriter(w)
		h(rw, r)
		got <- rw
	}))
	t.Cleanup(srv.Close)
	var informational []string
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			informational = append(informational, strconv.Itoa(code)+" "+h.Get("Link"))
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body), informational, <-got
}

func TestResponseWriterRecords(t *testing.T) {
	tests := []struct {
		name          string
		handler       func(rw *paved.ResponseWriter, r *http.Request)
		wantStatus    int
		wantBody      string
		wantWritten   bool
		wantEarlyHint []string
	}{
		{
			name:       "nothing written",
			handler:    func(rw *paved.ResponseWriter, r *http.Request) {},
			wantStatus: 200,
		},
		{
			name:       "implicit 200",
			handler:    func(rw *paved.ResponseWriter, r *http.Request) { io.WriteString(rw, "hello") },
			wantStatus: 200, wantBody: "hello", wantWritten: true,
		},
		{
			name: "later WriteHeader calls are ignored",
			handler: func(rw *paved.ResponseWriter, r *http.Request) {
				rw.WriteHeader(http.StatusCreated)
				rw.WriteHeader(http.StatusInternalServerError)
				rw.WriteHeader(http.StatusEarlyHints)
			},
			wantStatus: 201, wantWritten: true,
		},
		{
			name: "WriteHeader after the body is ignored",
			handler: func(rw *paved.ResponseWriter, r *http.Request) {
				io.WriteString(rw, "x")
				rw.WriteHeader(http.StatusBadGateway)
			},
			wantStatus: 200, wantBody: "x", wantWritten: true,
		},
		{
			name: "103 passes through and is not the status",
			handler: func(rw *paved.ResponseWriter, r *http.Request) {
				rw.Header().Set("Link", "</a.css>; rel=preload")
				rw.WriteHeader(http.StatusEarlyHints)
				if rw.WroteHeader() || rw.Status() != 200 {
					panic("a 1xx was recorded as the final status")
				}
				rw.Header().Set("Link", "</b.js>; rel=preload")
				rw.WriteHeader(http.StatusEarlyHints)
				rw.WriteHeader(http.StatusAccepted)
				io.WriteString(rw, "ok")
			},
			wantStatus: 202, wantBody: "ok", wantWritten: true,
			wantEarlyHint: []string{"103 </a.css>; rel=preload", "103 </b.js>; rel=preload"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, hints, rw := serve(t, tc.handler)
			if resp.StatusCode != tc.wantStatus || rw.Status() != tc.wantStatus {
				t.Errorf("client saw %d, recorded %d, want %d", resp.StatusCode, rw.Status(), tc.wantStatus)
			}
			if body != tc.wantBody || rw.BytesWritten() != int64(len(tc.wantBody)) {
				t.Errorf("body %q, %d bytes recorded; want %q", body, rw.BytesWritten(), tc.wantBody)
			}
			if rw.WroteHeader() != tc.wantWritten {
				t.Errorf("WroteHeader() = %v, want %v", rw.WroteHeader(), tc.wantWritten)
			}
			if strings.Join(hints, "|") != strings.Join(tc.wantEarlyHint, "|") {
				t.Errorf("1xx responses %q, want %q", hints, tc.wantEarlyHint)
			}
		})
	}
}

func TestNewResponseWriterSharesOneRecord(t *testing.T) {
	rw := paved.NewResponseWriter(httptest.NewRecorder())
	if paved.NewResponseWriter(rw) != rw {
		t.Fatal("wrapping a *paved.ResponseWriter made a second one")
	}
	if rw.Unwrap() == nil {
		t.Fatal("Unwrap returned nil")
	}
}

func TestResponseWriterFlushAndResponseController(t *testing.T) {
	flushed := make(chan struct{})
	errc := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := paved.NewResponseWriter(w)
		rc := http.NewResponseController(rw) // reaches the server's writer through Unwrap
		err := errors.Join(rc.SetWriteDeadline(time.Now().Add(time.Minute)), rc.EnableFullDuplex())
		io.WriteString(rw, "first")
		rw.Flush() // http.Flusher
		<-flushed
		io.WriteString(rw, "second")
		errc <- errors.Join(err, rc.Flush())
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first" {
		t.Fatalf("read %q before the handler returned: %v", buf, err)
	}
	close(flushed)
	if rest, _ := io.ReadAll(resp.Body); string(rest) != "second" {
		t.Fatalf("rest %q", rest)
	}
	if err := <-errc; err != nil {
		t.Fatalf("http.ResponseController through the recorder: %v", err)
	}
}

func TestResponseWriterHijack(t *testing.T) {
	status := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := paved.NewResponseWriter(w)
		conn, brw, err := rw.Hijack() // http.Hijacker
		if err != nil {
			status <- 0
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		status <- rw.Status()
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
	if resp.StatusCode != 101 || <-status != 101 {
		t.Fatalf("client saw %d; the recorder must record a hijack as 101", resp.StatusCode)
	}
	if _, _, err := paved.NewResponseWriter(httptest.NewRecorder()).Hijack(); !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("Hijack without support: %v, want http.ErrNotSupported", err)
	}
}

// readerFromWriter is a writer underneath whose io.ReaderFrom (net/http's
// uses sendfile) must be the one that copies.
type readerFromWriter struct {
	*httptest.ResponseRecorder
	readFrom int
}

func (w *readerFromWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom++
	return io.Copy(w.ResponseRecorder, r)
}

func TestResponseWriterReadFrom(t *testing.T) {
	under := &readerFromWriter{ResponseRecorder: httptest.NewRecorder()}
	rw := paved.NewResponseWriter(under)
	// As net/http copies a file: through the writer's ReadFrom, which
	// must reach the ReadFrom underneath even for a reader with WriteTo.
	n, err := rw.ReadFrom(strings.NewReader(strings.Repeat("a", 10000)))
	if err != nil || n != 10000 || rw.BytesWritten() != 10000 || under.readFrom != 1 {
		t.Fatalf("copied %d (%v), recorded %d, ReadFrom underneath called %d times", n, err, rw.BytesWritten(), under.readFrom)
	}
	if !rw.WroteHeader() || under.Code != 200 || under.Body.Len() != 10000 {
		t.Fatalf("header %v code %d body %d", rw.WroteHeader(), under.Code, under.Body.Len())
	}
}
