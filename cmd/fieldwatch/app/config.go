package app

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/console"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/store"
)

// Config is everything the service can be told. Each setting has a flag and
// a FIELDWATCH_* environment variable; a flag given on the command line wins
// over the environment, which wins over the default.
type Config struct {
	Addr            string
	DataDir         string
	DatabaseURL     string
	PhotoDir        string
	S3Endpoint      string
	S3Bucket        string
	S3Region        string
	S3AccessKey     string
	S3SecretKey     string
	S3TLS           bool
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	TrustedProxies  []netip.Prefix
	JWTKeys         string
	JWTIssuer       string
	JWTAudience     string
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	UserCacheTTL    time.Duration
	// EvidenceCacheTTL bounds how stale a read of evidence by id may be
	// when another replica changed it; 0 turns the cache off.
	EvidenceCacheTTL time.Duration
	Demo             bool

	MaxPhotoBytes     int64
	SpoolDir          string
	CountyBBox        *geo.Box
	UploadsPerUser    int
	UploadsTotal      int
	UploadsStoring    int
	MemoryLimit       int64
	UploadIdle        time.Duration
	BodyTimeout       time.Duration
	MaxConnsPerAddr   int
	ThumbnailWorkers  int
	ReconcileInterval time.Duration
	UploadStaleAfter  time.Duration
	OrphanAge         time.Duration

	Timezone            *time.Location
	Holidays            []string
	Workdays            []string
	CaseDeadlines       fieldwatch.DeadlinePolicy
	RectificationRadius float64
	DeadlineInterval    time.Duration
	PatrolFrequency     fieldwatch.Frequency
	PatrolBuffer        float64

	TileURL         string
	TileAttribution string
}

// Setting describes one configuration entry for flags, env and the README.
type Setting struct {
	Flag, Env, Default, Usage string
	set                       func(c *Config, v string) error
	isBool                    bool // "--demo" alone means true
}

