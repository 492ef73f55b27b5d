package pacing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/redis/go-redis/v9"
)

// ErrLedgerLost is returned when a campaign's ledger in Redis no longer
// matches what this instance saw before (Redis restarted empty, or the keys
// were deleted): spending stops until an operator restores the figures
// (Ledger.Restore) and clears the state (Pacer.ClearLost).
var ErrLedgerLost = errors.New("budget ledger lost")

// errReclaimed is the lease script's answer when the caller's lease was
// reclaimed after it missed its heartbeats.
var errReclaimed = errors.New("lease reclaimed")

// Ledger is the shared record of every campaign's spend and leases in Redis.
// All of a campaign's keys carry the hash tag {b:<campaign>} so each script
// touches one Redis Cluster slot:
//
//	<prefix>{b:<c>}:ledger  hash  init, tspent, tleased, tlate,
//	                               d:<day>:spent, d:<day>:leased, d:<day>:late
//	<prefix>{b:<c>}:leases  hash  <day>|<holder> → "<micros>|<expiresAtMs>"
//	<prefix>{b:<c>}:rw      hash  <holder> → highest bid seq released by its sweep
//	<prefix>{b:<c>}:n:<holder>.<seq>  string  notice marker "<state>:<kinds>"
//
// A bid's notice marker holds what its notices did to the ledger (state: s
// settled in window, l settled late, rs settled after a loss, r released by a
// loss, L loss after the window) and which kinds of notice it has had (kinds:
// w win, b billing or impression pixel, l loss), so that each kind is counted
// once per bid while only the first win or billing notice settles.
//
// A Ledger is safe for concurrent use.
type Ledger struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewLedger returns a Ledger on rdb with keys under keys.Prefix.
func NewLedger(rdb redis.UniversalClient, keys storage.Keys) *Ledger {
	return &Ledger{rdb: rdb, prefix: keys.Prefix}
}

func (l *Ledger) keys(campaign string) []string {
	base := l.prefix + "{b:" + campaign + "}:"
	return []string{base + "ledger", base + "leases", base + "rw"}
}

func (l *Ledger) noticeKey(campaign, holder string, seq uint64) string {
	b := make([]byte, 0, len(l.prefix)+len(campaign)+len(holder)+32)
	b = append(b, l.prefix...)
	b = append(b, "{b:"...)
	b = append(b, campaign...)
	b = append(b, "}:n:"...)
	b = appendBidID(b, holder, seq)
	return string(b)
}

// luaLib is shared by the scripts: a lease value is "<micros>|<expiresAtMs>";
// marker splits a notice marker into its state and kinds (both empty when
// absent), reading a bare state (written before kinds were recorded) as one
// notice of the kind that made it.
const luaLib = `
local function lv(v)
  local a, e = string.match(v, '^(-?%d+)|(-?%d+)$')
  return tonumber(a), tonumber(e)
end
local function fmt(a, e) return string.format('%d|%d', a, e) end
local function incr(key, field, n)
  if n ~= 0 then redis.call('HINCRBY', key, field, string.format('%d', n)) end
end
local function marker(m)
  if not m then return '', '' end
  local st, kinds = string.match(m, '^([^:]*):(.*)$')
  if st then return st, kinds end
  if m == 'r' or m == 'L' then return m, 'l' end
  if m == 'rs' then return m, 'lw' end
  return m, 'w'
end
local function seen(kinds, k) return string.find(kinds, k, 1, true) ~= nil end
`

