package fieldwatch_test

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

// patrolT0 is a Saturday afternoon in the county, late in November.
var patrolT0 = time.Date(2026, 11, 28, 15, 0, 0, 0, cst)

// patrolRig is the patrol service over the fakes, with the demo county's
// reaches and a village chief, a township chief and a county chief of
// LH-03 (in township 130227106) since October.
type patrolRig struct {
	p       *fieldwatch.Patrols
	store   *fakePatrols
	places  *atlasStore
	clock   *testclock.Clock
	village fieldwatch.Actor
	town    fieldwatch.Actor
}

func newPatrolRig(t *testing.T) *patrolRig {
	t.Helper()
	_, places, _ := newAtlasRig(t)
	for id, name := range map[string]string{"u-v": "村河长", "u-t": "镇河长", "u-c": "县河长"} {
		places.users[id] = fieldwatch.User{ID: id, DisplayName: name, Role: fieldwatch.RoleRiverChief}
	}
	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, cst)
	if err := places.SetReachChiefs(t.Context(), "LH-03", []fieldwatch.ChiefAssignment{
		{UserID: "u-v", Level: fieldwatch.ChiefVillage, ValidFrom: oct},
		{UserID: "u-t", Level: fieldwatch.ChiefTownship, ValidFrom: oct},
		{UserID: "u-c", Level: fieldwatch.ChiefCounty, ValidFrom: oct},
	}, oct); err != nil {
		t.Fatal(err)
	}
	// The reaches were imported from November 1: move them to October.
	for i := range places.reaches {
		places.reaches[i].EffectiveFrom = oct
	}
	r := &patrolRig{store: &fakePatrols{fakePlaces: places.fakePlaces}, places: places, clock: testclock.New(patrolT0),
		village: fieldwatch.Actor{UserID: "u-v", Role: fieldwatch.RoleRiverChief, Reaches: []string{"LH-03"}},
		town:    fieldwatch.Actor{UserID: "u-t", Role: fieldwatch.RoleRiverChief, Reaches: []string{"LH-03"}}}
	r.p = fieldwatch.NewPatrols(r.store, places, places.fakeEvidence, fieldwatch.PatrolConfig{Clock: r.clock.Now})
	return r
}

