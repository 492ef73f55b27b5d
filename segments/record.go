package segments

import (
	"errors"
	"time"
	"unicode/utf8"
)

// Limits on what one profile may hold; longer input is rejected, not truncated.
const (
	maxUserLen      = 256
	maxIDLen        = 256 // product ids, interests, purchased skus
	maxNameLen      = 512
	maxPriceLen     = 32
	maxInterests    = 32
	maxPurchased    = 100
	recordVersion   = 1
	maxRecordLength = 1 << 20
)

// record is the stored form of a profile: the signals its phase is derived from
// plus what creatives show. Strings may alias the buffer the record was decoded
// from.
type record struct {
	// seen holds the unix milliseconds of the latest signal for each phase
	// (index PhaseAwareness…PhasePurchased); 0 = none.
	seen      [NumPhases]int64
	productAt int64
	product   Product
	interests []string
	// purchased and boughtAt are parallel: sku and unix ms of its latest purchase,
	// kept sorted by time descending, then sku.
	purchased []string
	boughtAt  []int64
}

func (r *record) reset() {
	r.seen = [NumPhases]int64{}
	r.productAt = 0
	r.product = Product{}
	clear(r.interests)
	r.interests = r.interests[:0]
	clear(r.purchased)
	r.purchased = r.purchased[:0]
	r.boughtAt = r.boughtAt[:0]
}

// The stored value (version 1) is binary, to decode without parsing or allocating:
//
//	byte     version (1)
//	uvarint  ×4  last signal per phase, unix ms (awareness, consideration, intent, purchased; 0 = none)
//	uvarint  product time, unix ms
//	string   ×3  product id, name, price
//	uvarint  n interests, then n strings
//	uvarint  n purchases, then n × (string sku, uvarint unix ms)
//
// where string is a uvarint byte length followed by the bytes.

// appendRecord appends the encoding of r to dst.
func appendRecord(dst []byte, r *record) []byte {
	dst = append(dst, recordVersion)
	for p := PhaseAwareness; p < NumPhases; p++ {
		dst = appendUvarint(dst, uint64(max(r.seen[p], 0)))
	}
	dst = appendUvarint(dst, uint64(max(r.productAt, 0)))
	dst = appendStr(dst, r.product.ID)
	dst = appendStr(dst, r.product.Name)
	dst = appendStr(dst, r.product.Price)
	dst = appendUvarint(dst, uint64(len(r.interests)))
	for _, s := range r.interests {
		dst = appendStr(dst, s)
	}
	dst = appendUvarint(dst, uint64(len(r.purchased)))
	for i, s := range r.purchased {
		dst = appendStr(dst, s)
		dst = appendUvarint(dst, uint64(max(r.boughtAt[i], 0)))
	}
	return dst
}

func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func appendStr(dst []byte, s string) []byte {
	return append(appendUvarint(dst, uint64(len(s))), s...)
}

var errCorrupt = errors.New("corrupt profile record")

// decoder reads a stored record; its strings alias the input.
type decoder struct {
	s   string
	i   int
	err error
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.s) {
			d.err = errCorrupt
			return 0
		}
		b := d.s[d.i]
		d.i++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v
		}
	}
	d.err = errCorrupt
	return 0
}

