package demo

import "testing"

func TestCountyBox(t *testing.T) {
	b, err := CountyBox()
	if err != nil {
		t.Fatal(err)
	}
	// Qianxi county lies around 118.33°E 40.20°N.
	if b.MinLon > 118.33 || b.MaxLon < 118.33 || b.MinLat > 40.20 || b.MaxLat < 40.20 {
		t.Fatalf("county box %+v does not contain 118.33,40.20", b)
	}
	if b.MaxLon-b.MinLon > 1 || b.MaxLat-b.MinLat > 1 {
		t.Fatalf("county box %+v is larger than a county", b)
	}
}
