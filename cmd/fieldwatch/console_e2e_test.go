package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The review console in headless Chromium, against the real binary with
// the demo county: an administrator logs in, sees the demo evidence on
// the map, opens one item, accepts it, opens a case from it and finds the
// case on the board; a township officer sees only their township's
// evidence and cases, and an out-of-scope evidence link shows "not
// found", never a photo. Each step's screenshot goes to
// $FIELDWATCH_ARTIFACTS/console (scripts/test.sh sets it).

const (
	officerTownship = "130227101" // officer.xingcheng's township in the demo
	consoleTimeout  = 4 * time.Minute
	// accessTTL is short so that the page must refresh its access token
	// (a minute before expiry: after 5 s) while the test runs.
	accessTTL = "65s"
)

// chromiumPath finds the browser: Debian's chromium, which scripts/test.sh
// installs. Without it the test skips, except under CI=true, where it
// fails: CI must not go green by skipping the browser tests.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("FIELDWATCH_TEST_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found but CI=true: the console's browser tests must not skip in CI (run `make test`, which installs Debian's chromium)", p)
		}
		t.Skipf("%s not found; run `make test` (scripts/test.sh installs Debian's chromium)", p)
	}
	return p
}

// artifactDir is where screenshots go: $FIELDWATCH_ARTIFACTS/console, or
// the test's temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("FIELDWATCH_ARTIFACTS")
	if root == "" {
		root = t.TempDir()
	}
	dir := filepath.Join(root, "console")
	// Screenshots of an earlier run must not pass for this run's.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// demoServer is the real binary serving the demo county.
type demoServer struct {
	base      string
	passwords map[string]string
	logPath   string // the server's stderr (its request log)
}

func startDemoBinary(t *testing.T) *demoServer {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--access-ttl", accessTTL)
	cmd.Env = append(os.Environ(), "FIELDWATCH_DATABASE_URL=", "FIELDWATCH_S3_ENDPOINT=", "FIELDWATCH_TILE_URL=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &demoServer{passwords: map[string]string{}, logPath: filepath.Join(t.TempDir(), "stderr.log")}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var out *lineBuffer
	s.base, out = waitListening(t, stdout)
	waitReady(t, s.base)
	// The demo prints each password once, before it listens.
	re := regexp.MustCompile(`demo user (\S+)\s+role \S+\s+password (\S+)`)
	for _, m := range re.FindAllStringSubmatch(out.all.String(), -1) {
		s.passwords[m[1]] = m[2]
	}
	for _, u := range []string{"admin", "officer.xingcheng"} {
		if s.passwords[u] == "" {
			t.Fatalf("no demo password for %s in:\n%s", u, out.all.String())
		}
	}
	return s
}

// token logs in over the API, for the test's own checks (good for
// accessTTL: each subtest takes its own).
func (s *demoServer) token(t *testing.T, user string) string {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, s.passwords[user])
	res, err := http.Post(s.base+"/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&pair); err != nil || res.StatusCode != 200 {
		t.Fatalf("login %s: %d %v", user, res.StatusCode, err)
	}
	return pair.AccessToken
}

type apiEvidence struct {
	ID           string `json:"id"`
	TownshipCode string `json:"township_code"`
	Location     *struct {
		Lon float64 `json:"lon"`
	} `json:"location"`
}

// evidenceIDs lists the ids of the located evidence matching query (what
// a map can show), and every matching item by id.
func (s *demoServer) evidenceIDs(t *testing.T, token string, query url.Values) (ids []string, byID map[string]apiEvidence) {
	t.Helper()
	query.Set("limit", "500")
	var page struct {
		Items      []apiEvidence `json:"items"`
		NextCursor string        `json:"next_cursor"`
	}
	getJSON(t, s.base+"/v1/evidence?"+query.Encode(), token, &page)
	if page.NextCursor != "" {
		t.Fatalf("more than 500 evidence items for %v: the test expects one page", query)
	}
	byID = map[string]apiEvidence{}
	for _, e := range page.Items {
		byID[e.ID] = e
		if e.Location != nil {
			ids = append(ids, e.ID)
		}
	}
	slices.Sort(ids)
	return ids, byID
}

// browserTab is one tab of the shared browser, with its screenshots and
// the page's console messages.
type browserTab struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	prefix string
	step   int
	mu     sync.Mutex
	msgs   []chromedp.ConsoleMessage
}

func newBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), consoleTimeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in CI; the page is our own
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The machine has no network beyond loopback: no update, sync or
		// QUIC probes that would only time out.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	// Start the browser now, on a context without its own deadline.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", execPath, err)
	}
	return browser
}

