package fieldwatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

// atlasT0 is when the demo county's geography comes into force in these
// tests.
var atlasT0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// newAtlasRig imports the demo county's townships and reaches through an
// Atlas over the fakes, on a test clock standing at intakeT0.
func newAtlasRig(t *testing.T) (*fieldwatch.Atlas, *atlasStore, *testclock.Clock) {
	t.Helper()
	ctx := t.Context()
	clock := testclock.New(intakeT0)
	st := &atlasStore{newFakePlaces(fieldwatch.User{ID: "u-chief", DisplayName: "王河长", Role: fieldwatch.RoleRiverChief}), newFakeEvidence()}
	atlas, err := fieldwatch.NewAtlas(ctx, st, fieldwatch.AtlasConfig{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if atlas.HasTownships() {
		t.Fatal("an empty atlas has townships")
	}
	v, n, err := atlas.ImportTownships(ctx, demo.TownshipsGeoJSON, atlasT0)
	if err != nil || n != 14 || v == 0 {
		t.Fatalf("townships: version %d, %d imported, %v", v, n, err)
	}
	if _, n, err = atlas.ImportReaches(ctx, demo.ReachesGeoJSON, atlasT0); err != nil || n != 15 {
		t.Fatalf("reaches: %d imported, %v", n, err)
	}
	if !atlas.HasTownships() {
		t.Fatal("no townships after the import")
	}
	return atlas, st, clock
}

func TestAtlasLink(t *testing.T) {
	atlas, st, clock := newAtlasRig(t)
	ctx := t.Context()
	// A village chief for LH-03 from an hour before the photo was taken.
	if _, err := atlas.SetChiefs(ctx, "LH-03", []fieldwatch.ChiefAssignment{{UserID: "u-chief", Level: fieldwatch.ChiefVillage, ValidFrom: photoTaken.Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	at := func(lon, lat float64, cat fieldwatch.Category) *fieldwatch.Evidence {
		return &fieldwatch.Evidence{Category: cat, Location: &geo.Point{Lon: lon, Lat: lat}, LocationSource: fieldwatch.SourceEXIF,
			ReceivedAt: clock.Now(), CapturedAt: ptrTime(photoTaken)}
	}
	tests := []struct {
		name     string
		e        *fieldwatch.Evidence
		township string
		reach    string
		chiefs   int
	}{
		// From testdata/photos/manifest.json: LH-03 is 15 m away.
		{"RiverWithinTolerance", at(118.27779, 40.253348, fieldwatch.CategoryRiverSection), "130227106", "LH-03", 1},
		{"DustNearRiver", at(118.27779, 40.253348, fieldwatch.CategoryDustSite), "130227106", "LH-03", 1},
		{"FarFromReaches", at(118.3, 40.14, fieldwatch.CategoryDustSite), "130227101", "", 0},
		{"OutsideCounty", at(116.397, 39.909, fieldwatch.CategoryDustSite), "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := atlas.Link(ctx, tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if r.TownshipCode != tc.township || r.ReachCode != tc.reach || len(r.Chiefs) != tc.chiefs {
				t.Fatalf("linked to %q, %q with %d chiefs; want %q, %q, %d", r.TownshipCode, r.ReachCode, len(r.Chiefs), tc.township, tc.reach, tc.chiefs)
			}
			if r.Method != "point-in-polygon+nearest-reach:exif" || r.Version == 0 {
				t.Errorf("method %q, version %d", r.Method, r.Version)
			}
			if tc.township != "" && (r.TownshipName == "" || r.Zone == "") {
				t.Errorf("township %q in zone %q", r.TownshipName, r.Zone)
			}
		})
	}
	t.Run("ChiefsAtCaptureTime", func(t *testing.T) {
		// Captured before the chief's assignment: nobody answered then.
		e := at(118.27779, 40.253348, fieldwatch.CategoryRiverSection)
		e.CapturedAt = ptrTime(photoTaken.Add(-2 * time.Hour))
		r, err := atlas.Link(ctx, e)
		if err != nil || r.ReachCode != "LH-03" || len(r.Chiefs) != 0 {
			t.Fatalf("%+v, %v", r, err)
		}
	})
	t.Run("NoLocation", func(t *testing.T) {
		r, err := atlas.Link(ctx, &fieldwatch.Evidence{})
		if r != nil || err != nil {
			t.Fatalf("%+v, %v", r, err)
		}
	})
	_ = st
}

func TestAtlasLookups(t *testing.T) {
	atlas, _, clock := newAtlasRig(t)
	ctx := t.Context()
	now := clock.Now()
	ts, err := atlas.Townships(ctx, now)
	if err != nil || len(ts) != 14 {
		t.Fatalf("%d townships, %v", len(ts), err)
	}
	if tw, err := atlas.Township(ctx, "130227106", now); err != nil || tw.Name == "" {
		t.Fatalf("township: %+v, %v", tw, err)
	}
	if _, err := atlas.Township(ctx, "130227106", atlasT0.Add(-time.Hour)); !errors.Is(err, fieldwatch.ErrNotFound) {
		t.Fatalf("a township before its import: %v", err)
	}
	rs, err := atlas.Reaches(ctx, fieldwatch.ReachQuery{At: now})
	if err != nil || len(rs) != 15 {
		t.Fatalf("%d reaches, %v", len(rs), err)
	}
	if r, err := atlas.Reach(ctx, "LH-03", now); err != nil || r.TownshipCode != "130227106" {
		t.Fatalf("reach: %+v, %v", r, err)
	}

	// Chiefs: an assignment from now, and one from next week.
	next := now.Add(7 * 24 * time.Hour)
	got, err := atlas.SetChiefs(ctx, "LH-03", []fieldwatch.ChiefAssignment{
		{UserID: "u-chief", Level: fieldwatch.ChiefVillage},
		{UserID: "u-chief", Level: fieldwatch.ChiefTownship, ValidFrom: next},
	})
	if err != nil || len(got) != 1 || got[0].Level != fieldwatch.ChiefVillage || got[0].Name != "王河长" {
		t.Fatalf("chiefs now: %+v, %v", got, err)
	}
	if cs, err := atlas.Chiefs(ctx, "LH-03", next); err != nil || len(cs) != 2 {
		t.Fatalf("chiefs next week: %+v, %v", cs, err)
	}
	if rs, err := atlas.ChiefReaches(ctx, "u-chief", now); err != nil || !slices.Equal(rs, []string{"LH-03"}) {
		t.Fatalf("the chief's reaches: %v, %v", rs, err)
	}
	if _, err := atlas.SetChiefs(ctx, "XX-99", nil); !errors.Is(err, fieldwatch.ErrNotFound) {
		t.Fatalf("chiefs of a missing reach: %v", err)
	}
}

func TestAtlasImportRefuses(t *testing.T) {
	atlas, st, _ := newAtlasRig(t)
	batch := st.batch
	var ie *geo.ImportError
	if _, _, err := atlas.ImportTownships(t.Context(), []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":null}]}`), atlasT0); !errors.As(err, &ie) {
		t.Fatalf("bad townships: %v", err)
	}
	if _, _, err := atlas.ImportReaches(t.Context(), []byte(`not json`), atlasT0); err == nil {
		t.Fatal("bad reaches imported")
	}
	if st.batch != batch {
		t.Fatal("a refused import stored something")
	}
}

// TestAtlasRelink: after a boundary or chief change, Relink recomputes
// who answers for each evidence and records each change in the audit
// trail, old and new.
func TestAtlasRelink(t *testing.T) {
	atlas, st, clock := newAtlasRig(t)
	ctx := t.Context()
	base := fieldwatch.Evidence{Category: fieldwatch.CategoryRiverSection, LocationSource: fieldwatch.SourceEXIF, ReceivedAt: clock.Now()}
	river, dust, none := base, base, base
	river.Location = &geo.Point{Lon: 118.27779, Lat: 40.253348}
	dust.Location = &geo.Point{Lon: 118.3, Lat: 40.14}
	for _, e := range []*fieldwatch.Evidence{&river, &dust} {
		r, err := atlas.Link(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		e.Responsibility, e.TownshipCode, e.ReachCode = r, r.TownshipCode, r.ReachCode
	}
	st.add(river, dust, none)

	rep, err := atlas.Relink(ctx, "u-admin")
	if err != nil || rep != (fieldwatch.RelinkReport{Checked: 3}) {
		t.Fatalf("nothing changed: %+v, %v", rep, err)
	}

	clock.Advance(time.Hour)
	if _, err := atlas.SetChiefs(ctx, "LH-03", []fieldwatch.ChiefAssignment{{UserID: "u-chief", Level: fieldwatch.ChiefVillage, ValidFrom: atlasT0}}); err != nil {
		t.Fatal(err)
	}
	rep, err = atlas.Relink(ctx, "u-admin")
	if err != nil || rep != (fieldwatch.RelinkReport{Checked: 3, Changed: 1}) {
		t.Fatalf("a new chief: %+v, %v", rep, err)
	}
	e := st.get("ev-001")
	if len(e.Responsibility.Chiefs) != 1 {
		t.Fatalf("relinked to %+v", e.Responsibility)
	}
	if len(st.audit) != 1 {
		t.Fatalf("%d audit events", len(st.audit))
	}
	ev := st.audit[0]
	var data struct{ Old, New *fieldwatch.Responsibility }
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if ev.Action != "evidence.relink" || ev.ObjectID != "ev-001" || ev.ActorID != "u-admin" || !ev.At.Equal(clock.Now()) ||
		len(data.Old.Chiefs) != 0 || len(data.New.Chiefs) != 1 {
		t.Fatalf("audit event %+v (%s)", ev, ev.Data)
	}

	// Evidence recorded before linking existed has no record yet.
	st.update("ev-002", func(e *fieldwatch.Evidence) { e.Responsibility = nil })
	if rep, err := atlas.Relink(ctx, ""); err != nil || rep.Changed != 1 {
		t.Fatalf("unlinked evidence: %+v, %v", rep, err)
	}

	boom := errors.New("boom")
	st.fail = func(m string) error {
		if m == "ListEvidence" {
			return boom
		}
		return nil
	}
	if _, err := atlas.Relink(ctx, ""); !errors.Is(err, boom) {
		t.Fatalf("a failing store: %v", err)
	}
}

// TestAtlasRelinkPages: Relink pages through every evidence.
func TestAtlasRelinkPages(t *testing.T) {
	atlas, st, clock := newAtlasRig(t)
	for i := range 1100 {
		st.add(fieldwatch.Evidence{ReceivedAt: clock.Now().Add(time.Duration(i) * time.Second)})
	}
	rep, err := atlas.Relink(t.Context(), "")
	if err != nil || rep.Checked != 1100 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

// TestAtlasReloadFails: the index is built from what the store answers.
func TestAtlasReloadFails(t *testing.T) {
	if _, err := fieldwatch.NewAtlas(t.Context(), brokenAtlas{}, fieldwatch.AtlasConfig{}); err == nil {
		t.Fatal("NewAtlas over a failing store")
	}
}

type brokenAtlas struct{ fieldwatch.AtlasStore }

func (brokenAtlas) Townships(context.Context, time.Time) ([]fieldwatch.Township, error) {
	return nil, errors.New("boom")
}
