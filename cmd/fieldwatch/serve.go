package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/console"
	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/inspect"
	"github.com/fieldwatch/fieldwatch/media"
	"github.com/fieldwatch/fieldwatch/store"
)

// tempMaxAge is how old a leftover spool or temp file must be before the
// start-up sweep removes it: older than any upload still being written by
// another instance sharing the directory.
const tempMaxAge = time.Hour

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, rest, err := commandConfig("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("serve takes no arguments, got %q", rest)}
	}
	log := newLogger(c, stderr)

	db, applied, err := openMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(applied) > 0 {
		log.Info("migrations applied", slog.Any("versions", applied))
	}

	photos, photoBackend, err := openPhotos(ctx, c, log)
	if err != nil {
		return err
	}

	atlas, err := inspect.NewAtlas(ctx, db, inspect.AtlasConfig{})
	if err != nil {
		return err
	}
	identity, err := newIdentity(c, db, atlas)
	if err != nil {
		return err
	}
	if c.Demo {
		if err := createDemoUsers(ctx, identity, db, stdout); err != nil {
			return err
		}
		if err := loadDemoCounty(ctx, atlas, identity, db, demoEpoch(time.Now(), c.Timezone), stdout); err != nil {
			return err
		}
	}

	county := c.CountyBBox
	if county == nil && c.Demo {
		b, err := demo.CountyBox()
		if err != nil {
			return err
		}
		county = &b
	}
	intake, err := inspect.NewIntake(db, photos, inspect.IntakeConfig{
		MaxPhotoBytes: c.MaxPhotoBytes, SpoolDir: c.SpoolDir, County: county, Logger: log,
		StaleAfter: c.UploadStaleAfter, Failpoint: failpoints(getenv, stderr), Linker: atlas,
	})
	if err != nil {
		return err
	}
	calendar, err := inspect.NewCalendar(c.Timezone, c.Holidays, c.Workdays)
	if err != nil {
		return err
	}
	if c.Demo {
		if err := seedDemoMonth(ctx, db, photos, atlas, c.SpoolDir, c.Timezone, stdout); err != nil {
			return fmt.Errorf("demo month: %w", err)
		}
	}
	registry := prometheus.NewRegistry()
	jobs, err := newJobMetrics(registry)
	if err != nil {
		return err
	}
	// What a crash of this replica left in its spool. The reconciler
	// sweeps the spool of the replica that holds its lease only.
	if n, err := inspect.SweepSpool(c.SpoolDir, time.Now().Add(-c.UploadStaleAfter)); err != nil {
		log.Warn("sweeping the spool", slog.String("error", err.Error()))
	} else if n > 0 {
		log.Info("removed leftover spool files", slog.Int("count", n))
	}

	// Background work stops with the server: after in-flight requests.
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	reconciler := inspect.NewReconciler(db, photos, inspect.ReconcileConfig{
		SpoolDir: c.SpoolDir, StaleAfter: c.UploadStaleAfter, OrphanAge: c.OrphanAge, Logger: log,
	})
	cases := inspect.NewCasework(db, db, db, inspect.CaseRules{
		Calendar: calendar, Deadlines: c.CaseDeadlines, MaxDistanceM: c.RectificationRadius, Logger: log,
	})
	// Replicas sharing the database run each job in one of them: the one
	// holding its lease (see inspect.LeasedJob).
	holder := inspect.NewHolder(hostname())
	reconcile := &inspect.LeasedJob{Name: "reconcile", Holder: holder, Leases: db, Run: func(ctx context.Context) error {
		_, err := reconciler.Run(ctx)
		// Claims on single photos' previews are left to expire.
		_, perr := db.DeleteExpiredLeases(ctx, time.Now())
		return errors.Join(err, perr)
	}}
	deadlines := &inspect.LeasedJob{Name: "deadlines", Holder: holder, Leases: db, Run: func(ctx context.Context) error {
		n, err := cases.Sweep(ctx)
		if n > 0 {
			log.Info("cases escalated", slog.Int("cases", n))
		}
		return err
	}}
	// The first passes run at start, in the background: listing a large
	// bucket must not delay listening.
	var loops sync.WaitGroup
	loops.Go(func() { runLeased(bg, reconcile, c.ReconcileInterval, jobs.passes, log) })
	loops.Go(func() { runLeased(bg, deadlines, c.DeadlineInterval, jobs.passes, log) })
	patrols := inspect.NewPatrols(db, db, db, inspect.PatrolConfig{
		Rules: geo.PatrolRules{Buffer: c.PatrolBuffer}, Frequency: c.PatrolFrequency, Location: c.Timezone,
	})
	assessments := inspect.NewAssessor(db, patrols, c.Timezone, nil)
	// Every replica sweeps for missing previews; a worker claims each
	// photo before making them.
	thumbs := inspect.NewThumbnailer(db, countedThumbnails{photos, jobs.thumbnails},
		inspect.ThumbnailConfig{Workers: c.ThumbnailWorkers, Logger: log})
	thumbs.Start(bg, c.ReconcileInterval)
	defer func() {
		stopBackground()
		thumbs.Wait()
		loops.Wait() // before the deferred db.Close
	}()

	// Cursors are signed with secrets derived from the JWT keys, which
	// every replica shares already.
	keys, err := signingKeys(c)
	if err != nil {
		return err
	}
	cursorKeys := keys.DeriveKeys("pagination cursors")
	handler, err := api.New(api.Config{
		Version:        version(),
		Logger:         log,
		Registry:       registry,
		DB:             db,
		PhotoStore:     photos,
		Photos:         photos,
		PhotoBackend:   photoBackend,
		Identity:       identity,
		Accounts:       identity,
		Intake:         intake,
		Evidence:       db,
		Thumbnails:     thumbs,
		Uploads:        db,
		UploadBlobs:    photos,
		Atlas:          atlas,
		Reviews:        db,
		Cases:          cases,
		Audit:          db,
		Patrols:        patrols,
		Assessments:    assessments,
		UploadsPerUser: c.UploadsPerUser,
		UploadsTotal:   c.UploadsTotal,
		UploadIdle:     c.UploadIdle,
		BodyTimeout:    c.BodyTimeout,
		CursorKeys:     cursorKeys,
		TrustedProxies: c.TrustedProxies,
		Console:        console.Config{TileURL: c.TileURL, TileAttribution: c.TileAttribution},
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln = capConnsPerAddr(ln, c.MaxConnsPerAddr, c.TrustedProxies, log)
	srv := &http.Server{
		Handler: handler,
		// No ReadTimeout or WriteTimeout: a 5 MB photo over 256 kbit/s
		// takes minutes. Slow headers are cut; other bodies must arrive
		// within --body-timeout and uploads may not idle longer than
		// --upload-idle (both in package api); one address holds at most
		// --max-conns-per-addr connections.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20, // Go's default, stated: bounded, and room for any honest header
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "fieldwatch %s listening on %s (database: %s, photos: %s)\n",
		version(), displayURL(addr), db.Backend(), photoBackend)
	log.Info("listening", slog.String("addr", addr), slog.String("database", db.Backend()), slog.String("photos", photoBackend))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down", slog.Duration("deadline", c.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// In-flight requests outlived the deadline; phones retry them.
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, rest, err := commandConfig("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("migrate takes no arguments, got %q", rest)}
	}
	db, applied, err := openMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: applied %d migration(s), schema version %d\n", db.Backend(), len(applied), v)
	return nil
}

// openMigrated opens the database and applies pending migrations, as every
// command that touches data does first.
func openMigrated(ctx context.Context, c config) (*store.Store, []int64, error) {
	db, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return db, applied, nil
}

// openStore picks the database backend from the configured URL.
func openStore(ctx context.Context, c config) (*store.Store, error) {
	u := c.DatabaseURL
	switch {
	case u == "":
		return store.OpenSQLite(ctx, filepath.Join(c.DataDir, "fieldwatch.db"))
	case strings.HasPrefix(u, "sqlite:"):
		return store.OpenSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "//"))
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return store.OpenPostgres(ctx, u)
	default:
		// Never echo the URL: it may hold a password.
		return nil, usageError{errors.New("database URL: want postgres://…, postgresql://… or sqlite:PATH")}
	}
}

