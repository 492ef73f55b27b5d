package quality

import (
	"fmt"
	"strings"
)

// Config lists what screening blocks. The zero value screens web requests
// for a missing IP or user agent and user agents for the default bot
// patterns, and blocks nothing else.
type Config struct {
	// IPBlocklistFiles are files of IPv4 and IPv6 addresses and CIDR ranges
	// (for example data-centre ranges), one a line; '#' starts a comment.
	// Reload re-reads them.
	IPBlocklistFiles []string
	// UABotPatterns are case-insensitive substrings of bot user agents. Empty
	// means DefaultBotPatterns(); to extend the defaults, append to them.
	UABotPatterns []string
	// BlockedDomains are site or app domains; a domain also blocks its
	// subdomains. Matched case-insensitively against site.domain, the host
	// of site.page, app.domain and publisher domains.
	BlockedDomains []string
	// BlockedApps are app bundles or store ids (app.bundle), matched
	// case-insensitively.
	BlockedApps []string
	// BlockedPublishers are publisher ids (site/app/dooh publisher.id),
	// matched exactly.
	BlockedPublishers []string
	// SellerAllowList names the sellers a supply chain may contain, for
	// campaigns that require it: "asi" (every seller id of that system) or
	// "asi:sid" (one seller). asi is matched case-insensitively, sid exactly.
	// Empty means every seller is allowed.
	SellerAllowList []string
	// AllowMissingIPOrUA lets web (site) requests without an IP address or a
	// user agent pass screening. Off by default: such requests are blocked.
	AllowMissingIPOrUA bool
}

// Limits on configured names and patterns.
const (
	maxPatternLen = 128
	maxPatterns   = 4096
	// The matcher's states are uint16: one per pattern byte, plus the root.
	maxPatternBytes = 65000
	maxNameLen      = 253
)

// DefaultBotPatterns returns the user-agent substrings screened by default:
// search and AI crawlers, link-preview fetchers, monitoring probes, headless
// and automated browsers, and HTTP client libraries. All are lower case.
func DefaultBotPatterns() []string {
	return []string{
		// generic markers (crawlers put "+http://their-site/bot.html" in the UA)
		"bot/", "bot;", "bot)", "crawl", "spider", "+http", "headless", "phantomjs",
		"slimerjs", "puppeteer", "playwright", "selenium", "webdriver", "lighthouse",
		// named crawlers and fetchers
		"googlebot", "adsbot-google", "mediapartners-google", "apis-google",
		"feedfetcher-google", "google-inspectiontool", "storebot-google", "bingbot",
		"bingpreview", "adidxbot", "slurp", "duckduckbot", "baiduspider", "yandexbot",
		"yandex.com/bots", "exabot", "ia_archiver", "facebookexternalhit", "facebot",
		"meta-externalagent", "twitterbot", "linkedinbot", "pinterestbot", "slackbot",
		"discordbot", "telegrambot", "whatsapp/", "skypeuripreview", "applebot",
		"petalbot", "semrushbot", "ahrefsbot", "mj12bot", "dotbot", "rogerbot",
		"bytespider", "gptbot", "chatgpt-user", "oai-searchbot", "ccbot", "claudebot",
		"claude-web", "anthropic-ai", "perplexitybot", "amazonbot", "dataforseobot",
		"seznambot", "qwantify",
		// monitoring
		"pingdom", "uptimerobot", "statuscake", "site24x7", "newrelicpinger",
		"datadogsynthetics", "gtmetrix",
		// HTTP libraries and tools
		"python-requests", "python-urllib", "python-httpx", "aiohttp", "go-http-client",
		"curl/", "wget/", "libwww-perl", "lwp::", "java/", "apache-httpclient",
		"node-fetch", "axios/", "undici", "postmanruntime", "insomnia/", "httpie/",
		"guzzlehttp", "scrapy", "mechanize", "httpunit", "nutch", "heritrix", "zgrab",
		"masscan", "nmap",
	}
}

// Validate reports the first invalid setting, naming its field.
func (c Config) Validate() error {
	if len(c.UABotPatterns) > maxPatterns {
		return fmt.Errorf("quality: ua_bot_patterns: %d patterns, at most %d", len(c.UABotPatterns), maxPatterns)
	}
	total := 0
	for i, p := range c.UABotPatterns {
		if p == "" || len(p) > maxPatternLen {
			return fmt.Errorf("quality: ua_bot_patterns[%d]: %q must be 1 to %d bytes", i, p, maxPatternLen)
		}
		total += len(p)
	}
	if total > maxPatternBytes {
		return fmt.Errorf("quality: ua_bot_patterns: %d bytes in all, at most %d", total, maxPatternBytes)
	}
	names := []struct {
		field string
		list  []string
	}{{"blocked_domains", c.BlockedDomains}, {"blocked_apps", c.BlockedApps},
		{"blocked_publishers", c.BlockedPublishers}, {"seller_allow_list", c.SellerAllowList}}
	for _, n := range names {
		for i, v := range n.list {
			if v == "" || len(v) > maxNameLen+64 || strings.ContainsAny(v, " \t\r\n") {
				return fmt.Errorf("quality: %s[%d]: %q is empty, too long or contains white space", n.field, i, v)
			}
		}
	}
	for i, d := range c.BlockedDomains {
		if len(d) > maxNameLen || strings.Contains(d, "/") {
			return fmt.Errorf("quality: blocked_domains[%d]: %q is not a domain name", i, d)
		}
	}
	for i, s := range c.SellerAllowList {
		if asi, _, _ := strings.Cut(s, ":"); asi == "" || len(asi) > maxNameLen {
			return fmt.Errorf("quality: seller_allow_list[%d]: %q is not asi or asi:sid", i, s)
		}
	}
	for i, f := range c.IPBlocklistFiles {
		if f == "" {
			return fmt.Errorf("quality: ip_blocklist_files[%d]: empty path", i)
		}
	}
	return nil
}