// walk is a track along the reach's line at 1 m/s from start, a fix
// every 20 m or so.
func (r *patrolRig) walk(t *testing.T, code string, start time.Time) geo.Track {
	t.Helper()
	reach, err := r.places.ReachByCode(t.Context(), code, r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var track geo.Track
	at := start
	var prev *geo.Point
	for i := range reach.Line.NumLineStrings() {
		ls := reach.Line.LineString(i)
		for j := range ls.NumCoords() {
			c := ls.Coord(j)
			p := geo.Point{Lon: c.X(), Lat: c.Y()}
			if prev != nil {
				d := geo.Distance(*prev, p)
				steps := max(int(d/20), 1)
				for k := 1; k <= steps; k++ {
					f := float64(k) / float64(steps)
					q := geo.Point{Lon: prev.Lon + f*(p.Lon-prev.Lon), Lat: prev.Lat + f*(p.Lat-prev.Lat)}
					at = at.Add(time.Duration(d / float64(steps) * float64(time.Second)))
					track = append(track, geo.Fix{Point: q, At: at})
				}
			} else {
				track = append(track, geo.Fix{Point: p, At: at})
			}
			prev = &p
		}
	}
	return track
}

func TestPatrolRecord(t *testing.T) {
	ctx := t.Context()
	r := newPatrolRig(t)
	track := r.walk(t, "LH-03", patrolT0.Add(-3*time.Hour))
	if end := track[len(track)-1].At; end.After(r.clock.Now()) {
		t.Fatalf("the walk ends at %v, after the clock", end)
	}
	req := fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: track, Note: " 巡河 ", Key: "k1", EvidenceIDs: []string{}}
	p, replayed, err := r.p.Record(ctx, r.village, req)
	if err != nil || replayed {
		t.Fatalf("%v, replayed %v", err, replayed)
	}
	if !p.Valid || p.Coverage < 0.9 || p.LengthM < 1000 || p.TownshipCode != "130227106" || p.Note != "巡河" || p.Fixes != len(track) ||
		!p.RecordedAt.Equal(r.clock.Now()) || p.ChiefID != "u-v" {
		t.Fatalf("%+v", p)
	}
	again, replayed, err := r.p.Record(ctx, r.village, req)
	if err != nil || !replayed || again.ID != p.ID {
		t.Fatalf("retry: %s, %v, %v", again.ID, replayed, err)
	}
	req.Note = "another"
	if _, _, err := r.p.Record(ctx, r.village, req); !errors.Is(err, fieldwatch.ErrPatrolKeyReused) || !errors.Is(err, fieldwatch.ErrKeyReused) {
		t.Fatalf("the key for another patrol: %v", err)
	}

	t.Run("Short", func(t *testing.T) {
		short := fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: track[:3], Key: "short"}
		p, _, err := r.p.Record(ctx, r.village, short)
		if err != nil || p.Valid || len(p.Reasons) == 0 {
			t.Fatalf("%+v, %v", p, err)
		}
	})
	t.Run("RaceWithRetry", func(t *testing.T) {
		r.store.raceKey = true
		req := fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: track, Key: "raced"}
		p, replayed, err := r.p.Record(ctx, r.town, req)
		if err != nil || !replayed || p.ChiefID != "u-t" {
			t.Fatalf("%+v, %v, %v", p, replayed, err)
		}
	})
	t.Run("ReachNewerThanWalk", func(t *testing.T) {
		for i := range r.places.reaches {
			r.places.reaches[i].EffectiveFrom = patrolT0.Add(-time.Hour)
		}
		defer func() {
			for i := range r.places.reaches {
				r.places.reaches[i].EffectiveFrom = patrolT0.AddDate(0, -2, 0)
			}
		}()
		if _, _, err := r.p.Record(ctx, fieldwatch.Actor{UserID: "u-admin", Role: fieldwatch.RoleAdmin}, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: track, Key: "newer"}); err != nil {
			t.Fatal(err)
		}
	})

	r.places.fakeEvidence.add(fieldwatch.Evidence{ID: "ev-other", UploaderID: "u-x", ReachCode: "CH-03"})
	future := slices.Clone(track)
	future[len(future)-1].At = r.clock.Now().Add(6 * time.Minute)
	tests := []struct {
		name  string
		actor fieldwatch.Actor
		req   fieldwatch.PatrolRequest
		want  error
	}{
		{"ErrForbidden", inspector, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: track, Key: "x"}, fieldwatch.ErrForbidden},
		{"ErrInvalid_Key", r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: track}, fieldwatch.ErrInvalid},
		{"ErrNotFound_NotTheChiefs", r.village, fieldwatch.PatrolRequest{ReachCode: "CH-03", Track: track, Key: "x"}, fieldwatch.ErrNotFound},
		{"ErrNotFound_Reach", admin, fieldwatch.PatrolRequest{ReachCode: "XX-01", Track: track, Key: "x"}, fieldwatch.ErrNotFound},
		{"ErrInvalid_Note", r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: track, Note: "\xff", Key: "x"}, fieldwatch.ErrInvalid},
		{"ErrInvalid_Track", r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Key: "x"}, fieldwatch.ErrInvalid},
		{"ErrInvalid_Future", r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: future, Key: "x"}, fieldwatch.ErrInvalid},
		{"ErrInvalid_Evidence", r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: track, Key: "x", EvidenceIDs: []string{"ev-404", "ev-other"}}, fieldwatch.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := r.p.Record(ctx, tc.actor, tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestPatrolRecordCRS: a walk recorded in GCJ-02 or BD-09 is converted to
// WGS-84 before it is analysed, so it scores as the WGS-84 walk does; the
// patrol keeps the converted fixes, the caller's track is left as sent,
// and an unknown system is refused before anything is stored.
func TestPatrolRecordCRS(t *testing.T) {
	ctx := t.Context()
	r := newPatrolRig(t)
	walk := r.walk(t, "LH-03", patrolT0.Add(-3*time.Hour))
	ref, _, err := r.p.Record(ctx, r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: walk, Key: "wgs"})
	if err != nil || !ref.Valid {
		t.Fatalf("%+v, %v", ref, err)
	}
	// Sent again with crs wgs84 spelled out, it is the same patrol: the
	// default adds nothing to the fingerprint.
	if again, replayed, err := r.p.Record(ctx, r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: walk, Key: "wgs", CRS: geo.WGS84}); err != nil || !replayed || again.ID != ref.ID {
		t.Fatalf("wgs84 retry: %+v, %v, %v", again, replayed, err)
	}
	for _, crs := range []geo.CRS{geo.GCJ02, geo.BD09} {
		t.Run(string(crs), func(t *testing.T) {
			sent := make(geo.Track, len(walk))
			for i, f := range walk {
				p, err := geo.FromWGS84(f.Point, crs)
				if err != nil {
					t.Fatal(err)
				}
				sent[i] = geo.Fix{Point: p, At: f.At}
			}
			kept := slices.Clone(sent)
			p, _, err := r.p.Record(ctx, r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: sent, Key: string(crs), CRS: crs})
			if err != nil || p.Valid != ref.Valid || math.Abs(p.Coverage-ref.Coverage) > 0.01 || math.Abs(p.LengthM-ref.LengthM) > 0.01*ref.LengthM {
				t.Fatalf("%+v, %v; in WGS-84: %+v", p, err, ref)
			}
			if !slices.Equal(sent, kept) {
				t.Fatal("Record changed the caller's track")
			}
			if d := geo.Distance(p.Track[0].Point, walk[0].Point); d > 0.01 {
				t.Fatalf("the stored first fix is %.3f m from the WGS-84 one", d)
			}
			// The same numbers under another system are another walk.
			if _, _, err := r.p.Record(ctx, r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: sent, Key: string(crs)}); !errors.Is(err, fieldwatch.ErrKeyReused) {
				t.Fatalf("same key, numbers read as WGS-84: %v", err)
			}
		})
	}
	n := len(r.store.patrols)
	_, _, err = r.p.Record(ctx, r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: walk, Key: "bad", CRS: "bd09mc"})
	var fe *fieldwatch.Error
	if !errors.Is(err, fieldwatch.ErrInvalid) || !errors.As(err, &fe) || len(fe.Fields) != 1 || fe.Fields[0].Field != "/crs" || len(r.store.patrols) != n {
		t.Fatalf("unknown crs: %v", err)
	}
}