// openPhotos picks the blob store: S3 when an endpoint is configured, else
// the local directory.
func openPhotos(ctx context.Context, c config, log *slog.Logger) (media.Store, string, error) {
	if c.S3Endpoint != "" {
		s3, err := media.NewS3(ctx, media.S3Config{
			Endpoint:  c.S3Endpoint,
			Bucket:    c.S3Bucket,
			Region:    c.S3Region,
			AccessKey: c.S3AccessKey,
			SecretKey: c.S3SecretKey,
			UseTLS:    c.S3TLS,
			// Every photo goes up as one streamed PUT from its spool file,
			// carrying its SHA-256: with parts, minio-go would buffer a
			// part per upload in memory.
			PartSize: max(media.DefaultPartSize, c.MaxPhotoBytes),
		})
		if err != nil {
			return nil, "", fmt.Errorf("photo store: %w", err)
		}
		return s3, "s3", nil
	}
	if err := os.MkdirAll(c.PhotoDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("photo store: %w", err)
	}
	dir, err := media.NewDir(c.PhotoDir)
	if err != nil {
		return nil, "", fmt.Errorf("photo store: %w", err)
	}
	if n, err := dir.SweepTemp(ctx, tempMaxAge); err != nil {
		log.Warn("sweeping photo temp files", slog.String("error", err.Error()))
	} else if n > 0 {
		log.Info("removed leftover photo temp files", slog.Int("count", n))
	}
	return dir, "local", nil
}

// failpoints reads FIELDWATCH_FAILPOINTS, a comma-separated list of
// upload-path points where the process exits at once (exit status 86), as
// a crash would. It exists for the fault tests; unset, it costs nothing.
func failpoints(getenv func(string) string, stderr io.Writer) func(string) {
	set := map[string]bool{}
	for _, p := range splitList(getenv("FIELDWATCH_FAILPOINTS")) {
		set[p] = true
	}
	if len(set) == 0 {
		return nil
	}
	return func(name string) {
		if set[name] {
			fmt.Fprintf(stderr, "fieldwatch: failpoint %s: exiting\n", name)
			os.Exit(86)
		}
	}
}

// displayURL turns a listener address into something a person can click.
func displayURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
