package bandit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/segments"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// clickKind is the kind of the per-user key holding last clicks
// (<prefix>{u:<user>}:bv, see storage.Keys.User).
const clickKind = "bv"

// UserKey returns the key of what the bandit keeps about a user (the last
// click of each campaign, for purchase credit). It sits in the user's slot:
// delete it with the user's profile.
func (b *Bandit) UserKey(user string) string { return b.rdb.Keys.User(user, clickKind) }

// armsKey is the hash of one campaign's counts; the campaign's hash tag puts
// it in a slot of its own, so campaigns spread over a cluster.
func armsKey(prefix, campaignID string) string {
	return prefix + "{b:" + campaignID + "}:arms"
}

// Metric letters of the count fields.
const (
	metricImps      = "i"
	metricClicks    = "k"
	metricPurchases = "p"
)

// appendField appends the hash field of a variant's metric: phase|part|index|metric.
func appendField(dst []byte, part string, phase segments.Phase, index uint8, metric string) []byte {
	dst = append(dst, phase.String()...)
	dst = append(dst, '|')
	dst = append(dst, part...)
	dst = append(dst, '|')
	dst = strconv.AppendUint(dst, uint64(index), 10)
	dst = append(dst, '|')
	return append(dst, metric...)
}

// parseField reads a field written by appendField.
func parseField(f string) (k partKey, index int, metric string, ok bool) {
	ph, rest, ok1 := strings.Cut(f, "|")
	part, rest, ok2 := strings.Cut(rest, "|")
	idx, metric, ok3 := strings.Cut(rest, "|")
	if !ok1 || !ok2 || !ok3 {
		return k, 0, "", false
	}
	phase, err := segments.ParsePhase(ph)
	if err != nil {
		return k, 0, "", false
	}
	index, err = strconv.Atoi(idx)
	if err != nil || index < 0 || index > 255 {
		return k, 0, "", false
	}
	return partKey{part: part, phase: phase}, index, metric, true
}

// metric returns the field letter and value of counts holding one metric.
func (c counts) metric() (string, int64) {
	switch {
	case c.clicks != 0:
		return metricClicks, c.clicks
	case c.purchases != 0:
		return metricPurchases, c.purchases
	}
	return metricImps, c.imps
}

// batch is the local counts of one flush.
type batch struct {
	counts map[armRef]counts
	clicks []lastClick
}

func (bt *batch) add(r armRef, c counts) {
	d := bt.counts[r]
	d.plus(c)
	bt.counts[r] = d
}

func (bt *batch) merge(o *batch) {
	for r, c := range o.counts {
		bt.add(r, c)
	}
	bt.clicks = append(bt.clicks, o.clicks...)
}

// take removes the local counts gathered since the last flush.
func (b *Bandit) take() *batch {
	bt := &batch{counts: make(map[armRef]counts)}
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		for r, c := range sh.counts {
			bt.counts[r] = *c
		}
		clear(sh.counts)
		bt.clicks = append(bt.clicks, sh.clicks...)
		sh.clicks = sh.clicks[:0]
		sh.mu.Unlock()
	}
	return bt
}

// Sync merges the local counts into Redis and reads back the counts of every
// campaign Choose asked for, in one pipeline, then swaps in new posteriors.
// Counts whose increment failed are kept for the next Sync. The background
// loop calls it every Interval; tests call it directly.
func (b *Bandit) Sync(ctx context.Context) error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	now := b.clock.Now()
	bt := b.take()
	if b.retry != nil {
		bt.merge(b.retry)
		b.retry = nil
	}
	names := b.trackCampaigns(now)

	pipe := b.rdb.Client.Pipeline()
	type incr struct {
		ref armRef
		c   counts
		cmd *redis.IntCmd
	}
	incrs := make([]incr, 0, 3*len(bt.counts))
	touched := make(map[string]bool)
	var field []byte
	for ref, c := range bt.counts {
		key := armsKey(b.rdb.Keys.Prefix, ref.campaign)
		touched[key] = true
		for _, m := range [...]counts{{imps: c.imps}, {clicks: c.clicks}, {purchases: c.purchases}} {
			name, n := m.metric()
			if n == 0 {
				continue
			}
			field = appendField(field[:0], ref.part, ref.phase, ref.index, name)
			incrs = append(incrs, incr{ref: ref, c: m, cmd: pipe.HIncrBy(ctx, key, string(field), n)})
		}
	}
	for key := range touched {
		pipe.Expire(ctx, key, b.cfg.TTL)
	}
	clickCmds := make([]*redis.IntCmd, len(bt.clicks))
	for i, c := range bt.clicks {
		key := b.rdb.Keys.User(c.user, clickKind)
		clickCmds[i] = pipe.HSet(ctx, key, c.campaign, c.value)
		pipe.Expire(ctx, key, b.cfg.ClickWindow)
	}
	gets := make([]*redis.MapStringStringCmd, len(names))
	for i, name := range names {
		gets[i] = pipe.HGetAll(ctx, armsKey(b.rdb.Keys.Prefix, name))
	}
	if len(incrs)+len(clickCmds)+len(gets) == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)

	failed := &batch{counts: make(map[armRef]counts)}
	for _, in := range incrs {
		if in.cmd.Err() != nil {
			failed.add(in.ref, in.c)
		}
	}
	for i, cmd := range clickCmds {
		if cmd.Err() != nil {
			failed.clicks = append(failed.clicks, bt.clicks[i])
		}
	}
	if len(failed.counts)+len(failed.clicks) > 0 {
		b.retry = failed
	}
	b.swap(names, gets)
	if err != nil && !errors.Is(err, redis.Nil) {
		b.syncErrors.Inc()
		return fmt.Errorf("bandit sync (%d increments, %d campaigns): %w", len(incrs), len(names), err)
	}
	return nil
}

