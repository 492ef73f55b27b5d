package campaigns

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/storage/storagetest"
	"github.com/valyala/fasthttp"
)

type apiCall struct {
	api *API
}

func (a apiCall) do(t *testing.T, method, path, body string, hdr ...string) (int, string, respInfo) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	ctx.Request.SetBodyString(body)
	for i := 0; i+1 < len(hdr); i += 2 {
		ctx.Request.Header.Set(hdr[i], hdr[i+1])
	}
	ctx.SetUserValue("tok", "alice")
	if strings.HasPrefix(path, "/v1/audit") {
		a.api.Audit(&ctx)
	} else {
		a.api.Campaigns(&ctx)
	}
	return ctx.Response.StatusCode(), string(ctx.Response.Body()), respInfo{etag: string(ctx.Response.Header.Peek("ETag"))}
}

type respInfo struct{ etag string }

func demoYAML(t *testing.T) string {
	b, err := os.ReadFile("../demo/campaigns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAPIVerbs(t *testing.T) {
	r := storagetest.Open(t, false)
	store := NewStore(r)
	a := apiCall{NewAPI(store, nil, "tok")}

	// Apply many, dry run first: nothing stored.
	status, body, _ := a.do(t, "POST", "/v1/campaigns?dry_run=1", demoYAML(t))
	if status != 200 || !strings.Contains(body, `"created"`) {
		t.Fatalf("dry run: %d %s", status, body)
	}
	if status, _, _ := a.do(t, "GET", "/v1/campaigns/trail-runner-autumn", ""); status != 404 {
		t.Fatalf("dry run stored something: %d", status)
	}
	status, body, _ = a.do(t, "POST", "/v1/campaigns", demoYAML(t))
	if status != 200 || strings.Count(body, `"created"`) != 3 {
		t.Fatalf("apply: %d %s", status, body)
	}
	// Re-apply: unchanged, no new versions.
	status, body, _ = a.do(t, "POST", "/v1/campaigns", demoYAML(t))
	if status != 200 || strings.Count(body, `"unchanged"`) != 3 {
		t.Fatalf("re-apply: %d %s", status, body)
	}
	status, body, _ = a.do(t, "GET", "/v1/campaigns", "")
	var list struct{ Campaigns []Campaign }
	if status != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Campaigns) != 3 {
		t.Fatalf("list: %d %s", status, body)
	}
	status, body, h := a.do(t, "GET", "/v1/campaigns/city-bike-winter", "")
	if status != 200 || h.etag != `"1"` {
		t.Fatalf("get: %d %s etag %s", status, body, h.etag)
	}
	status, body, _ = a.do(t, "GET", "/v1/campaigns/city-bike-winter?format=yaml", "")
	if status != 200 || !strings.Contains(body, "advertiser: Velo Urbano") {
		t.Fatalf("get yaml: %d %s", status, body)
	}
	// The YAML we hand out can be put back as it is.
	status, body, _ = a.do(t, "PUT", "/v1/campaigns/city-bike-winter", body)
	if status != 200 || !strings.Contains(body, `"unchanged"`) {
		t.Fatalf("put back yaml: %d %s", status, body)
	}
	// Pause, resume, budget: each bumps the version.
	if status, body, _ := a.do(t, "POST", "/v1/campaigns/city-bike-winter/pause", ""); status != 200 || !strings.Contains(body, `"version": 2`) {
		t.Fatalf("pause: %d %s", status, body)
	}
	if cp, _ := store.Get(t.Context(), "city-bike-winter"); cp.Status != "paused" {
		t.Fatalf("not paused: %s", cp.Status)
	}
	if status, body, _ := a.do(t, "POST", "/v1/campaigns/city-bike-winter/resume", ""); status != 200 {
		t.Fatalf("resume: %d %s", status, body)
	}
	if status, body, _ := a.do(t, "PUT", "/v1/campaigns/city-bike-winter/budget", `{"daily": 250.5, "total": 7000}`); status != 200 {
		t.Fatalf("budget: %d %s", status, body)
	}
	cp, _ := store.Get(t.Context(), "city-bike-winter")
	if cp.Budget.Daily != 250_500_000 || cp.Budget.Total != 7_000_000_000 || cp.Status != "active" || cp.Version != 4 {
		t.Fatalf("after budget: %+v v%d %s", cp.Budget, cp.Version, cp.Status)
	}
	if status, body, _ := a.do(t, "PUT", "/v1/campaigns/city-bike-winter/budget", `{"daily": -1}`); status != 422 || !strings.Contains(body, "budget.daily") {
		t.Fatalf("negative budget: %d %s", status, body)
	}
	if status, _, _ := a.do(t, "DELETE", "/v1/campaigns/acme-loyalty", ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := a.do(t, "DELETE", "/v1/campaigns/acme-loyalty", ""); status != 404 {
		t.Fatalf("delete again: %d", status)
	}
	status, body, _ = a.do(t, "GET", "/v1/audit?campaign=city-bike-winter", "")
	var audit struct{ Entries []AuditEntry }
	if status != 200 || json.Unmarshal([]byte(body), &audit) != nil || len(audit.Entries) != 4 {
		t.Fatalf("audit: %d %s", status, body)
	}
	newest := audit.Entries[0]
	if newest.Token != "alice" || newest.Action != "updated" || newest.Version != 4 ||
		!strings.Contains(strings.Join(newest.Changes, "\n"), "budget.daily: 300 → 250.5") {
		t.Fatalf("audit entry: %+v", newest)
	}
	status, body, _ = a.do(t, "GET", "/v1/audit", "")
	if !strings.Contains(body, `"deleted"`) {
		t.Fatalf("audit lacks the delete: %s", body)
	}
}

func TestAPIStaleUpdate(t *testing.T) {
	r := storagetest.Open(t, false)
	a := apiCall{NewAPI(NewStore(r), nil, "tok")}
	if status, body, _ := a.do(t, "POST", "/v1/campaigns", demoYAML(t)); status != 200 {
		t.Fatalf("apply: %d %s", status, body)
	}
	_, yml, h := a.do(t, "GET", "/v1/campaigns/city-bike-winter?format=yaml", "")
	// Someone else changes it.
	if status, _, _ := a.do(t, "POST", "/v1/campaigns/city-bike-winter/pause", ""); status != 200 {
		t.Fatal("pause failed")
	}
	// Our update based on version 1 is refused, by If-Match or by the body's version.
	edited := strings.Replace(yml, "name: City bike winter commute", "name: Renamed", 1)
	status, body, _ := a.do(t, "PUT", "/v1/campaigns/city-bike-winter", edited, "If-Match", h.etag)
	if status != 409 {
		t.Fatalf("stale If-Match: %d %s", status, body)
	}
	status, body, _ = a.do(t, "PUT", "/v1/campaigns/city-bike-winter", edited)
	if status != 409 || !strings.Contains(body, "version") {
		t.Fatalf("stale body version: %d %s", status, body)
	}
	cp, _ := NewStore(r).Get(t.Context(), "city-bike-winter")
	if cp.Name != "City bike winter commute" {
		t.Fatalf("stale update was written: %s", cp.Name)
	}
}

func TestAPIRejectsBadFileWhole(t *testing.T) {
	r := storagetest.Open(t, false)
	store := NewStore(r)
	a := apiCall{NewAPI(store, nil, "tok")}
	if status, _, _ := a.do(t, "POST", "/v1/campaigns", demoYAML(t)); status != 200 {
		t.Fatal("apply failed")
	}
	bad := demoYAML(t) + `
---
id: broken
name: Broken
advertiser: X
adomain: [x.example]
status: active
flight: {start: 2026-01-01, end: 2026-12-31, timezone: UTC}
budget: {daily: -1, total: 10, currency: USD}
pacing: even
bid: {base_cpm: 3, max_cpm: 1, phase_multiplier: {}}
creatives: [{id: c, formats: [banner], sizes: [300x250], landing_url: "https://x.example", parts: {headline: {default: [hi]}}}]
`
	bad = strings.Replace(bad, "name: Trail Runner autumn push", "name: Changed", 1)
	status, body, _ := a.do(t, "POST", "/v1/campaigns", bad)
	if status != 422 {
		t.Fatalf("want 422, got %d %s", status, body)
	}
	for _, want := range []string{`unknown key \"phase_multiplier\"`, "budget.daily", "bid.max_cpm"} {
		if !strings.Contains(body, want) {
			t.Errorf("problems lack %s: %s", want, body)
		}
	}
	cp, _ := store.Get(t.Context(), "trail-runner-autumn")
	if cp.Name != "Trail Runner autumn push" || cp.Version != 1 {
		t.Fatalf("a rejected file changed a stored campaign: %q v%d", cp.Name, cp.Version)
	}
	if _, err := store.Get(t.Context(), "broken"); err == nil {
		t.Fatal("the broken campaign was stored")
	}
}
