package storage

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestRedisLoggerRateLimits(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	l := &redisLogger{log: zap.New(core), every: time.Hour}
	for i := range 5 {
		l.Printf(context.Background(), "dial tcp %d: connection refused", i)
	}
	if logs.Len() != 1 {
		t.Fatalf("%d lines for 5 messages within the interval, want 1", logs.Len())
	}
	l.last = time.Time{} // the interval has passed
	l.Printf(context.Background(), "dial tcp: connection refused")
	entries := logs.All()
	if len(entries) != 2 || entries[1].ContextMap()["suppressed_since_last"] != int64(4) ||
		entries[0].ContextMap()["message"] != "dial tcp 0: connection refused" {
		t.Fatalf("logged %+v", entries)
	}
}
