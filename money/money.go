package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Micros is an amount in millionths of a currency unit.
type Micros int64

// Unit is one whole currency unit in micros.
const Unit Micros = 1_000_000

// ErrSyntax is returned for text that is not a decimal amount.
var ErrSyntax = errors.New("not a decimal amount")

// FromFloat converts a float amount (as found in OpenRTB) to micros, rounding to
// the nearest micro.
func FromFloat(f float64) Micros {
	return Micros(math.Round(f * 1e6))
}

// Float returns m as a float amount for the OpenRTB edge.
func (m Micros) Float() float64 {
	return float64(m) / 1e6
}

// CPMToImpression converts a price per thousand impressions into the cost of one
// impression, rounding down so a reservation never exceeds the CPM price.
func CPMToImpression(cpm Micros) Micros {
	return cpm / 1000
}

// ImpressionToCPM converts the cost of one impression back to a CPM price.
func ImpressionToCPM(imp Micros) Micros {
	return imp * 1000
}

// Parse reads a decimal amount such as "12", "-3.5" or "0.000001" exactly, without
// going through a float. More than six decimals is an error.
func Parse(s string) (Micros, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrSyntax
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, ErrSyntax
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("%w: more than 6 decimals", ErrSyntax)
	}
	var whole int64
	if intPart != "" {
		v, err := strconv.ParseUint(intPart, 10, 63)
		if err != nil || v > math.MaxInt64/1_000_000 {
			return 0, ErrSyntax
		}
		whole = int64(v)
	}
	var f int64
	for i := 0; i < 6; i++ {
		f *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return 0, ErrSyntax
			}
			f += int64(c - '0')
		}
	}
	v := Micros(whole*1e6 + f)
	if neg {
		v = -v
	}
	return v, nil
}

// String formats m as a decimal with at least two and at most six decimals.
func (m Micros) String() string {
	return string(m.Append(nil))
}

// Append appends m as a decimal (at least two decimals, trailing zeros beyond
// that trimmed) to dst and returns the extended buffer.
func (m Micros) Append(dst []byte) []byte {
	v := int64(m)
	if v < 0 {
		dst = append(dst, '-')
		if v == math.MinInt64 {
			return append(dst, "9223372036854.775808"...)
		}
		v = -v
	}
	dst = strconv.AppendInt(dst, v/1e6, 10)
	frac := v % 1e6
	var buf [6]byte
	for i := 5; i >= 0; i-- {
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 6
	for n > 2 && buf[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, buf[:n]...)
}

// MarshalJSON writes m as a JSON number in currency units.
func (m Micros) MarshalJSON() ([]byte, error) { return m.Append(nil), nil }

// UnmarshalJSON reads a JSON number or numeric string in currency units.
func (m *Micros) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := Parse(s)
	if err != nil {
		return fmt.Errorf("amount %s: %w", b, err)
	}
	*m = v
	return nil
}

// UnmarshalYAML reads a YAML scalar in currency units, exactly.
func (m *Micros) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want an amount, got a %s", n.Line, kindName(n.Kind))}}
	}
	v, err := Parse(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: amount %q: %v", n.Line, n.Value, err)}}
	}
	*m = v
	return nil
}

// MarshalYAML writes m as a decimal number.
func (m Micros) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: m.String()}, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}