func TestPatrolScope(t *testing.T) {
	ctx := t.Context()
	r := newPatrolRig(t)
	p, _, err := r.p.Record(ctx, r.village, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: r.walk(t, "LH-03", patrolT0.Add(-3*time.Hour)), Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	townOfficer := fieldwatch.Actor{UserID: "u-off", Role: fieldwatch.RoleTownshipOfficer, Townships: []string{"130227106"}}
	otherChief := fieldwatch.Actor{UserID: "u-o", Role: fieldwatch.RoleRiverChief, Reaches: []string{"CH-03"}}
	for _, tc := range []struct {
		name  string
		actor fieldwatch.Actor
		sees  bool
	}{
		{"Admin", admin, true}, {"Recorder", r.village, true}, {"ChiefOfReach", r.town, true},
		{"TownshipOfficer", townOfficer, true}, {"OtherOfficer", stranger, false}, {"OtherChief", otherChief, false}, {"Inspector", inspector, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.p.Get(ctx, tc.actor, p.ID)
			if tc.sees != (err == nil) || (err != nil && !errors.Is(err, fieldwatch.ErrNotFound)) || (tc.sees && len(got.Track) == 0) {
				t.Fatalf("Get: %v", err)
			}
			list, err := r.p.List(ctx, tc.actor, fieldwatch.PatrolFilter{})
			if err != nil || (len(list) == 1) != tc.sees {
				t.Fatalf("List: %d, %v", len(list), err)
			}
			ok, err := r.p.CanSeeReach(ctx, tc.actor, "LH-03")
			if err != nil || ok != tc.sees {
				t.Fatalf("CanSeeReach: %v, %v", ok, err)
			}
		})
	}
	if _, err := r.p.Get(ctx, admin, "patrol-404"); !errors.Is(err, fieldwatch.ErrNotFound) {
		t.Fatalf("a missing patrol: %v", err)
	}
	if ok, err := r.p.CanSeeReach(ctx, admin, "XX-01"); ok || err != nil {
		t.Fatalf("a missing reach: %v, %v", ok, err)
	}
}

