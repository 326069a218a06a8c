package audit

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/retry"
)

// WebhookOption configures a WebhookSink (NewWebhookSink).
type WebhookOption interface{ applyWebhook(*webhookConfig) }

const (
	defaultWebhookTimeout = 10 * time.Second
	defaultReplayInterval = 10 * time.Second
)

type webhookConfig struct {
	deadLetter     string
	base           http.RoundTripper // nil: paved's default base transport
	retrier        *retry.Retrier    // nil: retry.New("audit.webhook")
	breaker        *breaker.Breaker  // nil: breaker.New("audit.webhook")
	timeout        time.Duration
	replayInterval time.Duration
	err            error
}

func (c *webhookConfig) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

type webhookOption func(*webhookConfig)

func (o webhookOption) applyWebhook(c *webhookConfig) { o(c) }

func newWebhookConfig(opts []WebhookOption) (webhookConfig, error) {
	c := webhookConfig{timeout: defaultWebhookTimeout, replayInterval: defaultReplayInterval}
	for i, o := range opts {
		if o == nil {
			return c, errors.New("audit: NewWebhookSink: option " + strconv.Itoa(i) + " is nil")
		}
		o.applyWebhook(&c)
	}
	return c, c.err
}

// WithDeadLetter names the local file (JSON Lines, mode 0600, fsynced)
// where a WebhookSink keeps the batches the endpoint did not take, to
// send them later in order. Without it, a batch that cannot be delivered
// is an error from Write.
func WithDeadLetter(path string) WebhookOption {
	return webhookOption(func(c *webhookConfig) {
		if path == "" {
			c.fail(errors.New("audit: WithDeadLetter: empty path"))
			return
		}
		c.deadLetter = path
	})
}

// WithWebhookTransport sets the RoundTripper the requests go through,
// under the sink's retries and breaker (default nil: paved's default base
// transport). Use it for TLS settings or to add credentials.
func WithWebhookTransport(base http.RoundTripper) WebhookOption {
	return webhookOption(func(c *webhookConfig) { c.base = base })
}

// WithWebhookRetrier sets the Retrier of the requests (default
// retry.New("audit.webhook"): 3 attempts, backoff from 100ms up to 10s).
// Each request carries an Idempotency-Key, so POST is retried.
func WithWebhookRetrier(r *retry.Retrier) WebhookOption {
	return webhookOption(func(c *webhookConfig) {
		if r == nil {
			c.fail(errors.New("audit: WithWebhookRetrier: nil Retrier"))
			return
		}
		c.retrier = r
	})
}

// WithWebhookBreaker sets the circuit breaker in front of the endpoint
// (default breaker.New("audit.webhook")). While it is open, batches go
// straight to the dead-letter file.
func WithWebhookBreaker(b *breaker.Breaker) WebhookOption {
	return webhookOption(func(c *webhookConfig) {
		if b == nil {
			c.fail(errors.New("audit: WithWebhookBreaker: nil Breaker"))
			return
		}
		c.breaker = b
	})
}

// WithWebhookTimeout bounds the delivery of one batch, retries included
// (default 10s); the caller's context may end it sooner. A batch not
// delivered in time goes to the dead-letter file. d must be positive.
func WithWebhookTimeout(d time.Duration) WebhookOption {
	return webhookOption(func(c *webhookConfig) {
		if d <= 0 {
			c.fail(errors.New("audit: WithWebhookTimeout: duration must be positive"))
			return
		}
		c.timeout = d
	})
}

// WithReplayInterval sets how often the background replayer tries to
// send the dead-letter file while it holds events (default 10s). Every
// Write tries it first too. d must be positive.
func WithReplayInterval(d time.Duration) WebhookOption {
	return webhookOption(func(c *webhookConfig) {
		if d <= 0 {
			c.fail(errors.New("audit: WithReplayInterval: duration must be positive"))
			return
		}
		c.replayInterval = d
	})
}
