package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// uploader stores one payload. An error wrapping errShed means the target
// refused for load (429 or 503 with Retry-After), which the bench counts
// but does not treat as a failure; any other error fails the run.
type uploader interface {
	upload(ctx context.Context, p *payload) error
}

// errShed marks load shedding: the documented answer to too many uploads
// in flight, not a fault.
var errShed = errors.New("fwbench: upload shed by the server")

// apiClient talks to a fieldwatch server.
type apiClient struct {
	base  string
	token string
	hc    *http.Client
	tr    *http.Transport
}

func newAPIClient(base string, maxConns int) *apiClient {
	return newAPIClientWith(base, &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		MaxIdleConnsPerHost: maxConns,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      16 << 10,
		IdleConnTimeout:     30 * time.Second,
	}, 2*time.Minute) // per request; phases have their own bound
}

// newAPIClientWith makes a client with a transport of its own (which must
// not use a proxy) and a bound on each request.
func newAPIClientWith(base string, tr *http.Transport, timeout time.Duration) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), tr: tr, hc: &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// closeIdle drops kept-alive connections, so the server's per-connection
// goroutines and descriptors go away before it is measured.
func (c *apiClient) closeIdle() { c.tr.CloseIdleConnections() }

// login exchanges the password for an access token.
func (c *apiClient) login(ctx context.Context, user, password string) error {
	body, err := json.Marshal(map[string]string{"username": user, "password": password})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/auth/login", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("login: %s: %s", res.Status, readProblem(res.Body))
	}
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&pair); err != nil || pair.AccessToken == "" {
		return fmt.Errorf("login: no access token in the answer (%v)", err)
	}
	c.token = pair.AccessToken
	return nil
}

// upload sends p as a phone would: POST /v1/evidence, a multipart body with
// the meta part (declaring the SHA-256) and the photo part, a fresh
// Idempotency-Key. The body streams from memory with a known length. A 201
// must describe exactly the bytes sent.
func (c *apiClient) upload(ctx context.Context, p *payload) error {
	_, err := c.uploadFrom(ctx, bytes.NewReader(p.data), int64(len(p.data)), p.sum, p.category, nil)
	return err
}

// uploadFrom sends size photo bytes read from photo, whose SHA-256 is sum,
// and returns the new evidence id. wrap, if not nil, wraps the whole body
// (framing included) before it is sent, e.g. to throttle it.
func (c *apiClient) uploadFrom(ctx context.Context, photo io.Reader, size int64, sum [32]byte, category string,
	wrap func(io.Reader) io.Reader) (string, error) {
	hexSum := hex.EncodeToString(sum[:])
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	meta, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="meta"`},
		"Content-Type":        {"application/json"},
	})
	if err != nil {
		return "", err
	}
	if err := json.NewEncoder(meta).Encode(map[string]string{"category": category, "sha256": hexSum}); err != nil {
		return "", err
	}
	if _, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="photo"; filename="bench.jpg"`},
		"Content-Type":        {"image/jpeg"},
	}); err != nil {
		return "", err
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n" // what mw.Close would write
	body := io.MultiReader(bytes.NewReader(head.Bytes()), photo, strings.NewReader(tail))
	if wrap != nil {
		body = wrap(body)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/evidence", body)
	if err != nil {
		return "", err
	}
	req.ContentLength = int64(head.Len()) + size + int64(len(tail))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Idempotency-Key", uuid.NewString())
	res, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST /v1/evidence: %w", err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusCreated:
	case (res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable) &&
		res.Header.Get("Retry-After") != "":
		io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		return "", fmt.Errorf("%w: %s (Retry-After %s)", errShed, res.Status, res.Header.Get("Retry-After"))
	default:
		return "", fmt.Errorf("POST /v1/evidence: %s: %s", res.Status, readProblem(res.Body))
	}
	var e struct {
		ID     string `json:"id"`
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&e); err != nil {
		return "", fmt.Errorf("POST /v1/evidence: 201 with an unreadable body: %w", err)
	}
	if e.ID == "" || e.SHA256 != hexSum || e.Size != size {
		return "", fmt.Errorf("POST /v1/evidence: 201 for id %q, sha256 %s, size %d; sent sha256 %s, size %d",
			e.ID, e.SHA256, e.Size, hexSum, size)
	}
	return e.ID, nil
}

// getJSON GETs path with the access token and decodes a 200 answer into v.
func (c *apiClient) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, res.Status, readProblem(res.Body))
	}
	if v == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<20))
		return err
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// serverGauges are the values fwbench reads from GET /metrics.
type serverGauges struct {
	Goroutines int
	InFlight   int
}

// gauges scrapes the Prometheus text exposition for the two gauges.
func (c *apiClient) gauges(ctx context.Context) (serverGauges, error) {
	var g serverGauges
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return g, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return g, fmt.Errorf("GET /metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return g, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	found := 0
	sc := bufio.NewScanner(io.LimitReader(res.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var dst *int
		switch name {
		case "go_goroutines":
			dst = &g.Goroutines
		case "fieldwatch_http_requests_in_flight":
			dst = &g.InFlight
		default:
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return g, fmt.Errorf("GET /metrics: %s: %w", name, err)
		}
		*dst = int(f)
		found++
	}
	if err := sc.Err(); err != nil {
		return g, fmt.Errorf("GET /metrics: %w", err)
	}
	if found < 2 {
		return g, errors.New("GET /metrics: go_goroutines or fieldwatch_http_requests_in_flight missing")
	}
	return g, nil
}

// readProblem returns the start of an error answer, for messages.
func readProblem(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 2048))
	return strings.TrimSpace(string(b))
}