// Settings lists every setting, in the README's order.
func Settings() []Setting {
	str := func(dst func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *dst(c) = v; return nil }
	}
	dur := func(dst func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration like 30s or 15m, got %q", v)
			}
			*dst(c) = d
			return nil
		}
	}
	boolean := func(dst func(*Config) *bool) func(*Config, string) error {
		return func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*dst(c) = b
			return nil
		}
	}
	integer := func(dst func(*Config) *int) func(*Config, string) error {
		return func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("want a positive integer, got %q", v)
			}
			*dst(c) = n
			return nil
		}
	}
	return []Setting{
		{"addr", "FIELDWATCH_ADDR", ":8080", "listen address (host:port; port 0 picks a free one)", str(func(c *Config) *string { return &c.Addr }), false},
		{"data-dir", "FIELDWATCH_DATA_DIR", "./data", "directory for the embedded database, photos and generated keys", str(func(c *Config) *string { return &c.DataDir }), false},
		{"database-url", "FIELDWATCH_DATABASE_URL", "", "postgres://… for PostgreSQL/PostGIS; empty: SQLite file DATA_DIR/fieldwatch.db; sqlite:PATH for another file", str(func(c *Config) *string { return &c.DatabaseURL }), false},
		{"photo-dir", "FIELDWATCH_PHOTO_DIR", "", "local photo directory when no S3 endpoint is set (default DATA_DIR/photos)", str(func(c *Config) *string { return &c.PhotoDir }), false},
		{"s3-endpoint", "FIELDWATCH_S3_ENDPOINT", "", "S3/MinIO endpoint host:port; set it to store photos in S3", str(func(c *Config) *string { return &c.S3Endpoint }), false},
		{"s3-bucket", "FIELDWATCH_S3_BUCKET", "fieldwatch", "S3 bucket (created if missing)", str(func(c *Config) *string { return &c.S3Bucket }), false},
		{"s3-region", "FIELDWATCH_S3_REGION", "us-east-1", "S3 region", str(func(c *Config) *string { return &c.S3Region }), false},
		{"s3-access-key", "FIELDWATCH_S3_ACCESS_KEY", "", "S3 access key", str(func(c *Config) *string { return &c.S3AccessKey }), false},
		{"s3-secret-key", "FIELDWATCH_S3_SECRET_KEY", "", "S3 secret key (prefer the environment variable: flags show in ps)", str(func(c *Config) *string { return &c.S3SecretKey }), false},
		{"s3-tls", "FIELDWATCH_S3_TLS", "true", "use HTTPS to reach S3", boolean(func(c *Config) *bool { return &c.S3TLS }), true},
		{"log-level", "FIELDWATCH_LOG_LEVEL", "info", "debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel }), false},
		{"log-format", "FIELDWATCH_LOG_FORMAT", "json", "json or text", str(func(c *Config) *string { return &c.LogFormat }), false},
		{"shutdown-timeout", "FIELDWATCH_SHUTDOWN_TIMEOUT", "30s", "how long in-flight requests (uploads) may finish after SIGINT/SIGTERM", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout }), false},
		{"trusted-proxies", "FIELDWATCH_TRUSTED_PROXIES", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed", func(c *Config, v string) error {
			c.TrustedProxies = nil
			for _, s := range SplitList(v) {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return fmt.Errorf("want CIDRs like 10.0.0.0/8, got %q", s)
				}
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
			return nil
		}, false},
		{"jwt-keys", "FIELDWATCH_JWT_KEYS", "", "access-token signing keys, kid:seed,… (newest first); empty: a key generated once into DATA_DIR/jwt-keys", str(func(c *Config) *string { return &c.JWTKeys }), false},
		{"jwt-issuer", "FIELDWATCH_JWT_ISSUER", "fieldwatch", "access-token issuer (iss)", str(func(c *Config) *string { return &c.JWTIssuer }), false},
		{"jwt-audience", "FIELDWATCH_JWT_AUDIENCE", "fieldwatch-api", "access-token audience (aud)", str(func(c *Config) *string { return &c.JWTAudience }), false},
		{"access-ttl", "FIELDWATCH_ACCESS_TTL", "15m", "access-token lifetime", dur(func(c *Config) *time.Duration { return &c.AccessTTL }), false},
		{"refresh-ttl", "FIELDWATCH_REFRESH_TTL", "720h", "refresh-token lifetime", dur(func(c *Config) *time.Duration { return &c.RefreshTTL }), false},
		{"user-cache-ttl", "FIELDWATCH_USER_CACHE_TTL", "2s", "how long a request may be authenticated against a user row read before: the bound on how late a deactivation, role or password change made on another replica takes effect (at most 1m; 0 reads the row on every request)", func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > auth.MaxUserCacheTTL {
				return fmt.Errorf("want a duration from 0 to %v, got %q", auth.MaxUserCacheTTL, v)
			}
			c.UserCacheTTL = d
			return nil
		}, false},
		{"evidence-cache-ttl", "FIELDWATCH_EVIDENCE_CACHE_TTL", "2s", "how long a read of one evidence item by id may be answered from a row read before: the bound on how late a thumbnail, relink or other change made on another replica shows (at most 1m; 0 reads the row on every request)", func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > store.MaxEvidenceCacheTTL {
				return fmt.Errorf("want a duration from 0 to %v, got %q", store.MaxEvidenceCacheTTL, v)
			}
			c.EvidenceCacheTTL = d
			return nil
		}, false},
		{"demo", "FIELDWATCH_DEMO", "false", "load the demo county and demo users at start (passwords printed once)", boolean(func(c *Config) *bool { return &c.Demo }), true},
		{"max-photo-bytes", "FIELDWATCH_MAX_PHOTO_BYTES", "41943040", "largest photo accepted, in bytes (default 40 MiB)", func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("want a positive number of bytes, got %q", v)
			}
			c.MaxPhotoBytes = n
			return nil
		}, false},
		{"spool-dir", "FIELDWATCH_SPOOL_DIR", "", "where uploads are received before they are stored (default DATA_DIR/spool)", str(func(c *Config) *string { return &c.SpoolDir }), false},
		{"county-bbox", "FIELDWATCH_COUNTY_BBOX", "", "minLon,minLat,maxLon,maxLat of the county; evidence outside is flagged (with --demo: the demo county)", func(c *Config, v string) error {
			c.CountyBBox = nil
			if v == "" {
				return nil
			}
			var b [4]float64
			parts := strings.Split(v, ",")
			if len(parts) != 4 {
				return fmt.Errorf("want minLon,minLat,maxLon,maxLat, got %q", v)
			}
			for i, p := range parts {
				f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
				if err != nil {
					return fmt.Errorf("want minLon,minLat,maxLon,maxLat, got %q", v)
				}
				b[i] = f
			}
			box, err := geo.NewBox(b[0], b[1], b[2], b[3])
			if err != nil {
				return err
			}
			c.CountyBBox = &box
			return nil
		}, false},
		{"uploads-per-user", "FIELDWATCH_UPLOADS_PER_USER", "8", "uploads one user may have in flight (429 beyond)", integer(func(c *Config) *int { return &c.UploadsPerUser }), false},
		{"uploads-total", "FIELDWATCH_UPLOADS_TOTAL", "1000", "uploads in flight in all (503 beyond)", integer(func(c *Config) *int { return &c.UploadsTotal }), false},
		{"uploads-storing", "FIELDWATCH_UPLOADS_STORING", "16", "uploads storing their photo and committing at once; the others wait with their body in the spool (at most the database pool less a third)", integer(func(c *Config) *int { return &c.UploadsStoring }), false},
		{"memory-limit", "FIELDWATCH_MEMORY_LIMIT", "192MiB", "the Go runtime's soft memory limit, bytes or with KiB/MiB/GiB; 0: none; GOMEMLIMIT, when set, wins", func(c *Config, v string) error {
			n, err := ParseBytes(v)
			if err != nil {
				return err
			}
			c.MemoryLimit = n
			return nil
		}, false},
		{"upload-idle", "FIELDWATCH_UPLOAD_IDLE", "60s", "an upload that receives nothing for this long is cut", dur(func(c *Config) *time.Duration { return &c.UploadIdle }), false},
		{"body-timeout", "FIELDWATCH_BODY_TIMEOUT", "30s", "a request body other than an upload must arrive within this long (408 and the connection closed beyond)", dur(func(c *Config) *time.Duration { return &c.BodyTimeout }), false},
		{"max-conns-per-addr", "FIELDWATCH_MAX_CONNS_PER_ADDR", "128", "open connections one client address may hold (429 and closed beyond; 0: no cap; trusted proxies are exempt)", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("want a number of connections, 0 for no cap, got %q", v)
			}
			c.MaxConnsPerAddr = n
			return nil
		}, false},
		{"thumbnail-workers", "FIELDWATCH_THUMBNAIL_WORKERS", "2", "background thumbnail workers (each may decode one photo)", integer(func(c *Config) *int { return &c.ThumbnailWorkers }), false},
		{"upload-stale-after", "FIELDWATCH_UPLOAD_STALE_AFTER", "5m", "an upload claim without a heartbeat for this long is abandoned (its phone's retry may then proceed)", dur(func(c *Config) *time.Duration { return &c.UploadStaleAfter }), false},
		{"orphan-age", "FIELDWATCH_ORPHAN_AGE", "1h", "a stored photo object with no evidence row is deleted once this old", dur(func(c *Config) *time.Duration { return &c.OrphanAge }), false},
		{"reconcile-interval", "FIELDWATCH_RECONCILE_INTERVAL", "5m", "how often abandoned uploads, orphan objects and spool files are cleaned up", dur(func(c *Config) *time.Duration { return &c.ReconcileInterval }), false},
		{"timezone", "FIELDWATCH_TIMEZONE", "Asia/Shanghai", "the county's time zone: working days and deadlines end at its midnight", func(c *Config, v string) error {
			loc, err := time.LoadLocation(v)
			if err != nil {
				return fmt.Errorf("want an IANA zone like Asia/Shanghai, got %q", v)
			}
			c.Timezone = loc
			return nil
		}, false},
		{"holidays", "FIELDWATCH_HOLIDAYS", "", "public holidays that are not working days, YYYY-MM-DD,… (e.g. 2026-10-01,2026-10-02)", func(c *Config, v string) error { c.Holidays = SplitList(v); return nil }, false},
		{"workdays", "FIELDWATCH_WORKDAYS", "", "weekend days worked in exchange for a holiday (调休), YYYY-MM-DD,…", func(c *Config, v string) error { c.Workdays = SplitList(v); return nil }, false},
		{"case-deadlines", "FIELDWATCH_CASE_DEADLINES", "", "working days to rectify by category and severity, over the defaults: CATEGORY:SEVERITY=DAYS,… (e.g. open_burning:high=1)", func(c *Config, v string) error {
			p, err := fieldwatch.ParseDeadlines(v)
			if err != nil {
				return err
			}
			c.CaseDeadlines = p
			return nil
		}, false},
		{"rectification-radius", "FIELDWATCH_RECTIFICATION_RADIUS", "100", "rectification photos must be taken within this many metres of the case's evidence", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= 10000) {
				return fmt.Errorf("want metres in (0, 10000], got %q", v)
			}
			c.RectificationRadius = f
			return nil
		}, false},
		{"deadline-interval", "FIELDWATCH_DEADLINE_INTERVAL", "10m", "how often overdue cases are marked and escalated", dur(func(c *Config) *time.Duration { return &c.DeadlineInterval }), false},
		{"patrol-frequency", "FIELDWATCH_PATROL_FREQUENCY", "", "patrol period per chief level over the defaults (village=week,township=month,county=quarter)", func(c *Config, v string) error {
			f, err := fieldwatch.ParseFrequency(v)
			if err != nil {
				return err
			}
			c.PatrolFrequency = f
			return nil
		}, false},
		{"patrol-buffer", "FIELDWATCH_PATROL_BUFFER", "50", "a reach counts as covered within this many metres of a patrol's track", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= 1000) {
				return fmt.Errorf("want metres in (0, 1000], got %q", v)
			}
			c.PatrolBuffer = f
			return nil
		}, false},
		{"tile-url", "FIELDWATCH_TILE_URL", "", "base-map tile URL template for the console ({z}/{x}/{y}, {s} or {s:0123} for subdomains); empty: township and reach layers only", func(c *Config, v string) error {
			if _, err := console.ParseTileURL(v); err != nil {
				return err
			}
			c.TileURL = v
			return nil
		}, false},
		{"tile-attribution", "FIELDWATCH_TILE_ATTRIBUTION", "", "text the console shows on the map for the tile provider (e.g. 天地图)", str(func(c *Config) *string { return &c.TileAttribution }), false},
	}
}

