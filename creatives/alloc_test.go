//go:build !race

package creatives

import "testing"

// TestAssembleAllocs pins Assemble at zero allocations per call once the
// destination buffer has room.
func TestAssembleAllocs(t *testing.T) {
	for _, bc := range benchCases(t) {
		buf := make([]byte, 0, 8<<10)
		n := testing.AllocsPerRun(200, func() {
			out, _, err := bc.a.Assemble(buf[:0], bc.c, bc.cr, bc.p, bc.imp)
			if err != nil {
				t.Fatal(err)
			}
			buf = out
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per Assemble, want 0", bc.name, n)
		}
	}
}