// TestPatrolCompliance: each chief's required periods in a month (weeks
// for village chiefs, the month for township chiefs, the quarter for
// county chiefs) and whether each had a valid patrol.
func TestPatrolCompliance(t *testing.T) {
	ctx := t.Context()
	r := newPatrolRig(t)
	// The village chief walks once, in the week of Nov 23–29; the
	// township chief once in November.
	for _, a := range []fieldwatch.Actor{r.village, r.town} {
		if _, _, err := r.p.Record(ctx, a, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: r.walk(t, "LH-03", patrolT0.Add(-3*time.Hour)), Key: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := r.p.Compliance(ctx, admin, "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows {
		got = append(got, strings.Join([]string{row.ChiefName, string(row.Level), row.ReachCode, row.TownshipCode,
			itoa(row.Required), itoa(row.Met), itoa(row.ValidPatrols), ftoa(row.Rate()), map[bool]string{true: "ok", false: "short"}[row.Compliant()]}, " "))
	}
	want := []string{
		"县河长 county LH-03 130227106 0 0 0 1.00 ok",
		"镇河长 township LH-03 130227106 1 1 1 1.00 ok",
		"村河长 village LH-03 130227106 5 1 1 0.20 short",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rows\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(want, "\n "))
	}
	// December closes the quarter: the county chief owes one patrol in
	// October–December.
	r.clock.Set(time.Date(2027, 1, 2, 9, 0, 0, 0, cst))
	rows, err = r.p.Compliance(ctx, admin, "2026-12")
	if err != nil || rows[0].Level != fieldwatch.ChiefCounty || rows[0].Required != 1 || rows[0].Met != 0 || rows[1].ValidPatrols != 0 {
		t.Fatalf("%+v, %v", rows, err)
	}
	if rows, err := r.p.Compliance(ctx, stranger, "2026-11"); err != nil || len(rows) != 0 {
		t.Fatalf("outside the scope: %+v, %v", rows, err)
	}
	if _, err := r.p.Compliance(ctx, admin, "2026-13"); !errors.Is(err, fieldwatch.ErrInvalid) {
		t.Fatalf("a bad month: %v", err)
	}
}

func TestParseFrequency(t *testing.T) {
	f, err := fieldwatch.ParseFrequency(" village=month, county=week ")
	if err != nil || f[fieldwatch.ChiefVillage] != fieldwatch.PeriodMonth || f[fieldwatch.ChiefCounty] != fieldwatch.PeriodWeek || f[fieldwatch.ChiefTownship] != fieldwatch.PeriodMonth {
		t.Fatalf("%v, %v", f, err)
	}
	for _, s := range []string{"village", "province=week", "village=day"} {
		if _, err := fieldwatch.ParseFrequency(s); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
