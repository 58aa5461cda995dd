package storetest

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/store"
)

// Geography fixtures. Coordinates carry all the digits a double holds, and
// some are one ulp away from a round number, so that any conversion
// through text or single precision shows.
var (
	// ulp118 is the double just above 118.3.
	ulp118 = math.Nextafter(118.3, 119)
	// ulp40 is the double just below 40.2.
	ulp40 = math.Nextafter(40.2, 40)
)

// rect returns a closed rectangular ring (flat XY) from (x0, y0) to
// (x1, y1), counter-clockwise.
func rect(x0, y0, x1, y1 float64) []float64 {
	return []float64{x0, y0, x1, y0, x1, y1, x0, y1, x0, y0}
}

// multiPolygon builds a MultiPolygon from polygons given as rings of flat
// XY coordinates.
func multiPolygon(polys ...[][]float64) *geom.MultiPolygon {
	var (
		flat  []float64
		endss [][]int
	)
	for _, rings := range polys {
		var ends []int
		for _, r := range rings {
			flat = append(flat, r...)
			ends = append(ends, len(flat))
		}
		endss = append(endss, ends)
	}
	return geom.NewMultiPolygonFlat(geom.XY, flat, endss)
}

// multiLine builds a MultiLineString from lines of flat XY coordinates.
func multiLine(lines ...[]float64) *geom.MultiLineString {
	var (
		flat []float64
		ends []int
	)
	for _, l := range lines {
		flat = append(flat, l...)
		ends = append(ends, len(flat))
	}
	return geom.NewMultiLineStringFlat(geom.XY, flat, ends)
}

// sameGeom checks that got is want read back: same type and layout, SRID
// 4326, bit-identical flat coordinates and the same ring or line offsets.
func sameGeom(t *testing.T, what string, got, want geom.T) {
	t.Helper()
	if got == nil || want == nil {
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
		return
	}
	if reflect.TypeOf(got) != reflect.TypeOf(want) {
		t.Errorf("%s is a %T, want %T", what, got, want)
		return
	}
	if got.Layout() != want.Layout() || got.SRID() != 4326 {
		t.Errorf("%s: layout %v SRID %d, want %v SRID 4326", what, got.Layout(), got.SRID(), want.Layout())
	}
	gf, wf := got.FlatCoords(), want.FlatCoords()
	if len(gf) != len(wf) {
		t.Errorf("%s: %d flat coordinates, want %d", what, len(gf), len(wf))
		return
	}
	for i := range gf {
		if math.Float64bits(gf[i]) != math.Float64bits(wf[i]) {
			t.Errorf("%s: flat coordinate %d = %v, want %v (not bit-identical)", what, i, gf[i], wf[i])
		}
	}
	if !reflect.DeepEqual(got.Ends(), want.Ends()) || !reflect.DeepEqual(got.Endss(), want.Endss()) {
		t.Errorf("%s: ends %v %v, want %v %v", what, got.Ends(), got.Endss(), want.Ends(), want.Endss())
	}
}

// sameTownships compares listings field by field, geometries exactly.
func sameTownships(t *testing.T, what string, got, want []fieldwatch.Township) {
	t.Helper()
	if len(got) != len(want) {
		codes := func(ts []fieldwatch.Township) (c []string) {
			for _, x := range ts {
				c = append(c, x.Code)
			}
			return c
		}
		t.Fatalf("%s: codes %v, want %v", what, codes(got), codes(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		sameGeom(t, what+" "+w.Code+" boundary", g.Boundary, w.Boundary)
		g.Boundary, w.Boundary = nil, nil
		sameStruct(t, what+" "+w.Code, g, w)
	}
}

// sameReaches compares listings field by field, geometries exactly.
func sameReaches(t *testing.T, what string, got, want []fieldwatch.Reach) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: codes %v, want %v", what, reachCodes(got), reachCodes(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		sameGeom(t, what+" "+w.Code+" line", g.Line, w.Line)
		g.Line, w.Line = nil, nil
		sameStruct(t, what+" "+w.Code, g, w)
	}
}

func reachCodes(rs []fieldwatch.Reach) []string {
	c := []string{}
	for _, r := range rs {
		c = append(c, r.Code)
	}
	return c
}

// versioned returns ts as stored by an import of version v effective from
// from, closed at to (nil: current).
func versioned[T fieldwatch.Township | fieldwatch.Reach](ts []T, v int64, from time.Time, to *time.Time) []T {
	out := make([]T, len(ts))
	for i, x := range ts {
		switch p := any(&x).(type) {
		case *fieldwatch.Township:
			p.Version, p.EffectiveFrom, p.EffectiveTo = v, from, to
		case *fieldwatch.Reach:
			p.Version, p.EffectiveFrom, p.EffectiveTo = v, from, to
		}
		out[i] = x
	}
	return out
}

