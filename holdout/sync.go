package holdout

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// userKind is the kind of the per-user key of the study
// (<prefix>{u:<user>}:ho, see storage.Keys.User).
const userKind = "ho"

// UserKey returns the key of a user's entries in the campaigns' studies. It
// sits in the user's slot: delete it with the user's profile.
func (h *Holdout) UserKey(user string) string { return h.rdb.Keys.User(user, userKind) }

// countersKey is a campaign's counters; the campaign's hash tag spreads
// campaigns over a cluster.
func countersKey(prefix, campaignID string) string {
	return prefix + "{ho:" + campaignID + "}:n"
}

// recordScript enters a user in a campaign's study, or moves the last
// eligible bid of an entry on. KEYS[1] is the user's key; ARGV: campaign,
// group letter, first and last bid (unix seconds), writer token, TTL seconds. It returns the
// stored group letter when this writer created the entry (now or in an
// earlier attempt of the same flush), so the user is counted once, else "".
var recordScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
local out = ''
if not v then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|0|' .. ARGV[5])
  out = ARGV[2]
else
  local g, first, last, conv, w = string.match(v, '^(%a)|(%d+)|(%d+)|(%d)|(.*)$')
  if g then
    if tonumber(ARGV[4]) > tonumber(last) then
      redis.call('HSET', KEYS[1], ARGV[1], g .. '|' .. first .. '|' .. ARGV[4] .. '|' .. conv .. '|' .. w)
    end
    if w == ARGV[5] then out = g end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
