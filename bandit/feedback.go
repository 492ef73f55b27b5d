package bandit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kairos-rtb/kairos/creatives"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/redis/go-redis/v9"
)

const numShards = 16

// shard holds local counts not yet merged into Redis.
type shard struct {
	mu     sync.Mutex
	counts map[armRef]*counts
	clicks []lastClick
}

// armRef names one variant: the part is one of partNames, never a caller's string.
type armRef struct {
	campaign string
	part     string
	phase    segments.Phase
	index    uint8
}

// lastClick is a click to remember for purchase attribution.
type lastClick struct {
	user, campaign, value string
}

// partLetters are the letters of the parts in a crid, indexed by
// creatives.Part (see creatives.Variant.AppendCrid); an upper-case letter
// marks a variant of the part's default list.
var partLetters = [creatives.NumParts]byte{'h', 'm', 'p', 'o', 'c', 'x', 'g'}

// partNames are the parts' names, as creatives passes them to Choose.
var partNames = func() (n [creatives.NumParts]string) {
	for p := range n {
		n[p] = creatives.Part(p).String()
	}
	return n
}()

// pick is one part variant named by a crid.
type pick struct {
	part  string
	index uint8
}

// picks are the part variants of a crid.
type picks struct {
	n int
	p [creatives.NumParts]pick
}

// parseCrid reads the part variants of a crid such as "tr-main.h1m0C0"; it
// skips what it does not understand and does not allocate.
func parseCrid(crid string) picks {
	var ps picks
	dot := strings.LastIndexByte(crid, '.')
	if dot < 0 {
		return ps
	}
	s := crid[dot+1:]
	for i := 0; i < len(s) && ps.n < len(ps.p); {
		l := s[i] | 0x20 // lower case
		i++
		j, idx := i, 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' && j-i < 3 {
			idx = idx*10 + int(s[j]-'0')
			j++
		}
		if j == i || idx > 255 {
			i = j
			continue
		}
		i = j
		for p, pl := range partLetters {
			if pl == l {
				ps.p[ps.n] = pick{part: partNames[p], index: uint8(idx)}
				ps.n++
				break
			}
		}
	}
	return ps
}

func (b *Bandit) shardOf(campaignID string) *shard {
	h := uint32(2166136261)
	for i := 0; i < len(campaignID); i++ {
		h = (h ^ uint32(campaignID[i])) * 16777619
	}
	return &b.shards[h%numShards]
}

// add counts an event for every part variant of crid.
func (b *Bandit) add(campaignID, crid string, phase segments.Phase, c counts) {
	ps := parseCrid(crid)
	if ps.n == 0 || campaignID == "" || phase >= segments.NumPhases {
		return
	}
	sh := b.shardOf(campaignID)
	sh.mu.Lock()
	for _, p := range ps.p[:ps.n] {
		sh.addLocked(armRef{campaign: campaignID, part: p.part, phase: phase, index: p.index}, c)
	}
	sh.mu.Unlock()
}

func (sh *shard) addLocked(ref armRef, c counts) {
	d := sh.counts[ref]
	if d == nil {
		ref.campaign = strings.Clone(ref.campaign)
		d = new(counts)
		sh.counts[ref] = d
	}
	d.plus(c)
}

// Impression counts one delivered impression (the bid's first win, billing
// or impression notice) of the creative named by crid, shown in phase (the
// phase the variants were chosen for). Strings may point into a request.
func (b *Bandit) Impression(campaignID, crid string, phase segments.Phase) {
	b.add(campaignID, crid, phase, counts{imps: 1})
}

// Click counts one click on the creative named by crid. With a user (only
// when the bid was personalised with consent) the click is remembered for
// ClickWindow so that the user's purchase credits these variants.
func (b *Bandit) Click(campaignID, crid string, phase segments.Phase, user string) {
	b.add(campaignID, crid, phase, counts{clicks: 1})
	if user == "" || campaignID == "" {
		return
	}
	v := strconv.FormatInt(b.clock.Now().Unix(), 10) + "|" + phase.String() + "|" + crid
	sh := b.shardOf(campaignID)
	sh.mu.Lock()
	sh.clicks = append(sh.clicks, lastClick{user: strings.Clone(user), campaign: strings.Clone(campaignID), value: v})
	sh.mu.Unlock()
}

// purchaseScript takes the user's clicks made in [ARGV[1], ARGV[2]] (unix
// seconds) out of KEYS[1], so that each click credits at most one purchase
// however often the event is replayed, and returns them as campaign, value
// pairs.
var purchaseScript = redis.NewScript(`
local out = {}
local h = redis.call('HGETALL', KEYS[1])
local from, to = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, #h, 2 do
  local t = tonumber(string.match(h[i + 1], '^(%d+)|'))
  if t and t >= from and t <= to then
    out[#out + 1] = h[i]
    out[#out + 1] = h[i + 1]
    redis.call('HDEL', KEYS[1], h[i])
  end
end
return out
`)

// Purchase credits a user's purchase at time at to the variants of the
// user's last click of each campaign within ClickWindow before it. It is
// meant for the purchase events of segments, off the bid path; it returns
// how many campaigns were credited.
func (b *Bandit) Purchase(ctx context.Context, user string, at time.Time) (int, error) {
	if user == "" {
		return 0, nil
	}
	key := b.rdb.Keys.User(user, clickKind)
	res, err := purchaseScript.Run(ctx, b.rdb.Client, []string{key},
		at.Add(-b.cfg.ClickWindow).Unix(), at.Unix()).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("bandit purchase of %q: %w", user, err)
	}
	n := 0
	for i := 0; i+1 < len(res); i += 2 {
		_, rest, _ := strings.Cut(res[i+1], "|")
		ph, crid, ok := strings.Cut(rest, "|")
		if !ok {
			continue
		}
		phase, err := segments.ParsePhase(ph)
		if err != nil {
			continue
		}
		b.add(res[i], crid, phase, counts{purchases: 1})
		n++
	}
	return n, nil
}
