package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// TestPostgresEvidenceQueryPlans checks, on 40,000 rows spread over a
// county-sized grid and analysed, that the planner answers the spatial
// filters through the GiST index on geom and keyset pages through the
// listing index. Sequential scans are disabled for the spatial cases so
// that the check does not depend on the cost model's mood at this size;
// an index scan on another index would still fail it. A keyset page's ids
// come from the listing index alone, before their rows are read.
func TestPostgresEvidenceQueryPlans(t *testing.T) {
	ctx := t.Context()
	s := migratedPostgres(t)
	u := fieldwatch.User{Username: "plan", Role: fieldwatch.RoleInspector}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	// A 200 × 200 grid at 0.005° (about 400 m × 550 m) from 114°E, 40°N.
	_, err := s.db.ExecContext(ctx, `INSERT INTO evidence (id, uploader_id, category, sha256, size, content_type, object_key,
			width, height, received_at, capture_time_source, lon, lat, location_source)
		SELECT gen_random_uuid(), $1, 'other', encode(sha256(i::text::bytea), 'hex'), 1, 'image/jpeg', 'k/' || i,
			1, 1, timestamptz '2025-05-01' - i * interval '1 minute', 'none',
			114 + (i % 200) * 0.005, 40 + (i / 200) * 0.005, 'exif'
		FROM generate_series(0, 39999) i`, u.ID)
	if err != nil {
		t.Fatalf("bulk insert: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE evidence`); err != nil {
		t.Fatal(err)
	}

	after := time.Date(2025, 4, 30, 0, 0, 0, 0, time.UTC)
	centre := geo.Point{Lon: 114.5, Lat: 40.5}
	tests := []struct {
		name      string
		f         fieldwatch.EvidenceFilter
		noSeqScan bool
		want      string
	}{
		{"BBox", fieldwatch.EvidenceFilter{BBox: &geo.Box{MinLon: 114.49, MinLat: 40.49, MaxLon: 114.51, MaxLat: 40.51}}, true, "evidence_geom"},
		{"Near", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: 800}, true, "evidence_geom"},
		{"KeysetPage", fieldwatch.EvidenceFilter{AfterTime: &after, AfterID: "0196f3a0-0000-7000-8000-000000000000"}, false,
			"Index Only Scan using evidence_received"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := postgresPlan(t, s, tc.f, tc.noSeqScan)
			if !strings.Contains(plan, tc.want) {
				t.Fatalf("plan does not use %s:\n%s", tc.want, plan)
			}
			t.Logf("plan:\n%s", plan)
			// The answer agrees with the plan's claim to be selective.
			got, err := s.ListEvidence(ctx, tc.f)
			if err != nil || len(got) == 0 {
				t.Fatalf("ListEvidence = %d rows, %v", len(got), err)
			}
		})
	}
}

// postgresPlan returns the EXPLAIN output of ListEvidence's query for f,
// with sequential scans disabled for the transaction if noSeqScan.
func postgresPlan(t *testing.T, s *Store, f fieldwatch.EvidenceFilter, noSeqScan bool) string {
	t.Helper()
	ctx := t.Context()
	q, args, err := s.listEvidenceQuery(f)
	if err != nil {
		t.Fatalf("listEvidenceQuery: %v", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	if noSeqScan {
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+s.q(q), args...)
	if err != nil {
		t.Fatalf("EXPLAIN: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// migratedPostgres opens a fresh, migrated database on the test server and
// closes it when the test ends.
func migratedPostgres(t *testing.T) *Store {
	t.Helper()
	ctx := t.Context()
	s, err := OpenPostgres(ctx, testservice.PostgresDB(t))
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// TestPostgresListPageBeforeDocuments checks, in the plan PostgreSQL
// runs, that a bbox list chooses its page from narrow tuples: nothing
// below the page's LIMIT outputs the details or responsibility documents,
// so they are read (and, before migration 00015 made them json, converted
// from jsonb to text) for the page's rows only, not for every row in the
// box. It checks both the custom plan (the first
// executions of a prepared statement) and the generic plan that pgx's
// cached statements settle on, in which the planner cannot see how many
// rows the box holds.
func TestPostgresListPageBeforeDocuments(t *testing.T) {
	ctx := t.Context()
	s := migratedPostgres(t)
	u := fieldwatch.User{Username: "docs", Role: fieldwatch.RoleInspector}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO evidence (id, uploader_id, category, sha256, size, content_type, object_key,
			width, height, received_at, capture_time_source, lon, lat, location_source, details, responsibility)
		SELECT gen_random_uuid(), $1, 'other', encode(sha256(i::text::bytea), 'hex'), 1, 'image/jpeg', 'k/' || i,
			1, 1, timestamptz '2025-05-01' - i * interval '1 minute', 'none',
			114 + (i % 100) * 0.001, 40 + (i / 100) * 0.001, 'exif',
			'{"exif": {"make": "m", "problems": []}}', '{"chiefs": [], "candidates": [], "method": "m", "version": 1, "reach_dist_m": 0}'
		FROM generate_series(0, 9999) i`, u.ID)
	if err != nil {
		t.Fatalf("bulk insert: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE evidence`); err != nil {
		t.Fatal(err)
	}
	f := fieldwatch.EvidenceFilter{BBox: &geo.Box{MinLon: 114.02, MinLat: 40.02, MaxLon: 114.03, MaxLat: 40.03}, Limit: 50}
	q, args, err := s.listEvidenceQuery(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		t.Run(mode, func(t *testing.T) {
			conn, err := s.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = `+mode); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(ctx, `RESET plan_cache_mode`) //nolint:errcheck // best effort
			name := "fw_list_" + mode
			defer conn.ExecContext(ctx, `DEALLOCATE `+name) //nolint:errcheck // best effort
			if _, err := conn.ExecContext(ctx, `PREPARE `+name+` AS `+s.q(q)); err != nil {
				t.Fatal(err)
			}
			// EXPLAIN EXECUTE takes no parameters of its own: the
			// arguments (numbers only, for a box) go in as literals.
			lits := make([]string, len(args))
			for i, a := range args {
				lits[i] = fmt.Sprint(a)
			}
			rows, err := conn.QueryContext(ctx, `EXPLAIN (ANALYZE, VERBOSE) EXECUTE `+name+`(`+strings.Join(lits, ", ")+`)`)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for rows.Next() {
				var l string
				if err := rows.Scan(&l); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, l)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			plan := strings.Join(lines, "\n")
			page := subtree(lines, "Limit")
			if len(page) == 0 {
				t.Fatalf("no Limit in the plan:\n%s", plan)
			}
			for _, l := range page {
				if strings.Contains(l, "details") || strings.Contains(l, "responsibility") {
					t.Errorf("documents read below the page's LIMIT: %s\nplan:\n%s", strings.TrimSpace(l), plan)
				}
			}
			if !strings.Contains(plan, "evidence_geom") {
				t.Errorf("the box is not searched through evidence_geom:\n%s", plan)
			}
			t.Logf("plan:\n%s", plan)
		})
	}
}

// subtree returns the lines of the first plan node whose line contains
// node, and those of its children (the lines indented deeper after it).
func subtree(lines []string, node string) []string {
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	for i, l := range lines {
		if !strings.Contains(l, node) {
			continue
		}
		depth, out := indent(l), []string{l}
		for _, m := range lines[i+1:] {
			if strings.Contains(m, "->") && indent(m) <= depth {
				break
			}
			out = append(out, m)
		}
		return out
	}
	return nil
}
