package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// UseLogger sends go-redis's own messages (failed dials, pool errors) to log
// instead of the standard logger on stderr, at warning level and at most one
// line per second: a Redis outage would otherwise print a line per attempt.
// Lines held back are counted in the next one. go-redis has one logger per
// process, so this applies to every client.
func UseLogger(log *zap.Logger) {
	redis.SetLogger(&redisLogger{log: log, every: time.Second})
}

type redisLogger struct {
	log   *zap.Logger
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Printf logs one go-redis message, or counts it while the last line is recent.
func (l *redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn("redis client", zap.String("message", fmt.Sprintf(format, v...)), zap.Int("suppressed_since_last", n))
}