func testGeography(t *testing.T, s *store.Store) {
	ctx := t.Context()
	us := time.Microsecond
	t1 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) // before Clock()
	far := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	// v1: three townships; the second has two polygons, one with a hole.
	town := func(code, name string, zone fieldwatch.Zone, b *geom.MultiPolygon) fieldwatch.Township {
		return fieldwatch.Township{Code: code, Name: name, NameEN: "EN " + code, Kind: "town", Zone: zone, Boundary: b}
	}
	a := town("130227101", "兴城镇", fieldwatch.ZoneCore, multiPolygon([][]float64{rect(118.2441890000001, 40.1, ulp118, ulp40)}))
	b1 := town("130227102", "栗乡街道", fieldwatch.ZonePeriphery, multiPolygon(
		[][]float64{rect(ulp118, 40.1, 118.4, ulp40), rect(118.33, 40.13, 118.34, 40.14)},
		[][]float64{rect(118.5, 40.5, 118.512345678901234, 40.5123456789)}))
	c := town("130227103", "经开区", fieldwatch.ZoneGeneral, multiPolygon([][]float64{rect(118.4, 40.1, 118.5, 40.2)}))
	c.Kind = "devzone"
	// v2: b's boundary moves, c is gone.
	b2 := b1
	b2.Boundary = multiPolygon([][]float64{rect(ulp118, 40.1, 118.45, 40.25)})

	t.Run("Townships", func(t *testing.T) {
		if v, err := s.TownshipsVersion(ctx); err != nil || v != 0 {
			t.Fatalf("TownshipsVersion before any import = %d, %v; want 0", v, err)
		}
		if got, err := s.Townships(ctx, far); err != nil || len(got) != 0 {
			t.Fatalf("Townships before any import = %v, %v", got, err)
		}
		v1, err := s.ImportTownships(ctx, []fieldwatch.Township{c, a, b1}, t1.Add(123456789)) // rounded to µs
		if err != nil {
			t.Fatalf("ImportTownships v1: %v", err)
		}
		from1 := t1.Add(123456 * us)
		v2, err := s.ImportTownships(ctx, []fieldwatch.Township{b2, a}, t2)
		if err != nil {
			t.Fatalf("ImportTownships v2: %v", err)
		}
		if v1 < 1 || v2 <= v1 {
			t.Fatalf("versions %d, %d; want increasing from 1", v1, v2)
		}
		if v, err := s.TownshipsVersion(ctx); err != nil || v != v2 {
			t.Fatalf("TownshipsVersion = %d, %v; want %d", v, err, v2)
		}
		old := versioned([]fieldwatch.Township{a, b1, c}, v1, from1, &t2)
		current := versioned([]fieldwatch.Township{a, b2}, v2, t2, nil)
		tests := []struct {
			name string
			at   time.Time
			want []fieldwatch.Township
		}{
			{"BeforeV1", from1.Add(-us), nil},
			{"AtV1", from1, old},
			{"JustBeforeV2", t2.Add(-us), old},
			{"AtV2", t2, current},
			{"Later", far, current},
			{"ZeroIsNow", time.Time{}, current}, // Clock() is after t2
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.Townships(ctx, tc.at)
				if err != nil {
					t.Fatalf("Townships: %v", err)
				}
				sameTownships(t, "Townships", got, tc.want)
			})
		}

		byCode := []struct {
			name string
			code string
			at   time.Time
			want *fieldwatch.Township
		}{
			{"ChangedBefore", b1.Code, t2.Add(-us), &old[1]},
			{"ChangedAfter", b1.Code, t2, &current[1]},
			{"RemovedBefore", c.Code, from1, &old[2]},
			{"RemovedAfter", c.Code, t2, nil},
			{"NotYet", a.Code, from1.Add(-us), nil},
			{"Unknown", "999999999", t2, nil},
			{"ZeroIsNow", a.Code, time.Time{}, &current[0]},
		}
		for _, tc := range byCode {
			t.Run("ByCode"+tc.name, func(t *testing.T) {
				got, err := s.TownshipByCode(ctx, tc.code, tc.at)
				if tc.want == nil {
					if !errors.Is(err, store.ErrNotFound) {
						t.Fatalf("TownshipByCode = %+v, %v; want ErrNotFound", got, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("TownshipByCode: %v", err)
				}
				sameTownships(t, "TownshipByCode", []fieldwatch.Township{got}, []fieldwatch.Township{*tc.want})
			})
		}

		t.Run("HistoryIsNotRewritten", func(t *testing.T) {
			for _, at := range []time.Time{t2, t2.Add(-time.Hour), t1} {
				_, err := s.ImportTownships(ctx, []fieldwatch.Township{a}, at)
				if !errors.Is(err, store.ErrConflict) {
					t.Errorf("ImportTownships effective %v = %v, want ErrConflict", at, err)
				}
			}
			if v, err := s.TownshipsVersion(ctx); err != nil || v != v2 {
				t.Fatalf("TownshipsVersion after refused imports = %d, %v; want %d", v, err, v2)
			}
			got, err := s.Townships(ctx, t2.Add(-us))
			if err != nil {
				t.Fatal(err)
			}
			sameTownships(t, "Townships after refused imports", got, old)
		})

		t.Run("Invalid", func(t *testing.T) {
			with := func(f func(*fieldwatch.Township)) []fieldwatch.Township {
				x := a
				x.Boundary = a.Boundary.Clone()
				f(&x)
				return []fieldwatch.Township{x}
			}
			ring := func(flat ...float64) []fieldwatch.Township {
				return with(func(x *fieldwatch.Township) { x.Boundary = multiPolygon([][]float64{flat}) })
			}
			tests := []struct {
				name string
				ts   []fieldwatch.Township
			}{
				{"Empty", nil},
				{"DuplicateCode", []fieldwatch.Township{a, a}},
				{"EmptyCode", with(func(x *fieldwatch.Township) { x.Code = "" })},
				{"CodeNUL", with(func(x *fieldwatch.Township) { x.Code = "1302\x00" })},
				{"EmptyName", with(func(x *fieldwatch.Township) { x.Name = "" })},
				{"NameInvalidUTF8", with(func(x *fieldwatch.Township) { x.Name = "\xff" })},
				{"EmptyKind", with(func(x *fieldwatch.Township) { x.Kind = "" })},
				{"UnknownZone", with(func(x *fieldwatch.Township) { x.Zone = "downtown" })},
				{"NilBoundary", with(func(x *fieldwatch.Township) { x.Boundary = nil })},
				{"EmptyBoundary", with(func(x *fieldwatch.Township) { x.Boundary = geom.NewMultiPolygon(geom.XY) })},
				{"EmptyPolygon", with(func(x *fieldwatch.Township) {
					x.Boundary = geom.NewMultiPolygonFlat(geom.XY, rect(118, 40, 118.1, 40.1), [][]int{{10}, {}})
				})},
				{"UnclosedRing", ring(118, 40, 118.1, 40, 118.1, 40.1, 118, 40.1, 118, 40.05)},
				{"ThreePositions", ring(118, 40, 118.1, 40, 118, 40)},
				{"NaN", ring(118, 40, math.NaN(), 40, 118.1, 40.1, 118, 40)},
				{"OutOfRange", ring(118, 40, 181, 40, 118.1, 40.1, 118, 40)},
				{"XYZ", with(func(x *fieldwatch.Township) {
					x.Boundary = geom.NewMultiPolygonFlat(geom.XYZ,
						[]float64{118, 40, 0, 118.1, 40, 0, 118.1, 40.1, 0, 118, 40, 0}, [][]int{{12}})
				})},
				{"SRID3857", with(func(x *fieldwatch.Township) { x.Boundary.SetSRID(3857) })},
				{"RaggedOffsets", with(func(x *fieldwatch.Township) {
					x.Boundary = geom.NewMultiPolygonFlat(geom.XY, rect(118, 40, 118.1, 40.1), [][]int{{12}})
				})},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					_, err := s.ImportTownships(ctx, tc.ts, far)
					if !errors.Is(err, fieldwatch.ErrInvalid) {
						t.Fatalf("ImportTownships = %v, want fieldwatch.ErrInvalid", err)
					}
				})
			}
			for _, at := range []time.Time{{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
				if _, err := s.ImportTownships(ctx, []fieldwatch.Township{a}, at); !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Errorf("ImportTownships effective %v = %v, want fieldwatch.ErrInvalid", at, err)
				}
			}
			if v, err := s.TownshipsVersion(ctx); err != nil || v != v2 {
				t.Fatalf("TownshipsVersion after invalid imports = %d, %v; want %d", v, err, v2)
			}
			t.Run("SRID4326Accepted", func(t *testing.T) {
				// Checked last: it is a valid import and closes the set.
				ok := with(func(x *fieldwatch.Township) { x.Boundary.SetSRID(4326) })
				v, err := s.ImportTownships(ctx, ok, far)
				if err != nil || v <= v2 {
					t.Fatalf("ImportTownships with SRID 4326 = %d, %v", v, err)
				}
				got, err := s.Townships(ctx, far)
				if err != nil {
					t.Fatal(err)
				}
				sameTownships(t, "Townships", got, versioned(ok, v, far, nil))
			})
		})
	})

	// Reaches: v1 at r1, v2 at r2. LH-02's line moves; SH-01 is removed.
	r1 := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	r2 := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	reach := func(code, river, township string, line *geom.MultiLineString) fieldwatch.Reach {
		return fieldwatch.Reach{Code: code, River: river, RiverEN: "EN " + river, Name: river + code + "段",
			TownshipCode: township, Line: line}
	}
	lh1 := reach("LH-01", "滦河", a.Code, multiLine([]float64{118.25, 40.15, 118.27, 40.16, ulp118, ulp40}))
	lh2a := reach("LH-02", "滦河", b1.Code, multiLine(
		[]float64{ulp118, ulp40, 118.35, 40.17},
		[]float64{118.36, 40.171234567890123, 118.38, 40.18}))
	sh1 := reach("SH-01", "沙河", b1.Code, multiLine([]float64{118.31, 40.11, 118.32, 40.12}))
	lh2b := lh2a
	lh2b.Line = multiLine([]float64{ulp118, ulp40, 118.39, 40.19})

	chief1 := mustCreateUser(t, s, fieldwatch.User{Username: "geo.chief1", DisplayName: "张三", Role: fieldwatch.RoleRiverChief})
	chief2 := mustCreateUser(t, s, fieldwatch.User{Username: "geo.chief2", DisplayName: "李四", Role: fieldwatch.RoleRiverChief})
	chief3 := mustCreateUser(t, s, fieldwatch.User{Username: "geo.chief3", Role: fieldwatch.RoleRiverChief})
	inspector := mustCreateUser(t, s, fieldwatch.User{Username: "geo.inspector", DisplayName: "王五", Role: fieldwatch.RoleInspector})

	var rv1, rv2 int64
	t.Run("Reaches", func(t *testing.T) {
		if v, err := s.ReachesVersion(ctx); err != nil || v != 0 {
			t.Fatalf("ReachesVersion before any import = %d, %v; want 0", v, err)
		}
		var err error
		if rv1, err = s.ImportReaches(ctx, []fieldwatch.Reach{sh1, lh2a, lh1}, r1); err != nil {
			t.Fatalf("ImportReaches v1: %v", err)
		}
		if rv2, err = s.ImportReaches(ctx, []fieldwatch.Reach{lh1, lh2b}, r2); err != nil {
			t.Fatalf("ImportReaches v2: %v", err)
		}
		tv, err := s.TownshipsVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rv1 <= tv || rv2 <= rv1 {
			t.Fatalf("reach versions %d, %d after township version %d; want increasing", rv1, rv2, tv)
		}
		if v, err := s.ReachesVersion(ctx); err != nil || v != rv2 {
			t.Fatalf("ReachesVersion = %d, %v; want %d", v, err, rv2)
		}
	})
	if t.Failed() {
		return
	}
	old := versioned([]fieldwatch.Reach{lh1, lh2a, sh1}, rv1, r1, &r2)
	current := versioned([]fieldwatch.Reach{lh1, lh2b}, rv2, r2, nil)
	oLH1, oLH2, oSH1 := old[0], old[1], old[2]
	cLH1, cLH2 := current[0], current[1]

	// Chiefs, set during v1: chief1 on SH-01 (removed in v2), chief2 on
	// LH-01 and LH-02.
	c0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	t.Run("SetChiefsForFilters", func(t *testing.T) {
		for _, set := range []struct {
			reach string
			as    []fieldwatch.ChiefAssignment
		}{
			{sh1.Code, []fieldwatch.ChiefAssignment{{UserID: chief1.ID, Level: fieldwatch.ChiefTownship}}},
			{lh1.Code, []fieldwatch.ChiefAssignment{{UserID: chief2.ID, Level: fieldwatch.ChiefVillage}}},
			{lh2a.Code, []fieldwatch.ChiefAssignment{{UserID: chief2.ID, Level: fieldwatch.ChiefVillage}}},
		} {
			if err := s.SetReachChiefs(ctx, set.reach, set.as, c0); err != nil {
				t.Fatalf("SetReachChiefs(%s): %v", set.reach, err)
			}
		}
	})

	t.Run("ReachFilters", func(t *testing.T) {
		lh1Box := geo.Box{MinLon: 118.25, MinLat: 40.15, MaxLon: ulp118, MaxLat: ulp40}
		tests := []struct {
			name string
			f    store.ReachFilter
			want []fieldwatch.Reach
		}{
			{"BeforeV1", store.ReachFilter{At: r1.Add(-us)}, nil},
			{"V1", store.ReachFilter{At: r1}, old},
			{"V2", store.ReachFilter{At: r2}, current},
			{"ZeroIsNow", store.ReachFilter{}, current},
			{"TownshipV1", store.ReachFilter{At: r1, Township: &b1.Code}, []fieldwatch.Reach{oLH2, oSH1}},
			{"TownshipV2", store.ReachFilter{At: r2, Township: &b1.Code}, []fieldwatch.Reach{cLH2}},
			{"TownshipNone", store.ReachFilter{At: r2, Township: ptr("000000000")}, nil},
			{"RiverV1", store.ReachFilter{At: r1, River: ptr("滦河")}, []fieldwatch.Reach{oLH1, oLH2}},
			{"RiverOtherV1", store.ReachFilter{At: r1, River: ptr("沙河")}, []fieldwatch.Reach{oSH1}},
			{"RiverOtherV2", store.ReachFilter{At: r2, River: ptr("沙河")}, nil},
			{"ChiefBeforeAssignment", store.ReachFilter{At: c0.Add(-us), ChiefUserID: &chief2.ID}, nil},
			{"ChiefV1", store.ReachFilter{At: c0, ChiefUserID: &chief2.ID}, []fieldwatch.Reach{oLH1, oLH2}},
			{"ChiefV2", store.ReachFilter{At: r2, ChiefUserID: &chief2.ID}, []fieldwatch.Reach{cLH1, cLH2}},
			{"ChiefOfRemovedReachV1", store.ReachFilter{At: c0, ChiefUserID: &chief1.ID}, []fieldwatch.Reach{oSH1}},
			{"ChiefOfRemovedReachV2", store.ReachFilter{At: r2, ChiefUserID: &chief1.ID}, nil},
			{"NotAChief", store.ReachFilter{At: r2, ChiefUserID: &inspector.ID}, nil},
			{"ChiefAndTownship", store.ReachFilter{At: c0, ChiefUserID: &chief2.ID, Township: &a.Code}, []fieldwatch.Reach{oLH1}},
			{"BBoxAroundOne", store.ReachFilter{At: r2, BBox: &geo.Box{MinLon: 118.2, MinLat: 40.1, MaxLon: 118.28, MaxLat: 40.17}},
				[]fieldwatch.Reach{cLH1}},
			// LH-02 starts where LH-01 ends: a box that is that one point
			// meets both (edges included).
			{"BBoxSharedVertex", store.ReachFilter{At: r2, BBox: &geo.Box{MinLon: ulp118, MinLat: ulp40, MaxLon: ulp118, MaxLat: ulp40}},
				[]fieldwatch.Reach{cLH1, cLH2}},
			// One ulp east of LH-01's box: only LH-02.
			{"BBoxOneULPOff", store.ReachFilter{At: r2, BBox: &geo.Box{MinLon: math.Nextafter(ulp118, 119), MinLat: 40, MaxLon: 119, MaxLat: 41}},
				[]fieldwatch.Reach{cLH2}},
			{"BBoxExact", store.ReachFilter{At: r2, BBox: &lh1Box}, []fieldwatch.Reach{cLH1, cLH2}},
			{"BBoxV1", store.ReachFilter{At: r1, BBox: &geo.Box{MinLon: 118.305, MinLat: 40.105, MaxLon: 118.325, MaxLat: 40.125}},
				[]fieldwatch.Reach{oSH1}},
			{"BBoxMovedLine", store.ReachFilter{At: r2, BBox: &geo.Box{MinLon: 118.385, MinLat: 40.185, MaxLon: 118.395, MaxLat: 40.195}},
				[]fieldwatch.Reach{cLH2}},
			{"BBoxMovedLineV1", store.ReachFilter{At: r1, BBox: &geo.Box{MinLon: 118.385, MinLat: 40.185, MaxLon: 118.395, MaxLat: 40.195}},
				nil},
			{"BBoxNothing", store.ReachFilter{At: r2, BBox: &geo.Box{MinLon: 100, MinLat: 30, MaxLon: 101, MaxLat: 31}}, nil},
			{"AllFilters", store.ReachFilter{At: r2, Township: &b1.Code, River: ptr("滦河"), ChiefUserID: &chief2.ID,
				BBox: &geo.Box{MinLon: 118.3, MinLat: 40.1, MaxLon: 118.4, MaxLat: 40.3}}, []fieldwatch.Reach{cLH2}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.Reaches(ctx, tc.f)
				if err != nil {
					t.Fatalf("Reaches: %v", err)
				}
				sameReaches(t, "Reaches", got, tc.want)
			})
		}
		invalid := []struct {
			name string
			f    store.ReachFilter
		}{
			{"ChiefNotUUID", store.ReachFilter{ChiefUserID: ptr("chief")}},
			{"InvertedBox", store.ReachFilter{BBox: &geo.Box{MinLon: 119, MinLat: 40, MaxLon: 118, MaxLat: 41}}},
			{"NaNBox", store.ReachFilter{BBox: &geo.Box{MinLon: math.NaN(), MinLat: 40, MaxLon: 118, MaxLat: 41}}},
			{"TownshipNUL", store.ReachFilter{Township: ptr("\x00")}},
			{"RiverInvalidUTF8", store.ReachFilter{River: ptr("\xfe")}},
			{"AtOutOfRange", store.ReachFilter{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		}
		for _, tc := range invalid {
			t.Run("Invalid"+tc.name, func(t *testing.T) {
				if got, err := s.Reaches(ctx, tc.f); !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Fatalf("Reaches = %v, %v; want fieldwatch.ErrInvalid", reachCodes(got), err)
				}
			})
		}
	})

	t.Run("ReachByCode", func(t *testing.T) {
		tests := []struct {
			name string
			code string
			at   time.Time
			want *fieldwatch.Reach
		}{
			{"ChangedBefore", lh2a.Code, r2.Add(-us), &oLH2},
			{"ChangedAfter", lh2a.Code, r2, &cLH2},
			{"RemovedBefore", sh1.Code, r1, &oSH1},
			{"RemovedAfter", sh1.Code, r2, nil},
			{"NotYet", lh1.Code, r1.Add(-us), nil},
			{"Unknown", "XX-99", r2, nil},
			{"ZeroIsNow", lh1.Code, time.Time{}, &cLH1},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ReachByCode(ctx, tc.code, tc.at)
				if tc.want == nil {
					if !errors.Is(err, store.ErrNotFound) {
						t.Fatalf("ReachByCode = %+v, %v; want ErrNotFound", got, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("ReachByCode: %v", err)
				}
				sameReaches(t, "ReachByCode", []fieldwatch.Reach{got}, []fieldwatch.Reach{*tc.want})
			})
		}
	})

	t.Run("ImportReachesInvalid", func(t *testing.T) {
		with := func(f func(*fieldwatch.Reach)) []fieldwatch.Reach {
			x := lh1
			x.Line = lh1.Line.Clone()
			f(&x)
			return []fieldwatch.Reach{x}
		}
		tests := []struct {
			name string
			rs   []fieldwatch.Reach
		}{
			{"Empty", nil},
			{"DuplicateCode", []fieldwatch.Reach{lh1, lh1}},
			{"EmptyCode", with(func(x *fieldwatch.Reach) { x.Code = "" })},
			{"EmptyRiver", with(func(x *fieldwatch.Reach) { x.River = "" })},
			{"EmptyName", with(func(x *fieldwatch.Reach) { x.Name = "" })},
			{"EmptyTownship", with(func(x *fieldwatch.Reach) { x.TownshipCode = "" })},
			{"RiverNUL", with(func(x *fieldwatch.Reach) { x.River = "滦\x00河" })},
			{"NilLine", with(func(x *fieldwatch.Reach) { x.Line = nil })},
			{"EmptyLine", with(func(x *fieldwatch.Reach) { x.Line = geom.NewMultiLineString(geom.XY) })},
			{"OnePosition", with(func(x *fieldwatch.Reach) { x.Line = multiLine([]float64{118, 40}, []float64{118, 40, 118.1, 40.1}) })},
			{"Infinite", with(func(x *fieldwatch.Reach) { x.Line = multiLine([]float64{118, 40, math.Inf(1), 40.1}) })},
			{"LatOutOfRange", with(func(x *fieldwatch.Reach) { x.Line = multiLine([]float64{118, 40, 118.1, 91}) })},
			{"XYM", with(func(x *fieldwatch.Reach) {
				x.Line = geom.NewMultiLineStringFlat(geom.XYM, []float64{118, 40, 1, 118.1, 40.1, 2}, []int{6})
			})},
			{"SRID4490", with(func(x *fieldwatch.Reach) { x.Line.SetSRID(4490) })},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.ImportReaches(ctx, tc.rs, far); !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Fatalf("ImportReaches = %v, want fieldwatch.ErrInvalid", err)
				}
			})
		}
		if _, err := s.ImportReaches(ctx, []fieldwatch.Reach{lh1}, r2); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("ImportReaches at the latest import's time = %v, want ErrConflict", err)
		}
		if v, err := s.ReachesVersion(ctx); err != nil || v != rv2 {
			t.Fatalf("ReachesVersion after refused imports = %d, %v; want %d", v, err, rv2)
		}
	})

	t.Run("Chiefs", func(t *testing.T) {
		testChiefs(t, s, chiefs{chief1, chief2, chief3, inspector}, lh1.Code, sh1.Code, c0, r2)
	})

	// Last: these imports replace the sets from far on.
	t.Run("ConcurrentImports", func(t *testing.T) {
		const n = 8
		errs := make([]error, n)
		versions := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				at := far.Add(time.Duration(i) * time.Hour)
				if i%2 == 0 {
					versions[i], errs[i] = s.ImportTownships(ctx, []fieldwatch.Township{a, b2}, at)
				} else {
					versions[i], errs[i] = s.ImportReaches(ctx, []fieldwatch.Reach{lh1, lh2b}, at)
				}
			})
		}
		wg.Wait()
		seen := map[int64]bool{}
		for i, err := range errs {
			// An import that runs after a later-dated one of its kind
			// is refused; nothing else may fail, so the latest of each
			// kind succeeds.
			if err != nil {
				if !errors.Is(err, store.ErrConflict) || i >= n-2 {
					t.Fatalf("import %d: %v", i, err)
				}
				continue
			}
			if seen[versions[i]] {
				t.Fatalf("version %d assigned twice", versions[i])
			}
			seen[versions[i]] = true
		}
		end := far.Add(n * time.Hour)
		ts, err := s.Townships(ctx, end)
		if err != nil || len(ts) != 2 || ts[0].Version != ts[1].Version {
			t.Fatalf("Townships after concurrent imports = %d rows, %v; want one current set of 2", len(ts), err)
		}
		rs, err := s.Reaches(ctx, store.ReachFilter{At: end})
		if err != nil || len(rs) != 2 || rs[0].Version != rs[1].Version {
			t.Fatalf("Reaches after concurrent imports = %d rows, %v; want one current set of 2", len(rs), err)
		}
	})

	t.Run("ConcurrentSetChiefs", func(t *testing.T) {
		// Same instant, different chiefs: whatever the order, one set
		// wins whole.
		now := far.Add(time.Minute)
		users := []fieldwatch.User{chief1, chief2, chief3}
		errs := make([]error, 9)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				errs[i] = s.SetReachChiefs(ctx, lh2b.Code, []fieldwatch.ChiefAssignment{
					{UserID: users[i%3].ID, Level: fieldwatch.ChiefTownship}}, now)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("SetReachChiefs %d: %v", i, err)
			}
		}
		got, err := s.ChiefsAt(ctx, lh2b.Code, now)
		if err != nil || len(got) != 1 {
			t.Fatalf("ChiefsAt after concurrent replacements = %+v, %v; want one chief", got, err)
		}
	})
}

