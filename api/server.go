// Package api is fieldwatch's HTTP interface: an Echo server whose routes,
// types and request validation come from openapi.yaml (see generate.go).
//
// Handlers translate between HTTP and the domain; they hold no business
// rules and reach no SQL. Errors from every layer become
// application/problem+json in one table (problem.go).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldwatch/fieldwatch"
)

// Database is what the API needs of persistence for health and version.
type Database interface {
	Ping(ctx context.Context) error
	Backend() string
	Version(ctx context.Context) (int64, error)
}

// PhotoStore is what the API needs of the blob store for health.
type PhotoStore interface {
	Ping(ctx context.Context) error
}

// Config holds every dependency of the server. Zero values get defaults
// where a default is safe; New refuses a Config that lacks a required part.
type Config struct {
	Version      string
	Logger       *slog.Logger
	Registry     *prometheus.Registry
	DB           Database
	Photos       PhotoStore
	PhotoBackend string // "local" or "s3"
	Identity     Identity
	Accounts     Accounts
	Clock        func() time.Time
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// when finding the client address (rate limits, logs). Empty: the
	// peer address is the client, and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// MaxJSONBody bounds request bodies other than uploads.
	MaxJSONBody int64
	// ReadyTimeout bounds each dependency check of /readyz.
	ReadyTimeout time.Duration
}

// Server implements the generated StrictServerInterface.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	spec    *openapi3.T
	now     func() time.Time
	// knownPaths are the registered route templates, fixed after routes().
	knownPaths map[string]bool
}

var _ StrictServerInterface = (*Server)(nil)

// New builds the HTTP handler: routes from openapi.yaml, validation,
// authentication and authorization on every operation, infrastructure
// routes (/openapi.yaml, /docs, /metrics), logs and metrics.
func New(cfg Config) (*echo.Echo, error) {
	if cfg.DB == nil || cfg.Photos == nil {
		return nil, errors.New("api: Config needs DB and Photos")
	}
	if cfg.Identity == nil || cfg.Accounts == nil {
		return nil, errors.New("api: Config needs Identity and Accounts")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxJSONBody <= 0 {
		cfg.MaxJSONBody = 1 << 20
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: m, spec: spec, now: cfg.Clock}
	return s.routes()
}

// LoadSpec parses and validates the embedded openapi.yaml.
func LoadSpec() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(fieldwatch.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("api: load openapi.yaml: %w", err)
	}
	if err := spec.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml is invalid: %w", err)
	}
	// Servers would make the validator match on Host; we serve any host.
	spec.Servers = nil
	return spec, nil
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