// trackCampaigns updates which campaigns to read back: those Choose asked for
// since the last snapshot (or for the first time), until idle for Idle.
func (b *Bandit) trackCampaigns(now time.Time) []string {
	for name, ca := range b.snap.Load().campaigns {
		if ca.used.Load() {
			b.tracked[name] = now
		}
	}
	b.missMu.Lock()
	for name := range b.missing {
		b.tracked[name] = now
	}
	clear(b.missing)
	b.missMu.Unlock()
	names := make([]string, 0, len(b.tracked))
	for name, last := range b.tracked {
		if now.Sub(last) > b.cfg.Idle {
			delete(b.tracked, name)
			continue
		}
		names = append(names, name)
	}
	b.campaigns.Set(float64(len(names)))
	return names
}

// swap builds and publishes a snapshot of the campaigns read back; a
// campaign whose read failed keeps its previous posteriors.
func (b *Bandit) swap(names []string, gets []*redis.MapStringStringCmd) {
	old := b.snap.Load()
	next := &snapshot{campaigns: make(map[string]*campaignArms, len(names))}
	for i, name := range names {
		fields, err := gets[i].Result()
		if err != nil {
			if prev := old.campaigns[name]; prev != nil {
				next.campaigns[name] = &campaignArms{parts: prev.parts}
			} else {
				next.campaigns[name] = &campaignArms{}
			}
			continue
		}
		next.campaigns[name] = &campaignArms{parts: b.cfg.buildParts(fields)}
	}
	b.snap.Store(next)
}

// buildParts turns a campaign's count fields into posteriors per part and phase.
func (c *Config) buildParts(fields map[string]string) map[partKey]*armSet {
	raw := countsByPart(fields)
	parts := make(map[partKey]*armSet, len(raw))
	for k, vs := range raw {
		set := c.newArmSet(vs)
		parts[k] = &set
	}
	return parts
}

// countsByPart groups a campaign's count fields by part and phase, each a
// list of variant counts by index.
func countsByPart(fields map[string]string) map[partKey][]counts {
	raw := make(map[partKey][]counts)
	for f, v := range fields {
		k, idx, metric, ok := parseField(f)
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || n < 0 {
			continue
		}
		vs := raw[k]
		for len(vs) <= idx {
			vs = append(vs, counts{})
		}
		switch metric {
		case metricImps:
			vs[idx].imps = n
		case metricClicks:
			vs[idx].clicks = n
		case metricPurchases:
			vs[idx].purchases = n
		}
		raw[k] = vs
	}
	return raw
}

// Start runs Sync every Interval, and soon after Choose meets a new campaign,
// until Stop.
func (b *Bandit) Start() {
	b.stop = make(chan struct{})
	b.done = make(chan struct{})
	go b.loop()
}

// Stop ends the loop after a last Sync, so counts gathered so far are not lost.
func (b *Bandit) Stop(ctx context.Context) error {
	close(b.stop)
	<-b.done
	return b.Sync(ctx)
}

func (b *Bandit) loop() {
	defer close(b.done)
	t := time.NewTicker(b.cfg.Interval)
	defer t.Stop()
	var lastLog time.Time
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.wake:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(b.cfg.Interval, time.Second))
		err := b.Sync(ctx)
		cancel()
		if err != nil && time.Since(lastLog) > time.Minute {
			lastLog = time.Now()
			b.log.Warn("bandit sync failed; counts kept for the next one", zap.Error(err))
		}
	}
}
