package segments

import (
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Maximum profile lifetime an import line or Put may ask for.
const maxTTL = 3650 * 24 * time.Hour

// lineDecoder turns import lines ({"user":…,"phase":…,…}) into records without
// allocating: the record's strings alias the line (or the scanner's buffer) and
// are valid until the next decode.
type lineDecoder struct {
	sc  scanner
	rec record
	// user and ttl of the last decoded line.
	user string
	ttl  time.Duration
	// since is the explicit since of the last line, zero if none.
	since time.Time
	phase Phase
	// interests and purchased collect a line's lists before validation.
	interests, purchased []string
}

// str converts b to a string without copying; see lineDecoder.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// decode parses one line into d.rec, d.user and d.ttl. Signals without an
// explicit since are dated now; a missing ttl is def.
func (d *lineDecoder) decode(line []byte, now time.Time, def time.Duration) error {
	return d.decodeFor("", line, now, def)
}

// decodeFor is decode for a known user: the line may omit "user", and must not
// name another.
func (d *lineDecoder) decodeFor(user string, line []byte, now time.Time, def time.Duration) error {
	s := &d.sc
	s.reset(line)
	r := &d.rec
	r.reset()
	d.user, d.ttl, d.since, d.phase = "", def, time.Time{}, PhaseUnknown
	var (
		phaseSet bool
		prod     Product
		hasProd  bool
	)
	// Lists are collected first and validated once the since is known.
	interests := d.interests[:0]
	purchased := d.purchased[:0]
	defer func() {
		clear(interests)
		clear(purchased)
		d.interests, d.purchased = interests[:0], purchased[:0]
	}()
	if err := s.open('{'); err != nil {
		return err
	}
	for n := 0; ; n++ {
		ok, err := s.next(n, '}')
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		if s.null() {
			continue
		}
		switch string(k) {
		case "user":
			v, err := s.str()
			if err != nil {
				return fieldErr("user", "want a string")
			}
			d.user = str(v)
		case "phase":
			v, err := s.str()
			if err != nil {
				return fieldErr("phase", "want a string")
			}
			p, ok := phaseByName(v)
			if !ok {
				return fieldErr("phase", "unknown phase %q (want one of unknown, awareness, consideration, intent, purchased)", v)
			}
			d.phase, phaseSet = p, true
		case "since":
			v, err := s.str()
			if err != nil {
				return fieldErr("since", "want an RFC 3339 time string")
			}
			t, err := time.Parse(time.RFC3339Nano, str(v))
			if err != nil || t.UnixMilli() <= 0 {
				return fieldErr("since", "want an RFC 3339 time after 1970, got %q", v)
			}
			d.since = t
		case "ttl":
			ttl, err := d.readTTL()
			if err != nil {
				return err
			}
			d.ttl = ttl
		case "interests":
			if err := s.open('['); err != nil {
				return fieldErr("interests", "want an array of strings")
			}
			for i := 0; ; i++ {
				ok, err := s.next(i, ']')
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				v, err := s.str()
				if err != nil {
					return fieldErr("interests", "want an array of strings")
				}
				if len(interests) == maxInterests {
					return fieldErr("interests", "at most %d", maxInterests)
				}
				if len(v) == 0 {
					return fieldErr("interests", "empty interest")
				}
				interests = append(interests, str(v))
			}
		case "purchased":
			if err := s.open('['); err != nil {
				return fieldErr("purchased", "want an array of product ids")
			}
			for i := 0; ; i++ {
				ok, err := s.next(i, ']')
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				v, err := s.str()
				if err != nil {
					return fieldErr("purchased", "want an array of product ids")
				}
				if len(purchased) == maxPurchased {
					return fieldErr("purchased", "at most %d", maxPurchased)
				}
				if len(v) == 0 {
					return fieldErr("purchased", "empty product id")
				}
				purchased = append(purchased, str(v))
			}
		case "product":
			if err := readProduct(s, &prod); err != nil {
				return err
			}
			hasProd = true
		default:
			return fieldErr(string(k), "unknown field")
		}
	}
	if err := s.end(); err != nil {
		return err
	}
	if user != "" {
		if d.user != "" && d.user != user {
			return fieldErr("user", "%q does not match the path's %q", d.user, user)
		}
		d.user = user
	}
	if err := checkUser(d.user); err != nil {
		return err
	}
	if !phaseSet {
		return fieldErr("phase", "required")
	}
	ms := now.UnixMilli()
	if !d.since.IsZero() {
		ms = d.since.UnixMilli()
	}
	r.setPhase(d.phase, ms)
	if hasProd {
		if err := checkProduct(&prod); err != nil {
			return err
		}
		r.seeProduct(prod, ms)
	}
	for _, v := range interests {
		if err := checkText("interests", v, maxIDLen); err != nil {
			return err
		}
		r.addInterest(v)
	}
	for _, v := range purchased {
		if err := checkText("purchased", v, maxIDLen); err != nil {
			return err
		}
		r.buy(v, ms)
	}
	return nil
}

func (d *lineDecoder) readTTL() (time.Duration, error) {
	s := &d.sc
	var ttl time.Duration
	if s.peek() == '"' {
		v, _ := s.str()
		t, err := parseTTL(str(v))
		if err != nil {
			return 0, fieldErr("ttl", "want a duration like \"720h\" or \"30d\", got %q", v)
		}
		ttl = t
	} else {
		v, err := s.number()
		if err != nil {
			return 0, fieldErr("ttl", "want a duration string or seconds")
		}
		sec, err := strconv.ParseInt(str(v), 10, 64)
		if err != nil || sec > int64(maxTTL/time.Second) {
			return 0, fieldErr("ttl", "want whole seconds, got %s", v)
		}
		ttl = time.Duration(sec) * time.Second
	}
	if ttl < time.Second || ttl > maxTTL {
		return 0, fieldErr("ttl", "want 1s to %s, got %s", maxTTL, ttl)
	}
	return ttl, nil
}

// parseTTL parses a Go duration or a whole number of days ("30d").
func parseTTL(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 3650 {
			return 0, ErrInvalid
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// readProduct reads {"id":…,"name":…,"price":…}; price may be a string or number.
func readProduct(s *scanner, p *Product) error {
	if err := s.open('{'); err != nil {
		return fieldErr("product", "want an object")
	}
	for n := 0; ; n++ {
		ok, err := s.next(n, '}')
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		k, err := s.key()
		if err != nil {
			return err
		}
		if s.null() {
			continue
		}
		var v []byte
		switch string(k) {
		case "id", "name":
			v, err = s.str()
		case "price":
			if s.peek() == '"' {
				v, err = s.str()
			} else {
				v, err = s.number()
			}
		default:
			return fieldErr("product."+string(k), "unknown field")
		}
		if err != nil {
			return fieldErr("product."+string(k), "want a string")
		}
		switch string(k) {
		case "id":
			p.ID = str(v)
		case "name":
			p.Name = str(v)
		default:
			p.Price = str(v)
		}
	}
}

// phaseByName looks a phase up without allocating.
func phaseByName(b []byte) (Phase, bool) {
	for i, n := range phaseNames {
		if n == string(b) {
			return Phase(i), true
		}
	}
	return PhaseUnknown, false
}
