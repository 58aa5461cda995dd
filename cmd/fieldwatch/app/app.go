// Package app assembles fieldwatch from its parts: the database, the
// photo store, the identity service, the domain's services, the
// background jobs and the HTTP handler. It is the one place that wires
// them: `fieldwatch serve` runs it, and the API's tests start the same
// assembly on a test clock, so what is tested is what runs.
package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/console"
	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/store"
)

// Options are what the command line does not say: they exist for the
// binary's own plumbing and for tests. Zero values are production's.
type Options struct {
	Version string
	Logger  *slog.Logger // default: discard
	// Clock is the time every part reads; default time.Now. Tests drive
	// deadlines and expiries with it.
	Clock func() time.Time
	// Registry receives the service's metrics; default a new one.
	Registry *prometheus.Registry
	// Failpoint is called at named points of the upload path (see
	// Failpoints); nil in production.
	Failpoint func(string)
	// LoginLimits override the login throttles (tests log in many times
	// from one address).
	LoginLimits auth.LimiterConfig
	// AdjustAPI, when set, may change the HTTP layer's configuration just
	// before it is built (tests wrap a part to observe or block it).
	AdjustAPI func(*api.Config)
}

func (o Options) clock() func() time.Time {
	if o.Clock == nil {
		return time.Now
	}
	return o.Clock
}

// App is fieldwatch assembled. Its parts are exported for the commands
// that act on them directly (the demo data, tests).
type App struct {
	Config       Config
	DB           *store.Store
	Photos       blob.Bucket
	PhotoBackend string // "s3" or "local"
	Atlas        *fieldwatch.Atlas
	Identity     *auth.Service
	Intake       *fieldwatch.Intake
	Uploads      *fieldwatch.DirectUploads
	Archive      *fieldwatch.Archive
	Cases        *fieldwatch.Casework
	Patrols      *fieldwatch.Patrols
	Assessments  *fieldwatch.Assessor
	Thumbnails   *fieldwatch.Thumbnailer
	Reconciler   *fieldwatch.Reconciler
	Handler      http.Handler
	Logger       *slog.Logger

	now        func() time.Time
	jobs       *jobMetrics
	stop       context.CancelFunc
	background sync.WaitGroup
}

// New opens the database (applying migrations) and the photo store and
// builds every service and the HTTP handler. It starts nothing: Start
// runs the background jobs. Close releases what New opened.
func New(ctx context.Context, c Config, o Options) (_ *App, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	registry := o.Registry
	if registry == nil {
		registry = prometheus.NewRegistry()
	}
	a := &App{Config: c, Logger: log, now: o.clock()}
	storeOpts := []store.Option{store.WithEvidenceCache(c.EvidenceCacheTTL, 0)}
	if o.Clock != nil {
		storeOpts = append(storeOpts, store.WithClock(o.Clock))
	}
	db, applied, err := OpenMigrated(ctx, c, storeOpts...)
	if err != nil {
		return nil, err
	}
	a.DB = db
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	if len(applied) > 0 {
		log.Info("migrations applied", slog.Any("versions", applied))
	}
	if a.Photos, a.PhotoBackend, err = OpenPhotos(ctx, c, log); err != nil {
		return nil, err
	}
	if a.Atlas, err = fieldwatch.NewAtlas(ctx, db, fieldwatch.AtlasConfig{Clock: o.Clock}); err != nil {
		return nil, err
	}
	keys, err := SigningKeys(c)
	if err != nil {
		return nil, err
	}
	if a.Identity, err = newIdentity(c, keys, db, a.Atlas, o); err != nil {
		return nil, err
	}
	county := c.CountyBBox
	if county == nil && c.Demo {
		b, err := demo.CountyBox()
		if err != nil {
			return nil, err
		}
		county = &b
	}
	a.Intake, err = fieldwatch.NewIntake(db, a.Photos, fieldwatch.IntakeConfig{
		MaxPhotoBytes: c.MaxPhotoBytes, SpoolDir: c.SpoolDir, County: county, Logger: log,
		StaleAfter: c.UploadStaleAfter, Failpoint: o.Failpoint, Linker: a.Atlas, Clock: o.Clock,
		MaxStoring: uploadsStoring(c.UploadsStoring, db.PoolSize()),
	})
	if err != nil {
		return nil, err
	}
	a.Uploads = fieldwatch.NewDirectUploads(db, a.Photos, a.Intake, fieldwatch.DirectUploadsConfig{
		PerUser: c.UploadsPerUser, Total: c.UploadsTotal, Clock: o.Clock, Logger: log,
	})
	// The archive's reads by id may be up to EvidenceCacheTTL old for a
	// change made on another replica; this replica's own changes drop
	// the cached row as they commit (store.Cached).
	a.Archive = fieldwatch.NewArchive(db.Cached(), o.Clock)
	calendar, err := fieldwatch.NewCalendar(c.Timezone, c.Holidays, c.Workdays)
	if err != nil {
		return nil, err
	}
	if a.jobs, err = newJobMetrics(registry); err != nil {
		return nil, err
	}
	a.Reconciler = fieldwatch.NewReconciler(db, a.Photos, fieldwatch.ReconcileConfig{
		SpoolDir: c.SpoolDir, StaleAfter: c.UploadStaleAfter, OrphanAge: c.OrphanAge, Logger: log, Clock: o.Clock,
	})
	a.Cases = fieldwatch.NewCasework(db, db, db, fieldwatch.CaseRules{
		Calendar: calendar, Deadlines: c.CaseDeadlines, MaxDistanceM: c.RectificationRadius, Logger: log, Clock: o.Clock,
	})
	a.Patrols = fieldwatch.NewPatrols(db, db, db, fieldwatch.PatrolConfig{
		Rules: geo.PatrolRules{Buffer: c.PatrolBuffer}, Frequency: c.PatrolFrequency, Location: c.Timezone, Clock: o.Clock,
	})
	a.Assessments = fieldwatch.NewAssessor(db, a.Patrols, c.Timezone, o.Clock)
	// Every replica sweeps for missing previews; a worker claims each
	// photo before making them.
	// Previews wait while requests are in flight: they compete for the
	// same cores.
	load := &requestLoad{}
	a.Thumbnails = fieldwatch.NewThumbnailer(db, countedThumbnails{a.Photos, a.jobs.thumbnails},
		fieldwatch.ThumbnailConfig{Workers: c.ThumbnailWorkers, Logger: log, Clock: o.Clock, Load: load})

	// Cursors are signed with secrets derived from the JWT keys (read
	// above), which every replica shares already.
	ac := api.Config{
		Version:        o.Version,
		Logger:         log,
		Registry:       registry,
		DB:             db,
		PhotoStore:     a.Photos,
		Photos:         a.Photos,
		PhotoBackend:   a.PhotoBackend,
		Identity:       a.Identity,
		Accounts:       a.Identity,
		Intake:         a.Intake,
		Evidence:       a.Archive,
		Thumbnails:     a.Thumbnails,
		Uploads:        a.Uploads,
		Atlas:          a.Atlas,
		Cases:          a.Cases,
		Audit:          db,
		Patrols:        a.Patrols,
		Assessments:    a.Assessments,
		UploadsPerUser: c.UploadsPerUser,
		UploadsTotal:   c.UploadsTotal,
		UploadIdle:     c.UploadIdle,
		BodyTimeout:    c.BodyTimeout,
		CursorKeys:     keys.DeriveKeys("pagination cursors"),
		TrustedProxies: c.TrustedProxies,
		Console:        console.Config{TileURL: c.TileURL, TileAttribution: c.TileAttribution},
		Clock:          o.Clock,
	}
	if o.AdjustAPI != nil {
		o.AdjustAPI(&ac)
	}
	if a.Handler, err = api.New(ac); err != nil {
		return nil, err
	}
	a.Handler = load.wrap(a.Handler)
	return a, nil
}

