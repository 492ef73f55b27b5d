// Package quality screens bid requests for invalid traffic before any lookup,
// so that Kairos never bids on it, and reports on their supply chain for the
// campaigns that require a complete or allowed one.
//
// Screen blocks, by reason (counted in kairos_screen_requests_total): blocked
// domains (subdomains included), app bundles and publisher ids; web (site)
// requests without a valid IP address or a user agent; device.ip and
// device.ipv6 in the IP blocklist (IPv4 and IPv6 addresses and CIDR ranges
// read from files, for example data-centre ranges); and user agents (and
// structured user agent brands) containing a bot, crawler, headless-browser
// or HTTP-library pattern. SupplyChain reads source.schain (or the OpenRTB
// 2.5 source.ext.schain) once per request: whether it is complete and
// whether every seller in it is on the allow list.
//
// # Blocklist files
//
// One address or CIDR prefix a line, IPv4 or IPv6; '#' starts a comment;
// blank lines are ignored; host bits of a prefix are masked; IPv4-mapped IPv6
// entries count as IPv4. Reload re-reads every file and swaps the merged list
// in atomically; if any line is bad, it keeps the previous list and returns a
// *ListError naming each bad line as file:line. Run reloads when a file's
// size or modification time changes.
//
// # Hot path
//
// Screen and SupplyChain do not allocate and do not block: they read
// immutable data (the IP list through an atomic.Pointer) and lower-case
// names into stack buffers. IP ranges are kept sorted and merged, IPv4 as
// uint32 pairs and IPv6 as 128-bit pairs, and looked up by binary search
// (about 30 ns with 100,000 CIDRs); user agents are matched by an
// Aho-Corasick automaton in one pass over the string. Reload and Run
// allocate freely.
package quality
