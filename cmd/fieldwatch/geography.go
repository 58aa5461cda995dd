package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/store"
)

// runImport handles `fieldwatch import townships|reaches FILE`.
func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "townships" && args[0] != "reaches") {
		return usageError{errors.New("usage: fieldwatch import townships|reaches FILE.geojson [flags]")}
	}
	kind := args[0]
	c, rest, err := commandConfig("import "+kind, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{fmt.Errorf("import %s takes one GeoJSON file", kind)}
	}
	data, err := os.ReadFile(rest[0])
	if err != nil {
		return err
	}
	db, _, err := app.OpenMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	atlas, err := fieldwatch.NewAtlas(ctx, db, fieldwatch.AtlasConfig{})
	if err != nil {
		return err
	}
	var v int64
	var n int
	if kind == "townships" {
		v, n, err = atlas.ImportTownships(ctx, data, time.Now().UTC())
	} else {
		v, n, err = atlas.ImportReaches(ctx, data, time.Now().UTC())
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d %s as version %d\n", n, kind, v)
	return nil
}

// loadDemoCounty imports the demo county when no townships exist yet and
// gives every reach a chief at each level: one county chief per river,
// one township chief per township with reaches, one village chief per
// reach. New accounts' passwords are printed once to w. Boundaries and
// chiefs are in force from since, so the demo month (before today) has a
// county to happen in.
func loadDemoCounty(ctx context.Context, atlas *fieldwatch.Atlas, ident *auth.Service, db *store.Store, since time.Time, w io.Writer) error {
	if !atlas.HasTownships() {
		now := since
		if _, _, err := atlas.ImportTownships(ctx, demo.TownshipsGeoJSON, now); err != nil {
			return fmt.Errorf("demo townships: %w", err)
		}
		if _, _, err := atlas.ImportReaches(ctx, demo.ReachesGeoJSON, now); err != nil {
			return fmt.Errorf("demo reaches: %w", err)
		}
		fmt.Fprintln(w, "demo county loaded: 14 townships, 15 reaches")
	}
	reaches, err := atlas.Reaches(ctx, fieldwatch.ReachQuery{At: time.Now()})
	if err != nil {
		return err
	}
	riverChiefs := map[string]string{"LH": "chief.luanhe", "CH": "chief.changhe", "QH": "chief.qinghe"}
	for _, r := range reaches {
		existing, err := atlas.Chiefs(ctx, r.Code, time.Now())
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			continue
		}
		prefix, _, _ := strings.Cut(r.Code, "-")
		county := riverChiefs[prefix]
		if county == "" {
			county = "chief." + strings.ToLower(prefix)
		}
		var as []fieldwatch.ChiefAssignment
		for _, c := range []struct {
			username, display string
			level             fieldwatch.ChiefLevel
		}{
			{county, r.River + "县级河长", fieldwatch.ChiefCounty},
			{"chief.t" + r.TownshipCode[len(r.TownshipCode)-3:], "乡级河长" + r.TownshipCode[len(r.TownshipCode)-3:], fieldwatch.ChiefTownship},
			{"chief." + strings.ToLower(r.Code), r.Name + "村级河长", fieldwatch.ChiefVillage},
		} {
			id, err := demoUser(ctx, ident, db, auth.NewUser{Username: c.username, DisplayName: c.display, Role: fieldwatch.RoleRiverChief}, w)
			if err != nil {
				return err
			}
			as = append(as, fieldwatch.ChiefAssignment{ReachCode: r.Code, UserID: id, Level: c.level})
		}
		for i := range as {
			as[i].ValidFrom = since
		}
		if err := db.SetReachChiefs(ctx, r.Code, as, since); err != nil {
			return fmt.Errorf("demo chiefs of %s: %w", r.Code, err)
		}
	}
	return nil
}

// demoUser returns the id of the demo account, creating it with a fresh
// random password (printed once) if it does not exist.
func demoUser(ctx context.Context, ident *auth.Service, db *store.Store, nu auth.NewUser, w io.Writer) (string, error) {
	u, err := db.UserByUsername(ctx, nu.Username)
	if err == nil {
		return u.ID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	nu.Password = rand.Text()[:16]
	created, err := ident.CreateUser(ctx, nu)
	if err != nil {
		return "", fmt.Errorf("demo user %s: %w", nu.Username, err)
	}
	fmt.Fprintf(w, "demo user %-18s role %-16s password %s\n", nu.Username, nu.Role, nu.Password)
	return created.ID, nil
}

// runChiefs handles `fieldwatch chiefs set --reach CODE --chief USER:LEVEL
// ...`: the command-line equivalent of PUT /v1/reaches/{code}/chiefs.
func runChiefs(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "set" {
		return usageError{errors.New("usage: fieldwatch chiefs set --reach CODE --chief USERNAME:LEVEL [--chief ...]")}
	}
	fs := flag.NewFlagSet("fieldwatch chiefs set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var reach string
	var chiefs []string
	fs.StringVar(&reach, "reach", "", "reach code, e.g. LH-03 (required)")
	fs.Func("chief", "USERNAME:LEVEL with LEVEL county, township or village (repeatable; none ends the reach's chiefs)", func(v string) error {
		chiefs = append(chiefs, v)
		return nil
	})
	c, rest, err := app.ParseConfig(fs, args[1:], getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if reach == "" || len(rest) > 0 {
		return usageError{errors.New("chiefs set needs --reach and takes no arguments")}
	}
	db, _, err := app.OpenMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	var as []fieldwatch.ChiefAssignment
	for _, ch := range chiefs {
		name, level, ok := strings.Cut(ch, ":")
		if !ok {
			return usageError{fmt.Errorf("--chief %q: want USERNAME:LEVEL", ch)}
		}
		u, err := db.UserByUsername(ctx, auth.NormalizeUsername(name))
		if err != nil {
			return fmt.Errorf("chief %s: %w", name, err)
		}
		as = append(as, fieldwatch.ChiefAssignment{ReachCode: reach, UserID: u.ID, Level: fieldwatch.ChiefLevel(level)})
	}
	atlas, err := fieldwatch.NewAtlas(ctx, db, fieldwatch.AtlasConfig{})
	if err != nil {
		return err
	}
	now, err := atlas.SetChiefs(ctx, reach, as)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reach %s now has %d chief(s)\n", reach, len(now))
	for _, ch := range now {
		fmt.Fprintf(stdout, "  %-8s %s\n", ch.Level, ch.Name)
	}
	return nil
}
