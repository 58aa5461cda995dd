// Package testservice connects tests to the real services that the test
// command (scripts/test.sh) starts: PostgreSQL with PostGIS and an S3 server.
//
// Without the services a test skips with a message naming the command that
// provides them. Under CI=true a missing service fails the test instead:
// CI must never go green by skipping what it was meant to prove.
package testservice

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Environment variables set by scripts/test.sh.
const (
	EnvPostgresURL = "FIELDWATCH_TEST_POSTGRES_URL" // superuser URL of a scratch server
	EnvS3Endpoint  = "FIELDWATCH_TEST_S3_ENDPOINT"  // host:port
	EnvS3AccessKey = "FIELDWATCH_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "FIELDWATCH_TEST_S3_SECRET_KEY"
	EnvS3Region    = "FIELDWATCH_TEST_S3_REGION"
)

const runHint = "run `make test` (scripts/test.sh) to start PostgreSQL/PostGIS and the S3 server"

// missing skips the test, or fails it under CI=true.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not configured but CI=true: a service test must not skip in CI (%s)", what, runHint)
	}
	t.Skipf("%s not configured; %s", what, runHint)
}

// RandomName returns prefix followed by 12 random hex digits, usable as a
// database or bucket name.
func RandomName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + hex.EncodeToString(b[:])
}

// PostgresDB creates a fresh, empty database on the test PostgreSQL server,
// drops it when the test ends, and returns its connection URL.
func PostgresDB(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgresURL)
	if admin == "" {
		missing(t, EnvPostgresURL)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testservice: %s: %v", EnvPostgresURL, err)
	}
	name := RandomName("fwtest_")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("testservice: open %s: %v", EnvPostgresURL, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testservice: create database: %v (is the server up? %s)", err, runHint)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("testservice: reopen: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testservice: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// S3Env describes the test S3 server.
type S3Env struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Region    string
	UseTLS    bool
}

// S3 returns the test S3 server's settings.
func S3(t testing.TB) S3Env {
	t.Helper()
	env := S3Env{
		Endpoint:  os.Getenv(EnvS3Endpoint),
		AccessKey: os.Getenv(EnvS3AccessKey),
		SecretKey: os.Getenv(EnvS3SecretKey),
		Region:    os.Getenv(EnvS3Region),
	}
	if env.Endpoint == "" || env.AccessKey == "" || env.SecretKey == "" {
		missing(t, EnvS3Endpoint)
	}
	if env.Region == "" {
		env.Region = "us-east-1"
	}
	return env
}

// Bucket returns a fresh bucket name for one test. S3 bucket names must be
// lower case, 3–63 characters.
func Bucket(t testing.TB) string {
	t.Helper()
	return strings.ToLower(RandomName("fwtest-"))
}

// String describes the environment without secrets.
func (e S3Env) String() string {
	return fmt.Sprintf("s3://%s (region %s, tls %v)", e.Endpoint, e.Region, e.UseTLS)
}
