package fieldwatch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
)

// endlessBacklog is a ThumbnailStore and ThumbnailBlobs whose every
// photo still wants previews and is the same test photo: a backlog that
// never drains.
type endlessBacklog struct {
	photo []byte
	made  atomic.Int64
}

func (s *endlessBacklog) SetThumbnails(context.Context, string, []int) error {
	s.made.Add(1)
	return nil
}

func (s *endlessBacklog) SetThumbnailTries(context.Context, string, fieldwatch.ThumbnailTries) error {
	return nil
}

func (s *endlessBacklog) EvidenceByID(_ context.Context, id string) (fieldwatch.Evidence, error) {
	return fieldwatch.Evidence{ID: id, SHA256: "ab" + id, ObjectKey: "photo", ContentType: "image/jpeg"}, nil
}

func (s *endlessBacklog) EvidenceNeedingThumbnails(_ context.Context, _ []int, _ time.Time, limit int) ([]fieldwatch.Evidence, error) {
	out := make([]fieldwatch.Evidence, limit)
	for i := range out {
		out[i], _ = s.EvidenceByID(context.Background(), "ev")
	}
	return out, nil
}

func (s *endlessBacklog) Get(context.Context, string) (io.ReadCloser, blob.Object, error) {
	return io.NopCloser(bytes.NewReader(s.photo)), blob.Object{Size: int64(len(s.photo))}, nil
}

func (s *endlessBacklog) Put(_ context.Context, _ string, r io.Reader, size int64, _ blob.PutOptions) (blob.Object, error) {
	_, err := io.Copy(io.Discard, r)
	return blob.Object{Size: size}, err
}

// countedLoad is the app's request counter, for the benchmark.
type countedLoad struct{ n atomic.Int64 }

func (l *countedLoad) InFlight() int { return int(l.n.Load()) }

// BenchmarkUploadsDuringThumbnailBacklog measures what a backlog of
// previews costs the requests running beside it. Each op is a stand-in
// for an upload's CPU (hashing 4 MiB twice, about what receiving and
// storing one costs), run on every core at once and counted in flight,
// while two thumbnail workers drain an endless backlog of the 6.75 MP
// test photo: with no backlog, with the backlog competing, and with the
// workers yielding to requests (ThumbnailConfig.Load). Compare ns/op;
// previews/s says how fast the backlog drained meanwhile.
func BenchmarkUploadsDuringThumbnailBacklog(b *testing.B) {
	photo, err := os.ReadFile(filepath.Join("testdata", "photos", "dust-xingcheng.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("fieldwatch"), 4<<20/10)
	for _, tt := range []struct {
		name           string
		backlog, yield bool
	}{{"NoBacklog", false, false}, {"Backlog", true, false}, {"BacklogYielding", true, true}} {
		b.Run(tt.name, func(b *testing.B) {
			load := &countedLoad{}
			st := &endlessBacklog{photo: photo}
			ctx, cancel := context.WithCancel(b.Context())
			var th *fieldwatch.Thumbnailer
			if tt.backlog {
				cfg := fieldwatch.ThumbnailConfig{Workers: 2, Queue: 8}
				if tt.yield {
					cfg.Load = load
				}
				th = fieldwatch.NewThumbnailer(st, st, cfg)
				th.Start(ctx, 10*time.Millisecond)
			}
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					load.n.Add(1)
					sha256.Sum256(body)
					sha256.Sum256(body)
					load.n.Add(-1)
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(st.made.Load())/time.Since(start).Seconds(), "previews/s")
			cancel()
			if th != nil {
				th.Wait()
			}
		})
	}
}
