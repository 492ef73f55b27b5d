package bench

import (
	"encoding/base64"
	"time"
)

// bitWriter appends big-endian bit fields, as the IAB TCF v2 string wants them.
type bitWriter struct {
	b []byte
	n uint // bits written
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

// tcfConsent encodes an IAB TCF v2.2 core string. purposes is a bit set of the
// consented purposes (bit 0 = purpose 1); vendors 1..maxVendor get consent when
// purposes is non-zero, so the string is either "yes to all" or "no to all".
func tcfConsent(created time.Time, purposes uint32, maxVendor uint16) string {
	var w bitWriter
	ds := uint64(created.UnixMilli() / 100)
	w.put(2, 6)         // version
	w.put(ds, 36)       // created, deciseconds
	w.put(ds, 36)       // last updated
	w.put(7, 12)        // CMP id
	w.put(1, 12)        // CMP version
	w.put(1, 6)         // consent screen
	w.put(3, 6)         // consent language "DE": D=3
	w.put(4, 6)         //                        E=4
	w.put(150, 12)      // vendor list version
	w.put(4, 6)         // TCF policy version
	w.put(1, 1)         // is service specific
	w.put(0, 1)         // use non-standard texts
	w.put(0, 12)        // special feature opt-ins
	for p := range 24 { // purpose consents 1..24
		w.put(uint64(purposes>>uint(p)&1), 1)
	}
	w.put(0, 24) // purpose legitimate interests: none
	w.put(0, 1)  // purpose one treatment
	w.put(3, 6)  // publisher country "DE"
	w.put(4, 6)  //
	if purposes == 0 {
		w.put(0, 16) // max vendor id 0: no vendor consents
		w.put(0, 1)  // bit field
	} else {
		w.put(uint64(maxVendor), 16)
		w.put(1, 1)                  // range encoding
		w.put(1, 12)                 // one entry
		w.put(1, 1)                  // a range
		w.put(1, 16)                 // from vendor 1
		w.put(uint64(maxVendor), 16) // to maxVendor
	}
	w.put(0, 16) // vendor legitimate interests: max vendor id 0
	w.put(0, 1)  // bit field
	w.put(0, 12) // no publisher restrictions
	return base64.RawURLEncoding.EncodeToString(w.b)
}
