package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/store"
)

const auditUsage = `usage:
  fieldwatch audit verify [--head SEQ:HASH] [flags]   name the first broken link of the audit trail
  fieldwatch audit head [flags]                       print the chain head as SEQ:HASH, for safekeeping`

// runAudit handles `fieldwatch audit verify|head`.
//
// The hash chain shows an entry altered, removed or moved, but not the
// newest entries removed: what is left is still a valid chain. `audit
// head` prints the head to keep where the database's administrators
// cannot write; `audit verify --head` then also fails when the chain no
// longer reaches that entry or reaches it with another hash.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "head") {
		return usageError{errors.New(auditUsage)}
	}
	sub := args[0]
	fs := flag.NewFlagSet("fieldwatch audit "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var head *store.AuditAnchor
	if sub == "verify" {
		fs.Func("head", "SEQ:HASH printed by `fieldwatch audit head` (or GET /v1/audit/head) earlier: the chain must still reach it", func(v string) error {
			a, err := parseAnchor(v)
			head = &a
			return err
		})
	}
	c, rest, err := app.ParseConfig(fs, args[1:], getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("audit %s takes no arguments, got %q", sub, rest)}
	}
	db, _, err := app.OpenMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "head" {
		seq, hash, _, err := db.AuditHead(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, formatAnchor(store.AuditAnchor{Seq: seq, Hash: hash}))
		return nil
	}
	r, err := db.VerifyAuditAgainst(ctx, head)
	if err != nil {
		return err
	}
	if r.FirstBroken != 0 {
		fmt.Fprintf(stdout, "audit trail broken at entry %d: %s (checked %d)\n", r.FirstBroken, r.Reason, r.Checked)
		return fmt.Errorf("audit trail broken at entry %d", r.FirstBroken)
	}
	if head != nil {
		fmt.Fprintf(stdout, "audit trail intact: %d entries, head %s reached\n", r.Checked, formatAnchor(*head))
		return nil
	}
	fmt.Fprintf(stdout, "audit trail intact: %d entries\n", r.Checked)
	return nil
}

// formatAnchor writes a head as SEQ:HEXHASH; the empty trail is "0:".
func formatAnchor(a store.AuditAnchor) string {
	return strconv.FormatInt(a.Seq, 10) + ":" + hex.EncodeToString(a.Hash)
}

// parseAnchor reads SEQ:HEXHASH: a SHA-256 in hex after a positive seq,
// or "0:" for the empty trail.
func parseAnchor(s string) (store.AuditAnchor, error) {
	seqText, hashText, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq < 0 {
		return store.AuditAnchor{}, fmt.Errorf("want SEQ:HASH, got %q", s)
	}
	hash, err := hex.DecodeString(hashText)
	if err != nil || (seq > 0 && len(hash) != 32) || (seq == 0 && len(hash) != 0) {
		return store.AuditAnchor{}, fmt.Errorf("want SEQ:HASH with a 64-digit hex SHA-256, got %q", s)
	}
	return store.AuditAnchor{Seq: seq, Hash: hash}, nil
}
