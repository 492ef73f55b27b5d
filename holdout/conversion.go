package holdout

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// convertScript marks a user as converted in every campaign study whose
// window holds the purchase. KEYS[1] is the user's key; ARGV: purchase time
// and window (unix seconds). It returns campaign, group letter pairs of the
// entries it marked; an entry converts once, so a replayed event counts
// nothing more.
var convertScript = redis.NewScript(`
local out = {}
local h = redis.call('HGETALL', KEYS[1])
local at, win = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, #h, 2 do
  local g, first, last, conv, w = string.match(h[i + 1], '^(%a)|(%d+)|(%d+)|(%d)|(.*)$')
  if g and conv == '0' and at >= tonumber(first) and at <= tonumber(last) + win then
    redis.call('HSET', KEYS[1], h[i], g .. '|' .. first .. '|' .. last .. '|1|' .. w)
    out[#out + 1] = h[i]
    out[#out + 1] = g
  end
end
return out
`)

// Conversion attributes a user's purchase at time at: the user converts in
// every campaign study they entered before at and whose last eligible bid is
// at most Window before it. It is meant for the purchase events of segments,
// off the bid path; the counts reach Redis at the next Sync. It returns how
// many campaigns the purchase converted the user in.
func (h *Holdout) Conversion(ctx context.Context, user string, at time.Time) (int, error) {
	if user == "" {
		return 0, nil
	}
	res, err := convertScript.Run(ctx, h.rdb.Client, []string{h.rdb.Keys.User(user, userKind)},
		at.Unix(), int64(h.cfg.Window/time.Second)).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("holdout conversion of %q: %w", user, err)
	}
	n := 0
	h.pendMu.Lock()
	for i := 0; i+1 < len(res); i += 2 {
		c := h.convs[res[i]]
		if c == nil {
			c = new([2]int64)
			h.convs[res[i]] = c
		}
		if res[i+1] == "g" {
			c[1]++
		} else {
			c[0]++
		}
		n++
	}
	h.pendMu.Unlock()
	return n, nil
}
