package reports

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

var saveScreenshot = flag.Bool("screenshot", false, "write the dashboard screenshot to testdata/dashboard.png")

// TestChromiumDashboard serves the dashboard over a simulated day of counts
// flushed to Redis, signs in with ?token= in headless Chromium, and checks
// that every chart drew data points and that the screenshot is not blank.
// Without chromium (Debian: apt-get install -y chromium) it is skipped.
func TestChromiumDashboard(t *testing.T) {
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
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the rendered-dashboard check")
	}
	fx := newFixture(t, 40000)
	d := NewDashboard(fx.rd, checkToken, demoPacing())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: d.Serve}
	go srv.Serve(ln)
	defer srv.Shutdown()

	dir := t.TempDir()
	shot := filepath.Join(dir, "dashboard.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,1330",
		"--virtual-time-budget=5000", "--screenshot="+shot, "--dump-dom",
		"http://"+ln.Addr().String()+"/dashboard?token="+dashToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, stderr.String())
	}
	t.Logf("chromium rendered the dashboard in %v", time.Since(start).Round(time.Millisecond))
	dom := stdout.String()

	// Every chart has data marks (class "pt") with positive values.
	mark := regexp.MustCompile(`<(?:rect|circle)[^>]*data-v="([0-9.e+-]+)"[^>]*class="[^"]*\bpt\b`)
	for id, min := range map[string]int{"chart-winrate": 40, "chart-pacing": 3, "chart-landscape": 5, "chart-spend": 20, "chart-nobids": 5} {
		m := regexp.MustCompile(`id="` + id + `"[^>]*>(.*?)</div>`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("no %s in the rendered DOM:\n%.3000s\nstderr:\n%s", id, dom, stderr.String())
		}
		n := 0
		for _, v := range mark.FindAllStringSubmatch(m[1], -1) {
			if f, err := strconv.ParseFloat(v[1], 64); err == nil && f > 0 {
				n++
			}
		}
		if n < min {
			t.Fatalf("%s has %d data points, want at least %d:\n%.2000s", id, n, min, m[1])
		}
	}
	if !regexp.MustCompile(`<td>trail-runner-autumn</td>`).MatchString(dom) {
		t.Fatal("campaign table missing")
	}

	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[(r>>11)<<10|(g>>11)<<5|bl>>11] = true
		}
	}
	if len(colours) < 20 {
		t.Fatalf("screenshot looks blank: %d colours", len(colours))
	}
	if *saveScreenshot {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(filepath.Join("testdata", "dashboard.png"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
