package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
)

// usageError marks a mistake in how the command was called (exit code 2).
type usageError struct{ error }

func exitCode(err error) int {
	var ue usageError
	var aue app.UsageError
	if errors.As(err, &ue) || errors.As(err, &aue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const usage = `fieldwatch: geotagged evidence for environmental field inspection

Usage:
  fieldwatch serve [flags]      run the HTTP service (embedded defaults: SQLite + ./data)
  fieldwatch serve --demo       the same, with demo accounts (passwords printed once)
  fieldwatch migrate [flags]    apply database migrations and exit
  fieldwatch user add --username NAME --role ROLE [--township CODE ...] --password-stdin
                                create a user (bootstrap the first administrator)
  fieldwatch import townships|reaches FILE   import boundaries or reaches (GeoJSON) as a new version
  fieldwatch chiefs set --reach CODE --chief USERNAME:LEVEL ...   assign a reach's river chiefs
  fieldwatch audit verify [flags]   verify the hash-chained audit trail; names the first broken entry
  fieldwatch audit head [flags]     print the audit chain head SEQ:HASH for safekeeping
  fieldwatch check [flags]      repair leftovers of crashes, then verify every photo against its row
  fieldwatch backup [flags] DIR    copy the embedded database and its photos to an empty DIR while serve runs
  fieldwatch restore [flags] DIR   fill an empty --data-dir from a backup, then verify it
  fieldwatch keygen             print a new signing key entry for FIELDWATCH_JWT_KEYS
  fieldwatch version            print the version
  fieldwatch help               this text

Run "fieldwatch serve -h" for the flags; each also reads a FIELDWATCH_*
environment variable (see README.md).
`

// run is the whole program: main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no command given")}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "check":
		return runCheck(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, rest, getenv, stdout, stderr)
	case "restore":
		return runRestore(ctx, rest, getenv, stdout, stderr)
	case "audit":
		return runAudit(ctx, rest, getenv, stdout, stderr)
	case "chiefs":
		return runChiefs(ctx, rest, getenv, stdout, stderr)
	case "import":
		return runImport(ctx, rest, getenv, stdout, stderr)
	case "user":
		return runUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "keygen":
		key, err := auth.GenerateKey()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, key)
		return nil
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "fieldwatch", version())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", cmd)}
	}
}

// commandConfig parses the shared flags of a subcommand.
func commandConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (app.Config, []string, error) {
	fs := flag.NewFlagSet("fieldwatch "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c, rest, err := app.ParseConfig(fs, args, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, nil, err
		}
		return c, nil, usageError{err}
	}
	return c, rest, nil
}

// version is the module version the binary was built from, or the VCS
// revision for builds from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			v = "devel-" + s.Value[:min(12, len(s.Value))]
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return strings.TrimSpace(v)
}
