package quality

import (
	"strings"
	"testing"
)

func TestUAMatcher(t *testing.T) {
	m := newUAMatcher(DefaultBotPatterns())
	f := func(ua string, want bool) {
		t.Helper()
		if got := m.find(ua); got != want {
			t.Errorf("find(%q) = %v, want %v", ua, got, want)
		}
	}
	f("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true)
	f("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36", true)
	f("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36", true)
	f("python-requests/2.31.0", true)
	f("curl/8.4.0", true)
	f("Go-http-client/1.1", true)
	f("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true)
	f("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", true)
	f("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", false)
	f("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", false)
	f("Mozilla/5.0 (Linux; Android 13; CUBOT KINGKONG 7 Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36", false)
	f("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 YaBrowser/24.1", false)
	f("", false)

	custom := newUAMatcher([]string{"he", "she", "his", "hers"})
	for _, c := range []struct {
		s    string
		want bool
	}{{"ushers", true}, {"USHERS", true}, {"xhix", false}, {"ahishe", true}, {"h", false}, {"s h e", false}} {
		if got := custom.find(c.s); got != c.want {
			t.Errorf("custom find(%q) = %v, want %v", c.s, got, c.want)
		}
	}
	if newUAMatcher(nil).find("anything") {
		t.Error("empty matcher matched")
	}
}

// FuzzUAMatcher compares the automaton with a naive search.
func FuzzUAMatcher(f *testing.F) {
	f.Add("Mozilla/5.0 (compatible; Googlebot/2.1)", "bot/,crawl,Spider")
	f.Add("ababcabcd", "abcd,bc,cab")
	f.Add("xHEADLESSx", "headless")
	f.Fuzz(func(t *testing.T, ua, list string) {
		var patterns []string
		for _, p := range strings.Split(list, ",") {
			if p != "" && len(p) <= maxPatternLen {
				patterns = append(patterns, p)
			}
		}
		if len(patterns) > 50 {
			patterns = patterns[:50]
		}
		want := false
		lua := asciiLower(ua)
		for _, p := range patterns {
			if strings.Contains(lua, asciiLower(p)) {
				want = true
			}
		}
		if got := newUAMatcher(patterns).find(ua); got != want {
			t.Fatalf("find(%q) with %q = %v, want %v", ua, patterns, got, want)
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = lower(b[i])
	}
	return string(b)
}