func (d *decoder) int() int64 {
	v := d.uvarint()
	if v > 1<<62 {
		d.err = errCorrupt
		return 0
	}
	return int64(v)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.s)-d.i) {
		d.err = errCorrupt
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

// count reads a list length, refusing lengths the rest of the input cannot hold.
func (d *decoder) count(limit int) int {
	n := d.uvarint()
	if d.err != nil || n > uint64(limit) || n > uint64(len(d.s)-d.i) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

// decodeRecord decodes val into r, reusing r's slices. r's strings alias val.
func decodeRecord(val string, r *record) error {
	r.reset()
	if len(val) == 0 || val[0] != recordVersion || len(val) > maxRecordLength {
		return errCorrupt
	}
	d := decoder{s: val, i: 1}
	for p := PhaseAwareness; p < NumPhases; p++ {
		r.seen[p] = d.int()
	}
	r.productAt = d.int()
	r.product.ID = d.str()
	r.product.Name = d.str()
	r.product.Price = d.str()
	n := d.count(maxInterests)
	for range n {
		r.interests = append(r.interests, d.str())
	}
	n = d.count(maxPurchased)
	for range n {
		r.purchased = append(r.purchased, d.str())
		r.boughtAt = append(r.boughtAt, d.int())
	}
	if d.err == nil && d.i != len(d.s) {
		d.err = errCorrupt
	}
	return d.err
}

// phase derives the user's phase at now (unix ms) from the recorded signals:
//
//   - A purchase ends a journey: intent and consideration signals at or before
//     the latest purchase no longer count.
//   - intent while the latest add_to_cart/checkout (after the latest purchase)
//     is younger than Decay.Intent;
//   - else purchased while the latest purchase is younger than Decay.Purchased;
//   - else consideration while the latest product_view or intent signal (after
//     the latest purchase) is younger than Decay.Consideration;
//   - else awareness when any signal exists (until Decay.Awareness, if set, has
//     passed since the latest one);
//   - else unknown.
//
// It is a pure function of the signal times, so the order in which events
// arrive, and duplicates, do not matter. since is when the user entered the
// phase: its latest signal, or the moment a stronger signal decayed, whichever
// is later.
func (r *record) phase(d *Decay, now int64) (Phase, int64) {
	aw, co, in, pu := r.seen[PhaseAwareness], r.seen[PhaseConsideration], r.seen[PhaseIntent], r.seen[PhasePurchased]
	latest := max(aw, co, in, pu)
	if in <= pu {
		in = 0
	}
	if co <= pu {
		co = 0
	}
	var decayed int64 // latest moment a stronger signal decayed
	if in > 0 {
		h := d.Intent.Milliseconds()
		if now-in < h {
			return PhaseIntent, in
		}
		decayed = in + h
	}
	if pu > 0 {
		h := d.Purchased.Milliseconds()
		if now-pu < h {
			return PhasePurchased, max(pu, decayed)
		}
		decayed = max(decayed, pu+h)
	}
	if c := max(co, in); c > 0 {
		h := d.Consideration.Milliseconds()
		if now-c < h {
			return PhaseConsideration, max(c, decayed)
		}
		decayed = max(decayed, c+h)
	}
	if latest > 0 {
		if h := d.Awareness.Milliseconds(); h > 0 && now-latest >= h {
			return PhaseUnknown, 0
		}
		return PhaseAwareness, max(aw, decayed)
	}
	return PhaseUnknown, 0
}

// fill sets p from r as seen at now. p's slices are r's.
func (r *record) fill(p *Profile, user string, d *Decay, now time.Time) {
	ph, since := r.phase(d, now.UnixMilli())
	p.User = user
	p.Phase = ph
	p.Since = time.Time{}
	if since > 0 {
		p.Since = time.UnixMilli(since).UTC()
	}
	p.Product = r.product
	p.Interests = r.interests
	p.Purchased = r.purchased
}

// setPhase records an explicit phase (from an import or Put) as a signal at ms.
func (r *record) setPhase(p Phase, ms int64) {
	if p > PhaseUnknown && p < NumPhases {
		r.seen[p] = max(r.seen[p], ms)
	}
}

// seeProduct records that the user looked at pr at ms; the latest look wins,
// and equal times are decided by the product's fields so that arrival order
// never matters.
func (r *record) seeProduct(pr Product, ms int64) {
	if pr.ID == "" {
		return
	}
	if ms > r.productAt || (ms == r.productAt && productLess(r.product, pr)) {
		r.product = pr
		r.productAt = ms
	}
}

func productLess(a, b Product) bool {
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Price < b.Price
}

// buy records a purchase of sku at ms and keeps the list canonical.
func (r *record) buy(sku string, ms int64) {
	if sku == "" {
		return
	}
	for i, s := range r.purchased {
		if s == sku {
			if ms > r.boughtAt[i] {
				r.boughtAt[i] = ms
				r.sortPurchases()
			}
			return
		}
	}
	r.purchased = append(r.purchased, sku)
	r.boughtAt = append(r.boughtAt, ms)
	r.sortPurchases()
	if len(r.purchased) > maxPurchased {
		r.purchased = r.purchased[:maxPurchased]
		r.boughtAt = r.boughtAt[:maxPurchased]
	}
}

// sortPurchases orders purchases newest first, then by sku: an insertion sort,
// as the list is short and nearly sorted.
func (r *record) sortPurchases() {
	p, t := r.purchased, r.boughtAt
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && (t[j] > t[j-1] || (t[j] == t[j-1] && p[j] < p[j-1])); j-- {
			p[j], p[j-1] = p[j-1], p[j]
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
}

// addInterest appends s unless present.
func (r *record) addInterest(s string) {
	for _, x := range r.interests {
		if x == s {
			return
		}
	}
	r.interests = append(r.interests, s)
}

// checkUser validates a user id: 1 to 256 bytes of UTF-8 without whitespace or
// control characters (the id is embedded in key names and newline-separated
// invalidation messages).
func checkUser(u string) error {
	if u == "" {
		return fieldErr("user", "required")
	}
	if len(u) > maxUserLen {
		return fieldErr("user", "longer than %d bytes", maxUserLen)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f {
			return fieldErr("user", "must not contain spaces or control characters")
		}
	}
	if !utf8.ValidString(u) {
		return fieldErr("user", "not valid UTF-8")
	}
	return nil
}

// checkText validates a free-text field.
func checkText(field, s string, limit int) error {
	if len(s) > limit {
		return fieldErr(field, "longer than %d bytes", limit)
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, "not valid UTF-8")
	}
	return nil
}

// checkProduct validates a product; an empty product is valid.
func checkProduct(p *Product) error {
	if p.ID == "" && (p.Name != "" || p.Price != "") {
		return fieldErr("product.id", "required when a product is given")
	}
	if err := checkText("product.id", p.ID, maxIDLen); err != nil {
		return err
	}
	if err := checkText("product.name", p.Name, maxNameLen); err != nil {
		return err
	}
	if p.Price != "" && !isDecimal(p.Price) {
		return fieldErr("product.price", "want a decimal like \"89.00\", got %q", p.Price)
	}
	return checkText("product.price", p.Price, maxPriceLen)
}

// isDecimal reports whether s is a non-negative decimal number such as 89 or 89.00.
func isDecimal(s string) bool {
	if len(s) == 0 || len(s) > maxPriceLen {
		return false
	}
	dot, digits := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && digits > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// fromProfile builds a record from an explicit profile: its phase becomes a
// signal at Since (or now), its product and purchases are dated the same.
func fromProfile(r *record, p *Profile, now time.Time) error {
	r.reset()
	if err := checkUser(p.User); err != nil {
		return err
	}
	if p.Phase >= NumPhases {
		return fieldErr("phase", "invalid phase %d", p.Phase)
	}
	ms := now.UnixMilli()
	if !p.Since.IsZero() {
		ms = p.Since.UnixMilli()
		if ms <= 0 {
			return fieldErr("since", "before 1970")
		}
	}
	r.setPhase(p.Phase, ms)
	if err := checkProduct(&p.Product); err != nil {
		return err
	}
	r.seeProduct(p.Product, ms)
	if len(p.Interests) > maxInterests {
		return fieldErr("interests", "at most %d", maxInterests)
	}
	for _, s := range p.Interests {
		if s == "" {
			return fieldErr("interests", "empty interest")
		}
		if err := checkText("interests", s, maxIDLen); err != nil {
			return err
		}
		r.addInterest(s)
	}
	if len(p.Purchased) > maxPurchased {
		return fieldErr("purchased", "at most %d", maxPurchased)
	}
	for _, s := range p.Purchased {
		if s == "" {
			return fieldErr("purchased", "empty product id")
		}
		if err := checkText("purchased", s, maxIDLen); err != nil {
			return err
		}
		r.buy(s, ms)
	}
	return nil
}
