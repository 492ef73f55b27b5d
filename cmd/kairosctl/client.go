package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// client talks to the admin API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func (c *CLI) client() (*client, error) {
	base := c.Getenv("KAIROS_ADMIN_URL")
	if base == "" {
		base = "http://127.0.0.1:8081"
	}
	token := c.Getenv("KAIROS_ADMIN_TOKEN")
	if token == "" {
		return nil, fmt.Errorf("KAIROS_ADMIN_TOKEN is not set (the demo server prints one at start)")
	}
	return &client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// apiError is the admin API's error body.
type apiError struct {
	Error    string `json:"error"`
	Field    string `json:"field"`
	Problems []struct {
		File     string `json:"file"`
		Line     int    `json:"line"`
		Campaign string `json:"campaign"`
		Field    string `json:"field"`
		Message  string `json:"message"`
	} `json:"problems"`
}

// do sends a request and returns the body of a 2xx answer; other answers become
// errors a person can act on.
func (c *client) do(method, path, contentType string, body io.Reader, hdr ...string) ([]byte, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API at %s: %w (is kairos running? is KAIROS_ADMIN_URL right?)", c.base, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		return out, nil
	}
	var e apiError
	if json.Unmarshal(out, &e) != nil || e.Error == "" {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(out))
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("the admin API refused the token (401): check KAIROS_ADMIN_TOKEN")
	}
	var b strings.Builder
	b.WriteString(e.Error)
	if e.Field != "" && len(e.Problems) == 0 {
		b.WriteString(" (field " + e.Field + ")")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if p.File != "" {
			b.WriteString(p.File)
			if p.Line > 0 {
				fmt.Fprintf(&b, ":%d", p.Line)
			}
			b.WriteString(": ")
		}
		if p.Campaign != "" {
			fmt.Fprintf(&b, "campaign %q: ", p.Campaign)
		}
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Message)
	}
	return nil, fmt.Errorf("%s", b.String())
}