// leaseScript reclaims expired leases, extends the caller's, and grants up to
// want micros such that, for day and in total, spent + leased never exceeds
// the budget.
//
// KEYS: ledger, leases, rw. ARGV: holder, day, want, daily, total, nowMs,
// ttlMs, graceMs, expectInit ("" = adopt or create), had ("1" = the caller
// holds a lease for day and must not get a fresh one if it is gone).
// Returns {status, grant, dspent, dleased, tspent, tleased, init, reclaimed}
// with status 1 ok, -2 ledger lost, -3 caller's lease reclaimed.
var leaseScript = redis.NewScript(luaLib + `
local holder, day = ARGV[1], ARGV[2]
local want, daily, total = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now, ttl, grace = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local init = redis.call('HGET', KEYS[1], 'init')
if ARGV[9] ~= '' then
  if init ~= ARGV[9] then return {-2, 0, 0, 0, 0, 0, init or '', 0} end
elseif not init then
  init = day .. '|' .. ARGV[6] .. '|' .. holder
  redis.call('HSET', KEYS[1], 'init', init)
end
local reclaimed, mine = 0, -1
local live, dead = {}, {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local f = all[i]
  local d, h = string.match(f, '^([^|]+)|(.+)$')
  local a, e = lv(all[i+1])
  if e + grace < now then
    incr(KEYS[1], 'd:' .. d .. ':leased', -a)
    incr(KEYS[1], 'tleased', -a)
    reclaimed = reclaimed + a
    redis.call('HDEL', KEYS[2], f)
    dead[h] = true
  else
    live[h] = true
    if h == holder then
      if d == day then
        mine = a
      elseif a <= 0 and d < day then
        redis.call('HDEL', KEYS[2], f)
      else
        redis.call('HSET', KEYS[2], f, fmt(a, now + ttl))
      end
    end
  end
end
for h in pairs(dead) do
  if not live[h] then redis.call('HDEL', KEYS[3], h) end
end
local dk = 'd:' .. day
local v = redis.call('HMGET', KEYS[1], dk .. ':spent', dk .. ':leased', 'tspent', 'tleased')
local ds, dl, ts, tl = tonumber(v[1] or 0), tonumber(v[2] or 0), tonumber(v[3] or 0), tonumber(v[4] or 0)
if ARGV[10] == '1' and mine < 0 then return {-3, 0, ds, dl, ts, tl, init, reclaimed} end
local grant = math.min(want, daily - ds - dl, total - ts - tl)
if grant < 0 then grant = 0 end
if grant > 0 or mine >= 0 then
  if mine < 0 then mine = 0 end
  redis.call('HSET', KEYS[2], day .. '|' .. holder, fmt(mine + grant, now + ttl))
end
incr(KEYS[1], dk .. ':leased', grant)
incr(KEYS[1], 'tleased', grant)
return {1, grant, ds, dl + grant, ts, tl + grant, init, reclaimed}
`)

// unleaseScript gives back up to amount micros of a lease's unreserved part.
// KEYS: ledger, leases. ARGV: holder, day, amount. Returns the micros returned.
var unleaseScript = redis.NewScript(luaLib + `
local f = ARGV[2] .. '|' .. ARGV[1]
local v = redis.call('HGET', KEYS[2], f)
if not v then return 0 end
local a, e = lv(v)
local dec = math.min(tonumber(ARGV[3]), a)
if dec <= 0 then return 0 end
redis.call('HSET', KEYS[2], f, fmt(a - dec, e))
incr(KEYS[1], 'd:' .. ARGV[2] .. ':leased', -dec)
incr(KEYS[1], 'tleased', -dec)
return dec
`)

// releaseScript releases expired reservations of one holder and day that no
// notice has taken off the lease yet (marker absent, l or L), and raises the
// holder's released watermark to maxSeq.
// KEYS: ledger, leases, rw, n-key per bid. ARGV: holder, day, maxSeq, then
// the reserved micros of each bid, aligned with its key (ARGV[i] ↔ KEYS[i]).
var releaseScript = redis.NewScript(luaLib + `
local total = 0
for i = 4, #KEYS do
  local st = marker(redis.call('GET', KEYS[i]))
  if st == '' or st == 'l' or st == 'L' then total = total + tonumber(ARGV[i]) end
end
local rw = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if tonumber(ARGV[3]) > rw then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
local f = ARGV[2] .. '|' .. ARGV[1]
local v = redis.call('HGET', KEYS[2], f)
if (not v) or total <= 0 then return 0 end
local a, e = lv(v)
local dec = math.min(total, a)
if dec <= 0 then return 0 end
redis.call('HSET', KEYS[2], f, fmt(a - dec, e))
incr(KEYS[1], 'd:' .. ARGV[2] .. ':leased', -dec)
incr(KEYS[1], 'tleased', -dec)
return dec
`)

// inWindowLua decides whether a notice still finds its reservation on the
// lease: before the window's end, above the holder's released watermark, and
// the lease not reclaimed. It sets f and a, e for the lease field.
const inWindowLua = `
local function onLease(holder, seq, day, now, wend)
  if now >= wend then return nil end
  local rw = tonumber(redis.call('HGET', KEYS[3], holder) or '0')
  if seq <= rw then return nil end
  local f = day .. '|' .. holder
  local v = redis.call('HGET', KEYS[2], f)
  if not v then return nil end
  return f, v
end
local function takeOff(day, f, v, reserved)
  local a, e = lv(v)
  local dec = math.min(reserved, a)
  if dec > 0 then
    redis.call('HSET', KEYS[2], f, fmt(a - dec, e))
    incr(KEYS[1], 'd:' .. day .. ':leased', -dec)
    incr(KEYS[1], 'tleased', -dec)
  end
end
`

