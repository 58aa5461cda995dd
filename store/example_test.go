package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

func ExampleOpenSQLite() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fieldwatch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.OpenSQLite(ctx, filepath.Join(dir, "data", "fieldwatch.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	u := fieldwatch.User{
		Username:    "Li.Na",
		DisplayName: "李娜",
		Role:        fieldwatch.RoleRiverChief,
		Active:      true,
		CreatedAt:   time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC),
	}
	if err := s.CreateUser(ctx, &u); err != nil {
		log.Fatal(err)
	}
	got, err := s.UserByUsername(ctx, "li.na")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Backend(), got.Username, got.DisplayName, got.Role, got.CreatedAt)

	dup := fieldwatch.User{Username: "LI.NA", Role: fieldwatch.RoleInspector}
	fmt.Println(errors.Is(s.CreateUser(ctx, &dup), store.ErrConflict))
	// Output:
	// sqlite Li.Na 李娜 river_chief 2025-03-01 08:00:00 +0000 UTC
	// true
}

// Boundaries are versioned: a re-import closes the versions in force and
// adds the new set, so a past instant still gets the boundary of its time.
func ExampleStore_ImportTownships() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fieldwatch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := store.OpenSQLite(ctx, filepath.Join(dir, "fieldwatch.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	square := func(x0, y0, d float64) *geom.MultiPolygon {
		return geom.NewMultiPolygonFlat(geom.XY, []float64{x0, y0, x0 + d, y0, x0 + d, y0 + d, x0, y0 + d, x0, y0}, [][]int{{10}})
	}
	town := fieldwatch.Township{Code: "130227101", Name: "兴城镇", Kind: "town", Zone: fieldwatch.ZoneCore, Boundary: square(118.2, 40.1, 0.1)}
	v1, err := s.ImportTownships(ctx, []fieldwatch.Township{town}, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		log.Fatal(err)
	}
	town.Boundary = square(118.2, 40.1, 0.2)
	v2, err := s.ImportTownships(ctx, []fieldwatch.Township{town}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		log.Fatal(err)
	}
	for _, at := range []time.Time{time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)} {
		t, err := s.TownshipByCode(ctx, "130227101", at)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(at.Format(time.DateOnly), t.Version, t.Boundary.Bounds().Max(0), t.EffectiveTo != nil)
	}
	fmt.Println(v1, v2)
	// Output:
	// 2024-06-01 1 118.3 true
	// 2025-06-01 2 118.4 false
	// 1 2
}
