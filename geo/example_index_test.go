package geo_test

import (
	"errors"
	"fmt"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch/geo"
)

func ExampleIndex_Locate() {
	// Two townships sharing the meridian 118.125°E, and a river reach
	// running north along 118.1°E.
	square := func(x0, y0, x1, y1 float64) *geom.MultiPolygon {
		return geom.NewMultiPolygonFlat(geom.XY,
			[]float64{x0, y0, x1, y0, x1, y1, x0, y1, x0, y0}, [][]int{{10}})
	}
	ix, err := geo.NewIndex(
		[]geo.IndexTownship{
			{Code: "130227102", Boundary: square(118.0, 40.0, 118.125, 40.125)},
			{Code: "130227101", Boundary: square(118.125, 40.0, 118.25, 40.125)},
		},
		[]geo.IndexReach{
			{Code: "LH-01", Line: geom.NewMultiLineStringFlat(geom.XY, []float64{118.1, 40.0, 118.1, 40.125}, []int{4})},
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range []geo.Point{
		{Lon: 118.1002, Lat: 40.05}, // 17 m east of the reach
		{Lon: 118.125, Lat: 40.05},  // on the shared edge: the lower code
		{Lon: 118.2, Lat: 40.1},     // 8.5 km from the reach: none within 50 m
		{Lon: 116.397, Lat: 39.909}, // Beijing: no township
	} {
		loc := ix.Locate(p, 50)
		fmt.Printf("%q %q %.1f m; nearest %s at %.0f m\n",
			loc.Township, loc.Reach, loc.ReachDistanceM, loc.Candidates[0].Code, loc.Candidates[0].DistanceM)
	}
	// Output:
	// "130227102" "LH-01" 17.1 m; nearest LH-01 at 17 m
	// "130227101" "" 0.0 m; nearest LH-01 at 2133 m
	// "130227101" "" 0.0 m; nearest LH-01 at 8527 m
	// "" "" 0.0 m; nearest LH-01 at 145870 m
}

func ExampleParseTownships() {
	data := []byte(`{"type": "FeatureCollection", "features": [
	  {"type": "Feature",
	   "properties": {"code": "130227101", "name": "兴城镇", "kind": "town", "zone": "core"},
	   "geometry": {"type": "Polygon", "coordinates": [[[118.2, 40.1], [118.3, 40.1], [118.3, 40.2], [118.2, 40.2], [118.2, 40.1]]]}},
	  {"type": "Feature",
	   "properties": {"code": "130227102", "name": "栗乡街道", "kind": "subdistrict", "zone": "core"},
	   "geometry": {"type": "Polygon", "coordinates": [[[118.3, 40.1], [118.4, 40.2], [118.4, 40.1], [118.3, 40.2]]]}},
	  {"type": "Feature",
	   "properties": {"code": "130227101", "name": "经开区", "kind": "devzone", "zone": "central"},
	   "geometry": {"type": "Polygon", "coordinates": [[[40.1, 118.4], [40.1, 118.5], [40.2, 118.5], [40.1, 118.4]]]}}
	]}`)
	_, err := geo.ParseTownships(data, geo.ImportLimits{})
	var ie *geo.ImportError
	if errors.As(err, &ie) {
		for _, p := range ie.Problems {
			fmt.Println(p)
		}
	}
	fmt.Println(errors.Is(err, geo.ErrInvalidImport))

	ts, err := geo.ParseTownships([]byte(`{"type": "FeatureCollection", "features": [
	  {"type": "Feature",
	   "properties": {"code": "130227101", "name": "兴城镇", "kind": "town", "zone": "core"},
	   "geometry": {"type": "Polygon", "coordinates": [[[118.2, 40.1], [118.3, 40.1], [118.3, 40.2], [118.2, 40.2], [118.2, 40.1]]]}}
	]}`), geo.ImportLimits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ts[0].Code, ts[0].Name, ts[0].Boundary.NumPolygons(), ts[0].Boundary.SRID())
	// Output:
	// feature 1 (130227102): ring 0 is not closed: first position [118.3, 40.1] differs from last [118.3, 40.2]
	// feature 2 (130227101): duplicate code "130227101" (also feature 0)
	// feature 2 (130227101): property "zone" is "central", want one of core, periphery, general
	// feature 2 (130227101): longitude and latitude look swapped: the first position is [40.1, 118.4]; GeoJSON positions are [longitude, latitude]
	// true
	// 130227101 兴城镇 1 4326
}
