package testservice

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// EnvPostgresBin names the directory of the PostgreSQL server programs
// (initdb, pg_ctl) scripts/test.sh found.
const EnvPostgresBin = "FIELDWATCH_TEST_PG_BIN"

// PostgresProcess is a PostgreSQL server of the test's own, which it may
// stop and restart to simulate a database outage. Its data survives
// restarts.
type PostgresProcess struct {
	t     testing.TB
	bin   string
	dir   string
	port  int
	runas string // "postgres" when running as root: initdb refuses root
	// URL connects to its postgres database as the superuser.
	URL string
}

// StartPostgresProcess initialises and starts a private PostgreSQL on a
// free loopback port and stops it when the test ends. PostGIS comes from
// the same installation as the shared test server.
func StartPostgresProcess(t testing.TB) *PostgresProcess {
	t.Helper()
	bin := os.Getenv(EnvPostgresBin)
	if bin == "" {
		missing(t, EnvPostgresBin)
	}
	// Not t.TempDir: its parents are private to root, and the cluster's
	// owner must reach it.
	dir, err := os.MkdirTemp("", "fieldwatch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &PostgresProcess{t: t, bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root but there is no postgres user to own the cluster: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.runas = "postgres"
	}
	if out, err := p.command("initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	p.Start()
	t.Cleanup(func() { p.stop("immediate") })
	return p
}

func (p *PostgresProcess) data() string { return filepath.Join(p.dir, "data") }

func (p *PostgresProcess) command(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, prog)
	if p.runas != "" {
		return exec.Command("runuser", append([]string{"-u", p.runas, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// Start starts the server and waits until it accepts connections.
func (p *PostgresProcess) Start() {
	p.t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c max_connections=100", p.port, p.dir)
	if out, err := p.command("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
		p.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop shuts the server down the way an operator restarting it would:
// sessions are disconnected, transactions in flight roll back.
func (p *PostgresProcess) Stop() {
	p.t.Helper()
	if out, err := p.stop("fast"); err != nil {
		p.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (p *PostgresProcess) stop(mode string) ([]byte, error) {
	if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err != nil {
		return nil, nil // not running
	}
	return p.command("pg_ctl", "-D", p.data(), "-m", mode, "-w", "-t", "30", "stop").CombinedOutput()
}
