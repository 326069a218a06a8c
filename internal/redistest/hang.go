package redistest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Hang is a TCP server on loopback that accepts connections and reads
// everything sent to it but never answers: a Redis that hangs. It stops
// when the test ends.
type Hang struct {
	ln    net.Listener
	bytes atomic.Int64
	conns atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

// StartHang starts a Hang on a free loopback port.
func StartHang(t testing.TB) *Hang {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &Hang{ln: ln}
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.conns.Add(1)
			h.mu.Lock()
			h.open = append(h.open, c)
			h.mu.Unlock()
			h.wg.Go(func() {
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					h.bytes.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		for _, c := range h.open {
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

// Addr is the host:port a client dials.
func (h *Hang) Addr() string { return h.ln.Addr().String() }

// Conns reports how many connections were accepted.
func (h *Hang) Conns() int64 { return h.conns.Load() }

// Bytes reports how many bytes were received.
func (h *Hang) Bytes() int64 { return h.bytes.Load() }
