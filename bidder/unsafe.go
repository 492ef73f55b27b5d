package bidder

import "unsafe"

// unsafeString views b as a string without copying; the string is valid only
// while b is neither modified nor reused.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
