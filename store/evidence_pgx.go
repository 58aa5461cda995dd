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
// by flagsCol, and fills an evidenceRow from them. The columns whose
// values repeat from row to row (codes, enumerations, sizes, flags) are
// read as the driver's bytes and interned for the query, one string per
// distinct value rather than one per row.
type pgxEvidenceRow struct {
	w                evidenceRow
	received         time.Time
	captured, nextAt pgtype.Timestamptz
	lon, lat, dist   pgtype.Float8
	dup, resp        pgtype.Text
	// Interned: NULL reads as nil, so as "".
	category, subcategory, contentType, cts, ls pgtype.DriverBytes
	town, reach, thumbnails, thumbErr, gaveUp   pgtype.DriverBytes
	flags                                       pgtype.DriverBytes
	seen                                        map[string]string
	dest                                        []any
}

func (p *pgxEvidenceRow) bind() {
	w, e := &p.w, &p.w.e
	p.dest = []any{&e.ID, &e.UploaderID, &p.category, &p.subcategory, &e.Note, &e.SHA256, &e.Size,
		&p.contentType, &e.ObjectKey, &e.Width, &e.Height, &p.received, &p.captured, &p.cts,
		&p.lon, &p.lat, &p.ls, &p.dist, &p.dup, &p.town, &p.reach, &p.thumbnails, &w.detail, &p.resp,
		&e.ThumbnailTries.Attempts, &p.nextAt, &p.thumbErr, &p.gaveUp, &p.flags}
	p.seen = map[string]string{}
}

// intern returns b as a string, the same string for the same bytes
// within the query. The map holds at most the query's rows' values.
func (p *pgxEvidenceRow) intern(b []byte) string {
	if s, ok := p.seen[string(b)]; ok {
		return s
	}
	s := string(b)
	p.seen[s] = s
	return s
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
	w.e.Subcategory, w.e.ContentType = p.intern(p.subcategory), p.intern(p.contentType)
	w.e.ThumbnailTries.Error = p.intern(p.thumbErr)
	w.category, w.cts, w.ls, w.thumbnails = p.intern(p.category), p.intern(p.cts), p.intern(p.ls), p.intern(p.thumbnails)
	w.lon, w.lat, w.dist = sql.NullFloat64(p.lon), sql.NullFloat64(p.lat), sql.NullFloat64(p.dist)
	w.dup, w.resp = sql.NullString(p.dup), sql.NullString(p.resp)
	w.town = sql.NullString{String: p.intern(p.town), Valid: p.town != nil}
	w.reach = sql.NullString{String: p.intern(p.reach), Valid: p.reach != nil}
	w.thumbGaveUp = sql.NullString{String: p.intern(p.gaveUp), Valid: p.gaveUp != nil}
	e, err := w.finish()
	if err != nil {
		return e, err
	}
	e.Flags = parseFlags(p.intern(p.flags))
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