return out
`)

// counters are increments of one campaign's counters, by group (exposed, ghost).
type counters struct {
	users, conv, bids [2]int64
	cpm               [2]money.Micros
}

// fields lists the counters' hash fields and increments.
func (c *counters) fields(yield func(field string, n int64)) {
	for gi, l := range [2]string{"e:", "g:"} {
		for _, f := range [...]struct {
			name string
			n    int64
		}{{"users", c.users[gi]}, {"conv", c.conv[gi]}, {"bids", c.bids[gi]}, {"cpm", int64(c.cpm[gi])}} {
			if f.n != 0 {
				yield(l+f.name, f.n)
			}
		}
	}
}

// flush is one batch of recorded entries, with the token that makes its
// retry recognise what it already wrote.
type flush struct {
	token string
	recs  []rec
}

type rec struct {
	campaign, user string
	group          Group
	first, last    int64 // unix seconds of the batch's first and last bid
}

// take removes the events recorded since the last Sync: the entries, one per
// user and campaign (group of the first, times of the first and last bid),
// and the bid counts into h.pending.
func (h *Holdout) take() []rec {
	var recs []rec
	at := make(map[[2]string]int)
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		for _, e := range sh.entries {
			r := rec{campaign: string(sh.arena[e.off : e.off+e.campLen]),
				user:  string(sh.arena[e.off+e.campLen : e.off+e.campLen+e.userLen]),
				group: e.group, first: e.unix, last: e.unix}
			k := [2]string{r.campaign, r.user}
			if j, ok := at[k]; ok {
				recs[j].first = min(recs[j].first, r.first)
				recs[j].last = max(recs[j].last, r.last)
				continue
			}
			at[k] = len(recs)
			recs = append(recs, r)
		}
		sh.entries = sh.entries[:0]
		sh.arena = sh.arena[:0]
		for c, bc := range sh.bids {
			if bc[0].n == 0 && bc[1].n == 0 {
				delete(sh.bids, c) // idle for a whole interval
				continue
			}
			p := h.pendingFor(c)
			for gi := range bc {
				p.bids[gi] += bc[gi].n
				p.cpm[gi] += bc[gi].cpm
			}
			*bc = [2]bidCount{}
		}
		sh.mu.Unlock()
	}
	return recs
}

// pendingFor returns a campaign's pending counters; the caller holds syncMu.
func (h *Holdout) pendingFor(campaignID string) *counters {
	p := h.pending[campaignID]
	if p == nil {
		p = new(counters)
		h.pending[campaignID] = p
	}
	return p
}

// Sync writes the events recorded since the last Sync to Redis: the users'
// entries first, then the campaign counters (new users, bids, conversions).
// What fails is kept for the next Sync. The background loop calls it every
// Interval; tests call it directly.
func (h *Holdout) Sync(ctx context.Context) error {
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	batches := make([]*flush, 0, 2)
	if h.retry != nil {
		batches = append(batches, h.retry)
		h.retry = nil
	}
	h.seq++
	if recs := h.take(); len(recs) > 0 {
		batches = append(batches, &flush{token: h.writer + "." + strconv.FormatUint(h.seq, 36), recs: recs})
	}
	var firstErr error
	if err := h.writeEntries(ctx, batches); err != nil {
		firstErr = err
	}
	if err := h.writeCounters(ctx); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		h.syncErrors.Inc()
	}
	return firstErr
}

// writeEntries runs the record script for every entry; entries that fail go
// to h.retry with their batch's token, new users to the pending counters.
func (h *Holdout) writeEntries(ctx context.Context, batches []*flush) error {
	if len(batches) == 0 {
		return nil
	}
	ttl := strconv.FormatInt(int64((h.cfg.Window+24*time.Hour)/time.Second), 10)
	var cmds [][]*redis.Cmd
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		pipe := h.rdb.Client.Pipeline()
		cmds = make([][]*redis.Cmd, len(batches))
		for bi, b := range batches {
			cmds[bi] = make([]*redis.Cmd, len(b.recs))
			for i, r := range b.recs {
				cmds[bi][i] = recordScript.EvalSha(ctx, pipe, []string{h.rdb.Keys.User(r.user, userKind)},
					r.campaign, string(r.group.letter()), r.first, r.last, b.token, ttl)
			}
		}
		_, err = pipe.Exec(ctx)
		if !redis.HasErrorPrefix(err, "NOSCRIPT") {
			break
		}
		// The server does not know the script yet (first use, or a restart):
		// load it and run the batch again; entries already written recognise
		// their token.
		if lerr := recordScript.Load(ctx, h.rdb.Client).Err(); lerr != nil {
			h.retry = mergeFlush(batches)
			return fmt.Errorf("holdout: load record script: %w", lerr)
		}
	}
	var failed []*flush
	for bi, b := range batches {
		var f *flush
		for i, cmd := range cmds[bi] {
			g, cerr := cmd.Text()
			switch {
			case cerr != nil && cerr != redis.Nil:
				if f == nil {
					f = &flush{token: b.token}
					failed = append(failed, f)
				}
				f.recs = append(f.recs, b.recs[i])
			case g == "e":
				h.pendingFor(b.recs[i].campaign).users[0]++
			case g == "g":
				h.pendingFor(b.recs[i].campaign).users[1]++
			}
		}
	}
	if len(failed) > 0 {
		h.retry = mergeFlush(failed)
		return fmt.Errorf("holdout: record %d entries: %w", len(h.retry.recs), err)
	}
	return nil
}

// mergeFlush keeps failed batches for a retry. Batches keep their own token
// only one at a time: when several failed, the older ones' entries take the
// newest token, and a user they did create is then not counted; that needs
// two failed Syncs in a row and loses no conversion.
func mergeFlush(fs []*flush) *flush {
	out := &flush{token: fs[len(fs)-1].token}
	for _, f := range fs {
		out.recs = append(out.recs, f.recs...)
	}
	return out
}

// writeCounters applies the pending counter increments; those that fail stay
// pending.
func (h *Holdout) writeCounters(ctx context.Context) error {
	h.pendMu.Lock()
	for c, p := range h.convs {
		q := h.pendingFor(c)
		q.conv[0] += p[0]
		q.conv[1] += p[1]
	}
	clear(h.convs)
	h.pendMu.Unlock()
	if len(h.pending) == 0 {
		return nil
	}
	type incr struct {
		campaign string
		field    string
		n        int64
		cmd      *redis.IntCmd
	}
	var incrs []incr
	pipe := h.rdb.Client.Pipeline()
	for c, p := range h.pending {
		key := countersKey(h.rdb.Keys.Prefix, c)
		p.fields(func(field string, n int64) {
			incrs = append(incrs, incr{campaign: c, field: field, n: n, cmd: pipe.HIncrBy(ctx, key, field, n)})
		})
		pipe.Expire(ctx, key, h.cfg.TTL)
	}
	_, err := pipe.Exec(ctx)
	clear(h.pending)
	nfail := 0
	for _, in := range incrs {
		if in.cmd.Err() == nil {
			continue
		}
		nfail++
		h.pendingFor(in.campaign).add(in.field, in.n)
	}
	if nfail > 0 {
		return fmt.Errorf("holdout: %d counter increments kept for the next sync: %w", nfail, err)
	}
	return nil
}

// add adds n to the counter named by a hash field.
func (c *counters) add(field string, n int64) {
	gi := 0
	if field[0] == 'g' {
		gi = 1
	}
	switch field[2:] {
	case "users":
		c.users[gi] += n
	case "conv":
		c.conv[gi] += n
	case "bids":
		c.bids[gi] += n
	case "cpm":
		c.cpm[gi] += money.Micros(n)
	}
}

func randomID() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Start runs Sync every Interval until Stop.
func (h *Holdout) Start() {
	h.stop = make(chan struct{})
	h.done = make(chan struct{})
	go h.loop()
}

// Stop ends the loop after a last Sync, so recorded bids are not lost.
func (h *Holdout) Stop(ctx context.Context) error {
	close(h.stop)
	<-h.done
	return h.Sync(ctx)
}

func (h *Holdout) loop() {
	defer close(h.done)
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	var lastLog time.Time
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(h.cfg.Interval, time.Second))
		err := h.Sync(ctx)
		cancel()
		if err != nil && time.Since(lastLog) > time.Minute {
			lastLog = time.Now()
			h.log.Warn("holdout sync failed; kept for the next one", zap.Error(err))
		}
	}
}
