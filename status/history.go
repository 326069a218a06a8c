package status

import (
	"github.com/paved-go/paved/internal/httpx"
	"net/http"
	"slices"
	"time"
)

// sample is the Value of every component at one time. Consecutive samples
// of the same components share their ids slice.
type sample struct {
	at   time.Time
	ids  []string
	vals []float64
}

// record keeps a sample of comps taken at now, unless the last one is
// less than most of an interval old (two readers polling at once make one
// sample). h.mu must be held.
func (h *Handler) record(now time.Time, comps []Component) {
	if n := len(h.samples); n > 0 && now.Sub(h.samples[n-1].at) < h.cfg.interval*9/10 {
		return
	}
	s := sample{at: now, ids: make([]string, len(comps)), vals: make([]float64, len(comps))}
	for i, c := range comps {
		s.ids[i], s.vals[i] = ID(c), c.Value
	}
	if n := len(h.samples); n > 0 && slices.Equal(h.samples[n-1].ids, s.ids) {
		s.ids = h.samples[n-1].ids
	}
	if len(h.samples) == h.cfg.samples {
		copy(h.samples, h.samples[1:])
		h.samples = h.samples[:len(h.samples)-1]
	}
	h.samples = append(h.samples, s)
}

// history returns the samples as the page draws them. h.mu must be held;
// the values it points to are never written again.
func (h *Handler) history() *History {
	hs := &History{Times: make([]int64, len(h.samples)), Series: make(map[string][]*float64)}
	for i, s := range h.samples {
		hs.Times[i] = s.at.UnixMilli()
		for j, id := range s.ids {
			series := hs.Series[id]
			if series == nil {
				series = make([]*float64, len(h.samples))
				hs.Series[id] = series
			}
			series[i] = &s.vals[j]
		}
	}
	return hs
}

// subscriber is one open event stream. ch holds the latest event not yet
// written; a slow reader skips samples rather than holding the sampler.
type subscriber struct{ ch chan []byte }

// subscribe adds a stream and starts the sampler if it is the first.
func (h *Handler) subscribe() (*subscriber, bool) {
	s := &subscriber{ch: make(chan []byte, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	h.subs[s] = struct{}{}
	if h.stop == nil {
		h.stop = make(chan struct{})
		h.sampling.Add(1)
		go h.sampler(h.stop)
	}
	return s, true
}

// unsubscribe removes a stream and stops the sampler after the last one.
func (h *Handler) unsubscribe(s *subscriber) {
	h.mu.Lock()
	delete(h.subs, s)
	if len(h.subs) == 0 && h.stop != nil {
		close(h.stop)
		h.stop = nil
	}
	h.mu.Unlock()
}

// sampler takes a sample every interval while someone streams, and hands
// each stream the event.
func (h *Handler) sampler(stop chan struct{}) {
	defer h.sampling.Done()
	t := time.NewTicker(h.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			b := encode(h.take(now, false))
			h.mu.Lock()
			for s := range h.subs {
				select {
				case <-s.ch: // drop the event it has not written yet
				default:
				}
				s.ch <- b
			}
			h.mu.Unlock()
		}
	}
}

// Close ends every event stream and waits for the sampler to stop; pages
// reconnect to whatever serves them next. Register it with
// http.Server.RegisterOnShutdown, since Shutdown does not end streaming
// responses by itself. The handler keeps serving the page and status.json;
// new streams are refused with 503. Close on a nil *Handler does nothing.
func (h *Handler) Close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		for s := range h.subs {
			close(s.ch)
			delete(h.subs, s)
		}
		if h.stop != nil {
			close(h.stop)
			h.stop = nil
		}
	}
	h.mu.Unlock()
	h.sampling.Wait()
}

func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	s, ok := h.subscribe()
	if !ok {
		httpx.WriteError(w, r, errClosed)
		return
	}
	defer h.unsubscribe(s)
	b := encode(h.take(time.Now(), true))
	w.Header().Set("Content-Type", "text/event-stream")
	// A stream outlives the server's WriteTimeout by design; each event
	// gets its own deadline instead, so a reader that stopped reading
	// ends its stream rather than holding it open.
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(max(10*time.Second, 10*h.cfg.interval))) }
	deadline()
	// The page falls back to polling when a stream fails: a proxy that
	// buffers it, or a writer that cannot flush.
	if err := writeEvent(w, "retry: 2000\n", b); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case b, ok := <-s.ch:
			if !ok { // Close
				return
			}
			deadline()
			if writeEvent(w, "", b) != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// writeEvent writes one server-sent event whose data is b (JSON, so one
// line), after an optional field line.
func writeEvent(w http.ResponseWriter, field string, b []byte) error {
	buf := make([]byte, 0, len(field)+len(b)+8)
	buf = append(buf, field...)
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	buf = append(buf, "\n\n"...)
	_, err := w.Write(buf)
	return err
}
