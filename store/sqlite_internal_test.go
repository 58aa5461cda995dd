package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

// TestSQLitePragmas checks the per-connection settings on connections of
// the store's own pool, which no other connection can observe.
func TestSQLitePragmas(t *testing.T) {
	s, err := OpenSQLite(t.Context(), t.TempDir()+"/p.db")
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	defer s.Close()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", fmt.Sprint(sqliteBusyTimeout.Milliseconds())},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
	}
	// Hold several connections at once so that more than one of the pool
	// is checked.
	ctx := t.Context()
	for i := range 3 {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, tc := range tests {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("conn %d: PRAGMA %s = %s, want %s", i, tc.pragma, got, tc.want)
			}
		}
	}
}

// TestSQLiteWriteTxIsImmediate shows that a write transaction holds the
// write lock from BEGIN: a second writer cannot start one until the first
// ends, rather than both starting and one failing at its first write.
func TestSQLiteWriteTxIsImmediate(t *testing.T) {
	s, err := OpenSQLite(t.Context(), t.TempDir()+"/tx.db")
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	defer s.Close()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	tx, err := s.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	conn, err := s.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	if err == nil {
		conn.ExecContext(t.Context(), "ROLLBACK") //nolint:errcheck
		t.Fatal("a second BEGIN IMMEDIATE succeeded while a write transaction was open")
	}
	if _, err := conn.ExecContext(t.Context(), "PRAGMA busy_timeout = 10000"); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(classifySQLite(err), ErrUnavailable) {
		t.Fatalf("SQLITE_BUSY not classified: %v", err)
	}
}

// sqlitePlan returns the EXPLAIN QUERY PLAN lines of ListEvidence's query
// for f.
func sqlitePlan(t *testing.T, s *Store, f fieldwatch.EvidenceFilter) string {
	t.Helper()
	q, args, err := s.listEvidenceQuery(f)
	if err != nil {
		t.Fatalf("listEvidenceQuery: %v", err)
	}
	rows, err := s.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+s.q(q), args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestSQLiteEvidenceQueryPlans checks that the spatial filters go through
// the R*Tree and that keyset pages seek in the listing index instead of
// sorting the table; the page of ids is chosen from the index alone
// (covering) before its rows are read.
func TestSQLiteEvidenceQueryPlans(t *testing.T) {
	s, err := OpenSQLite(t.Context(), t.TempDir()+"/plan.db")
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	defer s.Close()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	centre := geo.Point{Lon: 114.5, Lat: 40.2}
	id := "0196f3a0-0000-7000-8000-000000000000"
	tests := []struct {
		name    string
		f       fieldwatch.EvidenceFilter
		want    []string
		notWant []string
	}{
		{"BBox", fieldwatch.EvidenceFilter{BBox: &geo.Box{MinLon: 114.4, MinLat: 40.1, MaxLon: 114.6, MaxLat: 40.3}},
			[]string{"SCAN evidence_rtree VIRTUAL TABLE INDEX", "USING INTEGER PRIMARY KEY"}, nil},
		{"Near", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: 500},
			[]string{"SCAN evidence_rtree VIRTUAL TABLE INDEX", "USING INTEGER PRIMARY KEY"}, nil},
		{"KeysetPage", fieldwatch.EvidenceFilter{AfterTime: &after, AfterID: id},
			[]string{"SEARCH e USING COVERING INDEX evidence_received ((received_at,id)<(?,?))"}, []string{"TEMP B-TREE"}},
		{"CategoryKeysetPage", fieldwatch.EvidenceFilter{Category: ptrTo(fieldwatch.CategoryDustSite), AfterTime: &after, AfterID: id},
			[]string{"SEARCH e USING COVERING INDEX evidence_category (category=? AND (received_at,id)<(?,?))"}, []string{"TEMP B-TREE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := sqlitePlan(t, s, tc.f)
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan lacks %q:\n%s", w, plan)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(plan, w) {
					t.Errorf("plan has %q:\n%s", w, plan)
				}
			}
		})
	}
}

// TestSQLiteRTreeFollowsEvidence checks the triggers that keep the R*Tree
// in step with evidence rows: one entry per located row, keyed by seq,
// holding the point; none for a row without a location.
func TestSQLiteRTreeFollowsEvidence(t *testing.T) {
	ctx := t.Context()
	s, err := OpenSQLite(ctx, t.TempDir()+"/rtree.db")
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := fieldwatch.User{Username: "rtree", Role: fieldwatch.RoleInspector}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	commit := func(seed string, loc *geo.Point) fieldwatch.Evidence {
		t.Helper()
		key := seed
		now := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
		sub, _, err := s.ClaimSubmission(ctx, u.ID, key, now, now)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte(seed))
		e := fieldwatch.Evidence{UploaderID: u.ID, Category: fieldwatch.CategoryOther, SHA256: hex.EncodeToString(h[:]),
			ContentType: "image/jpeg", ObjectKey: "k/" + seed, ReceivedAt: now, Location: loc,
			CaptureTimeSource: fieldwatch.SourceNone, LocationSource: fieldwatch.SourceNone}
		if err := s.CommitEvidence(ctx, &e, key, sub.Attempt, h[:]); err != nil {
			t.Fatalf("CommitEvidence: %v", err)
		}
		return e
	}
	located := commit("located", &geo.Point{Lon: 118.33, Lat: 40.2})
	commit("unlocated", nil)

	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM evidence_rtree`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("R*Tree has %d entries (%v), want 1", n, err)
	}
	var minLon, maxLon, minLat, maxLat float64
	err = s.db.QueryRowContext(ctx, `SELECT r.min_lon, r.max_lon, r.min_lat, r.max_lat
		FROM evidence_rtree r JOIN evidence e ON e.seq = r.id WHERE e.id = ?`, located.ID).Scan(&minLon, &maxLon, &minLat, &maxLat)
	if err != nil {
		t.Fatalf("R*Tree entry of the located row: %v", err)
	}
	// Single precision, rounded outwards: the box holds the point.
	if !(minLon <= 118.33 && 118.33 <= maxLon && minLat <= 40.2 && 40.2 <= maxLat) || maxLon-minLon > 1e-4 || maxLat-minLat > 1e-4 {
		t.Errorf("R*Tree box [%v %v] × [%v %v] does not hold 118.33, 40.2 tightly", minLon, maxLon, minLat, maxLat)
	}
	// An operator's hand edit moves the entry with the row.
	if _, err := s.db.ExecContext(ctx, `UPDATE evidence SET lon = 100, lat = 30 WHERE id = ?`, located.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM evidence_rtree WHERE min_lon <= 100 AND max_lon >= 100`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after moving the row: %d entries at the new position (%v), want 1", n, err)
	}
}

func ptrTo[T any](v T) *T { return &v }