// settleScript records a won bid's spend once, whichever of its win and
// billing notices comes first, and the kind of every notice once.
// KEYS: ledger, leases, rw, n-key. ARGV: holder, seq, day, reserved, clearing,
// nowMs, windowEndMs, markerTTLms, kind ('w' or 'b'). Returns outcome: 1
// settled, 2 late, 5 counted (settled before by the other kind), 0 duplicate.
var settleScript = redis.NewScript(luaLib + inWindowLua + `
local st, kinds = marker(redis.call('GET', KEYS[4]))
local kind = ARGV[9]
if st == 's' or st == 'l' or st == 'rs' then
  if seen(kinds, kind) then return 0 end
  redis.call('SET', KEYS[4], st .. ':' .. kinds .. kind, 'KEEPTTL')
  return 5
end
local day, reserved, clearing = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if clearing > reserved then clearing = reserved end
if clearing < 0 then clearing = 0 end
local mark, out = 'l', 2
if st == 'r' then
  mark = 'rs'
elseif st == '' then
  local f, v = onLease(ARGV[1], tonumber(ARGV[2]), day, tonumber(ARGV[6]), tonumber(ARGV[7]))
  if f then
    takeOff(day, f, v, reserved)
    mark, out = 's', 1
  end
end
redis.call('SET', KEYS[4], mark .. ':' .. kinds .. kind, 'PX', ARGV[8])
incr(KEYS[1], 'd:' .. day .. ':spent', clearing)
incr(KEYS[1], 'tspent', clearing)
if out == 2 then
  incr(KEYS[1], 'd:' .. day .. ':late', clearing)
  incr(KEYS[1], 'tlate', clearing)
end
return out
`)

// lossScript releases a lost bid's reservation once, unless a win or billing
// notice settled the bid before: a settled reservation has left its lease
// already, so the loss is only counted.
// KEYS: ledger, leases, rw, n-key. ARGV: holder, seq, day, reserved, nowMs,
// windowEndMs, markerTTLms. Returns 3 released, 4 late (nothing to release
// here; the owner's sweep does it), 5 counted (after a settlement), 0
// duplicate.
var lossScript = redis.NewScript(luaLib + inWindowLua + `
local st, kinds = marker(redis.call('GET', KEYS[4]))
if seen(kinds, 'l') then return 0 end
if st ~= '' then
  redis.call('SET', KEYS[4], st .. ':' .. kinds .. 'l', 'KEEPTTL')
  return 5
end
local day = ARGV[3]
local f, v = onLease(ARGV[1], tonumber(ARGV[2]), day, tonumber(ARGV[5]), tonumber(ARGV[6]))
if f then
  takeOff(day, f, v, tonumber(ARGV[4]))
  redis.call('SET', KEYS[4], 'r:l', 'PX', ARGV[7])
  return 3
end
redis.call('SET', KEYS[4], 'L:l', 'PX', ARGV[7])
return 4
`)

// Outcome is what a notice did to the ledger.
type Outcome uint8

// The outcomes of settling or releasing a bid.
const (
	// OutcomeDuplicate: a replay: the bid had a notice of this kind before; no effect.
	OutcomeDuplicate Outcome = iota
	// OutcomeSettled: spend recorded and the reservation taken off its lease.
	OutcomeSettled
	// OutcomeLate: spend recorded after the reservation had been released
	// (window over, or lost before); the spend counts towards the late slack.
	OutcomeLate
	// OutcomeReleased: a loss released the reservation back to the budget.
	OutcomeReleased
	// OutcomeLossLate: a loss after the window; the owner's sweep releases it.
	OutcomeLossLate
	// OutcomeCounted: the bid's first notice of this kind, after a notice of
	// another kind settled it (a billing notice after the win notice, or the
	// reverse, or a loss notice after either): counted for reports, no effect
	// on the ledger.
	OutcomeCounted
)

var outcomeNames = [...]string{"duplicate", "settled", "late", "released", "loss_late", "counted"}

