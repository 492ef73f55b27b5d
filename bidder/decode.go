package bidder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/bytedance/sonic"
	"github.com/klauspost/compress/gzip"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// ErrTooLarge is returned when a body, after decompression, exceeds the limit.
var ErrTooLarge = errors.New("request body too large")

// BadRequestError is a malformed request; its message is the short reason
// answered with 400.
type BadRequestError struct{ Reason string }

// Error returns the reason.
func (e *BadRequestError) Error() string { return e.Reason }

func badRequest(format string, args ...any) error {
	return &BadRequestError{Reason: fmt.Sprintf(format, args...)}
}

// sonicAPI decodes without copying strings: request strings point into the body
// buffer and are valid only until the request is released.
var sonicAPI = sonic.Config{}.Froze()

var gzipPool sync.Pool

// gunzip appends the decompressed body to dst, failing with ErrTooLarge past limit.
func gunzip(dst, body []byte, limit int) ([]byte, error) {
	zr, _ := gzipPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(body))
	} else {
		err = zr.Reset(bytes.NewReader(body))
	}
	if err != nil {
		return dst, badRequest("bad gzip body: %v", err)
	}
	defer gzipPool.Put(zr)
	buf := bytes.NewBuffer(dst[:0])
	n, err := io.Copy(buf, io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return buf.Bytes(), badRequest("bad gzip body: %v", err)
	}
	if n > int64(limit) {
		return buf.Bytes(), ErrTooLarge
	}
	return buf.Bytes(), nil
}

// Decode parses body into req and validates what Kairos needs: a request id and
// at least one impression, each with a unique id. Strings in req point into body.
// Where real exchanges deviate from the spec in ways that carry no ambiguity
// (imp.native.request sent as an object, numbers sent as strings) it repairs the
// request instead of rejecting it.
func Decode(body []byte, req *openrtb2.BidRequest) error {
	if err := sonicAPI.Unmarshal(body, req); err != nil {
		*req = openrtb2.BidRequest{}
		if err := decodeLenient(body, req); err != nil {
			return err
		}
	}
	return validate(req)
}

func validate(req *openrtb2.BidRequest) error {
	if req.ID == "" {
		return badRequest("missing id")
	}
	if len(req.Imp) == 0 {
		return badRequest("missing imp")
	}
	for i := range req.Imp {
		if req.Imp[i].ID == "" {
			return badRequest("imp[%d]: missing id", i)
		}
		for j := 0; j < i; j++ {
			if req.Imp[j].ID == req.Imp[i].ID {
				return badRequest("imp[%d]: duplicate id %q", i, req.Imp[i].ID)
			}
		}
	}
	return nil
}

// decodeLenient is the slow path for requests the strict decoder refused: it
// reads them generically, repairs known deviations and decodes again.
func decodeLenient(body []byte, req *openrtb2.BidRequest) error {
	var doc any
	if err := sonicAPI.Unmarshal(body, &doc); err != nil {
		return badRequest("malformed JSON: %s", shortErr(err))
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return badRequest("malformed request: not a JSON object")
	}
	repair(root, "")
	fixed, err := sonicAPI.Marshal(root)
	if err != nil {
		return badRequest("malformed request: %s", shortErr(err))
	}
	if err := sonicAPI.Unmarshal(fixed, req); err != nil {
		return badRequest("malformed request: %s", shortErr(err))
	}
	return nil
}

// numericFields are OpenRTB fields that some exchanges send as strings.
var numericFields = map[string]bool{"bidfloor": true, "w": true, "h": true, "tmax": true, "at": true,
	"secure": true, "instl": true, "devicetype": true, "lmt": true, "dnt": true, "coppa": true, "gdpr": true,
	"test": true, "private_auction": true, "minduration": true, "maxduration": true, "pos": true,
	"yob": true, "js": true, "connectiontype": true, "type": true}

// arrayFields are OpenRTB list fields that some exchanges send as one scalar.
var arrayFields = map[string]bool{"cur": true, "bcat": true, "badv": true, "bapp": true, "wseat": true,
	"bseat": true, "cat": true, "pagecat": true, "sectioncat": true, "mimes": true, "protocols": true,
	"battr": true, "api": true, "wlang": true, "adomain": true}

func repair(v any, key string) any {
	if arrayFields[key] {
		switch v.(type) {
		case string, float64:
			return []any{v}
		}
	}
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if k == "ext" {
				continue
			}
			t[k] = repair(child, k)
		}
		// Native 1.x: imp.native.request must be a JSON string; some exchanges
		// send the object itself.
		if key == "native" {
			if r, ok := t["request"]; ok {
				if _, isString := r.(string); !isString {
					b, err := sonicAPI.Marshal(r)
					if err == nil {
						t["request"] = string(b)
					}
				}
			}
		}
		return t
	case []any:
		for i := range t {
			t[i] = repair(t[i], "")
		}
		return t
	case string:
		if numericFields[key] {
			if f, err := strconv.ParseFloat(t, 64); err == nil {
				return f
			}
		}
		return t
	case bool:
		if numericFields[key] {
			if t {
				return 1
			}
			return 0
		}
	}
	return v
}

func shortErr(err error) string {
	s := err.Error()
	if i := bytes.IndexByte([]byte(s), '\n'); i > 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}
