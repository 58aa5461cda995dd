package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// runAudit handles `fieldwatch audit verify`: walk the hash-chained audit
// trail and name the first entry that was altered, removed or reordered.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageError{errors.New("usage: fieldwatch audit verify [flags]")}
	}
	c, rest, err := commandConfig("audit verify", args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("audit verify takes no arguments, got %q", rest)}
	}
	db, _, err := openMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	broken, n, err := db.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if broken != 0 {
		fmt.Fprintf(stdout, "audit trail broken at entry %d (checked %d)\n", broken, n)
		return fmt.Errorf("audit trail broken at entry %d", broken)
	}
	fmt.Fprintf(stdout, "audit trail intact: %d entries\n", n)
	return nil
}
