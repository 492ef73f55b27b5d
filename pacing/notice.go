package pacing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/kairos-rtb/kairos/money"
	"github.com/valyala/fasthttp"
)

// Notice verification errors; the notice handlers map them to 400, 403 and 410.
var (
	// ErrMalformed: a required parameter is missing or unreadable.
	ErrMalformed = errors.New("malformed notice")
	// ErrForged: the signature does not match the parameters.
	ErrForged = errors.New("forged notice")
	// ErrExpired: the notice URL is past its expiry.
	ErrExpired = errors.New("expired notice")
	// ErrWeakSecret: the notice secret is shorter than 16 bytes.
	ErrWeakSecret = errors.New("notice secret shorter than 16 bytes")
)

// Kind is the kind of a notice URL; it is part of what is signed, so a loss
// URL cannot be turned into a win URL.
type Kind uint8

// The notice kinds, each served on /notice/<name>.
const (
	// KindWin is the OpenRTB nurl.
	KindWin Kind = iota + 1
	// KindBill is the OpenRTB burl.
	KindBill
	// KindLoss is the OpenRTB lurl.
	KindLoss
	// KindClick is the click-through URL.
	KindClick
	// KindImp is the impression pixel placed in the ad markup.
	KindImp
)

var kindNames = [...]string{"", "win", "bill", "loss", "click", "imp"}

// String returns the kind's path name ("win", "bill", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return "unknown"
}

// KindOf returns the kind with the given path name.
func KindOf(name string) (Kind, bool) {
	for i := 1; i < len(kindNames); i++ {
		if kindNames[i] == name {
			return Kind(i), true
		}
	}
	return 0, false
}

// NoticePath is the path prefix of every notice URL.
const NoticePath = "/notice/"

// Macros the exchange substitutes in notice URLs; they are left literally in
// the URL.
const (
	// MacroAuctionPrice is replaced by the clearing price (win, bill, imp).
	MacroAuctionPrice = "${AUCTION_PRICE}"
	// MacroAuctionLoss is replaced by the loss reason code (loss).
	MacroAuctionLoss = "${AUCTION_LOSS}"
	// MacroAuctionMinToWin is replaced by the minimum bid that would have
	// won, in the bid's currency and units (loss; OpenRTB 2.6 section 4.4),
	// by exchanges that report it.
	MacroAuctionMinToWin = "${AUCTION_MIN_TO_WIN}"
)

// Notice is what a signed notice URL carries. Every field is signed. Strings
// returned by Signer.Verify point into the request and are valid only until
// the request is released; use Clone to keep them.
type Notice struct {
	// Kind is the URL's kind (from its path; not a query parameter).
	Kind Kind
	// Holder and Seq identify the reservation: the lease holder (instance)
	// that reserved it and its sequence number within the campaign. Together
	// with CampaignID they are the bid's identity (see AppendBidID).
	Holder string
	Seq    uint64
	// CampaignID, CreativeID and ImpID say what was bid.
	CampaignID, CreativeID, ImpID string
	// Day is the campaign-local day ("YYYY-MM-DD") whose lease holds the reservation.
	Day string
	// Reserved is the per-impression reservation in the campaign's currency, micros.
	Reserved money.Micros
	// Price is the bid price (CPM, micros) in Currency, the bid response
	// currency in which the exchange reports the clearing price.
	Price    money.Micros
	Currency string
	// WindowEnd is when the reservation is released without a notice (Unix
	// seconds); Expiry is when the URL stops being accepted (Unix seconds).
	WindowEnd, Expiry int64
	// Phase is the user's purchase phase at bid time, for reports.
	Phase uint8
	// VariantPhase is the phase the creative's parts were chosen for
	// (creatives.Variant.Phase) where it differs from Phase: purchased, for
	// a user who bought the product they last viewed. 0 means Phase; the URL
	// carries it only when it differs. See ShownPhase.
	VariantPhase uint8
	// Exchange names the exchange, for reports and price decoding.
	Exchange string
	// User is an opaque user key for frequency capping. Set it only when the
	// bid was personalised with consent: it travels in the URL.
	User string
	// Publisher (site domain or app bundle), Country, Device, Format and
	// BidTime (Unix seconds) describe the auction for reports, so that wins,
	// losses and clicks are counted under the same dimensions as the bid.
	Publisher, Country string
	Device, Format     uint8
	BidTime            int64
}

