package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// These tests check fwbench's own logic; they measure nothing and assert
// no timings (performance is measured by `make bench`, not by tests).

func mustPayloads(t *testing.T, n int, size int64) []payload {
	t.Helper()
	photos, err := loadPhotos("../../testdata/photos")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := newPayloadSource(photos, [32]byte{1}).make(n, size)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestPayloadsAreDistinctValidJPEGs(t *testing.T) {
	const size = 2 << 20
	ps := mustPayloads(t, 8, size)
	seen := map[[sha256.Size]byte]bool{}
	for i, p := range ps {
		if len(p.data) != size {
			t.Errorf("payload %d: %d bytes, want %d", i, len(p.data), size)
		}
		if p.sum != sha256.Sum256(p.data) {
			t.Errorf("payload %d: recorded SHA-256 is not the data's", i)
		}
		if seen[p.sum] {
			t.Errorf("payload %d repeats an earlier one", i)
		}
		seen[p.sum] = true
		if p.category == "" {
			t.Errorf("payload %d has no category", i)
		}
	}
	// Still a JPEG: the random tail after the end-of-image marker is ignored.
	if _, err := jpeg.Decode(bytes.NewReader(ps[0].data)); err != nil {
		t.Fatalf("payload does not decode as a JPEG: %v", err)
	}
}

func TestPayloadTooSmall(t *testing.T) {
	photos, err := loadPhotos("../../testdata/photos")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newPayloadSource(photos, [32]byte{}).make(1, 1000); err == nil {
		t.Fatal("a payload smaller than its photo was made")
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(ds)
	want := Percentiles{P50: 50, P95: 95, P99: 99, Max: 100}
	if got != want {
		t.Fatalf("percentiles = %+v, want %+v", got, want)
	}
	if got := percentiles(nil); got != (Percentiles{}) {
		t.Fatalf("percentiles(nil) = %+v", got)
	}
	if got := percentiles([]time.Duration{7 * time.Millisecond}); got.P50 != 7 || got.P99 != 7 {
		t.Fatalf("one sample: %+v", got)
	}
}

func TestRequireLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.1.2.3:9000", true},
		{"[::1]:9000", true},
		{"localhost:8080", false}, // names may resolve elsewhere later
		{"10.0.0.1:9000", false},
		{"0.0.0.0:9000", false},
		{"example.com:80", false},
		{"127.0.0.1", false}, // no port
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if err := requireLoopback(tc.addr); (err == nil) != tc.ok {
				t.Fatalf("requireLoopback(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
			}
		})
	}
}

