package segments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Handlers serve the admin API for profiles and events. They carry no
// authentication: mount them behind the admin token check.
type Handlers struct {
	store *Store
	// MaxEvents caps the events in one POST /v1/events; default 10000.
	MaxEvents int
}

// NewHandlers returns the admin handlers over store.
func NewHandlers(store *Store) *Handlers {
	return &Handlers{store: store, MaxEvents: 10000}
}

// Import serves POST /v1/segments/import: a body of JSON lines, gzip-compressed
// or not (by Content-Encoding or magic bytes), streamed when the server sets
// StreamRequestBody. It answers 200 with the ImportResult, 400 for an
// unreadable body, 503 when Redis fails.
func (h *Handlers) Import(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		methodNotAllowed(ctx, "POST")
		return
	}
	var body io.Reader
	if st := ctx.RequestBodyStream(); st != nil {
		body = st
	} else {
		body = bytes.NewReader(ctx.PostBody())
	}
	// Gzip is detected from the data itself, so Content-Encoding: gzip needs
	// no handling of its own.
	res, err := h.store.Import(context.Background(), body)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			writeError(ctx, fasthttp.StatusBadRequest, err)
			return
		}
		// The counts tell the client what was written before the failure.
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, struct {
			Error string `json:"error"`
			ImportResult
		}{err.Error(), res})
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, res)
}

// Profile serves GET, PUT and DELETE /v1/segments/{user}. The user comes from
// ctx.UserValue("user") if a router set it, else from the path. PUT takes an
// import line ("user" optional, but if given it must match) and answers with
// the stored profile; GET answers the profile with decay applied and its
// expiry; DELETE removes profile, frequency counters and the hook's data about
// the user (Store.Delete) and answers 204.
// Unknown users are 404.
func (h *Handlers) Profile(ctx *fasthttp.RequestCtx) {
	user, _ := ctx.UserValue("user").(string)
	if user == "" {
		user = strings.TrimPrefix(string(ctx.Path()), "/v1/segments/")
	}
	if err := checkUser(user); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err)
		return
	}
	bg := context.Background()
	switch string(ctx.Method()) {
	case fasthttp.MethodGet:
		sp, err := h.store.Stored(bg, user)
		if err != nil {
			h.fail(ctx, err)
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, sp)
	case fasthttp.MethodPut:
		var d lineDecoder
		s := h.store
		if err := d.decodeFor(user, ctx.PostBody(), s.now(), s.cfg.DefaultTTL); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, err)
			return
		}
		if err := s.put(bg, user, appendRecord(nil, &d.rec), d.ttl); err != nil {
			h.fail(ctx, err)
			return
		}
		now := s.now()
		sp := StoredProfile{Expires: now.Add(d.ttl).UTC().Truncate(time.Second)}
		d.rec.fill(&sp.Profile, user, &s.cfg.Decay, now)
		writeJSON(ctx, fasthttp.StatusOK, sp) // encoded before the body is released
	case fasthttp.MethodDelete:
		if err := h.store.Delete(bg, user); err != nil {
			h.fail(ctx, err)
			return
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	default:
		methodNotAllowed(ctx, "GET, PUT, DELETE")
	}
}

// Events serves POST /v1/events: one event object, a JSON array of them, or
// JSON lines. All events are validated before any is applied; it answers 200
// {"applied":n}, or 400 naming the event index and field.
func (h *Handlers) Events(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		methodNotAllowed(ctx, "POST")
		return
	}
	evs, err := decodeEvents(ctx.PostBody(), h.MaxEvents)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err)
		return
	}
	if err := h.store.Apply(context.Background(), evs...); err != nil {
		h.fail(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]int{"applied": len(evs)})
}

// fail answers err: 400 for bad input, 404 for an unknown user, else 503.
func (h *Handlers) fail(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, ErrInvalid):
		writeError(ctx, fasthttp.StatusBadRequest, err)
	case errors.Is(err, ErrNotFound):
		writeJSON(ctx, fasthttp.StatusNotFound, apiError{Error: "profile not found", Field: "user"})
	default:
		h.store.log.Warn("segments admin request failed", zap.Error(err))
		writeError(ctx, fasthttp.StatusServiceUnavailable, err)
	}
}

// apiError is the JSON body of an error answer.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(ctx *fasthttp.RequestCtx, status int, err error) {
	e := apiError{Error: err.Error()}
	var fe *FieldError
	if errors.As(err, &fe) {
		e.Field = fe.Field
	}
	writeJSON(ctx, status, e)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"encode response"}`)
		status = fasthttp.StatusInternalServerError
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set("Allow", allow)
	writeJSON(ctx, fasthttp.StatusMethodNotAllowed, apiError{Error: "method not allowed; use " + allow})
}

// decodeEvents parses one event object, an array of them, or JSON lines.
func decodeEvents(body []byte, limit int) ([]Event, error) {
	var s scanner
	s.reset(body)
	var evs []Event
	one := func() error {
		if len(evs) >= limit {
			return fmt.Errorf("%w: more than %d events", ErrInvalid, limit)
		}
		var e Event
		if err := decodeEvent(&s, &e); err != nil {
			return fmt.Errorf("event %d: %w", len(evs), err)
		}
		evs = append(evs, e)
		return nil
	}
	if s.peek() == '[' {
		s.i++
		for n := 0; ; n++ {
			ok, err := s.next(n, ']')
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if err := one(); err != nil {
				return nil, err
			}
		}
		if err := s.end(); err != nil {
			return nil, err
		}
	} else {
		for s.peek() != 0 {
			if err := one(); err != nil {
				return nil, err
			}
		}
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("%w: no events", ErrInvalid)
	}
	return evs, nil
}

// decodeEvent reads {"type":…,"user":…,"product":{…},"ts":"RFC 3339"}. Strings
// are copied: the event outlives the body.
func decodeEvent(s *scanner, e *Event) error {
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
		case "type":
			v, err := s.str()
			if err != nil {
				return fieldErr("type", "want a string")
			}
			if e.Type, err = ParseEventType(string(v)); err != nil {
				return err
			}
		case "user":
			v, err := s.str()
			if err != nil {
				return fieldErr("user", "want a string")
			}
			e.User = string(v)
		case "ts":
			v, err := s.str()
			if err != nil {
				return fieldErr("ts", "want an RFC 3339 time string")
			}
			t, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return fieldErr("ts", "want an RFC 3339 time, got %q", v)
			}
			e.Time = t
		case "product":
			var p Product
			if err := readProduct(s, &p); err != nil {
				return err
			}
			e.Product = Product{ID: strings.Clone(p.ID), Name: strings.Clone(p.Name), Price: strings.Clone(p.Price)}
		default:
			return fieldErr(string(k), "unknown field")
		}
	}
	if e.Type == 0 {
		return fieldErr("type", "required")
	}
	return nil
}
