package console

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestParseTileURL(t *testing.T) {
	tests := []struct {
		name, raw                    string
		template, subdomains, source string
		wantErr                      bool
	}{
		{name: "Empty"},
		{
			name:       "Tianditu",
			raw:        "https://t{s:01234567}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY",
			template:   "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY",
			subdomains: "01234567", source: "https://*.tianditu.gov.cn",
		},
		{
			name: "DefaultSubdomains", raw: "https://{s}.tile.example.org/{z}/{x}/{y}.png",
			template: "https://{s}.tile.example.org/{z}/{x}/{y}.png", subdomains: "abc", source: "https://*.tile.example.org",
		},
		{
			name: "PlainHostWithPort", raw: "http://10.0.0.5:8080/tiles/{z}/{x}/{-y}.png",
			template: "http://10.0.0.5:8080/tiles/{z}/{x}/{-y}.png", subdomains: "abc", source: "http://10.0.0.5:8080",
		},
		{name: "ErrNoZ", raw: "https://tiles.example.org/{x}/{y}.png", wantErr: true},
		{name: "ErrScheme", raw: "ftp://tiles.example.org/{z}/{x}/{y}.png", wantErr: true},
		{name: "ErrRelative", raw: "/tiles/{z}/{x}/{y}.png", wantErr: true},
		{name: "ErrCSPInjection", raw: "https://tiles.example.org/{z}/{x}/{y}.png;script-src", wantErr: true},
		{name: "ErrQuote", raw: "https://tiles.example.org/{z}/{x}/{y}.png'", wantErr: true},
		{name: "ErrPlaceholderInner", raw: "https://tiles.{s}.example.org/{z}/{x}/{y}.png", wantErr: true},
		{name: "ErrUserinfo", raw: "https://user@tiles.example.org/{z}/{x}/{y}.png", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTileURL(tc.raw)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Tiles{Template: tc.template, Subdomains: tc.subdomains, Source: tc.source}
			if tc.raw == "" {
				want = Tiles{}
			}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func serve(t *testing.T, h http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler(t *testing.T) {
	h, err := Handler(Config{
		TileURL:         "https://t{s:01234567}.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY",
		TileAttribution: "天地图",
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("RedirectToSlash", func(t *testing.T) {
		rec := serve(t, h, "GET", "/console", nil)
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/console/" {
			t.Fatalf("%d %v", rec.Code, rec.Header())
		}
	})
	t.Run("Index", func(t *testing.T) {
		rec := serve(t, h, "GET", "/console/", nil)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "connect-src 'self'", "img-src 'self' data: blob: https://*.tianditu.gov.cn", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("CSP allows unsafe sources: %q", csp)
		}
	})
	t.Run("Config", func(t *testing.T) {
		rec := serve(t, h, "GET", "/console/config.json", nil)
		var c map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || rec.Code != 200 {
			t.Fatalf("%d %s %v", rec.Code, rec.Body, err)
		}
		if c["tile_subdomains"] != "01234567" || !strings.HasPrefix(c["tile_url"], "https://t{s}.tianditu.gov.cn/") || c["tile_attribution"] != "天地图" {
			t.Fatalf("config.json %v", c)
		}
	})
	t.Run("ModuleType", func(t *testing.T) {
		rec := serve(t, h, "GET", "/console/app.js", nil)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
			t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		etag := rec.Header().Get("ETag")
		rec = serve(t, h, "GET", "/console/app.js", map[string]string{"If-None-Match": etag})
		if etag == "" || rec.Code != http.StatusNotModified {
			t.Fatalf("revalidation with ETag %q: %d", etag, rec.Code)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []string{"/console/nope.js", "/console/../console.go", "/console/vendor", "/other"} {
			if rec := serve(t, h, "GET", p, nil); rec.Code != http.StatusNotFound {
				t.Errorf("GET %s: %d", p, rec.Code)
			}
		}
	})
	t.Run("ErrMethod", func(t *testing.T) {
		if rec := serve(t, h, "POST", "/console/", nil); rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST: %d", rec.Code)
		}
	})
}

func TestHandlerRefusesBadTileURL(t *testing.T) {
	if _, err := Handler(Config{TileURL: "https://a.example/{z}/{x}/{y}.png; script-src *"}); err == nil {
		t.Fatal("a tile URL that breaks the CSP was accepted")
	}
}

// Everything the page loads exists, and the page has no inline script or
// style for the CSP to refuse.
func TestAssetsAreComplete(t *testing.T) {
	h, err := Handler(Config{})
	if err != nil {
		t.Fatal(err)
	}
	index, err := fs.ReadFile(assets, "assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/console/[^"]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 5 {
		t.Fatalf("index.html references %d assets", len(refs))
	}
	for _, m := range refs {
		if rec := serve(t, h, "GET", m[1], nil); rec.Code != 200 {
			t.Errorf("index.html loads %s: %d", m[1], rec.Code)
		}
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|style="|\son[a-z]+=`).Match(index) {
		t.Error("index.html has inline script, style or event handlers, which the CSP refuses")
	}
	imports := regexp.MustCompile(`from "\./([a-z]+\.js)"`)
	mods, err := fs.Glob(assets, "assets/*.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range mods {
		src, err := fs.ReadFile(assets, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imports.FindAllStringSubmatch(string(src), -1) {
			if _, err := fs.Stat(assets, "assets/"+m[1]); err != nil {
				t.Errorf("%s imports %s, which does not exist", name, m[1])
			}
		}
		// Tokens live in memory only.
		if strings.Contains(string(src), "localStorage.") && !strings.HasSuffix(name, "i18n.js") {
			t.Errorf("%s uses localStorage; only the language preference may", name)
		}
	}
}
