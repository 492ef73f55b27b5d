package quality

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const (
	chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	botUA    = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

func TestScreen(t *testing.T) {
	list := writeFile(t, "dc.txt", "# cloud\n203.0.113.0/24\n2001:db8:dc::/48\n")
	s := newScreener(t, Config{
		IPBlocklistFiles:  []string{list},
		BlockedDomains:    []string{"Spam.example", "bad.test."},
		BlockedApps:       []string{"com.fraud.app", "123456789"},
		BlockedPublishers: []string{"pub-666"},
	})
	f := func(name, js string, want Reason) {
		t.Helper()
		v := s.Screen(bidRequest(t, js))
		if v.Reason != want || v.OK != (want == ReasonOK) {
			t.Errorf("%s: Screen = %+v, want %v", name, v, want)
		}
	}
	site := func(site, device string) string {
		return `{"id":"1","site":` + site + `,"device":` + device + `}`
	}
	dev := `{"ip":"198.51.100.1","ua":"` + chromeUA + `"}`
	f("clean site", site(`{"domain":"news.example","page":"https://news.example/a"}`, dev), ReasonOK)
	f("clean app", `{"id":"1","app":{"bundle":"com.good.app","publisher":{"id":"p1"}},"device":{"ip":"198.51.100.1"}}`, ReasonOK)
	f("blocked domain", site(`{"domain":"spam.example"}`, dev), ReasonDomainBlocked)
	f("blocked subdomain, any case", site(`{"domain":"WWW.Spam.Example."}`, dev), ReasonDomainBlocked)
	f("not a subdomain", site(`{"domain":"notspam.example"}`, dev), ReasonOK)
	f("blocked page host", site(`{"domain":"news.example","page":"https://user@m.bad.test:8443/x?y"}`, dev), ReasonDomainBlocked)
	f("blocked publisher domain", site(`{"publisher":{"id":"p1","domain":"bad.test"}}`, dev), ReasonDomainBlocked)
	f("blocked publisher", site(`{"publisher":{"id":"pub-666"}}`, dev), ReasonPublisherBlocked)
	f("publisher ids are exact", site(`{"publisher":{"id":"PUB-666"}}`, dev), ReasonOK)
	f("blocked app", `{"id":"1","app":{"bundle":"com.Fraud.App"},"device":{"ip":"198.51.100.1"}}`, ReasonAppBlocked)
	f("blocked store id", `{"id":"1","app":{"bundle":"123456789"}}`, ReasonAppBlocked)
	f("blocked app domain", `{"id":"1","app":{"bundle":"x","domain":"spam.example"}}`, ReasonDomainBlocked)
	f("blocked app publisher", `{"id":"1","app":{"bundle":"x","publisher":{"id":"pub-666"}}}`, ReasonPublisherBlocked)
	f("blocked dooh publisher", `{"id":"1","dooh":{"publisher":{"id":"pub-666"}}}`, ReasonPublisherBlocked)
	f("web without IP", site(`{"domain":"news.example"}`, `{"ua":"`+chromeUA+`"}`), ReasonMissingIP)
	f("web with a bad IP", site(`{"domain":"news.example"}`, `{"ip":"999.1.1.1","ua":"`+chromeUA+`"}`), ReasonMissingIP)
	f("web without device", site(`{"domain":"news.example"}`, `null`), ReasonMissingIP)
	f("web without UA", site(`{"domain":"news.example"}`, `{"ip":"198.51.100.1"}`), ReasonMissingUA)
	f("web with structured UA only", site(`{"domain":"news.example"}`,
		`{"ipv6":"2001:db8:1::1","sua":{"browsers":[{"brand":"Chromium","version":["124"]}]}}`), ReasonOK)
	f("app without UA", `{"id":"1","app":{"bundle":"com.good.app"},"device":{"ip":"198.51.100.1"}}`, ReasonOK)
	f("blocked IPv4", site(`{"domain":"news.example"}`, `{"ip":"203.0.113.77","ua":"`+chromeUA+`"}`), ReasonIPBlocked)
	f("blocked IPv6", site(`{"domain":"news.example"}`, `{"ip":"198.51.100.1","ipv6":"2001:db8:dc:1::5","ua":"`+chromeUA+`"}`), ReasonIPBlocked)
	f("blocked IPv4 in app", `{"id":"1","app":{"bundle":"x"},"device":{"ip":"203.0.113.1"}}`, ReasonIPBlocked)
	f("bot UA", site(`{"domain":"news.example"}`, `{"ip":"198.51.100.1","ua":"`+botUA+`"}`), ReasonUABot)
	f("headless sua", site(`{"domain":"news.example"}`,
		`{"ip":"198.51.100.1","sua":{"browsers":[{"brand":"HeadlessChrome","version":["120"]}]}}`), ReasonUABot)

	lax := newScreener(t, Config{AllowMissingIPOrUA: true})
	if v := lax.Screen(bidRequest(t, site(`{"domain":"news.example"}`, `{}`))); !v.OK {
		t.Errorf("AllowMissingIPOrUA: %+v", v)
	}
	custom := newScreener(t, Config{UABotPatterns: []string{"evil"}})
	if v := custom.Screen(bidRequest(t, site(`{}`, `{"ip":"1.2.3.4","ua":"`+botUA+`"}`))); !v.OK {
		t.Errorf("custom patterns replace the defaults: %+v", v)
	}
	if v := custom.Screen(bidRequest(t, site(`{}`, `{"ip":"1.2.3.4","ua":"x EVIL y"}`))); v.Reason != ReasonUABot {
		t.Errorf("custom pattern: %+v", v)
	}
}

func TestReload(t *testing.T) {
	path := writeFile(t, "dc.txt", "203.0.113.0/24\n")
	reg := prometheus.NewRegistry()
	s, err := NewScreener(Config{IPBlocklistFiles: []string{path}}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := bidRequest(t, `{"id":"1","app":{"bundle":"x"},"device":{"ip":"192.0.2.1"}}`)
	if v := s.Screen(req); !v.OK {
		t.Fatalf("before reload: %+v", v)
	}
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("203.0.113.0/24\n192.0.2.0/24\n")
	if !s.changed() {
		t.Error("changed() = false after a write")
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.changed() {
		t.Error("changed() = true right after a reload")
	}
	if v := s.Screen(req); v.Reason != ReasonIPBlocked {
		t.Fatalf("after reload: %+v", v)
	}
	// A list with a bad line is rejected whole; the previous one stays.
	write("# new list\n198.51.100.0/24\n192.0.2.0/99\n")
	err = s.Reload()
	if !errors.Is(err, ErrInvalidList) || !strings.Contains(err.Error(), path+`:3: "192.0.2.0/99"`) {
		t.Fatalf("Reload = %v, want a ListError naming line 3", err)
	}
	if v := s.Screen(req); v.Reason != ReasonIPBlocked {
		t.Errorf("after a failed reload: %+v, want the previous list kept", v)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload of a missing file = %v", err)
	}
	if _, err := NewScreener(Config{IPBlocklistFiles: []string{path}}, nil, nil); err == nil {
		t.Error("NewScreener with a missing file succeeded")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()+"/"+labels(m)] += value(m)
		}
	}
	for k, want := range map[string]float64{
		"kairos_ip_blocklist_reloads_total/result=ok":     2,
		"kairos_ip_blocklist_reloads_total/result=error":  2,
		"kairos_ip_blocklist_ranges/family=ipv4":          2,
		"kairos_screen_requests_total/verdict=ok":         1,
		"kairos_screen_requests_total/verdict=ip_blocked": 2,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

func TestRunStopsWithContext(t *testing.T) {
	s := newScreener(t, Config{IPBlocklistFiles: []string{writeFile(t, "a.txt", "1.2.3.4\n")}})
	ctx, cancel := contextWithCancel()
	done := make(chan struct{})
	go func() {
		s.Run(ctx, time.Millisecond)
		close(done)
	}()
	cancel()
	<-done
}

func TestConfigValidate(t *testing.T) {
	f := func(cfg Config, wantErr string) {
		t.Helper()
		err := cfg.Validate()
		if (err == nil) != (wantErr == "") || (err != nil && err.Error() != wantErr) {
			t.Errorf("Validate(%+v) = %v, want %q", cfg, err, wantErr)
		}
	}
	f(Config{}, "")
	f(Config{BlockedDomains: []string{"a.example"}, SellerAllowList: []string{"ssp.example", "ssp.example:123"}}, "")
	f(Config{UABotPatterns: []string{"ok", ""}}, `quality: ua_bot_patterns[1]: "" must be 1 to 128 bytes`)
	f(Config{BlockedDomains: []string{"https://a.example/"}}, `quality: blocked_domains[0]: "https://a.example/" is not a domain name`)
	f(Config{BlockedApps: []string{"a b"}}, `quality: blocked_apps[0]: "a b" is empty, too long or contains white space`)
	f(Config{SellerAllowList: []string{":123"}}, `quality: seller_allow_list[0]: ":123" is not asi or asi:sid`)
	f(Config{IPBlocklistFiles: []string{""}}, `quality: ip_blocklist_files[0]: empty path`)
	long := make([]string, 600)
	for i := range long {
		long[i] = strings.Repeat("x", 120)
	}
	f(Config{UABotPatterns: long}, "quality: ua_bot_patterns: 72000 bytes in all, at most 65000")
}

func TestReasonString(t *testing.T) {
	if Reason(99).String() != "unknown" || ReasonUABot.String() != "ua_bot" || len(Reasons()) != int(numReasons)-1 {
		t.Errorf("reason names: %v", Reasons())
	}
}
