package geo_test

import (
	"errors"
	"fmt"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch/geo"
)

func ExampleDistance() {
	// Qianxi county seat to a point 0.1° further east and north.
	a := geo.Point{Lon: 118.33, Lat: 40.20}
	b := geo.Point{Lon: 118.43, Lat: 40.30}
	fmt.Printf("%.1f m\n", geo.Distance(a, b))
	// Output: 13988.8 m
}

func ExampleGCJ02ToWGS84() {
	// A position picked on an AMap (GCJ-02) map of Tiananmen, Beijing.
	gcj := geo.Point{Lon: 116.397586189152, Lat: 39.908776292233}
	wgs := geo.GCJ02ToWGS84(gcj)
	fmt.Printf("WGS-84 %.6f, %.6f\n", wgs.Lon, wgs.Lat)
	fmt.Printf("offset %.0f m\n", geo.Distance(gcj, wgs))
	// Output:
	// WGS-84 116.391345, 39.907375
	// offset 556 m
}

func ExampleDistanceToLineString() {
	// A reach running east from 118.30°E along 40.20°N, then north.
	reach := geom.NewLineStringFlat(geom.XY, []float64{
		118.30, 40.20,
		118.31, 40.20,
		118.31, 40.21,
	})
	photo := geo.Point{Lon: 118.305, Lat: 40.2002}
	d, closest, err := geo.DistanceToLineString(photo, reach)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.1f m from %.4f, %.4f\n", d, closest.Lon, closest.Lat)
	// Output: 22.2 m from 118.3050, 40.2000
}

func ExampleValidateChinaLonLat() {
	err := geo.ValidateChinaLonLat(40.2, 118.33) // lat and lon exchanged
	fmt.Println(err)
	fmt.Println(errors.Is(err, geo.ErrSwappedLonLat), errors.Is(err, geo.ErrInvalidCoordinate))
	// Output:
	// geo: invalid coordinate: longitude and latitude look swapped: got lon 40.2, lat 118.33
	// true true
}

func ExampleToWGS84() {
	crs, err := geo.ParseCRS("BD-09")
	if err != nil {
		fmt.Println(err)
		return
	}
	// A position picked on a Baidu map of the county seat.
	wgs, err := geo.ToWGS84(geo.Point{Lon: 118.342732, Lat: 40.207615}, crs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s → wgs84 %.5f, %.5f\n", crs, wgs.Lon, wgs.Lat)
	// Output: bd09 → wgs84 118.33000, 40.20000
}

func ExampleBox_Expand() {
	// The demo county's bounding box, and a photo about 1 km east of it.
	county := geo.Box{MinLon: 117.991504, MinLat: 39.984678, MaxLon: 118.617622, MaxLat: 40.413176}
	photo := geo.Point{Lon: 118.63, Lat: 40.30}
	fmt.Println(county.Contains(photo), county.Expand(2000).Contains(photo))
	// Output: false true
}
