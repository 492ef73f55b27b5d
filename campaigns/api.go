package campaigns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/valyala/fasthttp"
	"gopkg.in/yaml.v3"
)

// PacingStates reads a campaign's pacing state for the admin API; the pacing
// package implements it.
type PacingStates interface {
	PacingState(id string) (any, bool)
}

// API serves the campaign admin endpoints under /v1/campaigns and /v1/audit.
// Requests arrive authenticated; the token's name is in the user value
// TokenKey.
type API struct {
	store    *Store
	pacing   PacingStates
	tokenKey string
	timeout  time.Duration
}

// NewAPI returns the campaign admin API over store. pacing may be nil. tokenKey
// names the request user value that holds the authenticated token's name.
func NewAPI(store *Store, pacing PacingStates, tokenKey string) *API {
	return &API{store: store, pacing: pacing, tokenKey: tokenKey, timeout: 10 * time.Second}
}

// apiError is the JSON error body of the admin API.
type apiError struct {
	Error    string    `json:"error"`
	Field    string    `json:"field,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, _ := json.MarshalIndent(v, "", "  ")
	ctx.SetBody(append(b, '\n'))
}

func (a *API) fail(ctx *fasthttp.RequestCtx, err error) {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		field := ""
		if len(ve.Problems) > 0 {
			field = ve.Problems[0].Field
		}
		writeJSON(ctx, fasthttp.StatusUnprocessableEntity, apiError{Error: "campaign rejected: " +
			strconv.Itoa(len(ve.Problems)) + " problem(s); nothing was stored", Field: field, Problems: ve.Problems})
	case errors.Is(err, ErrNotFound):
		writeJSON(ctx, fasthttp.StatusNotFound, apiError{Error: err.Error()})
	case errors.Is(err, ErrStale):
		writeJSON(ctx, fasthttp.StatusConflict, apiError{Error: err.Error() + "; read it again and reapply", Field: "version"})
	default:
		writeJSON(ctx, fasthttp.StatusInternalServerError, apiError{Error: err.Error()})
	}
}

func (a *API) token(ctx *fasthttp.RequestCtx) string {
	if s, ok := ctx.UserValue(a.tokenKey).(string); ok {
		return s
	}
	return "unknown"
}

// Campaigns routes /v1/campaigns and /v1/campaigns/{id}[/pause|/resume|/budget|/pacing].
func (a *API) Campaigns(ctx *fasthttp.RequestCtx) {
	c, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	rest := strings.Trim(strings.TrimPrefix(string(ctx.Path()), "/v1/campaigns"), "/")
	id, verb, _ := strings.Cut(rest, "/")
	method := string(ctx.Method())
	switch {
	case id == "" && method == "GET":
		a.list(c, ctx)
	case id == "" && method == "POST":
		a.apply(c, ctx)
	case verb == "" && method == "GET":
		a.get(c, ctx, id)
	case verb == "" && method == "PUT":
		a.put(c, ctx, id)
	case verb == "" && method == "DELETE":
		if err := a.store.Remove(c, id, a.token(ctx)); err != nil {
			a.fail(ctx, err)
			return
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	case (verb == "pause" || verb == "resume") && method == "POST":
		status := map[string]string{"pause": "paused", "resume": "active"}[verb]
		a.modify(c, ctx, id, func(cp *Campaign) error { cp.Status = status; return nil })
	case verb == "budget" && (method == "PUT" || method == "POST"):
		var body struct {
			Daily *money.Micros `json:"daily"`
			Total *money.Micros `json:"total"`
		}
		if err := json.Unmarshal(ctx.PostBody(), &body); err != nil || (body.Daily == nil && body.Total == nil) {
			writeJSON(ctx, fasthttp.StatusBadRequest, apiError{Error: `want {"daily": 500.00, "total": 10000.00} (either or both)`, Field: "budget"})
			return
		}
		a.modify(c, ctx, id, func(cp *Campaign) error {
			if body.Daily != nil {
				cp.Budget.Daily = *body.Daily
			}
			if body.Total != nil {
				cp.Budget.Total = *body.Total
			}
			return nil
		})
	case verb == "pacing" && method == "GET":
		if a.pacing == nil {
			writeJSON(ctx, fasthttp.StatusNotFound, apiError{Error: "pacing state not available"})
			return
		}
		st, ok := a.pacing.PacingState(id)
		if !ok {
			writeJSON(ctx, fasthttp.StatusNotFound, apiError{Error: "no pacing state for " + id})
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, st)
	default:
		writeJSON(ctx, fasthttp.StatusMethodNotAllowed, apiError{Error: method + " " + string(ctx.Path()) + " is not supported"})
	}
}

// Audit serves GET /v1/audit?campaign=ID&limit=N.
func (a *API) Audit(ctx *fasthttp.RequestCtx) {
	limit, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("limit")))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	c, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	entries, err := a.store.Audit(c, string(ctx.QueryArgs().Peek("campaign")), limit)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"entries": entries})
}

func (a *API) list(c context.Context, ctx *fasthttp.RequestCtx) {
	cs, rev, err := a.store.List(c)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"revision": rev, "campaigns": cs})
}

func (a *API) get(c context.Context, ctx *fasthttp.RequestCtx, id string) {
	cp, err := a.store.Get(c, id)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	ctx.Response.Header.Set("ETag", strconv.Quote(strconv.FormatInt(cp.Version, 10)))
	if wantsYAML(ctx) {
		b, _ := yaml.Marshal(&cp)
		ctx.SetContentType("application/yaml")
		ctx.SetBody(b)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, cp)
}

func wantsYAML(ctx *fasthttp.RequestCtx) bool {
	return string(ctx.QueryArgs().Peek("format")) == "yaml" ||
		bytes.Contains(ctx.Request.Header.Peek("Accept"), []byte("yaml"))
}

// expectedVersion reads If-Match ("3" or "\"3\"") or the body's version.
func expectedVersion(ctx *fasthttp.RequestCtx, body int64) (int64, bool) {
	if h := strings.Trim(string(ctx.Request.Header.Peek("If-Match")), `" W/`); h != "" {
		if v, err := strconv.ParseInt(h, 10, 64); err == nil {
			return v, true
		}
	}
	if body > 0 {
		return body, true
	}
	return 0, false
}

