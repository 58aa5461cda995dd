package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldwatch/fieldwatch/inspect"
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

	u := inspect.User{
		Username:    "Li.Na",
		DisplayName: "李娜",
		Role:        inspect.RoleRiverChief,
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

	dup := inspect.User{Username: "LI.NA", Role: inspect.RoleInspector}
	fmt.Println(errors.Is(s.CreateUser(ctx, &dup), store.ErrConflict))
	// Output:
	// sqlite Li.Na 李娜 river_chief 2025-03-01 08:00:00 +0000 UTC
	// true
}
