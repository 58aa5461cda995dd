// Package console is the administrators' review console: a browser
// application (plain ES modules, Leaflet for the map) embedded in the
// binary and served under /console/. It talks to the API of openapi.yaml
// only, like any other client; this package serves files and one
// generated settings document, and knows nothing of the API's routes.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// Prefix is where the console is served.
const Prefix = "/console/"

//go:embed assets
var assets embed.FS

// Config is what an operator can tell the console.
type Config struct {
	// TileURL is a base-map tile URL template for Leaflet ({z}, {x}, {y};
	// {s} for a subdomain, {s:0123} to name the subdomains). Empty: no base
	// map; townships and reaches are drawn from the API alone.
	TileURL string
	// TileAttribution is shown on the map (plain text), as tile providers
	// require.
	TileAttribution string
}

// Tiles is a parsed tile URL template.
type Tiles struct {
	Template   string // as Leaflet takes it: {s} without the subdomain list
	Subdomains string // the characters {s} takes in turn
	Source     string // the CSP source that allows its images, e.g. https://*.tianditu.gov.cn
}

var (
	subdomainsRE = regexp.MustCompile(`\{s(?::([A-Za-z0-9]+))?\}`)
	hostRE       = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)
)

// ParseTileURL checks a tile URL template. The template must be an
// absolute http(s) URL naming {z}, {x} and {y} (or {-y}); a placeholder
// may stand in the host's first label only ({s} subdomains). Characters
// that could break out of the Content-Security-Policy header are refused.
func ParseTileURL(raw string) (Tiles, error) {
	if raw == "" {
		return Tiles{}, nil
	}
	if strings.ContainsAny(raw, " \t\r\n;,'\"<>\\") {
		return Tiles{}, errors.New("console: tile URL: spaces, quotes, ';', ',', '<', '>' and '\\' are not allowed")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (scheme != "https" && scheme != "http") {
		return Tiles{}, fmt.Errorf("console: tile URL %q: want an http:// or https:// template", raw)
	}
	for _, p := range []string{"{z}", "{x}"} {
		if !strings.Contains(rest, p) {
			return Tiles{}, fmt.Errorf("console: tile URL %q: no %s placeholder", raw, p)
		}
	}
	if !strings.Contains(rest, "{y}") && !strings.Contains(rest, "{-y}") {
		return Tiles{}, fmt.Errorf("console: tile URL %q: no {y} placeholder", raw)
	}
	subdomains := "abc" // Leaflet's default
	if m := subdomainsRE.FindStringSubmatch(rest); m != nil && m[1] != "" {
		subdomains = m[1]
	}
	rest = subdomainsRE.ReplaceAllString(rest, "{s}")
	host := rest
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	first, domain, _ := strings.Cut(host, ".")
	if strings.Contains(first, "{") {
		// A subdomain placeholder: the CSP wildcard covers that label.
		if domain == "" || !hostRE.MatchString(domain) {
			return Tiles{}, fmt.Errorf("console: tile URL %q: bad host", raw)
		}
		host = "*." + domain
	} else if !hostRE.MatchString(host) {
		return Tiles{}, fmt.Errorf("console: tile URL %q: bad host (placeholders may stand in the first label only)", raw)
	}
	return Tiles{Template: scheme + "://" + rest, Subdomains: subdomains, Source: scheme + "://" + host}, nil
}

// file is one asset, ready to serve.
type file struct {
	body  []byte
	ctype string
	etag  string
}

type handler struct {
	files map[string]file
	csp   string
}

// Handler serves the console under Prefix: the embedded assets, and
// config.json with the tile settings. A request for "/console" is
// redirected to "/console/", so that the page's URL is canonical.
func Handler(cfg Config) (http.Handler, error) {
	tiles, err := ParseTileURL(cfg.TileURL)
	if err != nil {
		return nil, err
	}
	h := &handler{files: map[string]file{}, csp: contentSecurityPolicy(tiles)}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		h.files[name] = newFile(name, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: assets: %w", err)
	}
	settings, err := json.Marshal(map[string]string{
		"tile_url":         tiles.Template,
		"tile_subdomains":  tiles.Subdomains,
		"tile_attribution": cfg.TileAttribution,
	})
	if err != nil {
		return nil, err
	}
	h.files["config.json"] = newFile("config.json", settings)
	return h, nil
}

func newFile(name string, b []byte) file {
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	return file{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// contentSecurityPolicy allows the console's own files and API only:
// scripts from files (no inline code, no eval), photos as blob: URLs
// (they are fetched with the bearer token), Leaflet's data: images, and
// the tile server's images when one is configured.
func contentSecurityPolicy(t Tiles) string {
	img := "'self' data: blob:"
	if t.Source != "" {
		img += " " + t.Source
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src " + img,
		"connect-src 'self'",
		"font-src 'self'",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	// Revalidate every time: a new binary brings new assets, and an
	// unchanged file costs a 304.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}
