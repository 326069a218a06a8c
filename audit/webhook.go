package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/retry"
)

// BatchContentType is the media type of the CloudEvents HTTP batched
// content mode (HTTP protocol binding, section 3.3): a JSON array of
// structured events.
const BatchContentType = "application/cloudevents-batch+json"

var errWebhookClosed = errors.New("audit: webhook sink: closed")

// WebhookSink POSTs each batch of events to an HTTP endpoint in the
// CloudEvents batched content mode, with retries behind a circuit
// breaker. When the endpoint does not take a batch (the breaker is open,
// the retries ran out, it answered with an error status, or the time ran
// out) the batch goes to a local dead-letter file (WithDeadLetter), and
// Write returns nil once it is fsynced there: the events are durable, not
// lost. While the dead-letter file holds events, later batches are
// appended to it too, so the endpoint receives every source's events in
// order; the file is sent first, oldest first, at the start of each Write
// and by a background replayer, and emptied once all of it was taken.
//
// Delivery is at least once: a batch whose answer was lost is sent again,
// and a crash during a replay sends the replayed part again. Every copy
// carries the same event ids (and the batch's first event id as its
// Idempotency-Key), so the receiver can drop duplicates. A batch the
// endpoint rejects for good (400, say) stays first in the dead-letter
// file, which keeps growing until the receiver or the file is fixed.
//
// A WebhookSink is safe for concurrent use. Make one with NewWebhookSink.
type WebhookSink struct {
	url    string
	name   string
	client *http.Client
	cfg    webhookConfig

	mu     sync.Mutex // serializes deliveries, which keeps the order
	dl     *deadLetter
	closed bool

	ctx    context.Context // ends replays on Close
	cancel context.CancelFunc
	done   chan struct{} // the replayer returned
}

// NewWebhookSink returns a sink that POSTs batches to url (http or https).
// With WithDeadLetter it opens (or creates) the dead-letter file, cutting
// a torn last line a crash left, and starts the replayer goroutine, which
// Close stops; events already in the file are sent first.
func NewWebhookSink(rawURL string, opts ...WebhookOption) (*WebhookSink, error) {
	cfg, err := newWebhookConfig(opts)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("audit: NewWebhookSink: want an http or https URL, got " + strconv.Quote(rawURL))
	}
	if cfg.retrier == nil {
		if cfg.retrier, err = retry.New("audit.webhook"); err != nil {
			return nil, errors.New("audit: NewWebhookSink: " + err.Error())
		}
	}
	if cfg.breaker == nil {
		if cfg.breaker, err = breaker.New("audit.webhook"); err != nil {
			return nil, errors.New("audit: NewWebhookSink: " + err.Error())
		}
	}
	s := &WebhookSink{
		url:    rawURL,
		name:   "webhook:" + u.Host,
		client: &http.Client{Transport: cfg.retrier.Transport(cfg.breaker.Transport(cfg.base))},
		cfg:    cfg,
		done:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.deadLetter == "" {
		close(s.done)
		return s, nil
	}
	if s.dl, err = openDeadLetter(cfg.deadLetter); err != nil {
		return nil, err
	}
	go s.replayer()
	return s, nil
}

// Name returns "webhook:" and the endpoint's host.
func (s *WebhookSink) Name() string { return s.name }

// Write sends the batch, or keeps it in the dead-letter file (see
// WebhookSink), in order with every batch before it. It returns nil once
// the endpoint took the batch or the dead-letter file holds it, and an
// error when neither happened: no dead-letter file and the endpoint did
// not take it, or the dead-letter write failed.
func (s *WebhookSink) Write(ctx context.Context, batch []*Event) error {
	if len(batch) == 0 {
		return nil
	}
	for _, e := range batch {
		if e == nil {
			return errors.New("audit: webhook sink: nil event")
		}
	}
	le := lineEncoders.Get().(*lineEncoder)
	le.buf.Reset()
	defer lineEncoders.Put(le)
	for _, e := range batch {
		if err := le.enc.Encode(e); err != nil {
			return errors.New("audit: webhook sink: encoding event: " + err.Error())
		}
	}
	lines := le.buf.Bytes()
	if bytes.Count(lines, newlineByte) != len(batch) {
		return errors.New("audit: webhook sink: encoded event contains a newline")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errWebhookClosed
	}
	if s.dl != nil && s.dl.size > 0 {
		s.replayLocked(ctx) // its failure leaves the file in place; this batch joins it
	}
	var sendErr error
	if s.dl == nil || s.dl.size == 0 {
		if sendErr = s.send(ctx, lines, batch[0].ID); sendErr == nil {
			return nil
		}
		if s.dl == nil {
			return sendErr
		}
	}
	if err := s.dl.append(lines); err != nil {
		return errors.Join(sendErr, err)
	}
	return nil
}

// Replay sends what the dead-letter file holds now, oldest first, and
// empties the file once the endpoint took all of it. It returns nil when
// the file is empty afterwards. The background replayer calls it every
// WithReplayInterval; call it to drain the file sooner, before Close say.
func (s *WebhookSink) Replay(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errWebhookClosed
	}
	if s.dl == nil {
		return nil
	}
	return s.replayLocked(ctx)
}

// replayLocked sends the dead-letter file in chunks; s.mu is held.
func (s *WebhookSink) replayLocked(ctx context.Context) error {
	for s.dl.size > s.dl.sent {
		chunk, err := s.dl.next()
		if err != nil {
			return err
		}
		var first struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(chunk[:bytes.IndexByte(chunk, '\n')], &first); err != nil {
			return errors.New("audit: webhook sink: dead-letter file: " + err.Error())
		}
		if err := s.send(ctx, chunk, first.ID); err != nil {
			return err
		}
		s.dl.sent += int64(len(chunk))
	}
	return s.dl.reset()
}

// send POSTs lines (JSON events, one per line) as a batch.
func (s *WebhookSink) send(ctx context.Context, lines []byte, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	body := make([]byte, 0, len(lines)+2)
	body = append(body, '[')
	body = append(body, lines...)
	for i := 1; i < len(body)-1; i++ { // lines end in '\n': separators, last one closes
		if body[i] == '\n' {
			body[i] = ','
		}
	}
	body[len(body)-1] = ']'
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("audit: webhook sink: " + err.Error())
	}
	req.Header.Set("Content-Type", BatchContentType)
	req.Header.Set("Idempotency-Key", key)
	resp, err := s.client.Do(req)
	if err != nil {
		return &sinkIOError{prefix: "audit: webhook sink: ", err: err}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New("audit: webhook sink: " + s.url + " answered " + resp.Status)
	}
	return nil
}

// replayer sends the dead-letter file every WithReplayInterval while it
// holds events.
func (s *WebhookSink) replayer() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.replayInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.mu.Lock()
			if !s.closed && s.dl.size > 0 {
				s.replayLocked(s.ctx)
			}
			s.mu.Unlock()
		}
	}
}

// Close stops the replayer (ending a replay in flight) and closes the
// dead-letter file; what it holds is sent after the next start. Close
// does not send anything itself: call Replay first to drain the file.
func (s *WebhookSink) Close(ctx context.Context) error {
	s.cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errWebhookClosed
	}
	s.closed = true
	if s.dl != nil {
		return s.dl.close()
	}
	return nil
}

var _ Sink = (*WebhookSink)(nil)
