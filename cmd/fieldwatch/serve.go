package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, rest, err := commandConfig("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("serve takes no arguments, got %q", rest)}
	}
	log := app.NewLogger(c, stderr)
	log.Info("memory limit", slog.String("limit", app.ApplyMemoryLimit(c, getenv)))
	a, err := app.New(ctx, c, app.Options{Version: version(), Logger: log, Failpoint: app.Failpoints(getenv, stderr)})
	if err != nil {
		return err
	}
	defer a.Close()
	if c.Demo {
		if err := createDemoUsers(ctx, a.Identity, a.DB, stdout); err != nil {
			return err
		}
		if err := loadDemoCounty(ctx, a.Atlas, a.Identity, a.DB, demoEpoch(time.Now(), c.Timezone), stdout); err != nil {
			return err
		}
		if err := seedDemoMonth(ctx, a.DB, a.Photos, a.Atlas, c.SpoolDir, c.Timezone, stdout); err != nil {
			return fmt.Errorf("demo month: %w", err)
		}
	}
	// Background work stops with the server, after in-flight requests
	// (the deferred Close).
	a.Start(ctx)

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln = capConnsPerAddr(ln, c.MaxConnsPerAddr, c.TrustedProxies, log)
	srv := &http.Server{
		Handler: a.Handler,
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
		version(), displayURL(addr), a.DB.Backend(), a.PhotoBackend)
	log.Info("listening", slog.String("addr", addr), slog.String("database", a.DB.Backend()), slog.String("photos", a.PhotoBackend))

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
	db, applied, err := app.OpenMigrated(ctx, c)
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
