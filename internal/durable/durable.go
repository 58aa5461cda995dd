// Package durable makes writes survive a crash: an fsync of a file, or of
// the directory a file was created, renamed or removed in (without which
// the name itself may be lost).
package durable

import (
	"os"
	"runtime"
)

// Sync fsyncs the file or directory called name. On Windows a directory
// cannot be fsynced and needs none (NTFS journals renames): Sync returns
// nil for it there.
func Sync(name string) error {
	if runtime.GOOS == "windows" {
		if fi, err := os.Stat(name); err == nil && fi.IsDir() {
			return nil
		}
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
