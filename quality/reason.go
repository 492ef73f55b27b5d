package quality

// Reason says why a request failed screening. ReasonOK means it passed.
type Reason uint8

// The screening reasons.
const (
	// ReasonOK: the request passed screening.
	ReasonOK Reason = iota
	// ReasonPublisherBlocked: site/app/dooh publisher.id is on the blocklist.
	ReasonPublisherBlocked
	// ReasonDomainBlocked: site.domain, the host of site.page, app.domain or
	// a publisher domain is on the domain blocklist (or a subdomain of one).
	ReasonDomainBlocked
	// ReasonAppBlocked: app.bundle is on the app blocklist.
	ReasonAppBlocked
	// ReasonMissingIP: a web (site) request without a valid device.ip or
	// device.ipv6.
	ReasonMissingIP
	// ReasonMissingUA: a web (site) request without device.ua or device.sua.
	ReasonMissingUA
	// ReasonIPBlocked: device.ip or device.ipv6 is in a blocklisted range.
	ReasonIPBlocked
	// ReasonUABot: the user agent matches a bot, crawler or headless-browser
	// pattern.
	ReasonUABot
	numReasons
)

var reasonNames = [numReasons]string{"ok", "publisher_blocked", "domain_blocked", "app_blocked",
	"missing_ip", "missing_ua", "ip_blocked", "ua_bot"}

// String returns the reason's name as used in metrics and reports.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every reason name except "ok", for reports and dashboards.
func Reasons() []string { return append([]string(nil), reasonNames[1:]...) }
