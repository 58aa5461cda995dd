package api

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// GetHealth answers as long as the process serves HTTP.
func (s *Server) GetHealth(context.Context, GetHealthRequestObject) (GetHealthResponseObject, error) {
	return GetHealth200JSONResponse{Status: HealthStatusOk}, nil
}

// GetReady checks the database and the photo store concurrently, each under
// its own deadline, and names the one that fails.
func (s *Server) GetReady(ctx context.Context, _ GetReadyRequestObject) (GetReadyResponseObject, error) {
	checks := []struct {
		name    CheckName
		backend string
		ping    func(context.Context) error
	}{
		{CheckNameDatabase, s.cfg.DB.Backend(), s.cfg.DB.Ping},
		{CheckNamePhotoStore, s.cfg.PhotoBackend, s.cfg.PhotoStore.Ping},
	}
	results := make([]Check, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
			defer cancel()
			start := time.Now()
			err := c.ping(ctx)
			ms := float32(time.Since(start).Microseconds()) / 1000
			backend := c.backend
			r := Check{Name: c.name, Ok: err == nil, Backend: &backend, DurationMs: &ms}
			if err != nil {
				// /readyz is public: name the failing part, keep the cause
				// (hosts, users, paths) in the log.
				msg := "unreachable"
				if ctx.Err() != nil {
					msg = "timed out"
				}
				r.Error = &msg
				s.log.WarnContext(ctx, "readiness check failed",
					slog.String("check", string(c.name)), slog.String("error", err.Error()))
			}
			results[i] = r
		})
	}
	wg.Wait()
	for _, r := range results {
		if !r.Ok {
			return GetReady503JSONResponse{Status: ReadinessStatusUnavailable, Checks: results}, nil
		}
	}
	return GetReady200JSONResponse{Status: ReadinessStatusReady, Checks: results}, nil
}

// GetVersion reports the build and which backends this instance runs on.
func (s *Server) GetVersion(ctx context.Context, _ GetVersionRequestObject) (GetVersionResponseObject, error) {
	v := Version{
		Version:    s.cfg.Version,
		Database:   VersionDatabase(s.cfg.DB.Backend()),
		PhotoStore: VersionPhotoStore(s.cfg.PhotoBackend),
	}
	if n, err := s.cfg.DB.Version(ctx); err == nil {
		v.SchemaVersion = &n
	}
	return GetVersion200JSONResponse(v), nil
}
