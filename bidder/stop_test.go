package bidder

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestStopClosesKeepAlive: an answer written while the server stops tells the
// exchange to close its keep-alive connection, so it sends no further request
// on a connection that is about to be closed under it.
func TestStopClosesKeepAlive(t *testing.T) {
	s := newTestServer(t, nil, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	s.Route("/slow", func(ctx *fasthttp.RequestCtx) {
		close(entered)
		<-release
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /slow HTTP/1.1\r\nHost: kairos\r\n\r\n")
	<-entered
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	// Stop has begun once the listener refuses connections.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 5s into Stop")
		}
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || !resp.Close {
		t.Fatalf("answer during stop: status %d, Connection %q; want 204 with Connection: close",
			resp.StatusCode, resp.Header.Get("Connection"))
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
}
