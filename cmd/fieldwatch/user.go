package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/store"
)

// runUser handles `fieldwatch user add …`, used to bootstrap the first
// administrator before anyone can log in to the API.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{errors.New(`usage: fieldwatch user add --username NAME --role ROLE [--display-name NAME] [--township CODE ...] [--phone P] --password-stdin`)}
	}
	fs := flag.NewFlagSet("fieldwatch user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		username, role, display, phone string
		townships                      []string
		passwordStdin                  bool
	)
	fs.StringVar(&username, "username", "", "login name (required)")
	fs.StringVar(&role, "role", "", "admin, inspector, river_chief or township_officer (required)")
	fs.StringVar(&display, "display-name", "", "name shown to others (default: the username)")
	fs.StringVar(&phone, "phone", "", "phone number")
	fs.Func("township", "township code in the user's scope (repeatable)", func(v string) error {
		townships = append(townships, v)
		return nil
	})
	fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input (required)")
	c, rest, err := app.ParseConfig(fs, args[1:], getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", rest)}
	}
	if username == "" || role == "" || !passwordStdin {
		return usageError{errors.New("--username, --role and --password-stdin are required (passwords are never taken as arguments: they would show in ps and shell history)")}
	}
	password, err := bufio.NewReader(io.LimitReader(stdin, 8<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading password: %w", err)
	}
	password = strings.TrimRight(password, "\r\n")
	if display == "" {
		display = username
	}

	db, ident, err := openIdentity(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := ident.CreateUser(ctx, auth.NewUser{
		Username: username, DisplayName: display, Phone: phone,
		Role: fieldwatch.Role(role), Password: password, Townships: townships,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s %s (%s) id %s\n", u.Role, u.Username, u.DisplayName, u.ID)
	return nil
}

// openIdentity opens and migrates the store and builds the identity
// service over it, for commands that manage users.
func openIdentity(ctx context.Context, c app.Config) (*store.Store, *auth.Service, error) {
	db, _, err := app.OpenMigrated(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	ident, err := app.NewIdentity(c, db, nil)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, ident, nil
}

// demoUsers are one account per role in the demo county. Their townships
// are codes of testdata/demo-county.
var demoUsers = []auth.NewUser{
	{Username: "admin", DisplayName: "县生态环境局管理员", Role: fieldwatch.RoleAdmin},
	// A second administrator: rectifications are verified by someone
	// other than their submitter.
	{Username: "admin2", DisplayName: "县河长办复核员", Role: fieldwatch.RoleAdmin},
	{Username: "inspector", DisplayName: "李巡查", Role: fieldwatch.RoleInspector, Townships: []string{"130227101", "130227102", "130227103"}},
	{Username: "officer.xingcheng", DisplayName: "王镇长", Role: fieldwatch.RoleTownshipOfficer, Townships: []string{"130227101"}},
	{Username: "chief.luanhe", DisplayName: "赵河长", Role: fieldwatch.RoleRiverChief},
}

// createDemoUsers adds the demo accounts that do not exist yet, each with
// a fresh random password printed once to w. Existing accounts are left
// alone, so restarting with --demo never resets a password.
func createDemoUsers(ctx context.Context, ident *auth.Service, db *store.Store, w io.Writer) error {
	for _, du := range demoUsers {
		if _, err := demoUser(ctx, ident, db, du, w); err != nil {
			return err
		}
	}
	return nil
}