// newTab opens a fresh tab: tokens live in the page's memory only, so a
// new tab is a new session.
func newTab(t *testing.T, browser context.Context, dir, prefix string) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	b := &browserTab{t: t, ctx: ctx, dir: dir, prefix: prefix}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.msgs = append(b.msgs, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(b.checkConsole)
	return b
}

// checkConsole fails the test on a script error or a Content Security
// Policy violation the page reported.
func (b *browserTab) checkConsole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			b.t.Errorf("browser console: %s (%s:%d)", m, m.URL, m.Line)
		}
	}
}

// do runs the actions; on failure it saves a screenshot, logs the page's
// console and fails.
func (b *browserTab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *browserTab) fail(what string, err error) {
	b.t.Helper()
	b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
	b.mu.Lock()
	for _, m := range b.msgs {
		b.t.Logf("browser console: %s (%s:%d)", m, m.URL, m.Line)
	}
	b.mu.Unlock()
	b.t.Fatalf("%s: %v", what, err)
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *browserTab, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return v
}

// wait polls a JavaScript predicate until it is true.
func (b *browserTab) wait(what, predicate string) {
	b.t.Helper()
	b.do("wait for "+what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
		return err
	}))
}

// shot saves a full-page screenshot as the next step's artifact.
func (b *browserTab) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.step++
	p := filepath.Join(b.dir, fmt.Sprintf("%s-%02d-%s.png", b.prefix, b.step, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// login fills the console's login form.
func (b *browserTab) login(base, user, password string) {
	b.t.Helper()
	b.do("open the console",
		chromedp.Navigate(base+"/console"), // redirected to /console/
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	// Record every request of the session (the default buffer keeps 250).
	eval[chromedp.Void](b, `performance.setResourceTimingBufferSize(100000)`)
	if got := eval[string](b, `location.pathname`); got != "/console/" {
		b.t.Errorf("console page at %s, want /console/", got)
	}
	b.shot("login")
	b.do("log in",
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form.login button[type="submit"]`)),
	)
	b.waitMap()
}

// waitMap waits until the map has loaded the evidence of its view.
func (b *browserTab) waitMap() {
	b.t.Helper()
	b.wait("the map's evidence", `document.querySelector('#map')?.dataset.state === 'ready'`)
}

// mapIDs are the evidence ids the map loaded for its view, and the view.
func (b *browserTab) mapIDs() (ids []string, bbox string) {
	b.t.Helper()
	raw := eval[string](b, `document.querySelector('#map').dataset.evidenceIds || ''`)
	if raw != "" {
		ids = strings.Split(raw, ",")
	}
	return ids, eval[string](b, `document.querySelector('#map').dataset.bbox`)
}

// markersShown counts the evidence the map draws: single markers plus
// the counts on cluster icons.
const markersShown = `(() => {
  let n = document.querySelectorAll('.fw-marker[data-evidence-id]').length;
  for (const c of document.querySelectorAll('.marker-cluster span')) n += Number(c.textContent);
  return n;
})()`

func TestConsole(t *testing.T) {
	execPath := chromiumPath(t)
	srv := startDemoBinary(t)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(srv.logPath)
			t.Logf("server log (stderr, last 4000 bytes):\n%s", tail(string(b), 4000))
		}
	})
	dir := artifactDir(t)
	t.Logf("screenshots in %s", dir)
	browser := newBrowser(t, execPath)

	t.Run("AdminReviewsAndOpensCase", func(t *testing.T) {
		consoleAdminFlow(t, newTab(t, browser, dir, "admin"), srv, srv.token(t, "admin"))
	})
	t.Run("TownshipOfficerSeesOnlyTheirScope", func(t *testing.T) {
		b := newTab(t, browser, dir, "officer")
		consoleOfficerScope(t, b, srv, srv.token(t, "admin"))
		b.checkRefreshed()
	})
}

// checkRefreshed waits for the page to renew its access token, then
// checks that it never got a 401 and that the API still answers it.
func (b *browserTab) checkRefreshed() {
	b.t.Helper()
	b.wait("a token refresh", `performance.getEntriesByType('resource')
	  .some(e => e.name.endsWith('/v1/auth/refresh') && e.responseStatus === 200)`)
	b.do("back to the map", chromedp.Click(chromedp.CSS(`[data-nav="map"]`)))
	before := eval[int](b, `performance.getEntriesByType('resource').length`)
	eval[chromedp.Void](b, `document.querySelector('button.link').click()`) // clear the filters: reloads the map
	b.wait("the map reloaded", fmt.Sprintf(`performance.getEntriesByType('resource').length > %d && document.querySelector('#map').dataset.state === 'ready'`, before))
	if n := eval[int](b, `performance.getEntriesByType('resource').filter(e => e.responseStatus === 401).length`); n != 0 {
		b.t.Errorf("the page got %d answers 401: the token was not renewed in time", n)
	}
}

func consoleAdminFlow(t *testing.T, b *browserTab, srv *demoServer, admin string) {
	b.login(srv.base, "admin", srv.passwords["admin"])

	// The map shows what the API has in the view: the same ids, every one
	// drawn as a marker or counted in a cluster.
	ids, bbox := b.mapIDs()
	want, _ := srv.evidenceIDs(t, admin, url.Values{"bbox": {bbox}})
	if len(want) < 10 || !slices.Equal(ids, want) {
		t.Fatalf("map loaded %d evidence ids for bbox %s, the API lists %d:\nmap %v\napi %v", len(ids), bbox, len(want), ids, want)
	}
	b.wait("every marker drawn", fmt.Sprintf(`%s === %d`, markersShown, len(ids)))
	b.shot("map")

	// Only evidence nobody reviewed yet, through the filter.
	eval[chromedp.Void](b, `(() => {
	  const s = document.querySelector('select[name="review_state"]');
	  s.value = 'pending';
	  s.dispatchEvent(new Event('change', { bubbles: true }));
	})()`)
	b.waitMap()
	pending, bbox := b.mapIDs()
	wantPending, _ := srv.evidenceIDs(t, admin, url.Values{"bbox": {bbox}, "review_state": {"pending"}})
	if len(pending) == 0 || !slices.Equal(pending, wantPending) {
		t.Fatalf("pending filter: map %v, API %v", pending, wantPending)
	}

	// Open one: click clusters (the map zooms in) until a single marker
	// shows, then click it.
	b.openAMarker()
	b.wait("the evidence panel", `document.querySelector('.evidence-panel')?.dataset.state === 'ready'`)
	id := eval[string](b, `document.querySelector('.evidence-panel').dataset.evidenceId`)
	if !slices.Contains(pending, id) {
		t.Fatalf("opened %s, not one of the pending evidence on the map", id)
	}
	b.wait("the photo", `(() => { const i = document.querySelector('.evidence-panel .photo img'); return i && i.complete && i.naturalWidth > 0; })()`)
	panel := eval[string](b, `document.querySelector('.evidence-panel').innerText`)
	for _, s := range []string{"EXIF", "两者相距", "责任认定", "待审核"} {
		if !strings.Contains(panel, s) {
			t.Errorf("evidence panel lacks %q:\n%s", s, panel)
		}
	}
	b.shot("evidence")

	// Accept it; the API has the review.
	b.do("accept", chromedp.Click(chromedp.CSS(`button[data-decision="accepted"]`)))
	b.wait("the accepted state", `document.querySelector('[data-review-state]')?.dataset.reviewState === 'accepted'`)
	var reviews []struct {
		Decision   string `json:"decision"`
		ReviewerID string `json:"reviewer_id"`
	}
	getJSON(t, srv.base+"/v1/evidence/"+id+"/reviews", admin, &reviews)
	var me struct {
		ID string `json:"id"`
	}
	getJSON(t, srv.base+"/v1/me", admin, &me)
	if len(reviews) == 0 || reviews[len(reviews)-1].Decision != "accepted" || reviews[len(reviews)-1].ReviewerID != me.ID {
		t.Fatalf("reviews of %s after accepting: %+v", id, reviews)
	}
	b.shot("accepted")

	// Open a case from it, and find the case on the board.
	b.do("show the case form", chromedp.Click(chromedp.CSS(`button[data-action="show-case-form"]`)),
		chromedp.WaitVisible(chromedp.ID("case-title")))
	b.shot("case-form")
	b.do("open the case", chromedp.Click(chromedp.CSS(`button[data-action="open-case"]`)))
	b.wait("the case", `location.hash.startsWith('#/cases/') && document.querySelector('.case-panel')?.dataset.state === 'ready'`)
	caseID := strings.TrimPrefix(eval[string](b, `location.hash`), "#/cases/")
	var c struct {
		EvidenceIDs []string `json:"evidence_ids"`
		State       string   `json:"state"`
	}
	getJSON(t, srv.base+"/v1/cases/"+caseID, admin, &c)
	if !slices.Contains(c.EvidenceIDs, id) || c.State != "open" {
		t.Fatalf("case %s: %+v, want an open case from %s", caseID, c, id)
	}
	b.wait("the case on the board", fmt.Sprintf(`!!document.querySelector('.board .card[data-case-id=%q]')`, caseID))
	b.wait("the before photo", `!!document.querySelector('.before-after .before img')`)
	b.shot("board")

	// The month's assessment: sortable, with the drill-down.
	b.do("assessment", chromedp.Click(chromedp.CSS(`[data-nav="assessment"]`)))
	b.wait("the assessment table", `document.querySelectorAll('table.assessment tbody tr').length === 14`)
	b.do("sort by score", chromedp.Click(chromedp.CSS(`button[data-sort="score"]`)))
	scores := eval[[]float64](b, `[...document.querySelectorAll('table.assessment tbody tr')]
	  .map(r => Number(r.children[4].textContent.replace(/[^0-9.]/g, '')))`)
	if !slices.IsSortedFunc(scores, func(a, b float64) int { return int(b*100) - int(a*100) }) {
		t.Errorf("sorted by score (descending): %v", scores)
	}
	b.shot("assessment")
	b.do("drill down", chromedp.Click(chromedp.CSS(`table.assessment [data-drill]`)))
	b.wait("the township's details", `document.querySelectorAll('.assessment-panel table.drill tbody tr').length > 0`)
	b.shot("assessment-drill")
}

// openAMarker clicks clusters until a single marker is on the map, then
// clicks that marker. It clicks only an icon that is on top at its
// centre, as a person would see it: icons can overlap.
func (b *browserTab) openAMarker() {
	b.t.Helper()
	const pick = `(() => {
	  const onTop = (el) => {
	    const r = el.getBoundingClientRect();
	    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
	    return hit !== null && el.contains(hit);
	  };
	  for (const el of document.querySelectorAll('[data-test-click]')) el.removeAttribute('data-test-click');
	  const m = [...document.querySelectorAll('.fw-marker[data-evidence-id]')].find(onTop);
	  if (m) { m.dataset.testClick = ''; return 'marker'; }
	  const c = [...document.querySelectorAll('.marker-cluster')].find(onTop);
	  if (c) { c.dataset.testClick = ''; return 'cluster'; }
	  return '';
	})()`
	const still = `document.querySelector('#map').dataset.state === 'ready' &&
	  !document.querySelector('.leaflet-zoom-anim, .leaflet-cluster-anim')`
	for range 10 {
		b.wait("the map standing still", still)
		switch eval[string](b, pick) {
		case "marker":
			b.do("click a marker", chromedp.Click(chromedp.CSS(`[data-test-click]`), chromedp.NodeVisible))
			return
		case "cluster":
			before := eval[string](b, `document.querySelector('#map').dataset.bbox`)
			b.do("click a cluster", chromedp.Click(chromedp.CSS(`[data-test-click]`), chromedp.NodeVisible))
			// The map zooms in, loads the new view, and the clusters
			// animate apart: click only once everything stands still.
			b.wait("the zoomed map", fmt.Sprintf(`document.querySelector('#map').dataset.bbox !== %q && %s`, before, still))
		default:
			b.fail("open a marker", errors.New("neither a marker nor a cluster on the map"))
		}
	}
	b.fail("open a marker", errors.New("no single marker after zooming into clusters ten times"))
}

func consoleOfficerScope(t *testing.T, b *browserTab, srv *demoServer, admin string) {
	b.login(srv.base, "officer.xingcheng", srv.passwords["officer.xingcheng"])

	// The map holds exactly the evidence of the officer's township in the
	// view, though the administrator's view of the same box holds more.
	ids, bbox := b.mapIDs()
	want, _ := srv.evidenceIDs(t, admin, url.Values{"bbox": {bbox}, "township": {officerTownship}})
	all, byID := srv.evidenceIDs(t, admin, url.Values{"bbox": {bbox}})
	if len(ids) == 0 || !slices.Equal(ids, want) {
		t.Fatalf("officer's map: %v, want the township's %v", ids, want)
	}
	if len(all) <= len(ids) {
		t.Fatalf("the administrator's view has %d items, the officer's %d: the scope test proves nothing", len(all), len(ids))
	}
	b.wait("every marker drawn", fmt.Sprintf(`%s === %d`, markersShown, len(ids)))
	drawn := eval[[]string](b, `[...document.querySelectorAll('[data-evidence-id]')].map(e => e.dataset.evidenceId)`)
	for _, d := range drawn {
		if !slices.Contains(ids, d) {
			t.Errorf("the officer's page shows evidence %s outside their scope", d)
		}
	}
	b.shot("map")

	// Their own evidence opens, without the administrators' buttons.
	b.do("open an item", chromedp.Click(chromedp.CSS(`button.evidence-item`)))
	b.wait("the evidence panel", `document.querySelector('.evidence-panel')?.dataset.state === 'ready'`)
	if n := eval[int](b, `document.querySelectorAll('[data-decision], [data-action="show-case-form"]').length`); n != 0 {
		t.Errorf("a township officer sees %d review or case buttons", n)
	}
	b.shot("evidence")

	// The board, closed cases included: the township's cases and no other.
	b.do("cases", chromedp.Click(chromedp.CSS(`[data-nav="cases"]`)))
	b.wait("the board", `document.querySelector('.board-wrap')?.dataset.state === 'ready'`)
	b.do("include closed cases", chromedp.Click(chromedp.CSS(`input[name="include-closed"]`)))
	var cases struct {
		Items []struct {
			ID           string `json:"id"`
			State        string `json:"state"`
			TownshipCode string `json:"township_code"`
		} `json:"items"`
	}
	getJSON(t, srv.base+"/v1/cases?limit=500", admin, &cases)
	var wantCases, otherCases []string
	for _, c := range cases.Items {
		switch {
		case c.TownshipCode == officerTownship:
			wantCases = append(wantCases, c.ID)
		case c.TownshipCode != officerTownship:
			otherCases = append(otherCases, c.ID)
		}
	}
	slices.Sort(wantCases)
	cards := eval[[]map[string]string](b, `[...document.querySelectorAll('.board .card')].map(c => ({id: c.dataset.caseId, township: c.dataset.township}))`)
	var shown []string
	for _, c := range cards {
		if c["township"] != officerTownship {
			t.Errorf("the officer's board shows case %s of township %q", c["id"], c["township"])
		}
		shown = append(shown, c["id"])
	}
	slices.Sort(shown)
	if len(wantCases) == 0 || !slices.Equal(shown, wantCases) {
		t.Errorf("officer's board: %v, want the township's cases %v", shown, wantCases)
	}
	b.shot("board")

	// Links to evidence and cases outside the scope: "not found", no photo.
	var outside string
	for _, id := range all {
		if byID[id].TownshipCode != officerTownship {
			outside = id
			break
		}
	}
	eval[chromedp.Void](b, fmt.Sprintf(`location.hash = '#/evidence/%s'`, outside))
	b.wait("not found", `document.querySelector('.evidence-panel')?.dataset.state === 'not-found'`)
	text := eval[string](b, `document.querySelector('.evidence-panel').innerText`)
	if !strings.Contains(text, "未找到") {
		t.Errorf("out-of-scope evidence panel says %q", text)
	}
	if n := eval[int](b, `document.querySelectorAll('.evidence-panel img').length`); n != 0 {
		t.Errorf("out-of-scope evidence panel shows %d images", n)
	}
	b.shot("evidence-not-found")
	if len(otherCases) == 0 {
		t.Fatal("the demo has no case outside the officer's township")
	}
	eval[chromedp.Void](b, fmt.Sprintf(`location.hash = '#/cases/%s'`, otherCases[0]))
	b.wait("case not found", `document.querySelector('.case-panel')?.dataset.state === 'not-found'`)
	b.shot("case-not-found")

	// Nothing outside the scope ever reached the page: every evidence
	// resource it fetched successfully is of the officer's township.
	_, scope := srv.evidenceIDs(t, admin, url.Values{"township": {officerTownship}})
	fetched := eval[[]string](b, `performance.getEntriesByType('resource')
	  .filter(e => e.name.includes('/v1/evidence/') && e.responseStatus === 200).map(e => e.name)`)
	re := regexp.MustCompile(`/v1/evidence/([0-9a-f-]{36})`)
	for _, u := range fetched {
		if m := re.FindStringSubmatch(u); m != nil && scope[m[1]].ID == "" {
			t.Errorf("the officer's page fetched %s, outside their scope", u)
		}
	}
	if len(fetched) == 0 {
		t.Error("no evidence request recorded: the check above proves nothing")
	}

	// English is one click away.
	b.do("switch to English", chromedp.Click(chromedp.CSS(`header.top button.lang`)))
	b.wait("English text", `document.querySelector('[data-nav="cases"]').textContent === 'Cases' &&
	  document.querySelector('.case-panel .not-found')?.textContent.startsWith('Not found')`)
	b.shot("english")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
