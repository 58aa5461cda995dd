package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"github.com/fieldwatch/fieldwatch/internal/testwait"
)

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

// server is a running `fieldwatch serve`.
type server struct {
	url    string
	stdout *lineBuffer
	done   chan error
	cancel context.CancelFunc
}

// lineBuffer collects what the program prints, for assertions.
type lineBuffer struct {
	lines chan string
	all   strings.Builder
}

// startRun runs `fieldwatch serve` in-process through run() and waits
// until it prints its address.
func startRun(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{done: make(chan error, 1), cancel: cancel}
	getenv := func(k string) string { return env[k] }
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), pw, io.Discard)
		if err != nil {
			fmt.Fprintln(pw, "run returned:", err)
		}
		pw.Close()
		s.done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of cancellation")
		}
	})
	s.url, s.stdout = waitListening(t, pr)
	return s
}

func waitListening(t *testing.T, r io.Reader) (string, *lineBuffer) {
	t.Helper()
	lb := &lineBuffer{lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lb.lines <- sc.Text()
		}
		close(lb.lines)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lb.lines:
			if !ok {
				t.Fatalf("program exited before listening; output:\n%s", lb.all.String())
			}
			lb.all.WriteString(line + "\n")
			if m := listenRE.FindStringSubmatch(line); m != nil {
				return m[1], lb
			}
		case <-deadline:
			t.Fatalf("no 'listening on' line within 60s; output:\n%s", lb.all.String())
		}
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// waitReady polls /readyz, the way an orchestrator would.
func waitReady(t *testing.T, base string) map[string]any {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			var body map[string]any
			err = json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if err == nil && res.StatusCode == http.StatusOK {
				return body
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("/readyz not 200 within 30s (last error %v)", err)
		}
	}
}

