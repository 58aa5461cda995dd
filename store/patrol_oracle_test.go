package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"

	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// TestPatrolOracle checks geo.AnalyzePatrol's coverage against PostGIS on
// the synthetic patrol tracks of geo's tests (geo/testdata/tracks/
// synthetic, written by go test ./geo -run TestPatrolSynthetic -update):
// a full walk, half a walk, a drive, a walk then a drive, a teleport, a
// walk along another reach, a walk along the far bank at the buffer's
// edge, a short walk and a walk with a gap, over the demo reaches, with
// buffers of 25, 50 (the default) and 100 m.
//
// PostGIS computes ST_Length(ST_Intersection(reach, ST_Buffer(track, r)))
// / ST_Length(reach) with both in UTM zone 50N (EPSG:32650, metres; the
// demo county lies at 118.0–118.6°E), where the track is the walked part
// that geo measures: the segments AnalyzePatrol reports as teleports or
// gaps are left out. Two settings make PostGIS's buffer the one geo
// measures, r metres on the ground:
//   - quad_segs=256: ST_Buffer's default (8 segments a quarter circle)
//     inscribes a 32-gon in the circle, 0.24% narrower between vertices;
//   - r times UTM's scale at the reach (ST_Length in UTM over ST_Length on
//     the spheroid, about 0.99979 at 118.45°E).
//
// They agree within 0.001 (the issue asks for 0.02). What it found
// (PostGIS 3.3): the largest difference is 1e-5. With ST_Buffer's
// defaults and an unscaled 50 m, PostGIS differs by up to 0.0192, on the
// far-bank track, which runs along the buffer's edge so that every
// centimetre of radius moves its coverage; on the other tracks by less
// than 0.0001. The test logs both.
func TestPatrolOracle(t *testing.T) {
	url := testservice.PostgresDB(t)
	ctx := t.Context()

	reaches, err := geo.ParseReaches(demo.ReachesGeoJSON, geo.ImportLimits{})
	if err != nil {
		t.Fatal(err)
	}
	lines := make(map[string]*geom.MultiLineString, len(reaches))
	for _, r := range reaches {
		lines[r.Code] = r.Line
	}
	files, err := filepath.Glob("../geo/testdata/tracks/synthetic/*.geojson")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("%d synthetic tracks in ../geo/testdata/tracks/synthetic, want at least 8", len(files))
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS postgis`); err != nil {
		t.Fatal(err)
	}

	worst := 0.0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Properties struct{ Case, Reach string }
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		track, err := geo.ParseTrackGeoJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		reach, ok := lines[f.Properties.Reach]
		if !ok {
			t.Fatalf("%s: no demo reach %q", file, f.Properties.Reach)
		}
		// Teleports and gaps do not depend on the buffer.
		rules := geo.DefaultPatrolRules()
		walked := mustEWKB(t, walkedLines(track, geo.AnalyzePatrol(track, reach, rules)))
		for _, buffer := range []float64{25, 50, 100} {
			rules.Buffer = buffer
			a := geo.AnalyzePatrol(track, reach, rules)
			var pg, pgDefault float64
			err = conn.QueryRow(ctx, `
				SELECT ST_Length(ST_Intersection(r.utm, ST_Buffer(w.utm, $3 * ST_Length(r.utm) / ST_Length(r.geog), 'quad_segs=256')))
				       / ST_Length(r.utm),
				       ST_Length(ST_Intersection(r.utm, ST_Buffer(w.utm, $3))) / ST_Length(r.utm)
				FROM (SELECT ST_Transform(g, 32650) AS utm, g::geography AS geog FROM ST_GeomFromEWKB($1) g) r,
				     (SELECT ST_Transform(ST_GeomFromEWKB($2), 32650) AS utm) w`,
				mustEWKB(t, reach), walked, buffer).Scan(&pg, &pgDefault)
			if err != nil {
				t.Fatalf("%s: %v", f.Properties.Case, err)
			}
			diff := a.Coverage - pg
			worst = max(worst, math.Abs(diff))
			t.Logf("%-16s %-5s %3.0f m: coverage geo %.5f PostGIS %.5f (%+.5f); ST_Buffer defaults %.5f (%+.5f)",
				f.Properties.Case, f.Properties.Reach, buffer, a.Coverage, pg, diff, pgDefault, a.Coverage-pgDefault)
			if math.Abs(diff) > 0.001 {
				t.Errorf("%s, %.0f m: coverage %.5f, PostGIS %.5f: differ by more than 0.001", f.Properties.Case, buffer, a.Coverage, pg)
			}
		}
	}
	t.Logf("largest difference %.5f", worst)
}

// walkedLines returns the parts of track between the teleports and gaps
// of a, as AnalyzePatrol measures them; a fix alone between two excluded
// segments is no line and covers nothing.
func walkedLines(track geo.Track, a geo.PatrolAnalysis) *geom.MultiLineString {
	cut := make(map[int]bool) // segment i joins fixes i and i+1
	for _, j := range a.Teleports {
		cut[j.Index] = true
	}
	for _, g := range a.Gaps {
		cut[g.Index] = true
	}
	mls := geom.NewMultiLineString(geom.XY).SetSRID(4326)
	var flat []float64
	flush := func() {
		if len(flat) >= 4 {
			if err := mls.Push(geom.NewLineStringFlat(geom.XY, flat)); err != nil {
				panic(err) // same layout: cannot happen
			}
		}
		flat = nil
	}
	for i, f := range track {
		if i > 0 && cut[i-1] {
			flush()
		}
		flat = append(flat, f.Lon, f.Lat)
	}
	flush()
	return mls
}

func mustEWKB(t *testing.T, g geom.T) []byte {
	t.Helper()
	b, err := ewkb.Marshal(g, ewkb.NDR)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
