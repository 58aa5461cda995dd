package blob_test

import (
	"errors"
	"fmt"

	"github.com/fieldwatch/fieldwatch/blob"
)

func ExampleValidateKey() {
	for _, key := range []string{
		"2026/11/28/01JDX3Q7ZK.jpg",
		"../etc/passwd",
		"2026//x.jpg",
		".tmp/x",
	} {
		fmt.Printf("%-28q %v\n", key, errors.Is(blob.ValidateKey(key), blob.ErrInvalidKey))
	}
	// Output:
	// "2026/11/28/01JDX3Q7ZK.jpg"  false
	// "../etc/passwd"              true
	// "2026//x.jpg"                true
	// ".tmp/x"                     true
}
