package platform

import (
	"net/http"
	"strings"
	"time"

	"github.com/paved-go/paved/idempotency"
)

// idempotencySection is the x-platform idempotency section: the
// operation runs once per Idempotency-Key, and retries with the key get
// the stored response.
type idempotencySection struct {
	Required    bool     `json:"required"`
	TTL         string   `json:"ttl"`
	LockTimeout string   `json:"lockTimeout"`
	Wait        string   `json:"wait"`
	Fingerprint []string `json:"fingerprint"`
	Docs        string   `json:"docs"`
}

// unsafeMethod reports whether an operation's method changes state, the
// only ones an idempotency key protects.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// idempotency builds the guard of an operation with an idempotency
// section. The platform's guards share one store: WithIdempotency's
// idempotency.WithStore, else one memory store.
func (b *builder) idempotency(op *operation) func(http.Handler) http.Handler {
	v, ok := op.section("idempotency")
	if !ok || op.bad["idempotency"] {
		return nil
	}
	if !unsafeMethod(op.Method) {
		// A default from the root or path item applies to writes only.
		if strings.HasPrefix(op.at("/idempotency"), op.Pointer+"/") {
			b.add(op.at("/idempotency"), "idempotency applies to POST, PUT, PATCH and DELETE operations only")
		}
		return nil
	}
	var s idempotencySection
	if err := decode(v, &s); err != nil {
		b.add(op.at("/idempotency"), err.Error())
		return nil
	}
	if op.ID == "" {
		b.add(op.Pointer, "an operation with idempotency needs an operationId: it names the guard")
		return nil
	}
	store, err := b.idempotencyStore()
	if err != nil {
		b.add(op.at("/idempotency"), err.Error())
		return nil
	}
	opts := []idempotency.Option{
		idempotency.WithStore(store),
		idempotency.WithLogger(b.c.logger),
		idempotency.WithMeterProvider(b.c.meterProvider),
		idempotency.WithRequired(s.Required),
	}
	for _, d := range []struct {
		field, value string
		opt          func(time.Duration) idempotency.Option
	}{
		{"ttl", s.TTL, idempotency.WithTTL},
		{"lockTimeout", s.LockTimeout, idempotency.WithLockTimeout},
		{"wait", s.Wait, idempotency.WithWait},
	} {
		if d.value == "" {
			continue
		}
		v, ok := b.duration(op.at("/idempotency/"+d.field), d.value)
		if !ok {
			return nil
		}
		opts = append(opts, d.opt(v))
	}
	if len(s.Fingerprint) > 0 {
		opts = append(opts, idempotency.WithFingerprintFields(s.Fingerprint...))
	}
	if s.Docs != "" {
		opts = append(opts, idempotency.WithDocsURL(s.Docs))
	}
	// The user's options last: WithIdempotency may set anything above.
	opts = append(opts, b.c.idempotencyOpts...)
	g, err := idempotency.New(op.ID, opts...)
	if err != nil {
		b.add(op.at("/idempotency"), err.Error())
		return nil
	}
	return g.Middleware
}

// idempotencyStore returns the store the platform's guards share: the
// one WithIdempotency gives, or a memory store made once.
func (b *builder) idempotencyStore() (idempotency.Store, error) {
	if b.idemStore == nil {
		s, err := idempotency.NewMemoryStore()
		if err != nil {
			return nil, err
		}
		b.idemStore = s
	}
	return b.idemStore, nil
}