// Clone returns a copy of n whose strings do not point into a request.
func (n *Notice) Clone() Notice {
	c := *n
	c.Holder = string([]byte(n.Holder))
	c.CampaignID = string([]byte(n.CampaignID))
	c.CreativeID = string([]byte(n.CreativeID))
	c.ImpID = string([]byte(n.ImpID))
	c.Day = string([]byte(n.Day))
	c.Currency = string([]byte(n.Currency))
	c.Exchange = string([]byte(n.Exchange))
	c.User = string([]byte(n.User))
	c.Publisher = string([]byte(n.Publisher))
	c.Country = string([]byte(n.Country))
	return c
}

// ShownPhase returns the phase the creative's parts were chosen for, which
// the creative bandit learns under.
func (n *Notice) ShownPhase() uint8 {
	if n.VariantPhase != 0 {
		return n.VariantPhase
	}
	return n.Phase
}

// AppendBidID appends the bid's identity "<holder>.<seq in hex>" to dst.
func (n *Notice) AppendBidID(dst []byte) []byte { return appendBidID(dst, n.Holder, n.Seq) }

func appendBidID(dst []byte, holder string, seq uint64) []byte {
	dst = append(dst, holder...)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, seq, 16)
}

// sigLen is the length of the truncated HMAC-SHA256 tag: 128 bits.
const sigLen = 16

// Signer signs and verifies notice URLs with HMAC-SHA256 under a secret
// (KAIROS_NOTICE_SECRET). Every instance must share the secret so that any
// instance can verify any instance's URLs. A Signer is safe for concurrent use.
type Signer struct {
	pool sync.Pool
}

type signState struct {
	mac   hash.Hash
	buf   []byte // the signed payload
	query []byte // the URL query shared by the URLs of one notice
	sum   [sha256.Size]byte
}

// NewSigner returns a Signer for secret, which must be at least 16 bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < 16 {
		return nil, ErrWeakSecret
	}
	key := append([]byte(nil), secret...)
	s := &Signer{}
	s.pool.New = func() any {
		return &signState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 256), query: make([]byte, 0, 512)}
	}
	return s, nil
}

// tag computes the truncated MAC of st.buf into st.sum[:sigLen].
func (st *signState) tag() []byte {
	st.mac.Reset()
	st.mac.Write(st.buf)
	return st.mac.Sum(st.sum[:0])[:sigLen]
}

// field adds one length-prefixed value to the signed payload, so that no
// value can bleed into its neighbour.
func field(buf []byte, v []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(v)))
	return append(buf, v...)
}

// AppendNoticeURL appends the signed notice URL of kind for n to dst:
// <base>/notice/<kind>?b=…&c=…&…&s=<signature>, followed by
// &price=${AUCTION_PRICE} (win, bill, imp) or
// &loss=${AUCTION_LOSS}&price=${AUCTION_MIN_TO_WIN} (loss).
// base is the public base URL (KAIROS_PUBLIC_URL) without a trailing slash.
// It does not allocate once dst has room.
func (s *Signer) AppendNoticeURL(dst []byte, kind Kind, base string, n *Notice) []byte {
	var end [1]int
	return s.AppendNoticeURLs(dst, base, n, []Kind{kind}, end[:])
}

