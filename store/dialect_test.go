package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"NoPlaceholders", "SELECT 1", "SELECT 1"},
		{"Several", "UPDATE t SET a = ?, b = ? WHERE id = ?", "UPDATE t SET a = $1, b = $2 WHERE id = $3"},
		{"InList", "WHERE id IN (?, ?, ?) LIMIT ?", "WHERE id IN ($1, $2, $3) LIMIT $4"},
		{"QuestionMarkInLiteral", "SELECT '?' || ? FROM t", "SELECT '?' || $1 FROM t"},
		{"EscapedQuoteInLiteral", "SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{"QuotedIdentifier", `SELECT "a?b" FROM t WHERE x = ?`, `SELECT "a?b" FROM t WHERE x = $1`},
		{"TenAndMore", "?,?,?,?,?,?,?,?,?,?,?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := postgresDialect.rebind(tc.in); got != tc.want {
				t.Errorf("postgres rebind(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := sqliteDialect.rebind(tc.in); got != tc.in {
				t.Errorf("sqlite rebind changed %q to %q", tc.in, got)
			}
		})
	}
}

func TestClassifyPostgres(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	tests := []struct {
		name string
		err  error
		want error // nil: passed through unclassified
	}{
		{"UniqueViolation", pg("23505"), ErrConflict},
		{"ForeignKeyViolation", pg("23503"), ErrNotFound},
		{"ConnectionFailure", pg("08006"), ErrUnavailable},
		{"ConnectionDoesNotExist", pg("08003"), ErrUnavailable},
		{"AdminShutdown", pg("57P01"), ErrUnavailable},
		{"CrashShutdown", pg("57P02"), ErrUnavailable},
		{"CannotConnectNow", pg("57P03"), ErrUnavailable},
		{"TooManyConnections", pg("53300"), ErrUnavailable},
		{"ReadOnlyAfterFailover", pg("25006"), ErrUnavailable},
		{"SyntaxError", pg("42601"), nil},
		{"CheckViolation", pg("23514"), nil},
		{"DeadlineExceeded", fmt.Errorf("x: %w", context.DeadlineExceeded), ErrUnavailable},
		{"Canceled", fmt.Errorf("x: %w", context.Canceled), nil},
		{"BadConn", driver.ErrBadConn, ErrUnavailable},
		{"UnexpectedEOF", io.ErrUnexpectedEOF, ErrUnavailable},
		{"Refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ErrUnavailable},
		{"Reset", fmt.Errorf("read: %w", syscall.ECONNRESET), ErrUnavailable},
		{"Other", errors.New("boom"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classifyPostgres(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("classified error %v lost its cause", got)
			}
			for _, sentinel := range []error{ErrConflict, ErrNotFound, ErrUnavailable} {
				if errors.Is(got, sentinel) != (sentinel == tc.want) {
					t.Errorf("classifyPostgres(%v) = %v; errors.Is %v = %v", tc.err, got, sentinel, !(sentinel == tc.want))
				}
			}
			if again := classifyPostgres(got); again.Error() != got.Error() {
				t.Errorf("classifying twice changed %q to %q", got, again)
			}
		})
	}
}

func TestTimeScan(t *testing.T) {
	want := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	tests := []struct {
		name string
		src  any
	}{
		{"SQLiteText", "2025-01-02T03:04:05.000006Z"},
		{"Bytes", []byte("2025-01-02T03:04:05.000006Z")},
		{"PostgresTimeInZone", want.In(time.FixedZone("CST", 8*3600))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got time.Time
			if err := (timeScan{t: &got}).Scan(tc.src); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	t.Run("NullIntoNullable", func(t *testing.T) {
		p := &want
		if err := (timeScan{null: &p}).Scan(nil); err != nil || p != nil {
			t.Fatalf("got %v, %v", p, err)
		}
	})
	t.Run("NullIntoNotNull", func(t *testing.T) {
		var got time.Time
		if err := (timeScan{t: &got}).Scan(nil); err == nil {
			t.Fatal("NULL accepted for a NOT NULL time")
		}
	})
	t.Run("SQLiteTextOrdersLikeTime", func(t *testing.T) {
		times := []time.Time{
			time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
			time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			time.Date(2025, 1, 2, 3, 4, 5, 1000, time.UTC),
			time.Date(2025, 1, 2, 3, 4, 5, 100000000, time.UTC),
			time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		}
		for i := 1; i < len(times); i++ {
			a, b := sqliteDialect.timeArg(times[i-1]).(string), sqliteDialect.timeArg(times[i]).(string)
			if !(a < b) || len(a) != len(b) {
				t.Errorf("%q !< %q", a, b)
			}
		}
	})
}
