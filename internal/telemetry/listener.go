package telemetry

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Listener wraps l, a component's listener, so that every HTTP/1.x request
// it carries is a server span, with nothing for the component to write:
// each accepted connection's bytes are followed (see httpStream) to tell
// where a request begins and its response ends. The span reaches the
// component's handler through the connection's local address, which
// net/http puts in every request's context (http.LocalAddrContextKey):
// component calls and log records made under r.Context() belong to it.
// A connection that does not speak HTTP/1.x (TLS, HTTP/2, another
// protocol) is passed through untouched once its first bytes say so.
func (r *Runtime) Listener(name string, l net.Listener) net.Listener {
	if r == nil || r.tracer == nil {
		return l
	}
	return &listener{Listener: l, r: r, name: name}
}

type listener struct {
	net.Listener
	r    *Runtime
	name string
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	hc := &httpConn{Conn: c, r: l.r, listener: l.name}
	hc.local = &connAddr{Addr: c.LocalAddr(), conn: hc}
	return hc, nil
}

// A connAddr is a connection's local address that also leads to the
// connection's request in progress.
type connAddr struct {
	net.Addr
	conn *httpConn
}

// An httpConn follows one connection's requests and responses.
type httpConn struct {
	net.Conn
	r        *Runtime
	listener string
	local    *connAddr

	mu      sync.Mutex
	in, out httpStream
	off     bool        // not HTTP/1.x: no longer followed
	pending []*httpSpan // requests whose response has not ended, oldest first
}

type httpSpan struct {
	span      trace.Span // nil if not sampled
	ctx       context.Context
	method    string
	responded bool // its response's head was written
}

func (c *httpConn) LocalAddr() net.Addr { return c.local }

func (c *httpConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		if !c.off {
			c.off = !c.in.feed(b[:n], true, c.requestHead, nil)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *httpConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.mu.Lock()
		if !c.off {
			c.off = !c.out.feed(b[:n], false, c.responseHead, c.responseEnd)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *httpConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	pending := c.pending
	c.pending, c.off = nil, true
	c.mu.Unlock()
	for _, p := range pending {
		if p.span == nil {
			continue
		}
		if !p.responded {
			p.span.SetStatus(codes.Error, "connection closed before the response")
		}
		p.span.End() // a response without a length ends with its connection
	}
	return err
}

// requestHead starts the span of a request whose head was read (c.mu held).
func (c *httpConn) requestHead(h *head) {
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h.header))
	ctx, ok := c.r.start(ctx)
	if !ok {
		c.pending = append(c.pending, &httpSpan{ctx: ctx, method: h.method})
		return
	}
	path := h.target
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	ctx, span := c.r.tracer.Start(ctx, h.method+" "+path, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(h.began),
		trace.WithAttributes(
			attribute.String("http.request.method", h.method),
			attribute.String("url.path", path),
			attribute.String("pilotage.listener", c.listener),
		))
	c.pending = append(c.pending, &httpSpan{span: span, ctx: ctx, method: h.method})
}

// responseHead reads a response's head (c.mu held): an interim one (1xx)
// is not the end of the request, and a response to HEAD, 204 and 304 have
// no body whatever their headers say.
func (c *httpConn) responseHead(h *head) {
	if len(c.pending) == 0 {
		return
	}
	p := c.pending[0]
	switch {
	case h.status == http.StatusSwitchingProtocols || p.method == "CONNECT" && h.status/100 == 2:
		c.off = true // another protocol, or a tunnel, from here on
	case h.status/100 == 1:
		h.interim = true
		return
	case p.method == "HEAD" || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		h.noBody = true
	}
	p.responded = true
	if p.span != nil {
		p.span.SetAttributes(attribute.Int("http.response.status_code", h.status))
		if h.status >= 500 {
			p.span.SetStatus(codes.Error, http.StatusText(h.status))
		}
	}
	if c.off {
		c.responseEnd()
	}
}

// responseEnd ends the oldest request's span (c.mu held).
func (c *httpConn) responseEnd() {
	if len(c.pending) == 0 {
		return
	}
	p := c.pending[0]
	c.pending = c.pending[1:]
	if p.span != nil {
		p.span.End()
	}
}

// current is the context of the request being served (the oldest one
// whose response has not ended: HTTP/1.x serves a connection's requests in
// order), or nil.
func (c *httpConn) current() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return nil
	}
	return c.pending[0].ctx
}

// withListenerSpan returns ctx with the span of the HTTP request it serves,
// if it has no span of its own and comes from a traced listener; and
// whether it serves such a request at all.
func withListenerSpan(ctx context.Context) (context.Context, bool) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, false
	}
	a, ok := ctx.Value(http.LocalAddrContextKey).(*connAddr)
	if !ok {
		return ctx, false
	}
	rctx := a.conn.current()
	if rctx == nil || !trace.SpanContextFromContext(rctx).IsValid() {
		return ctx, rctx != nil // a request outside any trace: nothing to carry
	}
	return trace.ContextWithSpan(ctx, trace.SpanFromContext(rctx)), true
}

// SpanContext returns the span context of ctx, or of the HTTP request of a
// traced listener that ctx serves; what log records carry.
func SpanContext(ctx context.Context) trace.SpanContext {
	if ctx == nil {
		return trace.SpanContext{}
	}
	ctx, _ = withListenerSpan(ctx)
	return trace.SpanContextFromContext(ctx)
}
