package money

import (
	"fmt"
	"strings"
)

// Rates converts between currencies at static rates, each given as the value of one
// unit of that currency in the base currency. A Rates is immutable after
// construction and safe for concurrent use.
type Rates struct {
	base  string
	perID map[string]float64
}

// DefaultRates are indicative static rates against USD, used when no rates are
// configured. Operators who bid in several currencies should configure their own.
const DefaultRates = "USD=1,EUR=1.08,GBP=1.27,CHF=1.13,JPY=0.0067,CAD=0.73,AUD=0.66,SEK=0.095,NOK=0.093,DKK=0.145,PLN=0.25"

// ParseRates reads "USD=1,EUR=1.08,…": the first entry is the base currency and
// must have rate 1.
func ParseRates(spec string) (*Rates, error) {
	r := &Rates{perID: map[string]float64{}}
	for i, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		code, val, ok := strings.Cut(item, "=")
		code = strings.ToUpper(strings.TrimSpace(code))
		if !ok || len(code) != 3 {
			return nil, fmt.Errorf("currency rate %q: want CODE=RATE with a 3-letter ISO 4217 code", item)
		}
		m, err := Parse(val)
		if err != nil || m <= 0 {
			return nil, fmt.Errorf("currency rate %q: want a positive decimal rate", item)
		}
		if i == 0 {
			if m != Unit {
				return nil, fmt.Errorf("currency rate %q: the first (base) currency must have rate 1", item)
			}
			r.base = code
		}
		r.perID[code] = float64(m) / 1e6
	}
	if r.base == "" {
		return nil, fmt.Errorf("currency rates %q: empty", spec)
	}
	return r, nil
}

// Base returns the base currency code.
func (r *Rates) Base() string { return r.base }

// Known reports whether cur has a rate. An empty code means the base currency.
func (r *Rates) Known(cur string) bool {
	if cur == "" {
		return true
	}
	_, ok := r.perID[cur]
	return ok
}

// Convert converts m from currency from to currency to. An empty code means the
// base currency (OpenRTB's default is USD). ok is false when either is unknown.
func (r *Rates) Convert(m Micros, from, to string) (v Micros, ok bool) {
	if from == "" {
		from = r.base
	}
	if to == "" {
		to = r.base
	}
	if from == to {
		return m, true
	}
	rf, ok1 := r.perID[from]
	rt, ok2 := r.perID[to]
	if !ok1 || !ok2 {
		return 0, false
	}
	return Micros(float64(m)*rf/rt + 0.5), true
}
