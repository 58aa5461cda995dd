package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// queryEvidencePgx is queryEvidence on PostgreSQL through pgx's own
// interface on a connection of the pool, for the lists of evidence.
// database/sql hands every column over as an interface (a text column
// costs two allocations, the value and its box) and converts it again
// into the target; pgx scans each column straight into a typed target.
// That is about half of a list's allocations. Same statement, same
// arguments, same statement cache, same errors.
func (s *Store) queryEvidencePgx(ctx context.Context, limit int, query string, args ...any) ([]fieldwatch.Evidence, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []fieldwatch.Evidence
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: PostgreSQL connection is a %T, not pgx's", dc)
		}
		rows, err := c.Conn().Query(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = make([]fieldwatch.Evidence, 0, limit)
		var row pgxEvidenceRow
		row.bind()
		for rows.Next() {
			e, err := row.scan(rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pgxEvidenceRow holds pgx-native scan targets for evidenceCols followed
// by flagsCol, and fills an evidenceRow from them.
type pgxEvidenceRow struct {
	w                   evidenceRow
	received            time.Time
	captured, nextAt    pgtype.Timestamptz
	lon, lat, dist      pgtype.Float8
	dup, town, reach    pgtype.Text
	resp, gaveUp, flags pgtype.Text
	dest                []any
}

func (p *pgxEvidenceRow) bind() {
	w, e := &p.w, &p.w.e
	p.dest = []any{&e.ID, &e.UploaderID, &w.category, &e.Subcategory, &e.Note, &e.SHA256, &e.Size,
		&e.ContentType, &e.ObjectKey, &e.Width, &e.Height, &p.received, &p.captured, &w.cts,
		&p.lon, &p.lat, &w.ls, &p.dist, &p.dup, &p.town, &p.reach, &w.thumbnails, &w.detail, &p.resp,
		&e.ThumbnailTries.Attempts, &p.nextAt, &e.ThumbnailTries.Error, &p.gaveUp, &p.flags}
}

func (p *pgxEvidenceRow) scan(rows pgx.Rows) (fieldwatch.Evidence, error) {
	p.w.e = fieldwatch.Evidence{}
	if err := rows.Scan(p.dest...); err != nil {
		return fieldwatch.Evidence{}, err
	}
	w := &p.w
	w.e.ReceivedAt = p.received.UTC()
	w.e.CapturedAt = utcPtr(p.captured)
	w.e.ThumbnailTries.NextAt = utcPtr(p.nextAt)
	w.lon, w.lat, w.dist = sql.NullFloat64(p.lon), sql.NullFloat64(p.lat), sql.NullFloat64(p.dist)
	w.dup, w.town, w.reach = sql.NullString(p.dup), sql.NullString(p.town), sql.NullString(p.reach)
	w.resp, w.thumbGaveUp = sql.NullString(p.resp), sql.NullString(p.gaveUp)
	e, err := w.finish()
	if err != nil {
		return e, err
	}
	e.Flags = parseFlags(p.flags.String)
	return e, nil
}

// utcPtr is a nullable timestamp as timeScan reads it: nil, or a new
// UTC time.
func utcPtr(t pgtype.Timestamptz) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