// String names the outcome for logs and metrics.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Settlement identifies one bid's reservation in the ledger, as carried by its
// signed notice.
type Settlement struct {
	// CampaignID, Holder and Seq identify the bid.
	CampaignID, Holder string
	Seq                uint64
	// Kind is the notice's kind: KindWin (also the zero value), KindBill or
	// KindImp for Settle; Loss ignores it.
	Kind Kind
	// Day is the campaign-local day the reservation was leased for.
	Day string
	// Reserved is the per-impression reservation in campaign currency micros.
	Reserved money.Micros
	// Clearing is the per-impression clearing price in campaign currency
	// micros; it is capped at Reserved.
	Clearing money.Micros
	// WindowEnd is when the reservation is released without a notice.
	WindowEnd time.Time
	// Expiry is when the notice URL stops being valid.
	Expiry time.Time
}

// markerTTL is how long a won bid's marker lives: until its URL expires, so
// every replay is recognised.
func markerTTL(now, expiry time.Time) int64 {
	return max(expiry.Sub(now).Milliseconds(), 0) + time.Minute.Milliseconds()
}

// Settle records a won bid's spend exactly once, on the first of its win and
// billing notices; a later notice of the other kind is OutcomeCounted, a
// replay of the same kind OutcomeDuplicate. The impression pixel is a billing
// notice.
func (l *Ledger) Settle(ctx context.Context, s *Settlement, now time.Time) (Outcome, error) {
	keys := append(l.keys(s.CampaignID), l.noticeKey(s.CampaignID, s.Holder, s.Seq))
	kind := "w"
	if s.Kind == KindBill || s.Kind == KindImp {
		kind = "b"
	}
	n, err := settleScript.Run(ctx, l.rdb, keys, s.Holder, s.Seq, s.Day, int64(s.Reserved), int64(s.Clearing),
		now.UnixMilli(), s.WindowEnd.UnixMilli(), markerTTL(now, s.Expiry), kind).Int64()
	if err != nil {
		return 0, fmt.Errorf("settle bid %s of campaign %q: %w", appendBidID(nil, s.Holder, s.Seq), s.CampaignID, err)
	}
	return Outcome(n), nil
}

// Loss releases a lost bid's reservation, once, unless the bid was settled
// (then it is OutcomeCounted); grace is how long the marker must outlive the
// reservation window (the owner's sweep reads it).
func (l *Ledger) Loss(ctx context.Context, s *Settlement, now time.Time, grace time.Duration) (Outcome, error) {
	keys := append(l.keys(s.CampaignID), l.noticeKey(s.CampaignID, s.Holder, s.Seq))
	ttl := max(s.WindowEnd.Sub(now), 0) + grace
	n, err := lossScript.Run(ctx, l.rdb, keys, s.Holder, s.Seq, s.Day, int64(s.Reserved),
		now.UnixMilli(), s.WindowEnd.UnixMilli(), ttl.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("release lost bid %s of campaign %q: %w", appendBidID(nil, s.Holder, s.Seq), s.CampaignID, err)
	}
	return Outcome(n), nil
}

// leaseArgs are the inputs of one lease call.
type leaseArgs struct {
	campaign, holder, day string
	want, daily, total    money.Micros
	now                   time.Time
	ttl, grace            time.Duration
	expectInit            string
	had                   bool
}

// leaseResult is the ledger's answer to a lease call.
type leaseResult struct {
	grant     money.Micros
	fig       Figures
	reclaimed money.Micros
}

func (l *Ledger) lease(ctx context.Context, a *leaseArgs) (leaseResult, error) {
	had := "0"
	if a.had {
		had = "1"
	}
	res, err := leaseScript.Run(ctx, l.rdb, l.keys(a.campaign), a.holder, a.day, int64(max(a.want, 0)),
		int64(a.daily), int64(a.total), a.now.UnixMilli(), a.ttl.Milliseconds(), a.grace.Milliseconds(),
		a.expectInit, had).Slice()
	if err != nil {
		return leaseResult{}, fmt.Errorf("lease for campaign %q: %w", a.campaign, err)
	}
	if len(res) != 8 {
		return leaseResult{}, fmt.Errorf("lease for campaign %q: unexpected reply %v", a.campaign, res)
	}
	num := func(i int) money.Micros { n, _ := res[i].(int64); return money.Micros(n) }
	init, _ := res[6].(string)
	r := leaseResult{grant: num(1), reclaimed: num(7), fig: Figures{Day: a.day, SpentToday: num(2), LeasedToday: num(3),
		SpentTotal: num(4), LeasedTotal: num(5), Init: init}}
	switch num(0) {
	case -2:
		return r, ErrLedgerLost
	case -3:
		return r, errReclaimed
	}
	return r, nil
}

