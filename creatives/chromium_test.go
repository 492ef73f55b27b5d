package creatives

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/segments"
)

// TestChromiumBanner renders the banner of the demo campaign for a demo intent
// user in headless Chromium and checks the product name is in the rendered
// DOM. CI installs Debian's chromium; without it the test is skipped.
func TestChromiumBanner(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skipping headless Chromium")
	}
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the rendered-banner check")
	}
	ix := loadIndex(t, filepath.Join("..", "demo", "campaigns.yaml"))
	c, ok := ix.Get("trail-runner-autumn")
	if !ok {
		t.Fatal("demo campaign trail-runner-autumn not found")
	}
	var cr = &c.Creatives[0]
	for i := range c.Creatives {
		if c.Creatives[i].ID == "tr-main" {
			cr = &c.Creatives[i]
		}
	}
	p := &segments.Profile{User: "demo-intent", Phase: segments.PhaseIntent, Interests: []string{"running-shoes"},
		Product: segments.Product{ID: "sku-1", Name: "Trail Runner 2", Price: "89.00"}}
	// Local URLs keep the check offline: the page must not wait on the network.
	imp := bannerImp(300, 250)
	imp.ClickURL, imp.ImpURL = "https://127.0.0.1:1/c", "https://127.0.0.1:1/i"
	adm, v, err := NewAssembler(Config{}, nil).Assemble(nil, c, cr, p, imp)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "banner.html")
	html := "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + v.String() +
		"</title></head><body style=\"margin:0\">" + string(adm) + "</body></html>"
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--window-size=300,250", "--screenshot=" + filepath.Join(dir, "banner.png"),
		"--dump-dom", "file://" + page}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	dom := stdout.String()
	if !strings.Contains(dom, "Trail Runner 2 is ready when you are") {
		t.Fatalf("rendered DOM lacks the product name:\n%s\nstderr:\n%s", dom, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "banner.png")); err != nil {
		t.Logf("no screenshot written: %v", err)
	}
	t.Logf("chromium rendered %s in %v", v.String(), time.Since(start).Round(time.Millisecond))
}
