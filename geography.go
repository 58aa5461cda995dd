package fieldwatch

import (
	"slices"
	"time"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch/geo"
)

// Zone is a township's assessment tier (the seed's three areas:
// 核心区域, 中心周边区域, 一般区域).
type Zone string

// Zone tiers.
const (
	ZoneCore      Zone = "core"
	ZonePeriphery Zone = "periphery"
	ZoneGeneral   Zone = "general"
)

// Zones lists every Zone, in the order of the assessment's tier sheets.
func Zones() []Zone { return []Zone{ZoneCore, ZonePeriphery, ZoneGeneral} }

// Valid reports whether z is one of Zones.
func (z Zone) Valid() bool { return slices.Contains(Zones(), z) }

// Label is z's Chinese name, as exports show it; an unknown zone shows as
// it is.
func (z Zone) Label() string {
	switch z {
	case ZoneCore:
		return "核心区"
	case ZonePeriphery:
		return "外围区"
	case ZoneGeneral:
		return "一般区"
	}
	return string(z)
}

// Township is one version of a township's boundary (乡镇/街道/经开区).
// Boundaries are versioned: a re-import adds a version effective from its
// date rather than rewriting history, so evidence keeps the boundary that
// was in force when it was taken.
type Township struct {
	Code          string // 9 digits
	Name          string
	NameEN        string
	Kind          string // town, township, subdistrict, devzone
	Zone          Zone
	Boundary      *geom.MultiPolygon // WGS-84, SRID 4326
	Version       int64              // import batch that created this version
	EffectiveFrom time.Time
	EffectiveTo   *time.Time // nil while current
}

// Reach is one version of a river reach (河段): a line cut at township
// boundaries, lying in one township.
type Reach struct {
	Code          string // e.g. LH-03
	River         string
	RiverEN       string
	Name          string
	TownshipCode  string
	Line          *geom.MultiLineString // WGS-84, SRID 4326
	Version       int64
	EffectiveFrom time.Time
	EffectiveTo   *time.Time
}

// ChiefLevel is the administrative level of a river chief.
type ChiefLevel string

// River chief levels.
const (
	ChiefCounty   ChiefLevel = "county"
	ChiefTownship ChiefLevel = "township"
	ChiefVillage  ChiefLevel = "village"
)

// ChiefLevels lists every ChiefLevel from the top: county, township,
// village.
func ChiefLevels() []ChiefLevel { return []ChiefLevel{ChiefCounty, ChiefTownship, ChiefVillage} }

// Valid reports whether l is one of ChiefLevels.
func (l ChiefLevel) Valid() bool { return slices.Contains(ChiefLevels(), l) }

// Rank is l's place in ChiefLevels, 0 for the county; -1 when unknown.
func (l ChiefLevel) Rank() int { return slices.Index(ChiefLevels(), l) }

// ChiefAssignment makes a user with role river_chief answer for a reach at
// a level from ValidFrom until ValidTo (nil: open-ended).
type ChiefAssignment struct {
	ReachCode string
	UserID    string
	Level     ChiefLevel
	ValidFrom time.Time
	ValidTo   *time.Time
}

// Responsibility is who answers for a piece of evidence, worked out when
// it was stored and kept with it: the township containing the point, the
// nearest reach within tolerance, and the chiefs of that reach at capture
// time, with the distances that explain the choice.
type Responsibility struct {
	TownshipCode string
	TownshipName string
	Zone         Zone
	ReachCode    string
	ReachName    string
	ReachDistM   float64
	Chiefs       []ChiefRef
	Candidates   []ReachCandidate // up to three nearest reaches
	Method       string           // how it was decided, e.g. "exif-point-in-polygon"
	Version      int64            // boundary version used
}

// ChiefRef names a chief assigned to a reach.
type ChiefRef struct {
	UserID string
	Name   string
	Level  ChiefLevel
}

// ReachCandidate is a reach near a point.
type ReachCandidate struct {
	Code      string
	DistanceM float64
}

// ReachQuery selects reaches in force at At. Nil fields do not filter.
type ReachQuery struct {
	At          time.Time
	Township    *string
	River       *string
	ChiefUserID *string // reaches this chief answers for at At
	BBox        *geo.Box
}