func (l *Ledger) unlease(ctx context.Context, campaign, holder, day string, amount money.Micros) (money.Micros, error) {
	n, err := unleaseScript.Run(ctx, l.rdb, l.keys(campaign)[:2], holder, day, int64(amount)).Int64()
	if err != nil {
		return 0, fmt.Errorf("return lease of campaign %q: %w", campaign, err)
	}
	return money.Micros(n), nil
}

// releaseBatch is a run of one holder's expired reservations for one day.
type releaseBatch struct {
	campaign, holder, day string
	maxSeq                uint64
	seqs                  []uint64
	amounts               []money.Micros
}

func (l *Ledger) release(ctx context.Context, b *releaseBatch) (money.Micros, error) {
	keys := l.keys(b.campaign)
	args := make([]any, 3, 3+len(b.seqs))
	args[0], args[1], args[2] = b.holder, b.day, b.maxSeq
	for i, s := range b.seqs {
		keys = append(keys, l.noticeKey(b.campaign, b.holder, s))
		args = append(args, int64(b.amounts[i]))
	}
	n, err := releaseScript.Run(ctx, l.rdb, keys, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("release expired bids of campaign %q: %w", b.campaign, err)
	}
	return money.Micros(n), nil
}

// Figures are a campaign's ledger figures for one day and in total, summed
// over every instance.
type Figures struct {
	// Day is the campaign-local day the day figures are for.
	Day string `json:"day"`
	// SpentToday and SpentTotal are settled spend.
	SpentToday money.Micros `json:"spent_today"`
	SpentTotal money.Micros `json:"spent_total"`
	// LeasedToday and LeasedTotal are budget held by instances: unreserved
	// lease balances plus reservations awaiting their notice.
	LeasedToday money.Micros `json:"leased_today"`
	LeasedTotal money.Micros `json:"leased_total"`
	// LateToday and LateTotal are spend settled after its reservation had been
	// released: the part of spend that may exceed the budget.
	LateToday money.Micros `json:"late_today"`
	LateTotal money.Micros `json:"late_total"`
	// Init identifies this incarnation of the ledger ("" = never leased).
	Init string `json:"-"`
}

// FigureQuery names a campaign and day to read figures for.
type FigureQuery struct{ CampaignID, Day string }

// Figures reads the figures of several campaigns in one pipelined round trip.
func (l *Ledger) Figures(ctx context.Context, qs []FigureQuery) ([]Figures, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	pipe := l.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(qs))
	for i, q := range qs {
		dk := "d:" + q.Day
		cmds[i] = pipe.HMGet(ctx, l.keys(q.CampaignID)[0], dk+":spent", dk+":leased", dk+":late",
			"tspent", "tleased", "tlate", "init")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read ledger figures: %w", err)
	}
	out := make([]Figures, len(qs))
	for i, c := range cmds {
		v := c.Val()
		if len(v) != 7 {
			continue
		}
		num := func(j int) money.Micros {
			s, _ := v[j].(string)
			n, _ := strconv.ParseInt(s, 10, 64)
			return money.Micros(n)
		}
		init, _ := v[6].(string)
		out[i] = Figures{Day: qs[i].Day, SpentToday: num(0), LeasedToday: num(1), LateToday: num(2),
			SpentTotal: num(3), LeasedTotal: num(4), LateTotal: num(5), Init: init}
	}
	return out, nil
}

// restoreMark ends the init of a ledger written by Restore.
const restoreMark = "|restore"

// Restore sets a campaign's spend for day and in total, for an operator
// repairing a lost ledger (Redis restarted empty). It starts a new ledger
// incarnation that every instance adopts at its next controller tick, leaving
// the ledger_lost state by itself. Leases are dropped: instances lease afresh.
func (l *Ledger) Restore(ctx context.Context, campaign, day string, spentToday, spentTotal money.Micros, now time.Time) error {
	k := l.keys(campaign)
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, k[1], k[2])
		p.HSet(ctx, k[0], "d:"+day+":spent", int64(spentToday), "d:"+day+":leased", 0,
			"tspent", int64(spentTotal), "tleased", 0,
			"init", day+"|"+strconv.FormatInt(now.UnixMilli(), 10)+restoreMark)
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore ledger of campaign %q: %w", campaign, err)
	}
	return nil
}
