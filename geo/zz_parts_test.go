package geo

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkZZParts(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	area := Box{MinLon: 117.5, MinLat: 39.5, MaxLon: 119.5, MaxLat: 40.75}
	rs := walkReaches(rng, "R", 10000, 200, 0.000225, area)
	ix, _ := NewIndex(nil, rs)
	pts := randomPoints(rng, 4096, area)
	fmt.Println(ix.grid.bytes()>>20, "MiB")
	b.Run("grid", func(b *testing.B) {
		i := 0
		for b.Loop() {
			var s reachSearch
			s.p = pts[i%4096]
			s.kx, s.ky = metresPerDegree(s.p.Lat)
			s.stop2, s.lim = 1e300, 1e300
			ix.grid.nearest(&s)
			i++
		}
	})
	b.Run("gridSame", func(b *testing.B) {
		for b.Loop() {
			var s reachSearch
			s.p = pts[0]
			s.kx, s.ky = metresPerDegree(s.p.Lat)
			s.stop2, s.lim = 1e300, 1e300
			ix.grid.nearest(&s)
		}
	})
	b.Run("rank", func(b *testing.B) {
		i := 0
		for b.Loop() {
			var s reachSearch
			s.p = pts[i%4096]
			s.kx, s.ky = metresPerDegree(s.p.Lat)
			s.stop2, s.lim = 1e300, 1e300
			ix.grid.nearest(&s)
			ix.rankEllipsoidal(&s)
			i++
		}
	})
}