// chiefs are the users testChiefs assigns: three river chiefs and an
// inspector.
type chiefs struct{ one, two, three, inspector fieldwatch.User }

// testChiefs runs on reach (in force since before c0, with chief2 at
// village level from c0) and removed (in force until r2, with chief1 from
// c0).
func testChiefs(t *testing.T, s *store.Store, u chiefs, reach, removed string, c0, r2 time.Time) {
	ctx := t.Context()
	us := time.Microsecond
	c1 := c0.Add(30 * 24 * time.Hour)
	c2 := c1.Add(30 * 24 * time.Hour)
	c3 := c2.Add(30 * 24 * time.Hour)
	ref := func(x fieldwatch.User, name string, l fieldwatch.ChiefLevel) fieldwatch.ChiefRef {
		return fieldwatch.ChiefRef{UserID: x.ID, Name: name, Level: l}
	}
	chiefsAt := func(t *testing.T, code string, at time.Time, want ...fieldwatch.ChiefRef) {
		t.Helper()
		got, err := s.ChiefsAt(ctx, code, at)
		if err != nil {
			t.Fatalf("ChiefsAt(%s, %v): %v", code, at, err)
		}
		if want == nil {
			want = []fieldwatch.ChiefRef{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ChiefsAt(%s, %v) = %+v, want %+v", code, at, got, want)
		}
	}
	reachesOf := func(t *testing.T, id string, at time.Time, want ...string) {
		t.Helper()
		got, err := s.ReachesOfChief(ctx, id, at)
		if err != nil {
			t.Fatalf("ReachesOfChief: %v", err)
		}
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ReachesOfChief(%v) = %q, want %q", at, got, want)
		}
	}
	set := func(t *testing.T, code string, now time.Time, as ...fieldwatch.ChiefAssignment) {
		t.Helper()
		if err := s.SetReachChiefs(ctx, code, as, now); err != nil {
			t.Fatalf("SetReachChiefs(%s, %v): %v", code, now, err)
		}
	}
	// The set-up left chief2 as village chief of reach from c0.
	initial := fieldwatch.ChiefAssignment{ReachCode: reach, UserID: u.two.ID, Level: fieldwatch.ChiefVillage, ValidFrom: c0}

	t.Run("SetAndReplace", func(t *testing.T) {
		// At c1 (plus a fraction of a µs, rounded away): county chief1,
		// township chief3 (no display name), village chief2 until c3.
		set(t, reach, c1.Add(400),
			fieldwatch.ChiefAssignment{UserID: u.two.ID, Level: fieldwatch.ChiefVillage, ValidTo: &c3},
			fieldwatch.ChiefAssignment{ReachCode: reach, UserID: u.three.ID, Level: fieldwatch.ChiefTownship},
			fieldwatch.ChiefAssignment{UserID: u.one.ID, Level: fieldwatch.ChiefCounty})
		chiefsAt(t, reach, c0.Add(-us))
		chiefsAt(t, reach, c0, ref(u.two, "李四", fieldwatch.ChiefVillage))
		chiefsAt(t, reach, c1.Add(-us), ref(u.two, "李四", fieldwatch.ChiefVillage))
		chiefsAt(t, reach, c1, ref(u.one, "张三", fieldwatch.ChiefCounty), ref(u.three, "geo.chief3", fieldwatch.ChiefTownship),
			ref(u.two, "李四", fieldwatch.ChiefVillage))
		chiefsAt(t, reach, c3, ref(u.one, "张三", fieldwatch.ChiefCounty), ref(u.three, "geo.chief3", fieldwatch.ChiefTownship))

		// At c2, a replacement scheduled for c3 drops chief3 and makes
		// chief2 a second county chief from c3 on.
		set(t, reach, c2,
			fieldwatch.ChiefAssignment{UserID: u.one.ID, Level: fieldwatch.ChiefCounty},
			fieldwatch.ChiefAssignment{UserID: u.two.ID, Level: fieldwatch.ChiefCounty, ValidFrom: c3})
		chiefsAt(t, reach, c2.Add(-us), ref(u.one, "张三", fieldwatch.ChiefCounty), ref(u.three, "geo.chief3", fieldwatch.ChiefTownship),
			ref(u.two, "李四", fieldwatch.ChiefVillage))
		chiefsAt(t, reach, c2, ref(u.one, "张三", fieldwatch.ChiefCounty))
		// Names order within a level, bytewise: 张 (U+5F20) < 李 (U+674E).
		chiefsAt(t, reach, c3, ref(u.one, "张三", fieldwatch.ChiefCounty), ref(u.two, "李四", fieldwatch.ChiefCounty))

		got, err := s.ChiefAssignments(ctx, reach, c1)
		if err != nil {
			t.Fatal(err)
		}
		c1r := c1 // the fraction below 1 µs is dropped
		c2p := c2
		want := []fieldwatch.ChiefAssignment{
			{ReachCode: reach, UserID: u.one.ID, Level: fieldwatch.ChiefCounty, ValidFrom: c1r, ValidTo: &c2p},
			{ReachCode: reach, UserID: u.three.ID, Level: fieldwatch.ChiefTownship, ValidFrom: c1r, ValidTo: &c2p},
			{ReachCode: reach, UserID: u.two.ID, Level: fieldwatch.ChiefVillage, ValidFrom: c1r, ValidTo: &c2p},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ChiefAssignments(c1) =\n%+v\nwant\n%+v", got, want)
		}
		if got, err := s.ChiefAssignments(ctx, reach, c0.Add(-us)); err != nil || len(got) != 0 {
			t.Fatalf("ChiefAssignments before any = %+v, %v", got, err)
		}

		// History: everything, closed where replaced; chief2's village
		// assignment from c0 was closed at c1.
		hist, err := s.ChiefAssignmentHistory(ctx, reach)
		if err != nil {
			t.Fatal(err)
		}
		closed0 := initial
		closed0.ValidTo = &c1r
		wantHist := []fieldwatch.ChiefAssignment{closed0}
		wantHist = append(wantHist, want...)
		wantHist = append(wantHist,
			fieldwatch.ChiefAssignment{ReachCode: reach, UserID: u.one.ID, Level: fieldwatch.ChiefCounty, ValidFrom: c2},
			fieldwatch.ChiefAssignment{ReachCode: reach, UserID: u.two.ID, Level: fieldwatch.ChiefCounty, ValidFrom: c3})
		if !reflect.DeepEqual(hist, wantHist) {
			t.Fatalf("ChiefAssignmentHistory =\n%+v\nwant\n%+v", hist, wantHist)
		}
		for _, a := range hist {
			if a.ValidFrom.Location() != time.UTC || a.ValidTo != nil && a.ValidTo.Location() != time.UTC {
				t.Errorf("assignment times %v, %v not in UTC", a.ValidFrom, a.ValidTo)
			}
		}
	})

	t.Run("ReachesOfChief", func(t *testing.T) {
		// The set-up also made chief2 village chief of LH-02 from c0.
		reachesOf(t, u.two.ID, c0.Add(-us))
		reachesOf(t, u.two.ID, c0, reach, "LH-02")
		reachesOf(t, u.two.ID, c2, "LH-02")
		reachesOf(t, u.two.ID, c3, reach, "LH-02")
		reachesOf(t, u.one.ID, c1, reach, removed)
		reachesOf(t, u.three.ID, c2)
		reachesOf(t, u.inspector.ID, c1)
		reachesOf(t, "not-a-uuid", c1)
		// The removed reach's assignment outlives it until ended.
		reachesOf(t, u.one.ID, r2, reach, removed)
	})

	t.Run("EndOnRemovedReach", func(t *testing.T) {
		at := r2.Add(time.Hour)
		err := s.SetReachChiefs(ctx, removed, []fieldwatch.ChiefAssignment{{UserID: u.one.ID, Level: fieldwatch.ChiefTownship}}, at)
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetReachChiefs on a removed reach = %v, want ErrNotFound", err)
		}
		set(t, removed, at) // ending is allowed
		reachesOf(t, u.one.ID, at, reach)
		reachesOf(t, u.one.ID, at.Add(-us), reach, removed)
		chiefsAt(t, removed, at)
	})

	t.Run("Invalid", func(t *testing.T) {
		now := c3.Add(time.Hour)
		before, err := s.ChiefAssignmentHistory(ctx, reach)
		if err != nil {
			t.Fatal(err)
		}
		to := now.Add(time.Hour)
		ok := fieldwatch.ChiefAssignment{UserID: u.one.ID, Level: fieldwatch.ChiefCounty}
		tests := []struct {
			name    string
			as      []fieldwatch.ChiefAssignment
			mention string // the message names the user or the problem
		}{
			{"NotARiverChief", []fieldwatch.ChiefAssignment{ok, {UserID: u.inspector.ID, Level: fieldwatch.ChiefVillage}}, "geo.inspector"},
			{"NoSuchUser", []fieldwatch.ChiefAssignment{{UserID: "0196f3a0-0000-7000-8000-00000000abcd", Level: fieldwatch.ChiefVillage}},
				"0196f3a0-0000-7000-8000-00000000abcd"},
			{"UserNotUUID", []fieldwatch.ChiefAssignment{{UserID: "wang.li", Level: fieldwatch.ChiefVillage}}, "wang.li"},
			{"UnknownLevel", []fieldwatch.ChiefAssignment{{UserID: u.one.ID, Level: "province"}}, "province"},
			{"EmptyLevel", []fieldwatch.ChiefAssignment{{UserID: u.one.ID}}, "level"},
			{"EmptyInterval", []fieldwatch.ChiefAssignment{{UserID: u.one.ID, Level: fieldwatch.ChiefCounty, ValidFrom: to, ValidTo: &to}}, "valid to"},
			{"InvertedInterval", []fieldwatch.ChiefAssignment{{UserID: u.one.ID, Level: fieldwatch.ChiefCounty, ValidFrom: to.Add(time.Hour), ValidTo: &to}}, "valid to"},
			{"EndsBeforeNow", []fieldwatch.ChiefAssignment{{UserID: u.one.ID, Level: fieldwatch.ChiefCounty, ValidTo: ptr(now.Add(-time.Hour))}}, "valid to"},
			{"StartsBeforeNow", []fieldwatch.ChiefAssignment{{UserID: u.one.ID, Level: fieldwatch.ChiefCounty, ValidFrom: now.Add(-us)}}, "before now"},
			{"OtherReach", []fieldwatch.ChiefAssignment{{ReachCode: "LH-02", UserID: u.one.ID, Level: fieldwatch.ChiefCounty}}, "LH-02"},
			{"OverlapSameUser", []fieldwatch.ChiefAssignment{ok, {UserID: u.one.ID, Level: fieldwatch.ChiefVillage, ValidFrom: to}}, "overlaps"},
			{"UserNUL", []fieldwatch.ChiefAssignment{{UserID: "a\x00", Level: fieldwatch.ChiefVillage}}, "NUL"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.SetReachChiefs(ctx, reach, tc.as, now)
				if !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Fatalf("SetReachChiefs = %v, want fieldwatch.ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), tc.mention) {
					t.Errorf("error %q does not mention %q", err, tc.mention)
				}
			})
		}
		t.Run("UnknownReach", func(t *testing.T) {
			if err := s.SetReachChiefs(ctx, "XX-99", []fieldwatch.ChiefAssignment{ok}, now); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("SetReachChiefs on an unknown reach = %v, want ErrNotFound", err)
			}
			if err := s.SetReachChiefs(ctx, "", nil, now); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Fatalf("SetReachChiefs on an empty code = %v, want fieldwatch.ErrInvalid", err)
			}
		})
		after, err := s.ChiefAssignmentHistory(ctx, reach)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(after, before) {
			t.Fatalf("refused SetReachChiefs changed the history:\n%+v\nwas\n%+v", after, before)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		chiefsAt(t, "XX-99", c1)
		if got, err := s.ChiefAssignments(ctx, "XX-99", c1); err != nil || len(got) != 0 {
			t.Fatalf("ChiefAssignments of an unknown reach = %+v, %v", got, err)
		}
		if got, err := s.ChiefAssignmentHistory(ctx, "XX-99"); err != nil || len(got) != 0 {
			t.Fatalf("ChiefAssignmentHistory of an unknown reach = %+v, %v", got, err)
		}
		if _, err := s.ChiefsAt(ctx, "\xff", c1); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Fatalf("ChiefsAt with invalid UTF-8 = %v, want fieldwatch.ErrInvalid", err)
		}
	})
}
