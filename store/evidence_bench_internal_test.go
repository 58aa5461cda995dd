package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// benchBox is the box the list benchmarks page through: every row that
// fillEvidence puts inBox rows in it, the rest outside.
var benchBox = geo.Box{MinLon: 118.20, MinLat: 40.20, MaxLon: 118.22, MaxLat: 40.22}

// benchEvidence is a realistic stored row: full EXIF, a device fix, a
// responsibility record with chiefs and candidates, two flags.
func benchEvidence(tb testing.TB, uploader string, i int, at time.Time, loc geo.Point) fieldwatch.Evidence {
	tb.Helper()
	alt, dir, acc, dist := 52.5, 181.25, 8.0, 12.75
	gps := at.Add(-time.Hour)
	taken := at.Add(-time.Hour - time.Second)
	id, err := newID()
	if err != nil {
		tb.Fatal(err)
	}
	return fieldwatch.Evidence{
		ID: id, UploaderID: uploader, Category: fieldwatch.Category("dust_site"), Subcategory: "stockpile",
		Note: "covered on the north side only", SHA256: fmt.Sprintf("%064x", i), Size: 4 << 20,
		ContentType: "image/jpeg", ObjectKey: fmt.Sprintf("photos/%064x", i), Width: 4000, Height: 3000,
		ReceivedAt: at, CapturedAt: &taken, CaptureTimeSource: fieldwatch.SourceEXIF,
		Location: &loc, LocationSource: fieldwatch.SourceEXIF,
		EXIF: fieldwatch.PhotoEXIF{Position: &loc, AltitudeM: &alt, GPSTime: &gps, TakenAt: &taken, TakenAtZoned: true,
			Orientation: 6, Make: "Xiaomi", Model: "Redmi Note 12", DirectionDeg: &dir, Problems: []string{"gps_dop missing"}},
		Device: &fieldwatch.DeviceFix{Lon: loc.Lon + 0.0001, Lat: loc.Lat, CRS: "gcj02",
			WGS84: geo.Point{Lon: loc.Lon + 0.0001, Lat: loc.Lat}, AccuracyM: &acc, Provider: "fused"},
		EXIFDeviceDistanceM: &dist,
		Flags:               []fieldwatch.Flag{fieldwatch.FlagCaptureStale, fieldwatch.FlagEXIFDeviceMismatch},
		TownshipCode:        "130102001", ReachCode: "R-0042",
		Responsibility: &fieldwatch.Responsibility{TownshipCode: "130102001", TownshipName: "Dongguan Town",
			Zone: fieldwatch.ZoneCore, ReachCode: "R-0042", ReachName: "Hutuo River, section 4", ReachDistM: 37.5,
			Chiefs: []fieldwatch.ChiefRef{
				{UserID: "0196f3a0-0000-7000-8000-000000000001", Name: "Wang Lei", Level: fieldwatch.ChiefTownship},
				{UserID: "0196f3a0-0000-7000-8000-000000000002", Name: "Li Na", Level: fieldwatch.ChiefVillage}},
			Candidates: []fieldwatch.ReachCandidate{{Code: "R-0042", DistanceM: 37.5}, {Code: "R-0043", DistanceM: 212.25},
				{Code: "R-0017", DistanceM: 640}},
			Method: "exif-point-in-polygon", Version: 3},
		Thumbnails: []int{320, 1280},
	}
}

