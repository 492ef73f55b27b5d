package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

type fakePing struct{ err error }

func (f fakePing) Ping(context.Context) error { return f.err }

func TestParseTokens(t *testing.T) {
	f := func(spec string, want []Token, wantErr bool) {
		t.Helper()
		got, err := ParseTokens(spec)
		if (err != nil) != wantErr || len(got) != len(want) {
			t.Fatalf("ParseTokens(%q) = %v, %v", spec, got, err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("ParseTokens(%q)[%d] = %v, want %v", spec, i, got[i], want[i])
			}
		}
	}
	f("0123456789abcdef", []Token{{"admin", "0123456789abcdef"}}, false)
	f("ops:0123456789abcdef, ci:fedcba9876543210", []Token{{"ops", "0123456789abcdef"}, {"ci", "fedcba9876543210"}}, false)
	f("short", nil, true)
	f("", nil, true)
}

func TestAuthAndHealth(t *testing.T) {
	ping := &fakePing{}
	s := New([]Token{{"ops", "0123456789abcdef"}}, pingFunc(func(ctx context.Context) error { return ping.err }),
		prometheus.NewRegistry(), zap.NewNop())
	s.Handle("/v1/thing", func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("hello " + ctx.UserValue(TokenNameKey).(string))
	})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	base := "http://" + s.Addr()
	get := func(path, auth, cookie string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	f := func(path, auth, cookie string, wantStatus int, wantBody string) {
		t.Helper()
		status, body := get(path, auth, cookie)
		if status != wantStatus || !strings.Contains(body, wantBody) {
			t.Fatalf("GET %s (%q): %d %q, want %d %q", path, auth, status, body, wantStatus, wantBody)
		}
	}
	f("/v1/thing", "", "", 401, `"error"`)
	f("/v1/thing", "Bearer wrong-token-000000", "", 401, "admin token")
	f("/v1/thing", "Bearer 0123456789abcdef", "", 200, "hello ops")
	f("/v1/thing", "bearer 0123456789abcdef", "", 200, "hello ops")
	f("/v1/thing", "", "0123456789abcdef", 200, "hello ops")
	f("/v1/other", "Bearer 0123456789abcdef", "", 404, "no such admin endpoint")
	f("/healthz", "", "", 200, "ok")
	f("/readyz", "", "", 200, "ready")
	f("/metrics", "", "", 200, "")
	ping.err = errors.New("connection refused")
	f("/readyz", "", "", 503, "connection refused")
}

type pingFunc func(context.Context) error

func (p pingFunc) Ping(ctx context.Context) error { return p(ctx) }
