package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"go.uber.org/zap"
)

// Token is one admin API token and the name recorded in the audit trail for
// changes made with it.
type Token struct {
	Name   string
	Secret string
}

// ParseTokens reads KAIROS_ADMIN_TOKEN: "secret" (named "admin") or a comma
// separated list of name:secret pairs.
func ParseTokens(spec string) ([]Token, error) {
	var out []Token
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, secret, ok := strings.Cut(item, ":")
		if !ok {
			name, secret = "admin", item
		}
		if len(secret) < 16 {
			return nil, fmt.Errorf("KAIROS_ADMIN_TOKEN: token %q is shorter than 16 characters", name)
		}
		out = append(out, Token{Name: name, Secret: secret})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("KAIROS_ADMIN_TOKEN: empty")
	}
	return out, nil
}

// Pinger reports whether Redis answers, for /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Route is an authenticated admin route: Prefix matches the request path exactly,
// or as a prefix when it ends in "/".
type Route struct {
	Prefix  string
	Handler fasthttp.RequestHandler
}

// Server is the admin HTTP server.
type Server struct {
	tokens  []Token
	hashes  [][32]byte
	ready   Pinger
	metrics fasthttp.RequestHandler
	routes  []Route
	public  map[string]fasthttp.RequestHandler
	log     *zap.Logger
	srv     *fasthttp.Server
	ln      net.Listener
	done    chan error
}

// New returns an admin server authenticating with tokens, answering /readyz with
// ready and /metrics from gatherer.
func New(tokens []Token, ready Pinger, gatherer prometheus.Gatherer, log *zap.Logger) *Server {
	s := &Server{tokens: tokens, ready: ready, log: log, public: map[string]fasthttp.RequestHandler{}}
	for _, t := range tokens {
		s.hashes = append(s.hashes, sha256.Sum256([]byte(t.Secret)))
	}
	s.metrics = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	s.srv = &fasthttp.Server{Handler: s.handle, Name: "kairos-admin", ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, MaxRequestBodySize: 1 << 30, StreamRequestBody: true,
		CloseOnShutdown: true} // answers while stopping say Connection: close
	return s
}

// Handle adds an authenticated route. Call before Start.
func (s *Server) Handle(prefix string, h fasthttp.RequestHandler) {
	s.routes = append(s.routes, Route{Prefix: prefix, Handler: h})
}

// HandlePublic adds a route that needs no token (the dashboard sign-in does its
// own checks). Call before Start.
func (s *Server) HandlePublic(path string, h fasthttp.RequestHandler) {
	s.public[path] = h
}

// Start listens on addr and serves in the background until Stop.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() { s.done <- s.srv.Serve(ln) }()
	return nil
}

// Addr returns the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop stops the server, waiting for in-flight requests until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.srv.ShutdownWithContext(ctx)
	if serr := <-s.done; serr != nil && err == nil {
		err = serr
	}
	return err
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch path {
	case "/healthz":
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("ok\n")
		return
	case "/readyz":
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.ready.Ping(c); err != nil {
			ctx.SetContentType("text/plain")
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("redis unreachable: " + err.Error() + "\n")
			return
		}
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("ready\n")
		return
	case "/metrics":
		s.metrics(ctx)
		return
	}
	if h, ok := s.public[path]; ok {
		h(ctx)
		return
	}
	name, ok := s.Authenticate(ctx)
	if !ok {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="kairos"`)
		WriteError(ctx, fasthttp.StatusUnauthorized, "", "missing or wrong admin token (Authorization: Bearer <KAIROS_ADMIN_TOKEN>)")
		return
	}
	ctx.SetUserValue(TokenNameKey, name)
	for _, r := range s.routes {
		if path == r.Prefix || (strings.HasSuffix(r.Prefix, "/") && strings.HasPrefix(path, r.Prefix)) {
			r.Handler(ctx)
			return
		}
	}
	WriteError(ctx, fasthttp.StatusNotFound, "", "no such admin endpoint: "+path)
}

// TokenNameKey is the user value under which the authenticated token's name is
// stored on the request.
const TokenNameKey = "kairos.token"

// CookieName is the dashboard session cookie.
const CookieName = "kairos_token"

// Authenticate checks the bearer token (or the dashboard cookie) in constant
// time and returns the token's name.
func (s *Server) Authenticate(ctx *fasthttp.RequestCtx) (string, bool) {
	var got []byte
	if auth := ctx.Request.Header.Peek("Authorization"); len(auth) > 7 && strings.EqualFold(string(auth[:7]), "bearer ") {
		got = auth[7:]
	} else if c := ctx.Request.Header.Cookie(CookieName); len(c) > 0 {
		got = c
	}
	return s.Check(got)
}

// Check compares a presented secret with every token in constant time (hashing
// first so lengths leak nothing) and returns the matching token's name.
func (s *Server) Check(secret []byte) (string, bool) {
	if len(secret) == 0 {
		return "", false
	}
	h := sha256.Sum256(secret)
	name, found := "", 0
	for i, th := range s.hashes {
		if subtle.ConstantTimeCompare(h[:], th[:]) == 1 {
			name, found = s.tokens[i].Name, 1
		}
	}
	return name, found == 1
}

// WriteError answers with a JSON error naming the field (if any) and the problem.
func WriteError(ctx *fasthttp.RequestCtx, status int, field, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := []byte(`{"error":`)
	b = appendQuoted(b, msg)
	if field != "" {
		b = append(b, `,"field":`...)
		b = appendQuoted(b, field)
	}
	b = append(b, "}\n"...)
	ctx.SetBody(b)
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, r)...)
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}
