package idempotencygrpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/idempotency"
)

// MetadataKey is the metadata key the key travels in.
const MetadataKey = "idempotency-key"

// ReplayedKey is the response header metadata key set to "true" on a
// replayed response.
const ReplayedKey = "idempotent-replayed"

// typeHeader is the stored header naming the response message's type.
const typeHeader = "Grpc-Message-Type"

// Option configures New.
type Option interface{ apply(*config) }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) {
	if err := f(c); err != nil {
		c.errs = append(c.errs, err)
	}
}

type config struct {
	errs      []error
	required  bool
	scope     func(context.Context) string
	key       func(context.Context) (string, error)
	storeCode func(codes.Code) bool
	filter    func(fullMethod string) bool
}

// WithRequired makes the server interceptor refuse a call without a key
// with INVALID_ARGUMENT (idempotency.ErrKeyMissing) instead of running
// it unprotected. The default is false; pair it with WithFilter to
// require a key on some methods only.
func WithRequired(on bool) Option {
	return optionFunc(func(c *config) error { c.required = on; return nil })
}

// WithScope sets whose keys a call's key is told apart from. The default
// is the authz principal's ID in the context, else the peer's address.
func WithScope(f func(ctx context.Context) string) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return errors.New("idempotencygrpc: WithScope: nil function")
		}
		c.scope = f
		return nil
	})
}

// WithKeyFunc sets where the server interceptor finds a call's key,
// instead of the "idempotency-key" metadata (MetadataKey): f returns the
// key, "" when the call has none, or an error for a malformed one
// (answered INVALID_ARGUMENT; wrap idempotency.ErrKeyInvalid). For a key
// in another metadata entry, read it with metadata.FromIncomingContext
// and parse it with idempotency.ParseKey.
func WithKeyFunc(f func(ctx context.Context) (string, error)) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return errors.New("idempotencygrpc: WithKeyFunc: nil function")
		}
		c.key = f
		return nil
	})
}

// WithStoreCode sets which outcomes are final and stored; a call ending
// with another code releases its key, so a retry runs again. The default,
// DefaultStoreCode, stores OK and the codes that say the request itself
// is wrong, and releases the transient ones.
func WithStoreCode(f func(codes.Code) bool) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return errors.New("idempotencygrpc: WithStoreCode: nil function")
		}
		c.storeCode = f
		return nil
	})
}

// WithFilter limits the interceptors to the methods (full names,
// "/pkg.Service/Method") for which f returns true: the server guards
// only those, the client adds keys only to those. The default is every
// unary method.
func WithFilter(f func(fullMethod string) bool) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return errors.New("idempotencygrpc: WithFilter: nil function")
		}
		c.filter = f
		return nil
	})
}

// DefaultStoreCode is the default of WithStoreCode: OK, INVALID_ARGUMENT,
// NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION,
// OUT_OF_RANGE, UNIMPLEMENTED and UNAUTHENTICATED are final (like 2xx and
// 4xx over HTTP); CANCELLED, UNKNOWN, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE and DATA_LOSS are
// transient and release the key.
func DefaultStoreCode(c codes.Code) bool {
	switch c {
	case codes.OK, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented, codes.Unauthenticated:
		return true
	}
	return false
}

// Interceptors serve an *idempotency.Guard over gRPC. Build them with New.
type Interceptors struct {
	g   *idempotency.Guard
	cfg config
}

// New returns interceptors for g; a nil g is a Guard of the package
// defaults (an unnamed one, with a memory store).
func New(g *idempotency.Guard, opts ...Option) (*Interceptors, error) {
	c := config{storeCode: DefaultStoreCode}
	for i, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("idempotencygrpc: option "+strconv.Itoa(i)+" is nil"))
			continue
		}
		o.apply(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	if g == nil {
		var err error
		if g, err = idempotency.New(""); err != nil {
			return nil, err
		}
	}
	return &Interceptors{g: g, cfg: c}, nil
}

// UnaryServerInterceptor returns an interceptor that runs a call carrying
// an idempotency-key once and answers its retries with the stored
// outcome: the response message (rebuilt from its type name through the
// global protobuf registry) or the status error, with the header
// metadata idempotent-replayed: true. The fingerprint is a SHA-256 hash
// of the full method and the request message in deterministic protobuf
// encoding.
//
// Its refusals: a missing key (WithRequired) or a malformed one is
// INVALID_ARGUMENT; a call while the first with its key runs is ABORTED
// (gRPC's code for a concurrency conflict: retry later); the key reused
// with another request, or for a response too large to store, is
// FAILED_PRECONDITION (retrying the same call will not help); a store
// failure is UNAVAILABLE. Each error unwraps to the idempotency sentinel.
// A nil *Interceptors uses the package defaults.
func (i *Interceptors) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	if i == nil {
		i, _ = New(nil)
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if i.cfg.filter != nil && !i.cfg.filter(info.FullMethod) {
			return handler(ctx, req)
		}
		keyOf := incomingKey
		if i.cfg.key != nil {
			keyOf = i.cfg.key
		}
		key, err := keyOf(ctx)
		if err != nil {
			if !errors.Is(err, idempotency.ErrKeyInvalid) {
				err = errors.Join(idempotency.ErrKeyInvalid, err)
			}
			return nil, toStatus(err)
		}
		msg, isProto := req.(proto.Message)
		if key == "" || !isProto {
			if i.cfg.required {
				return nil, toStatus(idempotency.ErrKeyMissing)
			}
			return handler(ctx, req)
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		if err != nil {
			return nil, toStatus(errors.Join(idempotency.ErrFingerprint, err))
		}
		h := sha256.New()
		h.Write([]byte(info.FullMethod))
		h.Write([]byte{0})
		h.Write(b)
		call := idempotency.Call{Scope: i.scope(ctx), Method: info.FullMethod, Key: key, Fingerprint: hex.EncodeToString(h.Sum(nil))}
		var out any
		var herr error
		resp, replayed, err := i.g.Do(ctx, call, func(ctx context.Context) *idempotency.Response {
			out, herr = handler(ctx, req)
			return i.outcome(out, herr)
		})
		switch {
		case err != nil:
			return nil, toStatus(err)
		case !replayed:
			return out, herr
		}
		_ = grpc.SetHeader(ctx, metadata.Pairs(ReplayedKey, "true"))
		return rebuild(resp)
	}
}

