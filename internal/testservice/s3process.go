package testservice

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// EnvVersitygw names the versitygw binary scripts/test.sh built.
const EnvVersitygw = "FIELDWATCH_TEST_VERSITYGW"

// S3Process is an S3 server of the test's own, which it may stop and
// restart to simulate an object store outage. Its data survives restarts.
type S3Process struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	Env  S3Env
}

// StartS3Process starts a private versitygw on a free loopback port and
// stops it when the test ends.
func StartS3Process(t testing.TB) *S3Process {
	t.Helper()
	bin := os.Getenv(EnvVersitygw)
	if bin == "" {
		missing(t, EnvVersitygw)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	for _, d := range []string{"root", "meta"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &S3Process{t: t, bin: bin, dir: dir, port: port, Env: S3Env{
		Endpoint:  fmt.Sprintf("127.0.0.1:%d", port),
		AccessKey: RandomName("AK"),
		SecretKey: RandomName("secret-") + RandomName(""),
		Region:    "us-east-1",
	}}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Start launches the server (again) and waits until it answers HTTP.
func (p *S3Process) Start() {
	p.t.Helper()
	if p.cmd != nil {
		return
	}
	cmd := exec.Command(p.bin, "--port", p.Env.Endpoint, "--region", p.Env.Region, "--quiet",
		"posix", "--sidecar", filepath.Join(p.dir, "meta"), filepath.Join(p.dir, "root"))
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+p.Env.AccessKey, "ROOT_SECRET_KEY="+p.Env.SecretKey)
	log, err := os.OpenFile(filepath.Join(p.dir, "versitygw.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start versitygw: %v", err)
	}
	p.cmd = cmd
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		res, err := http.Get("http://" + p.Env.Endpoint + "/")
		if err == nil {
			res.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(p.dir, "versitygw.log"))
	p.t.Fatalf("versitygw did not answer within 30s:\n%s", b)
}

// Stop kills the server at once, as a crash or an outage would.
func (p *S3Process) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}
