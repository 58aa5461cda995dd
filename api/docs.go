package api

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"

	"github.com/fieldwatch/fieldwatch"
)

// docsFS holds the API docs page and Swagger UI, served from the binary.
//
//go:embed docs/index.html docs/init.js docs/swagger-ui-bundle.js docs/swagger-ui.css
var docsFS embed.FS

// docsCSP allows only our own scripts; Swagger UI needs inline styles.
const docsCSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"

func (s *Server) serveSpec(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "application/yaml", fieldwatch.OpenAPI)
}

func (s *Server) serveDocsIndex(c echo.Context) error {
	return s.serveDocsFile(c, "index.html")
}

func (s *Server) serveDocsAsset(c echo.Context) error {
	return s.serveDocsFile(c, c.Param("asset"))
}

func (s *Server) serveDocsFile(c echo.Context, name string) error {
	// Only plain names of embedded files; ServeFS would also accept paths.
	if name != path.Base(name) {
		return echo.ErrNotFound
	}
	b, err := fs.ReadFile(docsFS, "docs/"+name)
	if err != nil {
		return echo.ErrNotFound
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, ct, b)
}
