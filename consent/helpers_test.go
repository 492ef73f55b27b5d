package consent

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// go-gdpr decodes TC strings but has no encoder, so the tests build real TCF
// v2.2 strings here, bit by bit, from "IAB Tech Lab – Consent string and
// vendor list formats v2" (core segment), and GPP strings from the GPP
// consent string specification v1 and its US section specifications.

// bitWriter appends big-endian bit fields.
type bitWriter struct {
	b []byte
	n uint
}

func (w *bitWriter) put(v uint64, bits uint) {
	for i := int(bits) - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[w.n/8] |= 0x80 >> (w.n % 8)
		}
		w.n++
	}
}

func (w *bitWriter) bool(b bool) {
	if b {
		w.put(1, 1)
	} else {
		w.put(0, 1)
	}
}

// base64url of the bits written, padded with zero bits to whole characters.
func (w *bitWriter) b64() string {
	s := base64.RawURLEncoding.EncodeToString(w.b)
	return s[:(w.n+5)/6]
}

// fib appends v (≥ 1) Fibonacci-coded, ending with "11".
func (w *bitWriter) fib(v int) {
	fibs := []int{1, 2}
	for fibs[len(fibs)-1] <= v {
		fibs = append(fibs, fibs[len(fibs)-1]+fibs[len(fibs)-2])
	}
	bits := make([]bool, len(fibs))
	top := 0
	for i := len(fibs) - 1; i >= 0; i-- {
		if fibs[i] <= v {
			v -= fibs[i]
			bits[i] = true
			if top == 0 {
				top = i
			}
		}
	}
	for i := 0; i <= top; i++ {
		w.bool(bits[i])
	}
	w.put(1, 1)
}

type restriction struct {
	purpose, typ uint8
	vendors      []uint16
}

// tcString describes a TCF v2.2 TC string (core segment).
type tcString struct {
	created             time.Time
	purposes            []int // purpose consents
	liPurposes          []int // purpose legitimate-interest transparency
	vendors             []uint16
	liVendors           []uint16
	restrictions        []restriction
	purposeOneTreatment bool
	rangeEncoding       bool
}

func (t tcString) encode() string {
	var w bitWriter
	created := t.created
	if created.IsZero() {
		created = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	}
	ds := uint64(created.UnixMilli() / 100)
	w.put(2, 6)    // Version
	w.put(ds, 36)  // Created
	w.put(ds, 36)  // LastUpdated
	w.put(7, 12)   // CmpId
	w.put(1, 12)   // CmpVersion
	w.put(1, 6)    // ConsentScreen
	w.put(3, 6)    // ConsentLanguage "DE"
	w.put(4, 6)    //
	w.put(150, 12) // VendorListVersion
	w.put(4, 6)    // TcfPolicyVersion 4 = TCF v2.2
	w.put(1, 1)    // IsServiceSpecific
	w.put(0, 1)    // UseNonStandardTexts
	w.put(0, 12)   // SpecialFeatureOptIns
	for p := 1; p <= 24; p++ {
		w.bool(slices.Contains(t.purposes, p))
	}
	for p := 1; p <= 24; p++ {
		w.bool(slices.Contains(t.liPurposes, p))
	}
	w.bool(t.purposeOneTreatment)
	w.put(3, 6) // PublisherCC "DE"
	w.put(4, 6)
	t.vendorSection(&w, t.vendors)
	t.vendorSection(&w, t.liVendors)
	w.put(uint64(len(t.restrictions)), 12)
	for _, r := range t.restrictions {
		w.put(uint64(r.purpose), 6)
		w.put(uint64(r.typ), 2)
		rangeEntries(&w, r.vendors)
	}
	// TC strings are whole bytes in base64url without padding.
	return base64.RawURLEncoding.EncodeToString(w.b)
}

func (t tcString) vendorSection(w *bitWriter, vendors []uint16) {
	maxID := uint16(0)
	for _, v := range vendors {
		maxID = max(maxID, v)
	}
	w.put(uint64(maxID), 16)
	w.bool(t.rangeEncoding)
	if t.rangeEncoding {
		rangeEntries(w, vendors)
		return
	}
	for v := uint16(1); v <= maxID; v++ {
		w.bool(slices.Contains(vendors, v))
	}
}

// rangeEntries writes NumEntries and one single-id entry per vendor.
func rangeEntries(w *bitWriter, vendors []uint16) {
	w.put(uint64(len(vendors)), 12)
	for _, v := range vendors {
		w.put(0, 1) // single id
		w.put(uint64(v), 16)
	}
}

// gppString joins a header for the sections' ids with the sections.
func gppString(sections ...gppSection) string {
	var w bitWriter
	w.put(3, 6) // Type
	w.put(1, 6) // Version
	w.put(uint64(len(sections)), 12)
	last := 0
	parts := []string{""}
	for _, s := range sections {
		w.put(0, 1) // single id
		w.fib(s.id - last)
		last = s.id
		parts = append(parts, s.body)
	}
	parts[0] = w.b64()
	return strings.Join(parts, "~")
}

type gppSection struct {
	id   int
	body string
}

// usSection encodes a US section's core sub-section from 2-bit field values
// in order after the version, plus a GPC sub-section when gpc is not nil.
func usSectionString(id int, fields []uint64, gpc *bool) gppSection {
	var w bitWriter
	w.put(1, 6) // Version
	for _, f := range fields {
		w.put(f, 2)
	}
	body := w.b64()
	if gpc != nil {
		var g bitWriter
		g.put(1, 2) // SubsectionType GPC
		g.bool(*gpc)
		body += "." + g.b64()
	}
	return gppSection{id: id, body: body}
}

func bidRequest(tb testing.TB, js string) *openrtb2.BidRequest {
	tb.Helper()
	var req openrtb2.BidRequest
	if err := json.Unmarshal([]byte(js), &req); err != nil {
		tb.Fatalf("%s: %v", js, err)
	}
	return &req
}

func newDecider(tb testing.TB, cfg Config) *Decider {
	tb.Helper()
	d, err := NewDecider(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