func TestSpliceMarkdown(t *testing.T) {
	t.Run("New", func(t *testing.T) {
		got, err := spliceMarkdown("", "numbers\n")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, mdBegin+"\nnumbers\n"+mdEnd) || !strings.Contains(got, "## Interpretation") {
			t.Fatalf("new document:\n%s", got)
		}
	})
	t.Run("KeepsHandWrittenText", func(t *testing.T) {
		old := "# B\n\nintro\n\n" + mdBegin + "\nold numbers\n" + mdEnd + "\n\n## Interpretation\n\nmine\n"
		got, err := spliceMarkdown(old, "new numbers\n")
		if err != nil {
			t.Fatal(err)
		}
		want := "# B\n\nintro\n\n" + mdBegin + "\nnew numbers\n" + mdEnd + "\n\n## Interpretation\n\nmine\n"
		if got != want {
			t.Fatalf("got\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("ErrMarkers", func(t *testing.T) {
		if _, err := spliceMarkdown("hand-written, no markers\n", "x"); err == nil {
			t.Fatal("text without markers was overwritten")
		}
		if _, err := spliceMarkdown(mdEnd+"\n"+mdBegin+"\n", "x"); err == nil {
			t.Fatal("markers out of order accepted")
		}
	})
}

func TestCPUUse(t *testing.T) {
	m := &cpuMeter{comps: []component{{name: "fieldwatch"}, {name: "fwbench"}}}
	a := cpuSnapshot{comps: []uint64{100, 10}, machine: machineTicks{busy: 1000, total: 5000}}
	b := cpuSnapshot{comps: []uint64{300, 30}, machine: machineTicks{busy: 1300, iowait: 10, total: 5400}}
	u := m.use(a, b, 10)
	if u.Seconds["fieldwatch"] != 2 || u.Seconds["fwbench"] != 0.2 || u.Seconds["other"] != 0.8 {
		t.Fatalf("seconds = %v", u.Seconds)
	}
	if u.PerUploadMS["fieldwatch"] != 200 {
		t.Fatalf("per upload = %v", u.PerUploadMS)
	}
	if u.MachineBusyPct != 75 || u.IOWaitPct != 2.5 {
		t.Fatalf("busy %v%%, iowait %v%%", u.MachineBusyPct, u.IOWaitPct)
	}
	if d := u.disturbedBy(2, 2); d != 0.2 {
		t.Fatalf("disturbedBy = %v", d)
	}
	// A kernel thread that ended between the snapshots takes its time
	// with it: the tree's sum falls. That is no time, not 2^64 ticks.
	k := &cpuMeter{comps: []component{{name: "kernel"}}}
	u = k.use(cpuSnapshot{comps: []uint64{500}, machine: machineTicks{busy: 1000, total: 5000}},
		cpuSnapshot{comps: []uint64{490}, machine: machineTicks{busy: 1100, total: 5400}}, 10)
	if u.Seconds["kernel"] != 0 || u.PerUploadMS["kernel"] != 0 || u.Seconds["other"] != 1 {
		t.Fatalf("a falling tree: %v, per upload %v", u.Seconds, u.PerUploadMS)
	}
}

func TestProcReaders(t *testing.T) {
	s, err := readProcStat(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if s.ppid != os.Getppid() {
		t.Fatalf("ppid %d, want %d", s.ppid, os.Getppid())
	}
	if rss, err := statusKB(os.Getpid(), "VmRSS"); err != nil || rss <= 0 {
		t.Fatalf("VmRSS %d, %v", rss, err)
	}
	if _, err := statusKB(os.Getpid(), "VmRSSX"); err == nil {
		t.Fatal("unknown status field accepted")
	}
	if hexPort("0100007F:1F90") != 8080 {
		t.Fatal("hexPort")
	}
	if _, err := readMachineTicks(); err != nil {
		t.Fatal(err)
	}
}

// TestUploadRequest checks what fwbench sends and how it reads answers,
// against a stand-in server on loopback.
func TestUploadRequest(t *testing.T) {
	p := mustPayloads(t, 1, 2<<20)[0]
	sum := hex.EncodeToString(p.sum[:])
	status := http.StatusCreated
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Idempotency-Key") == "" {
			http.Error(w, "headers", http.StatusBadRequest)
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var meta struct{ Category, SHA256 string }
		var photo []byte
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			switch part.FormName() {
			case "meta":
				err = json.NewDecoder(part).Decode(&meta)
			case "photo":
				photo, err = io.ReadAll(part)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		got := sha256.Sum256(photo)
		if meta.SHA256 != sum || meta.Category == "" || got != p.sum {
			http.Error(w, "body", http.StatusUnprocessableEntity)
			return
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(status)
			return
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "sha256": meta.SHA256, "size": len(photo)})
	}))
	defer srv.Close()
	c := newAPIClient(srv.URL, 1)
	c.token = "tok"
	ctx := context.Background()

	if err := c.upload(ctx, &p); err != nil {
		t.Fatalf("OK: %v", err)
	}
	status = http.StatusTooManyRequests
	if err := c.upload(ctx, &p); !errors.Is(err, errShed) {
		t.Fatalf("429 with Retry-After: %v, want errShed", err)
	}
	status = http.StatusOK // not 201: a failure
	if err := c.upload(ctx, &p); err == nil || errors.Is(err, errShed) {
		t.Fatalf("200: %v, want a failure", err)
	}
}
