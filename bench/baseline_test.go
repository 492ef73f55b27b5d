package bench

import (
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestBaselineHandle(t *testing.T) {
	b := NewBaseline(BaselineConfig{})
	valid := generate(t, GeneratorConfig{Seed: 1}, 1)[0].Body
	f := func(method, path string, body []byte, want int) {
		t.Helper()
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(path)
		ctx.Request.SetBody(body)
		b.Handle(&ctx)
		if got := ctx.Response.StatusCode(); got != want {
			t.Errorf("%s %s: status %d, want %d", method, path, got, want)
		}
	}
	f("POST", "/openrtb2/bid", valid, 204)
	f("POST", "/openrtb2/bid", []byte(`{"id":`), 400)
	f("POST", "/openrtb2/bid", []byte(`{"id":"x","imp":[{"id":1}]}`), 400) // imp.id must be a string
	f("GET", "/openrtb2/bid", nil, 405)
	f("GET", "/healthz", nil, 200)
	f("GET", "/nope", nil, 404)
	if decoded, malformed := b.Counts(); decoded != 1 || malformed != 2 {
		t.Errorf("counts %d decoded, %d malformed", decoded, malformed)
	}
}

func TestBaselineNoDecode(t *testing.T) {
	b := NewBaseline(BaselineConfig{NoDecode: true})
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/openrtb2/bid")
	ctx.Request.SetBody([]byte("not json"))
	b.Handle(&ctx)
	if ctx.Response.StatusCode() != 204 {
		t.Errorf("null server answered %d, want 204", ctx.Response.StatusCode())
	}
}

func TestBaselineRejectsOversizeBodies(t *testing.T) {
	b := NewBaseline(BaselineConfig{MaxBodySize: 1024})
	ln := listen(t)
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Serve(ln) }()
	t.Cleanup(func() { _ = b.Shutdown(); <-done })
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + ln.Addr().String() + "/openrtb2/bid")
	req.Header.SetMethod("POST")
	req.SetBody(bytes.Repeat([]byte("x"), 4096))
	if err := fasthttp.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != fasthttp.StatusRequestEntityTooLarge {
		t.Errorf("oversize body: status %d, want 413", resp.StatusCode())
	}
}

func BenchmarkBaselineHandle(b *testing.B) {
	bl := NewBaseline(BaselineConfig{})
	body := generate(b, GeneratorConfig{Seed: 1}, 1)[0].Body
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/openrtb2/bid")
	ctx.Request.SetBody(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		bl.Handle(&ctx)
	}
}
