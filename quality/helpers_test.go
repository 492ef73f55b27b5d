package quality

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
)

func bidRequest(tb testing.TB, js string) *openrtb2.BidRequest {
	tb.Helper()
	var req openrtb2.BidRequest
	if err := json.Unmarshal([]byte(js), &req); err != nil {
		tb.Fatalf("%s: %v", js, err)
	}
	return &req
}

func writeFile(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func newScreener(tb testing.TB, cfg Config) *Screener {
	tb.Helper()
	s, err := NewScreener(cfg, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