// put stores one campaign from a JSON or YAML body (JSON is YAML, so one strict
// parser with unknown-key errors serves both).
func (a *API) put(c context.Context, ctx *fasthttp.RequestCtx, id string) {
	cs, err := Parse("request body", bytes.NewReader(ctx.PostBody()))
	if err != nil {
		a.fail(ctx, err)
		return
	}
	if len(cs) != 1 {
		writeJSON(ctx, fasthttp.StatusBadRequest, apiError{Error: "PUT takes exactly one campaign; POST /v1/campaigns applies many"})
		return
	}
	if cs[0].ID != id {
		writeJSON(ctx, fasthttp.StatusBadRequest, apiError{Error: "id " + strconv.Quote(cs[0].ID) + " in the body does not match the path", Field: "id"})
		return
	}
	expect := map[string]int64{}
	if v, ok := expectedVersion(ctx, cs[0].Version); ok {
		expect[id] = v
	}
	a.applyAndAnswer(c, ctx, cs, expect, false)
}

// apply stores many campaigns at once (multi-document YAML or a JSON list).
func (a *API) apply(c context.Context, ctx *fasthttp.RequestCtx) {
	body := ctx.PostBody()
	var cs []Campaign
	var err error
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		cs, err = parseJSONList(body)
	} else {
		cs, err = Parse("request body", bytes.NewReader(body))
	}
	if err != nil {
		a.fail(ctx, err)
		return
	}
	expect := map[string]int64{}
	for _, cp := range cs {
		if cp.Version > 0 {
			expect[cp.ID] = cp.Version
		}
	}
	dry := string(ctx.QueryArgs().Peek("dry_run"))
	a.applyAndAnswer(c, ctx, cs, expect, dry == "1" || dry == "true")
}

func parseJSONList(body []byte) ([]Campaign, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &ValidationError{Problems: []Problem{{Message: "malformed JSON list: " + err.Error()}}}
	}
	var out []Campaign
	var problems []Problem
	for i, r := range raw {
		cs, err := Parse("campaign "+strconv.Itoa(i), bytes.NewReader(r))
		var ve *ValidationError
		if errors.As(err, &ve) {
			problems = append(problems, ve.Problems...)
			continue
		}
		out = append(out, cs...)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return out, nil
}

func (a *API) applyAndAnswer(c context.Context, ctx *fasthttp.RequestCtx, cs []Campaign, expect map[string]int64, dry bool) {
	changes, err := a.store.Apply(c, cs, expect, a.token(ctx), dry)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	status := fasthttp.StatusOK
	if !dry && len(changes) == 1 && changes[0].Action == "created" {
		status = fasthttp.StatusCreated
	}
	if len(changes) == 1 && !dry {
		ctx.Response.Header.Set("ETag", strconv.Quote(strconv.FormatInt(changes[0].Version, 10)))
	}
	writeJSON(ctx, status, map[string]any{"dry_run": dry, "changes": changes})
}

// modify applies fn to the stored campaign under optimistic concurrency.
func (a *API) modify(c context.Context, ctx *fasthttp.RequestCtx, id string, fn func(*Campaign) error) {
	cp, err := a.store.Get(c, id)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	expect := map[string]int64{id: cp.Version}
	if v, ok := expectedVersion(ctx, 0); ok {
		expect[id] = v
	}
	if err := fn(&cp); err != nil {
		a.fail(ctx, err)
		return
	}
	cp.Version = 0
	a.applyAndAnswer(c, ctx, []Campaign{cp}, expect, false)
}
