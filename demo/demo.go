// Package demo holds the synthetic demo county (boundaries are a Voronoi
// partition placed where Qianxi county, Hebei lies, not official data):
// its outline, 14 townships and 15 river reaches as RFC 7946 GeoJSON,
// embedded so that `fieldwatch serve --demo` works from the binary alone.
package demo

import (
	_ "embed"
	"fmt"

	"github.com/twpayne/go-geom/encoding/geojson"

	"github.com/fieldwatch/fieldwatch/geo"
)

// The demo county's GeoJSON documents.
var (
	//go:embed county.geojson
	CountyGeoJSON []byte
	//go:embed townships.geojson
	TownshipsGeoJSON []byte
	//go:embed reaches.geojson
	ReachesGeoJSON []byte
)

// CountyBox is the bounding box of the demo county's outline.
func CountyBox() (geo.Box, error) {
	var fc geojson.FeatureCollection
	if err := fc.UnmarshalJSON(CountyGeoJSON); err != nil {
		return geo.Box{}, fmt.Errorf("demo: county: %w", err)
	}
	if len(fc.Features) != 1 {
		return geo.Box{}, fmt.Errorf("demo: county: want 1 feature, got %d", len(fc.Features))
	}
	return geo.BoxOf(fc.Features[0].Geometry)
}
