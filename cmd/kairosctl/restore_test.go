package main

import (
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/admin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

func TestBudgetRestore(t *testing.T) {
	var gotPath, gotBody string
	srv := admin.New([]admin.Token{{Name: "ops", Secret: testToken}}, nil, prometheus.NewRegistry(), zap.NewNop())
	srv.Handle("/v1/pacing/", func(ctx *fasthttp.RequestCtx) {
		gotPath, gotBody = string(ctx.Path()), string(ctx.PostBody())
		ctx.SetBodyString(`{"status":"restored","figures":{"day":"2026-12-01","spent_today":120.50,"spent_total":900.00}}`)
	})
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(t.Context()) })
	env := map[string]string{"KAIROS_ADMIN_URL": "http://" + srv.Addr(), "KAIROS_ADMIN_TOKEN": testToken}

	code, out, errs := run(t, env, "budget", "restore", "trail-runner", "--day", "2026-12-01", "--spent-today", "120.50")
	if code != 0 || !strings.Contains(out, "campaign trail-runner: ledger restored for 2026-12-01: spent today 120.50, spent in total 900.00") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if gotPath != "/v1/pacing/trail-runner/restore" || gotBody != `{"day":"2026-12-01","spent_today":"120.50"}` {
		t.Fatalf("sent %s %s", gotPath, gotBody)
	}
	if code, _, errs := run(t, env, "budget", "restore", "trail-runner", "--spent-total", "lots"); code != 2 || !strings.Contains(errs, "not an amount") {
		t.Fatalf("bad amount: exit %d %s", code, errs)
	}
	if code, _, _ := run(t, env, "budget", "restore"); code != 2 {
		t.Fatalf("no campaign: exit %d, want 2", code)
	}
}