// AppendNoticeURLs appends the signed URLs of every kind in kinds for the same
// notice n, one after another, and sets ends[i] to the end of URL i in dst (URL
// i starts where URL i-1 ends). The query is built and escaped once and only
// the signature, which covers the kind, is computed per URL: a bid's three
// notice URLs cost little more than one. ends must be as long as kinds. It does
// not allocate once dst has room.
func (s *Signer) AppendNoticeURLs(dst []byte, base string, n *Notice, kinds []Kind, ends []int) []byte {
	st := s.pool.Get().(*signState)
	defer s.pool.Put(st)
	// The payload starts with the kind byte, set per URL below.
	buf := append(st.buf[:0], 0)
	q := st.query[:0]

	// Each value is appended to the query, and its unescaped bytes to the payload.
	str := func(name, v string) {
		q = append(q, name...)
		q = appendQueryEscape(q, v)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	num := func(name string, v int64) {
		q = append(q, name...)
		i := len(q)
		q = strconv.AppendInt(q, v, 10)
		buf = field(buf, q[i:])
	}
	q = append(q, "?b="...)
	i := len(q)
	q = appendBidID(q, n.Holder, n.Seq) // holder is [a-z0-9-], no escaping needed
	buf = field(buf, q[i:])
	str("&c=", n.CampaignID)
	str("&i=", n.ImpID)
	str("&cr=", n.CreativeID)
	str("&d=", n.Day)
	num("&r=", int64(n.Reserved))
	num("&p=", int64(n.Price))
	str("&cur=", n.Currency)
	num("&e=", n.WindowEnd)
	num("&x=", n.Expiry)
	num("&ph=", int64(n.Phase))
	str("&ex=", n.Exchange)
	str("&pub=", n.Publisher)
	str("&co=", n.Country)
	num("&dv=", int64(n.Device))
	num("&fm=", int64(n.Format))
	num("&t=", n.BidTime)
	if n.User != "" {
		str("&u=", n.User)
	} else {
		buf = append(buf, 0)
	}
	// Only where it differs, so most URLs stay as short as before and URLs
	// signed before the parameter existed still verify.
	if n.VariantPhase != 0 && n.VariantPhase != n.Phase {
		num("&vp=", int64(n.VariantPhase))
	}
	q = append(q, "&s="...)
	st.buf, st.query = buf, q

	for k, kind := range kinds {
		dst = append(dst, base...)
		dst = append(dst, NoticePath...)
		dst = append(dst, kind.String()...)
		dst = append(dst, q...)
		st.buf[0] = byte(kind)
		dst = base64.RawURLEncoding.AppendEncode(dst, st.tag())
		switch kind {
		case KindLoss:
			dst = append(dst, "&loss="...)
			dst = append(dst, MacroAuctionLoss...)
			dst = append(dst, "&price="...)
			dst = append(dst, MacroAuctionMinToWin...)
		case KindWin, KindBill, KindImp:
			dst = append(dst, "&price="...)
			dst = append(dst, MacroAuctionPrice...)
		}
		ends[k] = len(dst)
	}
	return dst
}

// Verify checks a notice URL's query arguments for kind and returns its
// notice: ErrMalformed for missing or unreadable parameters, ErrForged when
// the signature does not match (compared in constant time), ErrExpired when
// the URL is past its expiry at now. The notice's strings point into args.
func (s *Signer) Verify(kind Kind, args *fasthttp.Args, now time.Time) (Notice, error) {
	var n Notice
	n.Kind = kind
	sig := args.Peek("s")
	if base64.RawURLEncoding.DecodedLen(len(sig)) != sigLen {
		return n, ErrMalformed
	}
	var got [sigLen + 2]byte
	if _, err := base64.RawURLEncoding.Decode(got[:], sig); err != nil {
		return n, ErrMalformed
	}
	st := s.pool.Get().(*signState)
	defer s.pool.Put(st)
	buf := append(st.buf[:0], byte(kind))
	malformed := false
	str := func(name string, required bool) string {
		v := args.Peek(name)
		if required && len(v) == 0 {
			malformed = true
		}
		buf = field(buf, v)
		return b2s(v)
	}
	num := func(name string) int64 {
		v := args.Peek(name)
		buf = field(buf, v)
		x, err := strconv.ParseInt(b2s(v), 10, 64)
		if err != nil || x < 0 {
			malformed = true
		}
		return x
	}
	bid := str("b", true)
	n.CampaignID = str("c", true)
	n.ImpID = str("i", false)
	n.CreativeID = str("cr", false)
	n.Day = str("d", true)
	n.Reserved = money.Micros(num("r"))
	n.Price = money.Micros(num("p"))
	n.Currency = str("cur", false)
	n.WindowEnd = num("e")
	n.Expiry = num("x")
	ph := num("ph")
	n.Exchange = str("ex", false)
	n.Publisher = str("pub", false)
	n.Country = str("co", false)
	dv, fm := num("dv"), num("fm")
	n.BidTime = num("t")
	n.User = str("u", false)
	vp := int64(0)
	if args.Has("vp") {
		vp = num("vp")
	}
	st.buf = buf
	if malformed || ph > 255 || dv > 255 || fm > 255 || vp > 255 || n.Price <= 0 {
		return n, ErrMalformed
	}
	n.Phase, n.Device, n.Format, n.VariantPhase = uint8(ph), uint8(dv), uint8(fm), uint8(vp)
	dot := -1
	for i := len(bid) - 1; i >= 0; i-- {
		if bid[i] == '.' {
			dot = i
			break
		}
	}
	if dot <= 0 {
		return n, ErrMalformed
	}
	seq, err := strconv.ParseUint(bid[dot+1:], 16, 64)
	if err != nil {
		return n, ErrMalformed
	}
	n.Holder, n.Seq = bid[:dot], seq
	if !hmac.Equal(st.tag(), got[:sigLen]) {
		return n, ErrForged
	}
	if now.Unix() >= n.Expiry {
		return n, ErrExpired
	}
	return n, nil
}

func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendQueryEscape appends v escaped for a URL query value.
func appendQueryEscape(dst []byte, v string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}
