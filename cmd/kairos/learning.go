package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kairos-rtb/kairos/bandit"
	"github.com/kairos-rtb/kairos/bidder"
	"github.com/kairos-rtb/kairos/holdout"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
	"github.com/kairos-rtb/kairos/shading"
	"github.com/kairos-rtb/kairos/storage"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// learning holds the components that learn from reactions: the creative
// bandit, the holdout and, when KAIROS_SHADING is on, the bid shader.
type learning struct {
	bandit  *bandit.Bandit
	holdout *holdout.Holdout
	shader  *shading.Shader // nil when shading is off
}

// newLearning constructs the learning components from cfg. The bandit and
// the holdout always exist: the bandit counts (and reports) even when the
// hash chooses, and campaigns may hold users out at a share of their own.
func newLearning(cfg *config, rdb *storage.Redis, clock pacing.Clock, log *zap.Logger, reg prometheus.Registerer) (*learning, error) {
	explore := cfg.BanditExplore
	if explore == 0 {
		explore = -1 // the bandit's "none"; its 0 means its default
	}
	b, err := bandit.New(bandit.Config{Explore: explore}, bandit.Deps{Redis: rdb, Clock: clock, Log: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("KAIROS_BANDIT_EXPLORE: %w", err)
	}
	h, err := holdout.New(holdout.Config{Share: cfg.HoldoutShare}, holdout.Deps{Redis: rdb, Clock: clock, Log: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("KAIROS_HOLDOUT_SHARE: %w", err)
	}
	l := &learning{bandit: b, holdout: h}
	if cfg.Shading {
		if l.shader, err = shading.New(shading.Config{MaxWinLoss: cfg.ShadingMaxWinLoss}, clock); err != nil {
			return nil, fmt.Errorf("KAIROS_SHADING_MAX_WIN_LOSS: %w", err)
		}
	}
	return l, nil
}

// Start starts the background loops: syncing counts with Redis, refreshing
// the shading curves.
func (l *learning) Start() {
	l.bandit.Start()
	l.holdout.Start()
	if l.shader != nil {
		l.shader.Start()
	}
}

// Stop stops them in reverse order, the bandit and the holdout after a last
// sync so that what was counted is not lost.
func (l *learning) Stop(ctx context.Context) error {
	if l.shader != nil {
		l.shader.Stop()
	}
	return errors.Join(l.holdout.Stop(ctx), l.bandit.Stop(ctx))
}

// deps sets the bid path's holdout and shader; campaigns gives each
// campaign's own settings (holdout.share, shading: off).
func (l *learning) deps(d *bidder.Deps, campaigns bidder.Campaigns, share float64) {
	d.Holdout = campaignHoldout{Holdout: l.holdout, campaigns: campaigns, share: share}
	if l.shader != nil {
		d.Shader = campaignShader{Shader: l.shader, campaigns: campaigns}
	}
}

// campaignHoldout holds users out at their campaign's share: its
// holdout.share, else the server's KAIROS_HOLDOUT_SHARE.
type campaignHoldout struct {
	*holdout.Holdout
	campaigns bidder.Campaigns
	share     float64
}

// Assign returns the user's group at the campaign's share; it does not
// allocate.
func (c campaignHoldout) Assign(user, campaignID string) holdout.Group {
	share := c.share
	if cp, ok := c.campaigns.Index().Get(campaignID); ok {
		share = cp.HoldoutShare(share)
	}
	return c.AssignShare(user, campaignID, share)
}

// campaignShader bids the unshaded price for campaigns with shading: off.
type campaignShader struct {
	*shading.Shader
	campaigns bidder.Campaigns
}

// Price shades the bid unless the campaign opted out; it does not allocate.
func (c campaignShader) Price(k shading.Key, value, floor money.Micros, firstPrice bool, rnd uint64) money.Micros {
	if cp, ok := c.campaigns.Index().Get(k.Campaign); ok && cp.ShadingOff() {
		return value
	}
	return c.Shader.Price(k, value, floor, firstPrice, rnd)
}

var (
	_ bidder.Holdout = campaignHoldout{}
	_ bidder.Shader  = campaignShader{}
	_ segments.Hook  = (*learning)(nil)
)

// Purchase attributes a purchase event: a conversion in the holdout studies
// the user is in, and credit to the creative variants of the user's last
// clicks. Both are idempotent, so a failed event can be sent again.
func (l *learning) Purchase(ctx context.Context, user string, at time.Time) error {
	_, herr := l.holdout.Conversion(ctx, user, at)
	_, berr := l.bandit.Purchase(ctx, user, at)
	return errors.Join(herr, berr)
}

// UserKeys names the learning components' keys of a user, deleted with the
// user's profile.
func (l *learning) UserKeys(dst []string, user string) []string {
	return append(dst, l.holdout.UserKey(user), l.bandit.UserKey(user))
}

// win, loss and click pass notices on: wins are the bandit's impressions
// and, with losses, the shader's outcomes; clicks are the bandit's. Amounts
// come per impression in the campaign currency, as pacing reports them.
func (l *learning) win(n *pacing.Notice, clearing money.Micros) {
	l.bandit.Impression(n.CampaignID, n.CreativeID, segments.Phase(n.ShownPhase()))
	if l.shader != nil {
		l.shader.Win(shadingKey(n), money.ImpressionToCPM(n.Reserved), money.ImpressionToCPM(clearing))
	}
}

func (l *learning) loss(n *pacing.Notice, reason int, minToWin money.Micros) {
	if l.shader != nil {
		l.shader.Loss(shadingKey(n), money.ImpressionToCPM(n.Reserved), money.ImpressionToCPM(minToWin), reason)
	}
}

func (l *learning) click(n *pacing.Notice) {
	// The user is in the notice only when the bid was personalised with
	// consent: only then is the click remembered for purchase credit.
	l.bandit.Click(n.CampaignID, n.CreativeID, segments.Phase(n.ShownPhase()), n.User)
}

// shadingKey is the curve a bid was priced on: the profile's phase (not the
// variant's) and the publisher, as the bid path looks it up.
func shadingKey(n *pacing.Notice) shading.Key {
	return shading.Key{Campaign: n.CampaignID, Phase: segments.Phase(n.Phase), Publisher: n.Publisher}
}
