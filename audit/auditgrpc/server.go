package auditgrpc

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/paved-go/paved/audit"
	"github.com/paved-go/paved/internal/callinfo"
	"github.com/paved-go/paved/internal/grpcx"
)

// Interceptors write an audit event for every gRPC call a server serves:
// one per unary call and one per stream, with its message counts. Build
// it with New; it is safe for concurrent use.
type Interceptors struct {
	em      *audit.Emitter
	def     policy
	methods map[string]policy // by full method or "/service/"
	filter  func(ctx context.Context, fullMethod string) bool
}

type policy struct {
	skip bool
	typ  string
}

// New returns the interceptors that audit calls through em, with the
// policies of WithDefault and WithMethod. em must not be nil: there is no
// default sink to write to.
func New(em *audit.Emitter, opts ...Option) (*Interceptors, error) {
	c, err := newConfig(opts)
	if em == nil {
		err = errors.Join(err, errors.New("auditgrpc: New: nil *audit.Emitter"))
	}
	for i := range c.methods {
		for _, m := range c.methods[:i] {
			if m.name == c.methods[i].name {
				err = errors.Join(err, errors.New("auditgrpc: WithMethod: "+m.name+" given twice"))
			}
		}
	}
	if err != nil {
		return nil, err
	}
	i := &Interceptors{em: em, def: compile(c.def), filter: c.filter}
	for _, m := range c.methods {
		if i.methods == nil {
			i.methods = make(map[string]policy, len(c.methods))
		}
		i.methods[m.name] = compile(m.route)
	}
	return i, nil
}

func compile(r audit.Route) policy {
	return policy{skip: r.Level == audit.None, typ: r.Type}
}

func (i *Interceptors) policy(ctx context.Context, method string) (policy, bool) {
	p := i.def
	if i.methods != nil {
		if mp, ok := i.methods[method]; ok {
			p = mp
		} else if k := strings.LastIndexByte(method, '/'); k > 0 {
			if sp, ok := i.methods[method[:k+1]]; ok {
				p = sp
			}
		}
	}
	if p.skip || (i.filter != nil && !i.filter(ctx, method)) {
		return p, false
	}
	return p, true
}

var infos = sync.Pool{New: func() any { return new(callinfo.Info) }}

// UnaryServerInterceptor audits unary calls. In FailClosed mode a
// RequestReceived event must be confirmed before the handler runs; when
// it is not, the call fails with UNAVAILABLE and the handler never runs.
func (i *Interceptors) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, ok := i.policy(ctx, info.FullMethod)
		if !ok {
			return handler(ctx, req)
		}
		c := i.begin(ctx, p, info.FullMethod)
		if err := i.received(ctx, c); err != nil {
			return nil, grpcx.ServerError(ctx, err)
		}
		resp, err := handler(callinfo.With(ctx, c.info), req)
		var sent int64
		if err == nil {
			sent = 1
		}
		i.end(ctx, c, err, 1, sent)
		return resp, err
	}
}

// StreamServerInterceptor audits streams: one event when the handler
// returns, counting the messages received and sent.
func (i *Interceptors) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		p, ok := i.policy(ctx, info.FullMethod)
		if !ok {
			return handler(srv, ss)
		}
		c := i.begin(ctx, p, info.FullMethod)
		if err := i.received(ctx, c); err != nil {
			return grpcx.StreamServerError(ss, err)
		}
		cs := &countingStream{ServerStream: ss, ctx: callinfo.With(ctx, c.info)}
		err := handler(srv, cs)
		i.end(ctx, c, err, cs.recv.Load(), cs.sent.Load())
		return err
	}
}

// call is what the interceptors know of a call in progress.
type call struct {
	p      policy
	method string
	start  time.Time
	info   *callinfo.Info
	client *audit.Client
}

func (i *Interceptors) begin(ctx context.Context, p policy, method string) *call {
	c := &call{p: p, method: method, start: time.Now(), info: infos.Get().(*callinfo.Info)}
	var ip, ua string
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		ip = pr.Addr.String()
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("user-agent"); len(v) > 0 {
			ua = v[0]
		}
	}
	if ip != "" || ua != "" {
		c.client = &audit.Client{IP: ip, UserAgent: ua}
	}
	return c
}

// received confirms the RequestReceived event in FailClosed mode.
func (i *Interceptors) received(ctx context.Context, c *call) error {
	if i.em.Mode() != audit.FailClosed {
		return nil
	}
	ev := &audit.Event{Type: c.p.typ, Time: c.start, Data: audit.Data{
		Stage:  audit.StageRequestReceived,
		Action: audit.Action{Protocol: "grpc", Operation: c.method, Path: c.method},
		Client: c.client,
	}}
	if err := i.em.Emit(ctx, ev); err != nil {
		i.end(ctx, c, audit.ErrUnavailable, 0, 0)
		return audit.ErrUnavailable
	}
	return nil
}

func (i *Interceptors) end(ctx context.Context, c *call, err error, recv, sent int64) {
	now := time.Now()
	code := codes.OK
	if err != nil {
		code = grpcx.Code(err)
		if st, ok := status.FromError(grpcx.StatusError(err)); ok && code == codes.Unknown {
			code = st.Code()
		}
	}
	o := &audit.Outcome{Code: int(code), Result: "success"}
	if code != codes.OK {
		o.Result = "failure"
		o.Error = rpccode.Code_name[int32(code)]
	}
	ci := c.info
	ev := &audit.Event{Type: c.p.typ, Time: now, Data: audit.Data{
		Stage:    audit.StageResponseComplete,
		Action:   audit.Action{Protocol: "grpc", Operation: c.method, Path: c.method},
		Outcome:  o,
		Client:   c.client,
		Duration: now.Sub(c.start).Seconds(),
		Messages: &audit.Messages{Received: recv, Sent: sent},
	}}
	if ci.Operation != "" {
		ev.Data.Action.Operation = ci.Operation
	}
	if ci.PrincipalID != "" {
		ev.Data.Principal = &audit.Principal{ID: ci.PrincipalID, Type: ci.PrincipalType, Tenant: ci.PrincipalTenant}
	}
	if ci.Decision != "" {
		ev.Data.Authorization = &audit.Authorization{Decision: ci.Decision, Rule: ci.Rule, Reason: ci.Reason}
	}
	if len(ci.Resources) > 0 {
		ev.Data.Resources = make([]audit.Resource, len(ci.Resources))
		for k, r := range ci.Resources {
			ev.Data.Resources[k] = audit.Resource{Kind: r.Kind, ID: r.ID}
		}
		ev.Subject = ci.Resources[0].Kind + "/" + ci.Resources[0].ID
	}
	ci.Reset()
	infos.Put(ci)
	_ = i.em.Emit(ctx, ev) // drops are counted and logged by the emitter
}

// countingStream counts a stream's messages and carries the call record
// in its context.
type countingStream struct {
	grpc.ServerStream
	ctx        context.Context
	recv, sent atomic.Int64
}

func (s *countingStream) Context() context.Context { return s.ctx }

func (s *countingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.recv.Add(1)
	}
	return err
}

func (s *countingStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.sent.Add(1)
	}
	return err
}