// checkServes asserts what every deployment must serve.
func checkServes(t *testing.T, base, wantDB, wantPhotos string) {
	t.Helper()
	ready := waitReady(t, base)
	checks := fmt.Sprint(ready["checks"])
	if !strings.Contains(checks, "backend:"+wantDB) || !strings.Contains(checks, "backend:"+wantPhotos) {
		t.Fatalf("readyz checks %s, want backends %s and %s", checks, wantDB, wantPhotos)
	}

	res, body := get(t, base+"/healthz")
	if res.StatusCode != 200 {
		t.Fatalf("/healthz %d", res.StatusCode)
	}

	res, body = get(t, base+"/openapi.yaml")
	if res.StatusCode != 200 {
		t.Fatalf("/openapi.yaml %d", res.StatusCode)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatalf("served spec does not parse: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("served spec is not a valid OpenAPI document: %v", err)
	}

	res, body = get(t, base+"/docs")
	if res.StatusCode != 200 || !strings.Contains(string(body), "swagger-ui-bundle.js") {
		t.Fatalf("/docs %d %.200s", res.StatusCode, body)
	}
	res, _ = get(t, base+"/docs/swagger-ui-bundle.js")
	if res.StatusCode != 200 {
		t.Fatalf("docs asset %d", res.StatusCode)
	}

	res, body = get(t, base+"/no/such/route")
	if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown route: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	res, body = get(t, base+"/metrics")
	if res.StatusCode != 200 {
		t.Fatalf("/metrics %d", res.StatusCode)
	}
	for _, want := range []string{
		`fieldwatch_http_request_duration_seconds_bucket{method="GET",route="/readyz",status="200"`,
		`fieldwatch_http_requests_total{method="GET",route="unmatched",status="404"}`,
		`fieldwatch_upload_bytes_total`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestServeEmbeddedDefaults(t *testing.T) {
	dir := t.TempDir()
	s := startRun(t, map[string]string{"FIELDWATCH_DATA_DIR": dir})
	checkServes(t, s.url, "sqlite", "local")
	token := e2eLogin(t, map[string]string{"FIELDWATCH_DATA_DIR": dir}, s.url)
	uploadSharedPhotos(t, s.url, token)
	directUpload(t, s.url, token, false)
	for _, f := range []string{"fieldwatch.db", "photos", "jwt-keys"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("embedded defaults did not create %s: %v", f, err)
		}
	}
	s.cancel()
	if err := <-s.done; err != nil {
		t.Fatalf("serve returned %v after cancellation", err)
	}
	s.done <- nil // for Cleanup
}

// The production configuration: the same binary on PostGIS and S3.
func TestServePostgresAndS3(t *testing.T) {
	pg := testservice.PostgresDB(t)
	s3 := testservice.S3(t)
	env := map[string]string{
		"FIELDWATCH_DATA_DIR":      t.TempDir(),
		"FIELDWATCH_DATABASE_URL":  pg,
		"FIELDWATCH_S3_ENDPOINT":   s3.Endpoint,
		"FIELDWATCH_S3_ACCESS_KEY": s3.AccessKey,
		"FIELDWATCH_S3_SECRET_KEY": s3.SecretKey,
		"FIELDWATCH_S3_REGION":     s3.Region,
		"FIELDWATCH_S3_BUCKET":     testservice.Bucket(t),
		"FIELDWATCH_S3_TLS":        "false",
	}
	s := startRun(t, env)
	checkServes(t, s.url, "postgres", "s3")
	token := e2eLogin(t, env, s.url)
	uploadSharedPhotos(t, s.url, token)
	directUpload(t, s.url, token, true)
}

func TestDemoUsersAndBootstrapAdmin(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FIELDWATCH_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()

	var out strings.Builder
	err := run(ctx, []string{"user", "add", "--username", "root", "--role", "admin", "--display-name", "县局", "--password-stdin"},
		getenv, strings.NewReader("一个足够长的中文密码\n"), &out, io.Discard)
	if err != nil {
		t.Fatalf("user add: %v", err)
	}
	if err := run(ctx, []string{"user", "add", "--username", "root", "--role", "admin", "--password-stdin"},
		getenv, strings.NewReader("another long password\n"), io.Discard, io.Discard); err == nil {
		t.Fatal("adding the same user twice must fail")
	}
	if err := run(ctx, []string{"user", "add", "--username", "x", "--role", "admin"}, getenv, strings.NewReader(""), io.Discard, io.Discard); exitCode(err) != 2 {
		t.Fatalf("user add without --password-stdin: %v (exit %d), want a usage error", err, exitCode(err))
	}

	s := startRun(t, env, "--demo")
	waitReady(t, s.url)
	// Demo accounts are created, and their passwords printed, before the
	// server listens.
	passwords := map[string]string{}
	re := regexp.MustCompile(`demo user (\S+)\s+role \S+\s+password (\S+)`)
	for _, m := range re.FindAllStringSubmatch(s.stdout.all.String(), -1) {
		passwords[m[1]] = m[2]
	}
	for _, du := range demoUsers {
		if passwords[du.Username] == "" {
			t.Fatalf("no password printed for demo user %s:\n%s", du.Username, s.stdout.all.String())
		}
	}
	if passwords["chief.lh-03"] == "" {
		t.Fatalf("no village chief for reach LH-03:\n%s", s.stdout.all.String())
	}
	tokens := map[string]string{}
	for user, pass := range map[string]string{"root": "一个足够长的中文密码", "officer.xingcheng": passwords["officer.xingcheng"], "admin": passwords["admin"]} {
		body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass)
		res, err := http.Post(s.url+"/v1/auth/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var tp struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(res.Body).Decode(&tp)
		res.Body.Close()
		if res.StatusCode != 200 || err != nil {
			t.Fatalf("login %s: %d %v", user, res.StatusCode, err)
		}
		tokens[user] = tp.AccessToken
	}

	// The demo month: last month's assessment ranks townships on
	// different scores, from cases in every state and patrols.
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Now().In(loc)
	month := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, loc).Format("2006-01")
	var as struct {
		Townships []struct {
			Score *float64 `json:"score"`
		} `json:"townships"`
	}
	getJSON(t, s.url+"/v1/assessments/"+month, tokens["admin"], &as)
	scores := map[float64]bool{}
	for _, ts := range as.Townships {
		if ts.Score != nil {
			scores[*ts.Score] = true
		}
	}
	if len(as.Townships) != 14 || len(scores) < 4 {
		t.Fatalf("demo month %s: %d townships, %d distinct scores", month, len(as.Townships), len(scores))
	}
	var cases struct {
		Items []struct {
			State string `json:"state"`
		} `json:"items"`
	}
	getJSON(t, s.url+"/v1/cases?limit=200", tokens["admin"], &cases)
	states := map[string]int{}
	for _, c := range cases.Items {
		states[c.State]++
	}
	if states["closed"] == 0 || states["in_progress"] == 0 || states["reopened"] == 0 {
		t.Fatalf("demo cases by state: %v", states)
	}
	var patrols struct {
		Items []json.RawMessage `json:"items"`
	}
	getJSON(t, s.url+"/v1/patrols?limit=500", tokens["admin"], &patrols)
	if len(patrols.Items) < 50 {
		t.Fatalf("demo patrols: %d", len(patrols.Items))
	}
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func TestConfigPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    func(app.Config) bool
		wantErr bool
	}{
		{name: "Defaults", want: func(c app.Config) bool {
			return c.Addr == ":8080" && c.DataDir == "./data" && c.PhotoDir == filepath.Join("data", "photos") && c.S3TLS && c.ShutdownTimeout == 30*time.Second
		}},
		{name: "EnvOverDefault", env: map[string]string{"FIELDWATCH_ADDR": ":9000", "FIELDWATCH_S3_TLS": "false"}, want: func(c app.Config) bool { return c.Addr == ":9000" && !c.S3TLS }},
		{name: "FlagOverEnv", env: map[string]string{"FIELDWATCH_ADDR": ":9000"}, args: []string{"--addr", ":9100"}, want: func(c app.Config) bool { return c.Addr == ":9100" }},
		{name: "TrustedProxies", args: []string{"--trusted-proxies", "10.0.0.0/8, 192.168.1.1/32"}, want: func(c app.Config) bool { return len(c.TrustedProxies) == 2 }},
		{name: "BadDuration", env: map[string]string{"FIELDWATCH_SHUTDOWN_TIMEOUT": "soon"}, wantErr: true},
		{name: "BadBool", args: []string{"--s3-tls=maybe"}, wantErr: true},
		{name: "BoolFlagAlone", args: []string{"--demo"}, want: func(c app.Config) bool { return c.Demo }},
		{name: "BadCIDR", args: []string{"--trusted-proxies", "10.0.0.0"}, wantErr: true},
		{name: "S3WithoutKeys", args: []string{"--s3-endpoint", "127.0.0.1:9000"}, wantErr: true},
		{name: "S3WithScheme", env: map[string]string{"FIELDWATCH_S3_ACCESS_KEY": "a", "FIELDWATCH_S3_SECRET_KEY": "b"}, args: []string{"--s3-endpoint", "http://minio:9000"}, wantErr: true},
		{name: "BadLogLevel", args: []string{"--log-level", "loud"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := commandConfig("serve", tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got config %+v", c)
				}
				if exitCode(err) != 2 {
					t.Fatalf("exit code %d for a configuration error, want 2", exitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestUnknownCommand(t *testing.T) {
	err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, nil, io.Discard, io.Discard)
	if exitCode(err) != 2 {
		t.Fatalf("got %v", err)
	}
}

// The real binary: built, started, answering, and stopped by SIGTERM after
// letting an in-flight request finish.
func TestBinaryGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "fieldwatch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--shutdown-timeout", "20s")
	cmd.Env = append(os.Environ(), "FIELDWATCH_DATABASE_URL=", "FIELDWATCH_S3_ENDPOINT=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base, _ := waitListening(t, stdout)
	waitReady(t, base)

	// A request whose body is still arriving when the signal comes: like
	// a photo on a slow uplink.
	pr, pw := io.Pipe()
	result := make(chan int, 1)
	go func() {
		res, err := http.Post(base+"/v1/auth/login", "application/json", pr)
		if err != nil {
			result <- -1
			return
		}
		res.Body.Close()
		result <- res.StatusCode
	}()
	if _, err := pw.Write([]byte(`{"username":"nobody",`)); err != nil {
		t.Fatal(err)
	}
	// The server has the request once the first bytes are through; give
	// the handler a moment to be running before the signal.
	waitInFlight(t, base)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write([]byte(`"password":"whatever-long"}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-result; code != http.StatusUnauthorized {
		t.Fatalf("in-flight request got %d, want it to finish with 401", code)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) || err != nil {
		t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop logged:\n%s", stderr.String())
	}
}

// waitInFlight waits until /metrics shows a request in flight besides the
// metrics request itself.
func waitInFlight(t *testing.T, base string) {
	t.Helper()
	// The binary is another process: its metrics are all the test sees.
	testwait.Until(t, 10*time.Second, 20*time.Millisecond, "the slow request in flight", func() bool {
		_, body := get(t, base+"/metrics")
		return strings.Contains(string(body), "fieldwatch_http_requests_in_flight 2")
	})
}

// The README's configuration table must list every setting, so operators
// never meet an undocumented variable.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range app.Settings() {
		row := fmt.Sprintf("| `--%s` | `%s` |", s.Flag, s.Env)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no configuration row starting %s", row)
		}
	}
}

func TestKeygenOutputIsAcceptedAsKeys(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"keygen"}, func(string) string { return "" }, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	c, _, err := commandConfig("serve", []string{"--jwt-keys", key}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.SigningKeys(c); err != nil {
		t.Fatalf("keygen output rejected: %v", err)
	}
}

// The geography from the command line: import, then assign chiefs.
func TestImportAndChiefsCLI(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FIELDWATCH_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	for _, kind := range []string{"townships", "reaches"} {
		var out strings.Builder
		if err := run(ctx, []string{"import", kind, "../../demo/" + kind + ".geojson"}, getenv, nil, &out, io.Discard); err != nil {
			t.Fatalf("import %s: %v", kind, err)
		}
		if !strings.Contains(out.String(), "imported") {
			t.Fatalf("import %s: %s", kind, out.String())
		}
	}
	if err := run(ctx, []string{"user", "add", "--username", "zhao", "--role", "river_chief", "--display-name", "赵河长", "--password-stdin"},
		getenv, strings.NewReader("long enough password\n"), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(ctx, []string{"chiefs", "set", "--reach", "LH-03", "--chief", "zhao:village"}, getenv, nil, &out, io.Discard); err != nil {
		t.Fatalf("chiefs set: %v", err)
	}
	if !strings.Contains(out.String(), "赵河长") {
		t.Fatalf("chiefs set: %s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "verify"}, getenv, nil, &out, io.Discard); err != nil || !strings.Contains(out.String(), "intact") {
		t.Fatalf("audit verify: %v %s", err, out.String())
	}
	bad := filepath.Join(dir, "bad.geojson")
	if err := os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"1"},"geometry":{"type":"Point","coordinates":[118,40]}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"import", "townships", bad}, getenv, nil, io.Discard, io.Discard); err == nil {
		t.Fatal("a bad GeoJSON file was imported")
	}
}