// Start runs the background work until Close: the reconciler and the
// deadline job, each in one replica at a time (the one holding its lease,
// see fieldwatch.LeasedJob), and the thumbnail workers. The first passes run
// now, in the background: listing a large bucket must not delay listening.
func (a *App) Start(ctx context.Context) {
	c, log := a.Config, a.Logger
	// What a crash of this replica left in its spool. The reconciler
	// sweeps the spool of the replica that holds its lease only.
	if n, err := fieldwatch.SweepSpool(c.SpoolDir, a.now().Add(-c.UploadStaleAfter)); err != nil {
		log.Warn("sweeping the spool", slog.String("error", err.Error()))
	} else if n > 0 {
		log.Info("removed leftover spool files", slog.Int("count", n))
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	holder := fieldwatch.NewHolder(hostname())
	reconcile := &fieldwatch.LeasedJob{Name: "reconcile", Holder: holder, Leases: a.DB, Run: func(ctx context.Context) error {
		_, err := a.Reconciler.Run(ctx)
		// Claims on single photos' previews are left to expire.
		_, perr := a.DB.DeleteExpiredLeases(ctx, a.now())
		return errors.Join(err, perr)
	}}
	deadlines := &fieldwatch.LeasedJob{Name: "deadlines", Holder: holder, Leases: a.DB, Run: func(ctx context.Context) error {
		n, err := a.Cases.Sweep(ctx)
		if n > 0 {
			log.Info("cases escalated", slog.Int("cases", n))
		}
		return err
	}}
	a.background.Go(func() { runLeased(bg, reconcile, c.ReconcileInterval, a.jobs.passes, log) })
	a.background.Go(func() { runLeased(bg, deadlines, c.DeadlineInterval, a.jobs.passes, log) })
	a.Thumbnails.Start(bg, c.ReconcileInterval)
}

// Close stops the background work, waits for it, and closes the database.
// Call it after the HTTP server has finished its requests.
func (a *App) Close() error {
	if a.stop != nil {
		a.stop()
		a.Thumbnails.Wait()
		a.background.Wait()
	}
	return a.DB.Close()
}

// hostname names this replica in its job leases, for people reading the
// job_leases table.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "fieldwatch"
	}
	return h
}