// fillEvidence inserts inBox rows inside benchBox and outside rows around
// it, one a minute back in time, the rows in the box spread evenly among
// the others, with their flags, bypassing submissions.
func fillEvidence(tb testing.TB, s *Store, inBox, outside int) {
	tb.Helper()
	ctx := context.Background()
	u := fieldwatch.User{Username: "bench", Role: fieldwatch.RoleInspector}
	if err := s.CreateUser(ctx, &u); err != nil {
		tb.Fatal(err)
	}
	start := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		every := (inBox + outside) / inBox
		for i := range inBox + outside {
			loc := geo.Point{Lon: 118.2 + float64(i%97)*0.0002, Lat: 40.2 + float64(i%89)*0.0002}
			if i%every != 0 || i/every >= inBox {
				loc.Lon += 0.05 + float64(i%13)*0.03
			}
			e := benchEvidence(tb, u.ID, i, start.Add(-time.Duration(i)*time.Minute), loc)
			if err := insertEvidenceRow(ctx, s, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if s.d.name == "postgres" {
		if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
			tb.Fatal(err)
		}
	}
}

// insertEvidenceRow stores e with its flags, as CommitEvidence does,
// without a submission.
func insertEvidenceRow(ctx context.Context, s *Store, tx *sql.Tx, e fieldwatch.Evidence) error {
	ne, err := s.normEvidence(e)
	if err != nil {
		return err
	}
	details, err := json.Marshal(toDetails(ne))
	if err != nil {
		return err
	}
	var resp any
	if ne.Responsibility != nil {
		if resp, err = responsibilityJSON(*ne.Responsibility); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO evidence (`+evidenceInsertCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ne.ID, ne.UploaderID, string(ne.Category), ne.Subcategory, ne.Note, ne.SHA256, ne.Size,
		ne.ContentType, ne.ObjectKey, ne.Width, ne.Height, s.d.timeArg(ne.ReceivedAt), s.d.nullTimeArg(ne.CapturedAt),
		string(ne.CaptureTimeSource), ne.Location.Lon, ne.Location.Lat, string(ne.LocationSource), *ne.EXIFDeviceDistanceM, nil,
		nullText(ne.TownshipCode), nullText(ne.ReachCode), thumbnailsText(ne.Thumbnails), string(details), resp)
	if err != nil {
		return err
	}
	for _, f := range ne.Flags {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO evidence_flags (evidence_id, flag) VALUES (?, ?)`), ne.ID, string(f)); err != nil {
			return err
		}
	}
	return nil
}

// benchBackend opens a fresh store on one backend for a benchmark.
type benchBackend struct {
	name string
	open func(b *testing.B) *Store
}

// benchBackends are SQLite and PostgreSQL.
func benchBackends() []benchBackend {
	return []benchBackend{
		{"SQLite", func(b *testing.B) *Store {
			s, err := OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"Postgres", func(b *testing.B) *Store {
			s, err := OpenPostgres(b.Context(), testservice.PostgresDB(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

// BenchmarkListEvidenceBBox lists the newest 50 of 250 rows in a box
// (among 3,000), the API's bbox listing, on both backends, shaped like
// make bench's list (241 rows in its box).
//
//	source /tmp/fw-services.env; go test -run '^$' -bench ListEvidenceBBox -benchmem ./store
func BenchmarkListEvidenceBBox(b *testing.B) {
	for _, bc := range benchBackends() {
		b.Run(bc.name, func(b *testing.B) {
			s := bc.open(b)
			if _, err := s.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
			fillEvidence(b, s, 250, 2750)
			f := fieldwatch.EvidenceFilter{BBox: &benchBox, Limit: 50}
			if testing.Verbose() {
				p, err := s.ExplainListEvidence(b.Context(), f)
				if err != nil {
					b.Fatal(err)
				}
				b.Logf("%s\n%s", p.Query, p.Plan)
			}
			cpu := startCPU(b, s)
			for b.Loop() {
				list, err := s.ListEvidence(b.Context(), f)
				if err != nil {
					b.Fatal(err)
				}
				if len(list) != 50 || len(list[0].Flags) != 2 {
					b.Fatalf("got %d items", len(list))
				}
			}
			cpu.Report(b)
		})
	}
}

// startCPU measures the CPU of this process and, on PostgreSQL, of the
// store database's backends (testservice.CPUMeter).
func startCPU(b *testing.B, s *Store) *testservice.CPUMeter {
	b.Helper()
	if s.d.name != "postgres" {
		return testservice.StartCPU(b, nil)
	}
	return testservice.StartCPU(b, s.db)
}

// BenchmarkEvidenceByID reads single evidence rows by id, as GET
// /v1/evidence/{id} does, from the same rows as BenchmarkListEvidenceBBox.
func BenchmarkEvidenceByID(b *testing.B) {
	for _, bc := range benchBackends() {
		b.Run(bc.name, func(b *testing.B) {
			s := bc.open(b)
			if _, err := s.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
			fillEvidence(b, s, 1000, 1000)
			list, err := s.ListEvidence(b.Context(), fieldwatch.EvidenceFilter{Limit: 100})
			if err != nil {
				b.Fatal(err)
			}
			cpu := startCPU(b, s)
			i := 0
			for b.Loop() {
				e, err := s.EvidenceByID(b.Context(), list[i%len(list)].ID)
				if err != nil || len(e.Flags) != 2 {
					b.Fatalf("EvidenceByID: %d flags, %v", len(e.Flags), err)
				}
				i++
			}
			cpu.Report(b)
		})
	}
}