// outcome is what to store of a handler's result: nil releases the key.
func (i *Interceptors) outcome(out any, err error) *idempotency.Response {
	st := status.Convert(err)
	if !i.cfg.storeCode(st.Code()) {
		return nil
	}
	if err != nil {
		b, merr := proto.Marshal(st.Proto())
		if merr != nil {
			return nil
		}
		return &idempotency.Response{Status: int(st.Code()), Body: b}
	}
	m, ok := out.(proto.Message)
	if !ok {
		return nil
	}
	b, merr := proto.Marshal(m)
	if merr != nil {
		return nil
	}
	return &idempotency.Response{
		Status: int(codes.OK),
		Header: http.Header{typeHeader: {string(m.ProtoReflect().Descriptor().FullName())}},
		Body:   b,
	}
}

// rebuild turns a stored response into the handler's result.
func rebuild(resp *idempotency.Response) (any, error) {
	if codes.Code(resp.Status) != codes.OK {
		st := &spb.Status{}
		if err := proto.Unmarshal(resp.Body, st); err != nil {
			return nil, status.Error(codes.Internal, "idempotencygrpc: stored status unreadable")
		}
		return nil, status.ErrorProto(st)
	}
	name := resp.Header.Get(typeHeader)
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		slog.Error("idempotencygrpc: stored response of an unknown message type", slog.String("type", name))
		return nil, status.Error(codes.Internal, "idempotencygrpc: stored response unreadable")
	}
	m := mt.New().Interface()
	if err := proto.Unmarshal(resp.Body, m); err != nil {
		return nil, status.Error(codes.Internal, "idempotencygrpc: stored response unreadable")
	}
	return m, nil
}

// incomingKey reads the key from the incoming metadata: "" when none.
func incomingKey(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vs := md.Get(MetadataKey)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return idempotency.ParseKey(vs[0])
	}
	return "", idempotency.ErrKeyInvalid
}

func (i *Interceptors) scope(ctx context.Context) string {
	if i.cfg.scope != nil {
		return i.cfg.scope(ctx)
	}
	if p, ok := authz.FromContext(ctx); ok && p.ID != "" {
		return "principal:" + p.ID
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		a := p.Addr.String()
		if host, _, err := net.SplitHostPort(a); err == nil {
			a = host
		}
		return "client:" + a
	}
	return ""
}

// toStatus maps the idempotency errors to their documented codes.
func toStatus(err error) error {
	var c codes.Code
	switch {
	case errors.Is(err, idempotency.ErrKeyMissing), errors.Is(err, idempotency.ErrKeyInvalid), errors.Is(err, idempotency.ErrFingerprint):
		c = codes.InvalidArgument
	case errors.Is(err, idempotency.ErrInProgress):
		c = codes.Aborted
	case errors.Is(err, idempotency.ErrMismatch), errors.Is(err, idempotency.ErrNotReplayable):
		c = codes.FailedPrecondition
	case errors.Is(err, idempotency.ErrUnavailable):
		c = codes.Unavailable
	default:
		return err
	}
	return &statusError{st: status.New(c, publicMessage(err)), err: err}
}

func publicMessage(err error) string {
	for _, e := range []error{idempotency.ErrKeyMissing, idempotency.ErrKeyInvalid, idempotency.ErrFingerprint,
		idempotency.ErrInProgress, idempotency.ErrMismatch, idempotency.ErrNotReplayable, idempotency.ErrUnavailable} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return ""
}

// statusError is a gRPC status error that unwraps to the idempotency
// error it reports.
type statusError struct {
	st  *status.Status
	err error
}

func (e *statusError) Error() string              { return e.st.Err().Error() }
func (e *statusError) GRPCStatus() *status.Status { return e.st }
func (e *statusError) Unwrap() error              { return e.err }

// UnaryClientInterceptor returns an interceptor that adds a new key
// (idempotency.NewKey) to every call (WithFilter: every call of the
// methods chosen) that has none in its outgoing metadata. gRPC's own
// retries of the call resend the same metadata, so every attempt carries
// the same key.
func (i *Interceptors) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	var filter func(string) bool
	if i != nil {
		filter = i.cfg.filter
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if filter == nil || filter(method) {
			if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(MetadataKey)) == 0 {
				ctx = metadata.AppendToOutgoingContext(ctx, MetadataKey, idempotency.NewKey())
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
