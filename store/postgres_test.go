package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for checks outside the store

	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"github.com/fieldwatch/fieldwatch/store"
	"github.com/fieldwatch/fieldwatch/store/storetest"
)

// openPostgresURL opens a store on url and closes it when t ends.
func openPostgresURL(t *testing.T, url string) *store.Store {
	t.Helper()
	s, err := store.OpenPostgres(t.Context(), url, store.WithClock(storetest.Clock))
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openPostgres opens a store on a fresh database of the test server.
func openPostgres(t *testing.T) *store.Store {
	t.Helper()
	return openPostgresURL(t, testservice.PostgresDB(t))
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, openPostgres)
}

func TestPostgresBackend(t *testing.T) {
	if got := openPostgres(t).Backend(); got != "postgres" {
		t.Fatalf("Backend() = %q, want postgres", got)
	}
}

// TestPostgresPostGIS checks that the first migration leaves PostGIS
// usable, since later migrations add geometry columns.
func TestPostgresPostGIS(t *testing.T) {
	url := testservice.PostgresDB(t)
	s := openPostgresURL(t, url)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(t.Context(), "SELECT postgis_version()").Scan(&v); err != nil {
		t.Fatalf("postgis_version(): %v", err)
	}
	t.Logf("PostGIS %s", v)
	var within bool
	err = db.QueryRowContext(t.Context(),
		`SELECT ST_Within(ST_SetSRID(ST_MakePoint(114.5, 38.0), 4326),
		                  ST_MakeEnvelope(114, 37.5, 115, 38.5, 4326))`).Scan(&within)
	if err != nil || !within {
		t.Fatalf("ST_Within = %v, %v", within, err)
	}
}

// TestPostgresPoolRecoversFromTerminatedConnections stands in for a server
// restart: the server ends every session of the store (SQLSTATE 57P01).
// A call may fail with ErrUnavailable, never with anything else, and the
// pool must serve the next call without reopening the store.
func TestPostgresPoolRecoversFromTerminatedConnections(t *testing.T) {
	url := testservice.PostgresDB(t)
	s := openPostgresURL(t, url)
	ctx := t.Context()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// Fill the pool with idle connections.
	done := make(chan error, 8)
	for range 8 {
		go func() { _, err := s.CountUsers(ctx); done <- err }()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var killed int
	err = admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil {
		t.Fatalf("terminate: %v", err)
	}
	if killed == 0 {
		t.Fatal("no store connection to terminate")
	}
	for i := range 20 {
		_, err := s.CountUsers(ctx)
		if err == nil {
			return
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("call %d after termination: %v, want nil or ErrUnavailable", i, err)
		}
		t.Logf("call %d after termination: %v", i, err)
	}
	t.Fatal("the pool did not recover")
}

// TestPostgresUnavailable needs no server: it points the store at
// addresses where no PostgreSQL answers.
func TestPostgresUnavailable(t *testing.T) {
	// A port that was just free: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()

	// A server that accepts and never answers: only the deadline ends
	// the connection attempt.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
	}{
		{"ConnectionRefused", fmt.Sprintf("postgres://fieldwatch@%s/fieldwatch?sslmode=disable", closedAddr), 5 * time.Second},
		{"NoAnswerContextDeadline", fmt.Sprintf("postgres://fieldwatch@%s/fieldwatch?sslmode=disable", mute.Addr()), 300 * time.Millisecond},
		{"NoAnswerConnectTimeout", fmt.Sprintf("postgres://fieldwatch@%s/fieldwatch?sslmode=disable&connect_timeout=1", mute.Addr()), time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openPostgresURL(t, tc.url)
			ctx, cancel := context.WithTimeout(t.Context(), tc.timeout)
			defer cancel()
			start := time.Now()
			err := s.Ping(ctx)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Ping = %v, want ErrUnavailable", err)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("Ping took %v", elapsed)
			}
			t.Logf("Ping: %v", err)
			if _, err := s.CountUsers(ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("CountUsers = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestOpenPostgresBadURL(t *testing.T) {
	_, err := store.OpenPostgres(t.Context(), "postgres://user:secret@host:notaport/db")
	if err == nil {
		t.Fatal("OpenPostgres accepted a malformed URL")
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("a malformed URL is a configuration error, not ErrUnavailable: %v", err)
	}
}
