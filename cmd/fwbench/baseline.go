package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Baseline puts payloads straight into the S3 server with minio-go, the
// way fieldwatch's s3blob.Bucket does for a photo: one PutObject with a known
// size from a seekable reader, the SHA-256 as x-amz-checksum-sha256 (which
// the store verifies over the body) and as x-amz-meta-sha256, a client
// made with the same options (plain HTTP, TrailingHeaders). The hashes are
// computed before the clock starts: the baseline is the cost of storing
// the bytes, and hashing on receipt is part of what the API adds.
//
// Unlike the server it does not read the object back (StatObject)
// afterwards; that round trip is also part of what the API adds.
type s3Baseline struct {
	client *minio.Client
	bucket string
	prefix string
}

func newS3Baseline(ctx context.Context, c runConfig, prefix string) (*s3Baseline, error) {
	client, err := minio.New(c.S3Endpoint, &minio.Options{
		Creds:           credentials.NewStaticV4(c.S3AccessKey, c.S3SecretKey, ""),
		Secure:          false,
		Region:          c.S3Region,
		TrailingHeaders: true,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 baseline: %w", err)
	}
	ok, err := client.BucketExists(ctx, c.S3Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 baseline: %w", err)
	}
	if !ok {
		if err := client.MakeBucket(ctx, c.S3Bucket, minio.MakeBucketOptions{Region: c.S3Region}); err != nil {
			return nil, fmt.Errorf("s3 baseline: creating bucket %q: %w", c.S3Bucket, err)
		}
	}
	return &s3Baseline{client: client, bucket: c.S3Bucket, prefix: prefix}, nil
}

func (b *s3Baseline) upload(ctx context.Context, p *payload) error {
	sum := p.sum[:]
	key := b.prefix + hex.EncodeToString(sum)
	info, err := b.client.PutObject(ctx, b.bucket, key, bytes.NewReader(p.data), int64(len(p.data)), minio.PutObjectOptions{
		ContentType: "image/jpeg",
		// Single PUT for photos: the server uses max(16 MiB, its photo limit).
		PartSize: 40 << 20,
		UserMetadata: map[string]string{
			"sha256":                hex.EncodeToString(sum),
			"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum),
		},
	})
	if err != nil {
		return fmt.Errorf("s3 baseline: PutObject %s: %w", key, err)
	}
	if info.Size != int64(len(p.data)) {
		return fmt.Errorf("s3 baseline: PutObject %s stored %d bytes, sent %d", key, info.Size, len(p.data))
	}
	return nil
}

// fileBaseline writes payloads durably into a directory, the minimum any
// local photo store must do: write a temp file, fsync it, rename it into
// place, fsync the directory. (fileblob.Dir also hashes while writing and
// keeps a sidecar; that is part of what the API adds.)
type fileBaseline struct {
	dir string // objects land here
	tmp string // temp files, on the same file system
}

// newFileBaseline prepares dir, which must be on the same file system as
// near (the server's data directory), so both pay the same for fsync.
func newFileBaseline(dir, near string) (*fileBaseline, error) {
	tmp := filepath.Join(dir, ".tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("file baseline: %w", err)
	}
	a, errA := deviceOf(dir)
	b, errB := deviceOf(near)
	if err := errors.Join(errA, errB); err != nil {
		return nil, fmt.Errorf("file baseline: %w", err)
	}
	if a != b {
		return nil, fmt.Errorf("file baseline: %s and %s are on different file systems", dir, near)
	}
	return &fileBaseline{dir: dir, tmp: tmp}, nil
}

func (b *fileBaseline) upload(ctx context.Context, p *payload) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.CreateTemp(b.tmp, "raw-*.part")
	if err != nil {
		return fmt.Errorf("file baseline: %w", err)
	}
	_, err = f.Write(p.data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(b.dir, hex.EncodeToString(p.sum[:])))
	}
	if err == nil {
		err = syncDir(b.dir)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("file baseline: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// deviceOf returns the device number of the file system holding path.
func deviceOf(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return uint64(st.Dev), nil
}
