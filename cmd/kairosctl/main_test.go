package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/admin"
	"github.com/kairos-rtb/kairos/campaigns"
	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

const testToken = "test-token-0123456789"

func startAdmin(t *testing.T) string {
	t.Helper()
	r := storagetest.Open(t, false)
	tokens := []admin.Token{{Name: "ops", Secret: testToken}}
	srv := admin.New(tokens, nil, prometheus.NewRegistry(), zap.NewNop())
	api := campaigns.NewAPI(campaigns.NewStore(r), nil, admin.TokenNameKey)
	srv.Handle("/v1/campaigns", api.Campaigns)
	srv.Handle("/v1/campaigns/", api.Campaigns)
	srv.Handle("/v1/audit", api.Audit)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(t.Context()) })
	return "http://" + srv.Addr()
}

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cli := &CLI{Out: &out, Err: &errb, In: strings.NewReader(""), Getenv: func(k string) string { return env[k] }}
	code := cli.Run(args)
	return code, out.String(), errb.String()
}

func TestCampaignVerbs(t *testing.T) {
	env := map[string]string{"KAIROS_ADMIN_URL": startAdmin(t), "KAIROS_ADMIN_TOKEN": testToken}
	f := func(wantCode int, wantOut string, args ...string) string {
		t.Helper()
		code, out, errs := run(t, env, args...)
		if code != wantCode || !strings.Contains(out+errs, wantOut) {
			t.Fatalf("kairosctl %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %s",
				strings.Join(args, " "), code, wantCode, out, errs, wantOut)
		}
		return out
	}
	f(0, "campaign trail-runner-autumn: would create", "campaigns", "apply", "-f", "../../demo/campaigns.yaml", "--dry-run")
	f(0, "ID", "campaigns", "list")
	f(0, "campaign city-bike-winter: created (version 1)", "campaigns", "apply", "-f", "../../demo/campaigns.yaml")
	out := f(0, "trail-runner-autumn", "campaigns", "list")
	if !strings.Contains(out, "city-bike-winter     active") {
		t.Fatalf("list lacks status: %s", out)
	}
	f(0, "advertiser: Velo Urbano", "campaigns", "get", "city-bike-winter")
	f(0, `"advertiser": "Velo Urbano"`, "campaigns", "get", "city-bike-winter", "-o", "json")
	f(0, "campaign city-bike-winter: paused", "campaigns", "pause", "city-bike-winter")
	f(0, "paused", "campaigns", "list")
	f(0, "resumed", "campaigns", "resume", "city-bike-winter")
	f(0, "budget set", "budget", "set", "city-bike-winter", "--daily", "250", "--total", "9000")
	f(0, "250.00 USD", "campaigns", "list")
	f(1, "budget.daily", "budget", "set", "city-bike-winter", "--daily", "9999")
	f(2, "not an amount", "budget", "set", "city-bike-winter", "--daily", "lots")
	f(0, "deleted", "campaigns", "delete", "acme-loyalty")
	f(1, "campaign not found", "campaigns", "delete", "acme-loyalty")
	f(1, "campaign not found", "campaigns", "get", "nope")

	// An edited file shows what changes, per field.
	data, _ := os.ReadFile("../../demo/campaigns.yaml")
	edited := filepath.Join(t.TempDir(), "edited.yaml")
	os.WriteFile(edited, bytes.Replace(data, []byte("base_cpm: 2.50"), []byte("base_cpm: 2.75"), 1), 0o600)
	f(0, "bid.base_cpm: 2.5 → 2.75", "campaigns", "apply", "-f", edited, "--dry-run")
}

func TestBadFileAndAuth(t *testing.T) {
	url := startAdmin(t)
	env := map[string]string{"KAIROS_ADMIN_URL": url, "KAIROS_ADMIN_TOKEN": testToken}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("id: x\nname: X\nadvertiser: A\nadomain: [a.example]\nstatus: active\ncolor: red\n"+
		"flight: {start: 2026-01-01, end: 2026-02-01, timezone: UTC}\nbudget: {daily: 5, total: -1, currency: USD}\n"+
		"pacing: even\nbid: {base_cpm: 2, max_cpm: 1}\ncreatives: []\n"), 0o600)
	code, _, errs := run(t, env, "campaigns", "apply", "-f", bad)
	if code != 1 {
		t.Fatalf("bad file: exit %d", code)
	}
	for _, want := range []string{"bad.yaml:6: campaign \"x\": color: unknown key", "budget.total", "bid.max_cpm", "creatives", "nothing was applied"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if code, _, errs := run(t, map[string]string{"KAIROS_ADMIN_URL": url}, "campaigns", "list"); code != 1 || !strings.Contains(errs, "KAIROS_ADMIN_TOKEN") {
		t.Fatalf("no token: %d %s", code, errs)
	}
	env["KAIROS_ADMIN_TOKEN"] = "wrong-token-0123456789"
	if code, _, errs := run(t, env, "campaigns", "list"); code != 1 || !strings.Contains(errs, "401") {
		t.Fatalf("wrong token: %d %s", code, errs)
	}
	if code, _, errs := run(t, map[string]string{"KAIROS_ADMIN_URL": "http://127.0.0.1:1", "KAIROS_ADMIN_TOKEN": testToken},
		"campaigns", "list"); code != 1 || !strings.Contains(errs, "cannot reach") {
		t.Fatalf("unreachable: %d %s", code, errs)
	}
}

func TestHelpOnEveryVerb(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"campaigns", "apply", "--help"}, {"campaigns", "list", "--help"}, {"campaigns", "get", "--help"},
		{"campaigns", "pause", "--help"}, {"campaigns", "resume", "--help"}, {"campaigns", "delete", "--help"},
		{"budget", "set", "--help"}, {"budget", "--help"}, {"segments", "import", "--help"}, {"segments", "--help"},
	} {
		code, out, _ := run(t, nil, args...)
		if code != 0 || !strings.Contains(out, "Usage") && !strings.Contains(out, "usage") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	if code, _, _ := run(t, nil, "campaigns", "frobnicate"); code != 2 {
		t.Errorf("unknown verb: exit %d, want 2", code)
	}
}
