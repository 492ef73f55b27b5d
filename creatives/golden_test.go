package creatives

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kairos-rtb/kairos/segments"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenCase is one assembly whose output is pinned in testdata/golden.
type goldenCase struct {
	name     string // file name without extension
	ext      string
	campaign string
	creative string
	profile  *segments.Profile
	imp      func(t testing.TB) *Imp
}

func goldenCases() []goldenCase {
	var cs []goldenCase
	banner := func(w, h int) func(testing.TB) *Imp { return func(testing.TB) *Imp { return bannerImp(w, h) } }
	native := func(req string) func(testing.TB) *Imp { return func(t testing.TB) *Imp { return nativeImp(t, req) } }
	for _, pc := range profiles() {
		cs = append(cs,
			goldenCase{"banner-300x250-" + pc.name, "html", "trail-runner-test", "tr-main", pc.p, banner(300, 250)},
			goldenCase{"native-" + pc.name, "json", "trail-runner-test", "tr-main", pc.p, native(goldenNativeRequest)},
			goldenCase{"video-" + pc.name, "xml", "trail-runner-test", "tr-video", pc.p, func(testing.TB) *Imp { return videoImp() }},
		)
	}
	byName := map[string]*segments.Profile{}
	for _, pc := range profiles() {
		byName[pc.name] = pc.p
	}
	cs = append(cs,
		goldenCase{"banner-300x600-intent", "html", "trail-runner-test", "tr-main", byName["intent"], banner(300, 600)},
		goldenCase{"banner-300x600-awareness", "html", "trail-runner-test", "tr-main", byName["awareness"], banner(300, 600)},
		goldenCase{"banner-728x90-intent", "html", "trail-runner-test", "tr-main", byName["intent"], banner(728, 90)},
		goldenCase{"banner-320x50-unknown", "html", "trail-runner-test", "tr-main", nil, banner(320, 50)},
		goldenCase{"native10-intent", "json", "trail-runner-test", "tr-main", byName["intent"], native(goldenNative10Request)},
		goldenCase{"loyalty-banner-purchased-noproduct", "html", "acme-loyalty-test", "al-main",
			byName["purchased-noproduct"], banner(300, 250)},
	)
	return cs
}

// TestGolden assembles every format for every phase and compares the markup
// (or the error) with testdata/golden; go test -update rewrites the files.
func TestGolden(t *testing.T) {
	fx := newFixture(t)
	a := NewAssembler(Config{}, nil)
	var crids []string
	for _, gc := range goldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			c, cr := fx.creative(t, gc.campaign, gc.creative)
			out, v, err := a.Assemble(nil, c, cr, gc.profile, gc.imp(t))
			var got []byte
			if err != nil {
				got = []byte("error: " + err.Error() + "\n")
				crids = append(crids, gc.name+" -")
			} else {
				checkWellFormed(t, gc.ext, out)
				got = append(out, '\n')
				crids = append(crids, gc.name+" "+v.String())
			}
			compareGolden(t, filepath.Join("testdata", "golden", gc.name+"."+gc.ext), got)
		})
	}
	sort.Strings(crids)
	compareGolden(t, filepath.Join("testdata", "golden", "crids.txt"), []byte(strings.Join(crids, "\n")+"\n"))
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./creatives -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./creatives -run TestGolden -update to accept)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// checkWellFormed parses markup by its extension: JSON must be valid, XML must
// parse strictly, HTML must use only the tags and attributes Kairos writes.
func checkWellFormed(t testing.TB, ext string, out []byte) {
	t.Helper()
	switch ext {
	case "json":
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	case "xml":
		d := xml.NewDecoder(bytes.NewReader(out))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("XML: %v\n%s", err, out)
				}
				break
			}
		}
	case "html":
		checkHTML(t, string(out))
	}
}
