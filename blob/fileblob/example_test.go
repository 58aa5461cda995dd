package fileblob_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
)

func ExampleDir() {
	root, err := os.MkdirTemp("", "photos")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	store, err := fileblob.Open(root)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ctx := context.Background()

	photo := "not really a JPEG"
	sum := sha256.Sum256([]byte(photo))
	_, err = store.Put(ctx, "2026/11/28/a.jpg", strings.NewReader(photo), int64(len(photo)),
		blob.PutOptions{SHA256: sum[:], ContentType: "image/jpeg"})
	fmt.Println("put:", err)

	wrong := sha256.Sum256([]byte("another photo"))
	_, err = store.Put(ctx, "2026/11/28/b.jpg", strings.NewReader(photo), int64(len(photo)),
		blob.PutOptions{SHA256: wrong[:]})
	fmt.Println("put with a wrong hash:", errors.Is(err, blob.ErrChecksumMismatch))

	_, err = store.Stat(ctx, "2026/11/28/b.jpg")
	fmt.Println("stored anyway:", !errors.Is(err, blob.ErrNotExist))

	rc, obj, err := store.Get(ctx, "2026/11/28/a.jpg")
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	fmt.Printf("get: %q %s %d bytes, %v\n", b, obj.ContentType, obj.Size, err)
	// Output:
	// put: <nil>
	// put with a wrong hash: true
	// stored anyway: false
	// get: "not really a JPEG" image/jpeg 17 bytes, <nil>
}
