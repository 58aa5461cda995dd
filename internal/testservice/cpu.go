package testservice

import (
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is this process's user and system CPU time (getrusage).
// Benchmarks report it per operation because the machine's other work
// inflates wall time but not the CPU an operation itself takes.
func ProcessCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPUMeter measures the CPU a benchmark's operations take: this
// process's and, when it reads PostgreSQL, that of the server backends
// connected to the same database (read from /proc: in tests the server
// runs on this machine).
type CPUMeter struct {
	db       *sql.DB // nil: no PostgreSQL
	self, pg time.Duration
}

// StartCPU starts measuring; db is a connection to the PostgreSQL
// database whose backends count, or nil.
func StartCPU(b *testing.B, db *sql.DB) *CPUMeter {
	b.Helper()
	m := &CPUMeter{db: db}
	m.self, m.pg = ProcessCPU(b), m.backendCPU(b)
	return m
}

// Report adds cpu-µs/op and, with PostgreSQL, pg-cpu-µs/op since
// StartCPU.
func (m *CPUMeter) Report(b *testing.B) {
	b.Helper()
	self, pg := ProcessCPU(b)-m.self, m.backendCPU(b)-m.pg
	b.ReportMetric(float64(self.Microseconds())/float64(b.N), "cpu-µs/op")
	if m.db != nil {
		b.ReportMetric(float64(pg.Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
}

// backendCPU sums user and system time of the PostgreSQL backends
// serving the database; 0 without one.
func (m *CPUMeter) backendCPU(b *testing.B) time.Duration {
	b.Helper()
	if m.db == nil {
		return 0
	}
	rows, err := m.db.QueryContext(b.Context(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Skipf("cannot read PostgreSQL backend CPU: %v", err)
		}
		// Fields after the command's closing parenthesis; utime and
		// stime are the 14th and 15th of the line, in clock ticks
		// (100 a second on Linux).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return total
}
