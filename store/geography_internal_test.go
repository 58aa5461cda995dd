package store

import (
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// explain returns the plan of query (with '?' placeholders) on s, with
// the given planner methods (e.g. "seqscan") disabled on PostgreSQL.
func explain(t *testing.T, s *Store, query string, args []any, disable ...string) string {
	t.Helper()
	ctx := t.Context()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	prefix := "EXPLAIN "
	if s.d.name == sqliteDialect.name {
		prefix = "EXPLAIN QUERY PLAN "
	} else {
		for _, m := range disable {
			if _, err := tx.ExecContext(ctx, `SET LOCAL enable_`+m+` = off`); err != nil {
				t.Fatal(err)
			}
		}
	}
	rows, err := tx.QueryContext(ctx, prefix+s.q(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", prefix, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var line any = vals[len(vals)-1] // the plan text is the last column
		switch v := line.(type) {
		case []byte:
			lines = append(lines, string(v))
		case string:
			lines = append(lines, v)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// geographyPlans are the queries whose plans must use the spatial index
// and the chief index.
func geographyPlans(t *testing.T, s *Store, chief string) []struct {
	name, query string
	args        []any
	disable     []string // PostgreSQL planner methods
	want        []string
} {
	t.Helper()
	at := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	bbox, bargs, err := s.reachesQuery(ReachFilter{At: at, BBox: &geo.Box{MinLon: 114.49, MinLat: 40.49, MaxLon: 114.51, MaxLat: 40.51}})
	if err != nil {
		t.Fatal(err)
	}
	chiefQ, cargs := s.reachesOfChiefQuery(chief, at)
	sqlite := s.d.name == sqliteDialect.name
	pick := func(lite, pg []string) []string {
		if sqlite {
			return lite
		}
		return pg
	}
	return []struct {
		name, query string
		args        []any
		disable     []string
		want        []string
	}{
		{"ReachBBox", bbox, bargs, []string{"seqscan"}, pick(
			[]string{"SCAN reaches_rtree VIRTUAL TABLE INDEX", "USING INTEGER PRIMARY KEY"},
			[]string{"reaches_line", "Index Cond: (line && "})},
		{"ReachesOfChief", chiefQ, cargs, []string{"seqscan"}, pick(
			[]string{"USING COVERING INDEX chief_assignments_user (user_id=?)"},
			[]string{"chief_assignments_user", "Index Cond: ((user_id = "})},
		// The index alone answers, in order. (PostgreSQL picks this plan
		// for chiefs with a few reaches; a bitmap scan is barred so that
		// the check does not hang on the visibility map's state.)
		{"ReachesOfChiefCovering", chiefQ, cargs, []string{"seqscan", "bitmapscan"}, pick(
			[]string{"USING COVERING INDEX chief_assignments_user (user_id=?)"},
			[]string{"Index Only Scan using chief_assignments_user"})},
	}
}

// TestSQLiteGeographyQueryPlans checks that the reach bbox filter goes
// through the R*Tree (its few rows are then sorted by code) and that a
// chief's reaches come from the covering index alone, in order.
func TestSQLiteGeographyQueryPlans(t *testing.T) {
	s, err := OpenSQLite(t.Context(), t.TempDir()+"/geo.db")
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	defer s.Close()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range geographyPlans(t, s, "0196f3a0-0000-7000-8000-000000000000") {
		t.Run(tc.name, func(t *testing.T) {
			plan := explain(t, s, tc.query, tc.args)
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan lacks %q:\n%s", w, plan)
				}
			}
			if tc.name != "ReachBBox" && strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("plan sorts:\n%s", plan)
			}
		})
	}
}

// TestPostgresGeographyQueryPlans checks, on 40,000 reaches over a
// county-sized grid and 40,000 chief assignments (10,000 chiefs with four
// reaches each), analysed, that the reach bbox filter uses the GiST index
// on line and that a chief's reaches come from chief_assignments_user.
// Sequential scans are disabled so that the check does not depend on the
// cost model at this size; another index would still fail it.
func TestPostgresGeographyQueryPlans(t *testing.T) {
	ctx := t.Context()
	s := migratedPostgres(t)
	chief := fieldwatch.User{Username: "plan.chief", Role: fieldwatch.RoleRiverChief}
	if err := s.CreateUser(ctx, &chief); err != nil {
		t.Fatal(err)
	}
	// A 200 × 200 grid of 0.004° diagonal segments from 114°E, 40°N, and
	// 10,000 chiefs (plan.chief among them) with 4 reaches each.
	for _, q := range []string{
		`INSERT INTO import_batches (id, kind, effective_from, created_at, count)
			VALUES (1, 'reaches', '2025-01-01Z', '2025-01-01Z', 40000)`,
		`INSERT INTO reaches (code, version, river, name, township_code, line, min_lon, min_lat, max_lon, max_lat, effective_from)
			SELECT 'R-' || i, 1, 'river ' || (i % 50), 'reach ' || i, 't' || (i % 20),
				ST_SetSRID(ST_Multi(ST_MakeLine(ST_MakePoint(x, y), ST_MakePoint(x + 0.004, y + 0.004))), 4326),
				x, y, x + 0.004, y + 0.004, '2025-01-01Z'
			FROM generate_series(0, 39999) i,
				LATERAL (SELECT 114 + (i % 200) * 0.005 AS x, 40 + (i / 200) * 0.005 AS y) g`,
		`INSERT INTO users (id, username, username_key, role, created_at, updated_at)
			SELECT gen_random_uuid(), 'plan.c' || j, 'plan.c' || j, 'river_chief', now(), now()
			FROM generate_series(1, 9999) j`,
		`INSERT INTO chief_assignments (id, reach_code, user_id, level, valid_from)
			SELECT gen_random_uuid(), 'R-' || i, u.id, 'village', '2025-01-01Z'
			FROM generate_series(0, 39999) i
			JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM users WHERE role = 'river_chief') u ON u.k = i % 10000`,
		// VACUUM sets the visibility map, as autovacuum would, without
		// which no index-only scan is planned.
		`VACUUM ANALYZE`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, tc := range geographyPlans(t, s, chief.ID) {
		t.Run(tc.name, func(t *testing.T) {
			plan := explain(t, s, tc.query, tc.args, tc.disable...)
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan lacks %q:\n%s", w, plan)
				}
			}
			if tc.name == "ReachesOfChiefCovering" && strings.Contains(plan, "Sort") {
				t.Errorf("plan sorts:\n%s", plan)
			}
			t.Logf("plan:\n%s", plan)
		})
	}
	// The answers agree with the plans' claim to be selective.
	at := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	rs, err := s.Reaches(ctx, ReachFilter{At: at, BBox: &geo.Box{MinLon: 114.49, MinLat: 40.49, MaxLon: 114.51, MaxLat: 40.51}})
	if err != nil || len(rs) == 0 || len(rs) > 100 {
		t.Fatalf("Reaches in a small box = %d rows, %v", len(rs), err)
	}
	codes, err := s.ReachesOfChief(ctx, chief.ID, at)
	if err != nil || len(codes) != 4 {
		t.Fatalf("ReachesOfChief = %d codes, %v; want 4", len(codes), err)
	}
}

// TestMigrationGeographyDownUp checks that 00004 can be rolled back and
// applied again on both backends.
func TestMigrationGeographyDownUp(t *testing.T) {
	open := map[string]func(t *testing.T) *Store{
		"SQLite": func(t *testing.T) *Store {
			s, err := OpenSQLite(t.Context(), t.TempDir()+"/down.db")
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"Postgres": func(t *testing.T) *Store {
			s, err := OpenPostgres(t.Context(), testservice.PostgresDB(t))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := open(t)
			defer s.Close()
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.migrate.DownTo(ctx, 3); err != nil {
				t.Fatalf("down to 3: %v", err)
			}
			if v, err := s.Version(ctx); err != nil || v != 3 {
				t.Fatalf("Version after down = %d, %v", v, err)
			}
			applied, err := s.Migrate(ctx)
			if err != nil || len(applied) == 0 || applied[0] != 4 {
				t.Fatalf("Migrate after down = %v, %v", applied, err)
			}
		})
	}
}
