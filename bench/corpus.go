package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// idHexLen is the width of a generated request id. The attacker overwrites it in
// place with a per-send id, so every request on the wire is unique and Kairos's
// idempotent notices count every win.
const idHexLen = 16

// Request is one pre-encoded bid request with what the exchange simulation needs
// to know about it.
type Request struct {
	// Name identifies the request: the file name for replayed requests.
	Name string
	// Body is the JSON bid request as sent. The attacker never modifies it.
	Body []byte
	// TMax is the request's deadline; zero when it has none.
	TMax time.Duration
	// IDOffset is where the idHexLen hex digit request id starts in Body, or -1
	// when the id cannot be rewritten and is sent as is.
	IDOffset int
	// Imps holds each imp's floors, for the auction.
	Imps []Imp
}

// Imp is what the auction needs to know about one impression.
type Imp struct {
	// ID is the imp id.
	ID string
	// Floor is the imp's bidfloor CPM.
	Floor float64
	// Deals are the imp's private marketplace deals.
	Deals []Deal
}

// Deal is one private marketplace deal of an imp.
type Deal struct {
	// ID is the deal id.
	ID string
	// Floor is the deal's bidfloor CPM.
	Floor float64
}

// Corpus is the set of requests an attack cycles through.
type Corpus []Request

// imp returns the imp with the given id, or nil.
func (r *Request) imp(id string) *Imp {
	for i := range r.Imps {
		if r.Imps[i].ID == id {
			return &r.Imps[i]
		}
	}
	return nil
}

// requestMeta is the part of a bid request that Replay reads for the auction.
type requestMeta struct {
	TMax int64 `json:"tmax"`
	Imp  []struct {
		ID       string  `json:"id"`
		BidFloor float64 `json:"bidfloor"`
		PMP      *struct {
			Deals []struct {
				ID       string  `json:"id"`
				BidFloor float64 `json:"bidfloor"`
			} `json:"deals"`
		} `json:"pmp"`
	} `json:"imp"`
}

// newRequest describes body. Bodies that do not decode are kept, without floors,
// because an exchange sends malformed requests too and the bidder must answer them.
func newRequest(name string, body []byte) Request {
	r := Request{Name: name, Body: body, IDOffset: idOffset(body)}
	var meta requestMeta
	_ = json.Unmarshal(body, &meta) // best effort: keeps whatever decoded
	r.TMax = time.Duration(meta.TMax) * time.Millisecond
	for _, imp := range meta.Imp {
		i := Imp{ID: imp.ID, Floor: imp.BidFloor}
		if imp.PMP != nil {
			for _, d := range imp.PMP.Deals {
				i.Deals = append(i.Deals, Deal{ID: d.ID, Floor: d.BidFloor})
			}
		}
		r.Imps = append(r.Imps, i)
	}
	return r
}

// idOffset finds a rewritable id: the body must start with {"id":" followed by
// idHexLen lowercase hex digits and a quote, as the Generator writes it.
func idOffset(body []byte) int {
	const prefix = `{"id":"`
	if !bytes.HasPrefix(body, []byte(prefix)) || len(body) < len(prefix)+idHexLen+1 {
		return -1
	}
	id := body[len(prefix) : len(prefix)+idHexLen]
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return -1
		}
	}
	if body[len(prefix)+idHexLen] != '"' {
		return -1
	}
	return len(prefix)
}

// putHex writes v as idHexLen lowercase hex digits into dst.
func putHex(dst []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := idHexLen - 1; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

// Replay reads every *.json file in dir, in name order, as a request. The bodies
// are sent byte for byte; files that are not valid requests are kept, so that a
// replay also checks how the bidder answers malformed input.
func Replay(dir string) (Corpus, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", dir, err)
	}
	sort.Strings(names)
	c := make(Corpus, 0, len(names))
	for _, name := range names {
		body, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		c = append(c, newRequest(filepath.Base(name), body))
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("replay %s: no *.json files", dir)
	}
	return c, nil
}

// WriteDir writes each request to dir as NNNNNN.json, ready for Replay.
func (c Corpus) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write corpus: %w", err)
	}
	for i, r := range c {
		name := filepath.Join(dir, fmt.Sprintf("%06d.json", i))
		if err := os.WriteFile(name, r.Body, 0o644); err != nil {
			return fmt.Errorf("write corpus: %w", err)
		}
	}
	return nil
}

// ErrEmptyCorpus is returned when an attack is given no requests.
var ErrEmptyCorpus = errors.New("empty corpus")
