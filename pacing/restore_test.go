package pacing

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/valyala/fasthttp"
)

// adminPost sends body to the pacing admin API at path.
func adminPost(p *Pacer, path, body string) (int, string) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI(path)
	ctx.Request.SetBodyString(body)
	p.ServeAdmin(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Body())
}

// TestRestoreEndpoint: after Redis lost the ledger, POST /v1/pacing/<id>/restore
// without figures rewrites it from the instance's last view, counting what
// was leased as spent, and bidding resumes at the next tick; explicit figures
// win; bad input is refused whole.
func TestRestoreEndpoint(t *testing.T) {
	p, c, _, rdb := asapRig(t, 1*money.Unit, 10*money.Unit)
	ctx := context.Background()
	p.Reserve(c, 4*money.Unit, t0)
	p.maintain(ctx, t0)
	if _, why := p.Reserve(c, 4*money.Unit, t0); why != ReasonNone {
		t.Fatal(why)
	}
	p.Tick(ctx, t0)
	before, _ := p.State("c1")
	if before.Reserved <= 0 {
		t.Fatalf("nothing leased before the loss: %+v", before)
	}

	for _, bad := range []string{`{`, `{"spent_today":"lots"}`, `{"day":"yesterday"}`, `{"spent_total":"-1"}`} {
		if code, body := adminPost(p, "/v1/pacing/c1/restore", bad); code != 400 {
			t.Errorf("restore %s: %d %s, want 400", bad, code, body)
		}
	}
	if code, _ := adminPost(p, "/v1/pacing/nope/restore", ""); code != 409 {
		t.Errorf("restore of a campaign this instance never saw: %d, want 409", code)
	}

	rdb.Del(ctx, p.Ledger().keys("c1")...) // Redis restarts empty
	now := t0.Add(time.Second)
	p.Tick(ctx, now)
	if _, why := p.Reserve(c, 4*money.Unit, now); why != ReasonLedgerLost {
		t.Fatalf("reserve after the loss: %v", why)
	}
	code, body := adminPost(p, "/v1/pacing/c1/restore", "")
	if code != 200 {
		t.Fatalf("restore: %d %s", code, body)
	}
	var got struct{ Figures LedgerFigures }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := LedgerFigures{Day: before.Day, SpentToday: before.SpentToday + before.Reserved, SpentTotal: before.SpentTotal + before.Reserved}
	if got.Figures != want {
		t.Fatalf("restored %+v, want the last view with the leased budget counted as spent %+v", got.Figures, want)
	}
	now = now.Add(time.Second)
	p.Tick(ctx, now)
	if st, _ := p.State("c1"); st.LedgerLost || st.SpentToday != want.SpentToday {
		t.Fatalf("after restore: %+v", st)
	}
	p.Reserve(c, 4*money.Unit, now)
	p.maintain(ctx, now)
	if _, why := p.Reserve(c, 4*money.Unit, now); why != ReasonNone {
		t.Fatalf("reserve after restore: %v", why)
	}

	// Explicit figures, as an operator takes them from the exchange's billing.
	code, body = adminPost(p, "/v1/pacing/c1/restore", `{"day":"2026-11-02","spent_today":"0.25","spent_total":"3"}`)
	if code != 200 || !strings.Contains(body, `"spent_today":0.25`) || !strings.Contains(body, `"spent_total":3.00`) {
		t.Fatalf("restore with figures: %d %s", code, body)
	}
}
