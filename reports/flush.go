package reports

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key names. An hour's counts are spread over keySpread hash tags
// {r:<hour>:<part>}, a field's part chosen by a hash of the field, so that the
// flushes of every instance spread over the nodes of a Redis Cluster while
// each flush chunk (one tag's hashes plus its marker) stays in one slot.
// keySpread is part of the key schema: changing it hides stored counts.
const keySpread = 8

func appendTag(dst []byte, prefix string, hour int64, part int) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, "{r:"...)
	dst = strconv.AppendInt(dst, hour, 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(part), 10)
	return append(dst, '}', ':')
}

func hourKey(prefix string, hour int64, part int) string {
	return string(append(appendTag(nil, prefix, hour, part), 'h'))
}

func landKey(prefix string, hour int64, part int) string {
	return string(append(appendTag(nil, prefix, hour, part), 'l'))
}

// markerKey is the flush marker of one counter (id = instance.incarnation)
// for one tag.
func markerKey(prefix string, hour int64, part int, id string) string {
	return string(append(append(appendTag(nil, prefix, hour, part), "f:"...), id...))
}

// legacyHourKey and legacyLandKey are the single-tag keys written before the
// counts were spread (until 2026-11); the Reader adds them in until their
// 40-day TTL has run out everywhere.
func legacyHourKey(prefix string, hour int64) string {
	return prefix + "{r}:h:" + strconv.FormatInt(hour, 10)
}

func legacyLandKey(prefix string, hour int64) string {
	return prefix + "{r}:l:" + strconv.FormatInt(hour, 10)
}

// partOf returns the part of an hour's keys a field is stored in (FNV-1a).
func partOf(field string) int {
	h := uint32(2166136261)
	for i := 0; i < len(field); i++ {
		h = (h ^ uint32(field[i])) * 16777619
	}
	return int(h % keySpread)
}

// flushScript applies one chunk of a flush at most once. KEYS[1] is the
// counter's marker of the chunk's tag, a sorted set of applied chunk ids
// scored by flush sequence; KEYS[2..] are that tag's hour and landscape
// hashes. ARGV: chunk id, sequence, hash TTL and
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
// flush does not hold Redis for long: Redis runs one script at a time, and a
// profile lookup arriving meanwhile waits for it. 4,000 fields held Redis for
// up to 3.6 ms on the perf machine; 500 hold it for about half a millisecond.
const defaultChunkFields = 500

// yieldEvery is how many items the flush builds between giving up the
// processor. A flush of a few thousand counters takes ~10 ms of CPU; on one
// processor the bid requests that arrive meanwhile would otherwise wait for
// all of it (the scheduler preempts a goroutine only after 10 ms).
const yieldEvery = 256

// yield lets queued goroutines (bid requests) run every yieldEvery calls.
func yield(i int) {
	if i%yieldEvery == yieldEvery-1 {
		runtime.Gosched()
	}
}

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
		runtime.Gosched()
	}
	c.m.keys.Set(float64(nkeys))
	if n := c.m.foldedN.Swap(0); n > 0 {
		c.m.folded.Add(float64(n))
	}
	if len(snaps) == 0 && len(lsnaps) == 0 {
		return nil
	}

	// Sum per tag, Redis key and field: one combination may sit in several shards.
	prefix := c.rdb.Keys.Prefix
	type tag struct {
		hour int64
		part int
	}
	type tagSums struct{ h, l map[string]int64 }
	sums := map[tag]*tagSums{}
	add := func(hour int64, land bool, field string, v int64) {
		k := tag{hour, partOf(field)}
		ts := sums[k]
		if ts == nil {
			ts = &tagSums{h: map[string]int64{}, l: map[string]int64{}}
			sums[k] = ts
		}
		if land {
			ts.l[field] += v
		} else {
			ts.h[field] += v
		}
	}
	var buf []byte
	for i := range snaps {
		yield(i)
		sn := &snaps[i]
		buf = appendField(buf[:0], &sn.k)
		switch sn.k.kind {
		case kindNoBid:
			add(sn.k.hour, false, string(append(append(buf, "n:"...), sn.k.reason...)), sn.c[mCount])
		case kindLoss:
			add(sn.k.hour, false, string(strconv.AppendInt(append(buf, "l:"...), int64(sn.k.loss), 10)), sn.c[mCount])
		default:
			for m, v := range sn.c[:mCount] {
				if v != 0 {
					add(sn.k.hour, false, string(append(buf, metricNames[m]...)), v)
				}
			}
		}
	}
	for i := range lsnaps {
		yield(i)
		ls := &lsnaps[i]
		buf = append(append(buf[:0], ls.k.campaign...), sep)
		buf = append(strconv.AppendUint(buf, uint64(ls.k.phase), 10), sep)
		n := len(buf)
		for bk, bw := range ls.b {
			for j, what := range [2]string{"b", "w"} {
				if bw[j] != 0 {
					buf = append(append(strconv.AppendInt(buf[:n], int64(bk), 10), sep), what...)
					add(ls.k.hour, true, string(buf), bw[j])
				}
			}
		}
	}

	// One chunk holds the fields of one tag only (a script's keys must share
	// a slot); a tag with more than chunkFields fields takes several chunks.
	c.seq++
	b := &batch{seq: c.seq}
	tags := make([]tag, 0, len(sums))
	for k := range sums {
		tags = append(tags, k)
	}
	slices.SortFunc(tags, func(x, y tag) int {
		return cmp.Or(cmp.Compare(x.hour, y.hour), cmp.Compare(x.part, y.part))
	})
	ttl := strconv.FormatInt(int64(c.cfg.TTL/time.Second), 10)
	mttl := strconv.FormatInt(int64(markerTTL/time.Second), 10)
	for _, tg := range tags {
		var cur *chunk
		curFields := 0
		marker := markerKey(prefix, tg.hour, tg.part, c.markerID)
		hashes := [2]struct {
			key    string
			fields map[string]int64
		}{{hourKey(prefix, tg.hour, tg.part), sums[tg].h}, {landKey(prefix, tg.hour, tg.part), sums[tg].l}}
		for _, hs := range hashes {
			names := make([]string, 0, len(hs.fields))
			for f := range hs.fields {
				names = append(names, f)
			}
			slices.Sort(names)
			for len(names) > 0 {
				if cur == nil || curFields >= c.chunkFields {
					id := strconv.FormatUint(b.seq, 10) + ":" + strconv.Itoa(len(b.chunks))
					b.chunks = append(b.chunks, chunk{keys: []string{marker}, args: []any{id, b.seq, ttl, mttl}})
					cur, curFields = &b.chunks[len(b.chunks)-1], 0
				}
				n := min(len(names), c.chunkFields-curFields)
				cur.keys = append(cur.keys, hs.key)
				cur.args = append(cur.args, n)
				for i, f := range names[:n] {
					yield(i)
					cur.args = append(cur.args, f, hs.fields[f])
				}
				curFields += n
				b.fields += n
				names = names[n:]
			}
		}
	}
	return b
}

// write sends every chunk of b in one pipeline (on a Redis Cluster, one per
// node, sent concurrently).
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
