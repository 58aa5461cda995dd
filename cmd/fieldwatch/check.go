package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
)

// runCheck runs one reconcile pass and then the invariant checker: every
// stored evidence has an object with its SHA-256, and no object lacks a
// row. It reads every photo, so it is for operators after an incident and
// for fault tests, not for a cron every minute.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, rest, err := commandConfig("check", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("check takes no arguments, got %q", rest)}
	}
	log := app.NewLogger(c, stderr)
	db, _, err := app.OpenMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	photos, _, err := app.OpenPhotos(ctx, c, log)
	if err != nil {
		return err
	}
	rec, err := fieldwatch.NewReconciler(db, photos, fieldwatch.ReconcileConfig{
		SpoolDir: c.SpoolDir, StaleAfter: c.UploadStaleAfter, OrphanAge: c.OrphanAge, Logger: log,
	}).Run(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	fmt.Fprintf(stdout, "reconcile: released %d abandoned uploads, deleted %d orphan objects, removed %d spool files\n",
		rec.AbandonedSubmissions, rec.OrphanObjects, rec.SpoolFiles)
	fmt.Fprintf(stdout, "reconcile: swept %d expired direct-upload sessions and %d abandoned upload objects\n",
		rec.ExpiredUploads, rec.AbandonedUploads)
	// Direct uploads are reported, not counted as violations: no 201
	// depends on them.
	up, err := fieldwatch.CheckUploads(ctx, db, photos, time.Now())
	if err != nil {
		return fmt.Errorf("check uploads: %w", err)
	}
	fmt.Fprintf(stdout, "direct uploads: %d open, %d expired, %d completed (kept for replays), %d abandoned upload objects\n",
		up.Open, up.Expired, up.Completed, len(up.Abandoned))
	for _, k := range up.Abandoned {
		fmt.Fprintf(stdout, "abandoned upload object %s\n", k)
	}
	rep, err := fieldwatch.CheckInvariants(ctx, db, photos, fieldwatch.InvariantConfig{OrphanAge: c.OrphanAge})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	fmt.Fprintf(stdout, "checked %d evidence rows and %d objects\n", rep.Evidence, rep.Objects)
	if len(rep.Pending) > 0 {
		// Uploads between their PUT and their commit, or left by a crash:
		// the reconciler deletes them once older than --orphan-age.
		fmt.Fprintf(stdout, "%d pending: objects without a row, younger than --orphan-age %s (not violations)\n", len(rep.Pending), c.OrphanAge)
		fmt.Fprintln(stdout, strings.Join(rep.Pending, "\n"))
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintln(stdout, strings.Join(rep.Problems, "\n"))
		return fmt.Errorf("%d invariant violations", len(rep.Problems))
	}
	fmt.Fprintln(stdout, "all invariants hold")
	return nil
}