// ParseConfig reads flags from args over the environment over defaults.
// It returns the remaining positional arguments. Tests build the
// service's configuration the same way, from a map of variables.
func ParseConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, []string, error) {
	var c Config
	all := Settings()
	for _, s := range all {
		v := s.Default
		if e := getenv(s.Env); e != "" {
			v = e
		}
		if err := s.set(&c, v); err != nil {
			return c, nil, fmt.Errorf("%s=%q: %w", s.Env, v, err)
		}
		usage := s.Usage + " ($" + s.Env + ", default " + quoteDefault(s.Default) + ")"
		if s.isBool {
			fs.BoolFunc(s.Flag, usage, func(v string) error { return s.set(&c, v) })
		} else {
			fs.Func(s.Flag, usage, func(v string) error { return s.set(&c, v) })
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if c.PhotoDir == "" {
		c.PhotoDir = filepath.Join(c.DataDir, "photos")
	}
	if c.SpoolDir == "" {
		c.SpoolDir = filepath.Join(c.DataDir, "spool")
	}
	return c, fs.Args(), c.validate()
}

func (c Config) validate() error {
	var errs []error
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("log format %q: want json or text", c.LogFormat))
	}
	if c.S3Endpoint != "" && (c.S3AccessKey == "" || c.S3SecretKey == "") {
		errs = append(errs, errors.New("S3 endpoint set without FIELDWATCH_S3_ACCESS_KEY and FIELDWATCH_S3_SECRET_KEY"))
	}
	if strings.Contains(c.S3Endpoint, "/") {
		errs = append(errs, fmt.Errorf("S3 endpoint %q: want host:port, without scheme (use --s3-tls)", c.S3Endpoint))
	}
	return errors.Join(errs...)
}

func quoteDefault(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// SplitList splits a comma-separated setting, dropping empty items.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
