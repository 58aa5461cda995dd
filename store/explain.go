package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/fieldwatch/fieldwatch"
)

// ListPlan is how the database runs ListEvidence for one filter.
type ListPlan struct {
	// Query is the text ListEvidence sends, with the dialect's
	// placeholders.
	Query string
	// Plan is the database's account of it: EXPLAIN (ANALYZE, BUFFERS) on
	// PostgreSQL (the query runs), EXPLAIN QUERY PLAN on SQLite, one step
	// a line, indented by depth. On PostgreSQL it is the plan for these
	// arguments (a custom plan); the driver's cached prepared statement
	// may settle on a generic plan after five runs, which can differ (in
	// a bbox list, it scans the box through evidence_geom and sorts the
	// page's ids; TestPostgresListPageBeforeDocuments checks both).
	Plan string
}

// ExplainListEvidence explains the query ListEvidence would run for f,
// with the same text and arguments, inside a read-only transaction. It is
// for measuring (cmd/fwbench) and for checking that a list query uses its
// indexes; the API never calls it. It fails as ListEvidence does for a
// filter that cannot be applied.
func (s *Store) ExplainListEvidence(ctx context.Context, f fieldwatch.EvidenceFilter) (ListPlan, error) {
	query, args, err := s.listEvidenceQuery(f)
	if err != nil {
		return ListPlan{}, err
	}
	p := ListPlan{Query: s.q(query)}
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		if s.d.name == "postgres" {
			p.Plan, err = explainPostgres(ctx, tx, p.Query, args)
		} else {
			p.Plan, err = explainSQLite(ctx, tx, p.Query, args)
		}
		return err
	})
	if err != nil {
		return ListPlan{}, s.fail("explain list evidence", err)
	}
	return p, nil
}

func explainPostgres(ctx context.Context, tx *sql.Tx, q string, args []any) (string, error) {
	rows, err := tx.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

func explainSQLite(ctx context.Context, tx *sql.Tx, q string, args []any) (string, error) {
	rows, err := tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	// id, parent, notused, detail: indent each step by its depth.
	depth := map[int]int{0: -1}
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		depth[id] = depth[parent] + 1
		lines = append(lines, strings.Repeat("  ", max(depth[id], 0))+detail)
	}
	return strings.Join(lines, "\n"), rows.Err()
}
