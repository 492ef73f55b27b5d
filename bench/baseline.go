package bench

import (
	"errors"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"
)

// BaselineConfig configures the decode-only baseline server. Zero values mean
// defaults.
type BaselineConfig struct {
	// MaxBodySize is the largest accepted body; larger ones get 413. Default 1 MiB.
	MaxBodySize int
	// NoDecode answers 204 without decoding: a null server that shows the load
	// generator's own ceiling, so a run can prove the generator is not the
	// bottleneck when it drives the decoding baseline.
	NoDecode bool
	// Work is busy CPU work done per decoded request, on top of decoding. It
	// shows what extra work costs in the kernel too: a slower server leaves
	// its load generator idle more often, and on this kind of machine waking
	// an idle peer makes each response's write dearer (README, Performance).
	Work time.Duration
}

// Baseline is the speed reference for Kairos: a fasthttp server that decodes
// each bid request into openrtb2.BidRequest with sonic and answers 204, doing
// nothing else. Kairos's throughput is reported as a ratio to it.
type Baseline struct {
	srv       *fasthttp.Server
	noDecode  bool
	work      time.Duration
	spun      atomic.Uint64 // keeps the busy loop from being optimised away
	pool      sync.Pool     // *openrtb2.BidRequest
	decoded   atomic.Uint64
	malformed atomic.Uint64
}

// NewBaseline returns a Baseline; call Serve to start it.
func NewBaseline(cfg BaselineConfig) *Baseline {
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = 1 << 20
	}
	// Compile sonic's decoder now rather than during the first, measured requests.
	_ = sonic.Pretouch(reflect.TypeFor[openrtb2.BidRequest]())
	b := &Baseline{noDecode: cfg.NoDecode, work: cfg.Work}
	b.pool.New = func() any { return new(openrtb2.BidRequest) }
	b.srv = &fasthttp.Server{
		Handler:               b.Handle,
		ErrorHandler:          handleReadError,
		Name:                  "kairos-baseline",
		MaxRequestBodySize:    cfg.MaxBodySize,
		NoDefaultDate:         true,
		NoDefaultContentType:  true,
		NoDefaultServerHeader: true,
	}
	return b
}

// Handle answers one request: POST /openrtb2/bid gets 204 when the body decodes
// and 400 when it does not; GET /healthz gets 200.
func (b *Baseline) Handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/openrtb2/bid":
		if !ctx.IsPost() {
			ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
			return
		}
		if b.noDecode {
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
		req := b.pool.Get().(*openrtb2.BidRequest)
		err := sonic.Unmarshal(ctx.PostBody(), req)
		*req = openrtb2.BidRequest{}
		b.pool.Put(req)
		if err != nil {
			b.malformed.Add(1)
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			ctx.SetBodyString("malformed bid request")
			return
		}
		b.decoded.Add(1)
		if b.work > 0 {
			b.spin()
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	case "/healthz":
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetBodyString("ok")
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}
}

// spin keeps the CPU busy for b.work.
func (b *Baseline) spin() {
	n := uint64(0)
	for end := time.Now().Add(b.work); time.Now().Before(end); {
		n++
	}
	b.spun.Add(n)
}

// handleReadError answers requests the server could not read, with 413 for
// oversize bodies as Kairos does.
func handleReadError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		ctx.Error("bid request too large", fasthttp.StatusRequestEntityTooLarge)
		return
	}
	ctx.Error("cannot read request", fasthttp.StatusBadRequest)
}

// Serve serves on ln until Shutdown.
func (b *Baseline) Serve(ln net.Listener) error { return b.srv.Serve(ln) }

// Shutdown stops the server, waiting for open requests to finish.
func (b *Baseline) Shutdown() error { return b.srv.Shutdown() }

// Counts returns how many requests decoded and how many were malformed.
func (b *Baseline) Counts() (decoded, malformed uint64) {
	return b.decoded.Load(), b.malformed.Load()
}
