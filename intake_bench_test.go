package fieldwatch_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
	"github.com/fieldwatch/fieldwatch/blob/s3blob"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// BenchmarkIntakeUpload4MiB runs a 4 MiB photo through the whole upload
// path (claim, receive into the spool, describe, store, commit) against
// each photo store, with the fake evidence store, and reports this
// process's CPU per upload (user + system, from getrusage): what
// fieldwatch spends, not the S3 server. Compare with the same command on
// another revision, within the same minute.
//
//	source /tmp/fw-services.env   # or any FIELDWATCH_TEST_S3_* settings
//	go test -run '^$' -bench IntakeUpload4MiB -benchtime 40x .
func BenchmarkIntakeUpload4MiB(b *testing.B) {
	b.Run("dir", func(b *testing.B) {
		photos, err := fileblob.Open(filepath.Join(b.TempDir(), "photos"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { photos.Close() })
		benchIntake(b, photos, filepath.Join(b.TempDir(), "spool"))
	})
	b.Run("s3", func(b *testing.B) {
		env := testservice.S3(b)
		ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
		defer cancel()
		photos, err := s3blob.Open(ctx, s3blob.Config{
			Endpoint: env.Endpoint, Bucket: testservice.Bucket(b), Region: env.Region,
			AccessKey: env.AccessKey, SecretKey: env.SecretKey, UseTLS: env.UseTLS,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { emptyBucket(b, photos) })
		benchIntake(b, photos, b.TempDir())
	})
}

func benchIntake(b *testing.B, photos fieldwatch.BlobStore, spool string) {
	in, err := fieldwatch.NewIntake(newFakeEvidence(), photos, fieldwatch.IntakeConfig{SpoolDir: spool})
	if err != nil {
		b.Fatal(err)
	}
	jpeg, err := os.ReadFile(filepath.Join("testdata", "photos", "dust-xingcheng.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	meta := []byte(`{"category":"dust_site"}`)
	body := make([]byte, 4<<20)
	copy(body, jpeg)
	ctx := b.Context()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := testservice.ProcessCPU(b)
	for i := range b.N {
		// Distinct bytes, so every upload is a new object.
		binary.LittleEndian.PutUint64(body[len(body)-8:], uint64(i)+uint64(time.Now().UnixNano()))
		c, err := in.Claim(ctx, "u-bench", fmt.Sprint("k", i))
		if err != nil {
			b.Fatal(err)
		}
		sp, err := in.Receive(ctx, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := in.Submit(ctx, c, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, meta, sp); err != nil {
			b.Fatal(err)
		}
		sp.Close()
		c.Release()
	}
	b.ReportMetric(float64((testservice.ProcessCPU(b)-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// emptyBucket deletes what the benchmark stored (the bucket itself stays,
// empty).
func emptyBucket(b *testing.B, photos *s3blob.Bucket) {
	ctx := context.WithoutCancel(b.Context())
	var keys []string
	if err := photos.List(ctx, "", func(o blob.Object) error { keys = append(keys, o.Key); return nil }); err != nil {
		b.Logf("listing the benchmark's objects: %v", err)
	}
	for _, k := range keys {
		if err := photos.Delete(ctx, k); err != nil {
			b.Logf("deleting %s: %v", k, err)
		}
	}
}
