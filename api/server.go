// Package api is fieldwatch's HTTP interface: an Echo server whose routes,
// types and request validation come from openapi.yaml (see generate.go).
//
// Handlers translate between HTTP and the domain; they hold no business
// rules and reach no SQL. Errors from every layer become
// application/problem+json in one table (problem.go).
package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/console"
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
	PhotoStore   PhotoStore
	PhotoBackend string // "local" or "s3"
	Identity     Identity
	Accounts     Accounts
	Intake       Intake
	Evidence     Archive
	Photos       PhotoReader
	Thumbnails   ThumbnailQueue
	Uploads      DirectUploads
	Atlas        Atlas
	Cases        Casework
	// Audit is the trail the store writes in the transactions of the
	// changes it records.
	Audit AuditLog
	// Patrols and Assessments serve river patrols and the monthly
	// township assessment.
	Patrols     PatrolService
	Assessments AssessmentService
	// UploadsPerUser and UploadsTotal cap uploads in flight in this
	// process, per user (429 beyond) and in all (503 beyond). Defaults
	// fieldwatch.DefaultUploadsPerUser and DefaultUploadsTotal. Open
	// direct-upload sessions are capped alike by fieldwatch.DirectUploads.
	UploadsPerUser int
	UploadsTotal   int
	// UploadIdle is how long an upload may go without receiving a byte
	// before it is cut; a slow but live 3G upload is never cut. Default 60 s.
	UploadIdle time.Duration
	Clock      func() time.Time
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// when finding the client address (rate limits, logs). Empty: the
	// peer address is the client, and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// MaxJSONBody bounds request bodies other than uploads.
	MaxJSONBody int64
	// BodyTimeout bounds how long a request body other than an upload
	// may take to arrive, from the end of its headers; beyond it the
	// request is answered 408 and the connection closed, so a client
	// that announces bytes it never sends cannot hold a connection.
	// Uploads keep their idle cut (UploadIdle) instead. Default 30 s.
	BodyTimeout time.Duration
	// CursorKeys sign the pagination cursors the server issues, so that
	// only cursors it wrote are accepted. The first key signs; every key
	// verifies (a key rotation keeps cursors in flight valid). Replicas
	// behind one load balancer must share them: cmd derives them from the
	// JWT signing keys (auth.KeySet.DeriveKeys). Empty: a random key for
	// this process, fit for one replica only.
	CursorKeys [][]byte
	// ReadyTimeout bounds each dependency check of /readyz.
	ReadyTimeout time.Duration
	// Console configures the review console served under /console/.
	Console console.Config
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
	metaSchema *openapi3.Schema
	// idempotent: the operations ("POST /v1/evidence") that take an
	// Idempotency-Key, whose 503s say to retry with the same key.
	idempotent map[string]bool
	uploads    *uploadSlots
	// maxUpload bounds an upload's whole body: the photo limit plus room
	// for the meta part and multipart framing.
	maxUpload int64
	cursors   cursorSigner
	// chunks are the upload bodies' read-ahead buffers (idleReader).
	chunks *sync.Pool
}

// ThumbnailQueue takes newly stored evidence for background thumbnails.
type ThumbnailQueue interface {
	Enqueue(e fieldwatch.Evidence)
}

var _ StrictServerInterface = (*Server)(nil)

// New builds the HTTP handler: routes from openapi.yaml, validation,
// authentication and authorization on every operation, infrastructure
// routes (/openapi.yaml, /docs, /metrics), logs and metrics.
func New(cfg Config) (*echo.Echo, error) {
	if cfg.DB == nil || cfg.PhotoStore == nil || cfg.Photos == nil {
		return nil, errors.New("api: Config needs DB, PhotoStore and Photos")
	}
	if cfg.Intake == nil || cfg.Evidence == nil || cfg.Uploads == nil || cfg.Atlas == nil || cfg.Cases == nil || cfg.Audit == nil ||
		cfg.Patrols == nil || cfg.Assessments == nil {
		return nil, errors.New("api: Config needs Intake, Evidence, Uploads, Atlas, Cases, Audit, Patrols and Assessments")
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
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 30 * time.Second
	}
	if len(cfg.CursorKeys) == 0 {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("api: cursor key: %w", err)
		}
		cfg.CursorKeys = [][]byte{key}
	}
	for _, k := range cfg.CursorKeys {
		if len(k) < 32 {
			return nil, errors.New("api: cursor keys need at least 32 bytes")
		}
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	if cfg.UploadsPerUser <= 0 {
		cfg.UploadsPerUser = fieldwatch.DefaultUploadsPerUser
	}
	if cfg.UploadsTotal <= 0 {
		cfg.UploadsTotal = fieldwatch.DefaultUploadsTotal
	}
	if cfg.UploadIdle <= 0 {
		cfg.UploadIdle = 60 * time.Second
	}
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	metaRef := spec.Components.Schemas["EvidenceMeta"]
	if metaRef == nil || metaRef.Value == nil {
		return nil, errors.New("api: openapi.yaml lacks the EvidenceMeta schema")
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: m, spec: spec, now: cfg.Clock,
		metaSchema: metaRef.Value, idempotent: idempotentOperations(spec), uploads: newUploadSlots(cfg.UploadsPerUser, cfg.UploadsTotal),
		maxUpload: cfg.Intake.MaxPhotoBytes() + maxMetaBytes + 64<<10,
		cursors:   cursorSigner{keys: cfg.CursorKeys}, chunks: newChunkPool()}
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
