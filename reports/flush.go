package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key names. Every report key carries the hash tag {r}, so a flush (many hours
// and the marker) is one script on one Redis Cluster slot; reports then live on
// one node, which suits their moderate volume.
func hourKey(prefix string, hour int64) string {
	return prefix + "{r}:h:" + strconv.FormatInt(hour, 10)
}

func landKey(prefix string, hour int64) string {
	return prefix + "{r}:l:" + strconv.FormatInt(hour, 10)
}

func markerKey(prefix, instance, incarnation string) string {
	return prefix + "{r}:f:" + instance + "." + incarnation
}

// flushScript applies one chunk of a flush at most once. KEYS[1] is the
// counter's marker, a sorted set of applied chunk ids scored by flush
// sequence; KEYS[2..] are hour hashes. ARGV: chunk id, sequence, hash TTL and
// marker TTL in seconds, then for each hash in KEYS order a field count and
// that many field, increment pairs. A chunk whose id is in the marker was
// applied before (its reply was lost) and is skipped, so a retry never counts
// twice; a script is atomic, so a chunk applies entirely or not at all.
var flushScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local a = 5
for k = 2, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, n do
    redis.call('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('EXPIRE', KEYS[k], ARGV[3])
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[2]) - 1000)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`)

// defaultChunkFields bounds the fields of one script call, so that a large
// flush does not hold Redis for long.
const defaultChunkFields = 4000

// markerTTL keeps an instance's markers for a day after its last flush.
const markerTTL = 24 * time.Hour

var errNoRedis = errors.New("reports: counter has no Redis")

// batch is one flush's worth of counts, ready to write and to retry.
type batch struct {
	seq    uint64
	fields int
	chunks []chunk
}

type chunk struct {
	keys []string
	args []any
}

// snap is an entry's counts taken at a flush.
type snap struct {
	k key
	c [numMetrics]int64
}

type lsnap struct {
	k lkey
	b [numBuckets][2]int64
}

// Flush writes the counts gathered since the last flush to Redis. When the
// write fails the counts are kept, with the markers that make a retry
// idempotent, and go out first at the next Flush; new counts wait in memory
// until then.
func (c *Counter) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	if c.rdb == nil {
		return errNoRedis
	}
	if c.pending != nil {
		if err := c.write(ctx, c.pending); err != nil {
			return fmt.Errorf("flush report counts (retrying %d fields): %w", c.pending.fields, err)
		}
		c.pending = nil
		c.m.pending.Set(0)
	}
	b := c.collect()
	if b == nil {
		return nil
	}
	if err := c.write(ctx, b); err != nil {
		c.pending = b
		c.m.pending.Set(float64(b.fields))
		return fmt.Errorf("flush report counts (%d fields): %w", b.fields, err)
	}
	return nil
}

// collect takes and zeroes every shard's counts and turns them into a batch;
// nil when nothing was counted.
func (c *Counter) collect() *batch {
	var snaps []snap
	var lsnaps []lsnap
	nkeys := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.c == ([numMetrics]int64{}) {
				if e.idle++; e.idle >= evictAfter {
					delete(s.m, k)
				}
				continue
			}
			e.idle = 0
			snaps = append(snaps, snap{k: k, c: e.c})
			e.c = [numMetrics]int64{}
		}
		for k, e := range s.land {
			if e.b == ([numBuckets][2]int64{}) {
				if e.idle++; e.idle >= evictAfter {
					delete(s.land, k)
				}
				continue
			}
			e.idle = 0
			lsnaps = append(lsnaps, lsnap{k: k, b: e.b})
			e.b = [numBuckets][2]int64{}
		}
		nkeys += len(s.m)
		s.mu.Unlock()
	}
	c.m.keys.Set(float64(nkeys))
	if n := c.m.foldedN.Swap(0); n > 0 {
		c.m.folded.Add(float64(n))
	}
	if len(snaps) == 0 && len(lsnaps) == 0 {
		return nil
	}

	// Sum per Redis key and field: one combination may sit in several shards.
	prefix := c.rdb.Keys.Prefix
	sums := map[string]map[string]int64{}
	add := func(k, field string, v int64) {
		m := sums[k]
		if m == nil {
			m = map[string]int64{}
			sums[k] = m
		}
		m[field] += v
	}
	var buf []byte
	for i := range snaps {
		sn := &snaps[i]
		hk := hourKey(prefix, sn.k.hour)
		buf = appendField(buf[:0], &sn.k)
		switch sn.k.kind {
		case kindNoBid:
			add(hk, string(append(append(buf, "n:"...), sn.k.reason...)), sn.c[mCount])
		case kindLoss:
			add(hk, string(strconv.AppendInt(append(buf, "l:"...), int64(sn.k.loss), 10)), sn.c[mCount])
		default:
			for m, v := range sn.c[:mCount] {
				if v != 0 {
					add(hk, string(append(buf, metricNames[m]...)), v)
				}
			}
		}
	}
	for i := range lsnaps {
		ls := &lsnaps[i]
		lk := landKey(prefix, ls.k.hour)
		buf = append(append(buf[:0], ls.k.campaign...), sep)
		buf = append(strconv.AppendUint(buf, uint64(ls.k.phase), 10), sep)
		n := len(buf)
		for bk, bw := range ls.b {
			for j, what := range [2]string{"b", "w"} {
				if bw[j] != 0 {
					buf = append(append(strconv.AppendInt(buf[:n], int64(bk), 10), sep), what...)
					add(lk, string(buf), bw[j])
				}
			}
		}
	}

	c.seq++
	b := &batch{seq: c.seq}
	marker := c.marker
	hkeys := make([]string, 0, len(sums))
	for k := range sums {
		hkeys = append(hkeys, k)
	}
	slices.Sort(hkeys)
	var cur *chunk
	curFields := 0
	ttl := strconv.FormatInt(int64(c.cfg.TTL/time.Second), 10)
	mttl := strconv.FormatInt(int64(markerTTL/time.Second), 10)
	newChunk := func() {
		id := strconv.FormatUint(b.seq, 10) + ":" + strconv.Itoa(len(b.chunks))
		b.chunks = append(b.chunks, chunk{keys: []string{marker}, args: []any{id, b.seq, ttl, mttl}})
		cur, curFields = &b.chunks[len(b.chunks)-1], 0
	}
	for _, hk := range hkeys {
		fields := sums[hk]
		names := make([]string, 0, len(fields))
		for f := range fields {
			names = append(names, f)
		}
		slices.Sort(names)
		for len(names) > 0 {
			if cur == nil || curFields >= c.chunkFields {
				newChunk()
			}
			n := min(len(names), c.chunkFields-curFields)
			cur.keys = append(cur.keys, hk)
			cur.args = append(cur.args, n)
			for _, f := range names[:n] {
				cur.args = append(cur.args, f, fields[f])
			}
			curFields += n
			b.fields += n
			names = names[n:]
		}
	}
	return b
}

// write sends every chunk of b in one pipeline.
func (c *Counter) write(ctx context.Context, b *batch) error {
	start := time.Now()
	pipe := c.rdb.Client.Pipeline()
	cmds := make([]*redis.Cmd, len(b.chunks))
	for i := range b.chunks {
		cmds[i] = flushScript.Eval(ctx, pipe, b.chunks[i].keys, b.chunks[i].args...)
	}
	_, err := pipe.Exec(ctx)
	if err == nil {
		for _, cmd := range cmds {
			if err = cmd.Err(); err != nil {
				break
			}
		}
	}
	if err != nil {
		c.m.flushErr.Inc()
		return err
	}
	c.m.flushOK.Inc()
	c.m.duration.Observe(time.Since(start).Seconds())
	return nil
}
