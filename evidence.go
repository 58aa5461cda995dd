package fieldwatch

import (
	"slices"
	"time"

	"github.com/fieldwatch/fieldwatch/geo"
)

// Category is the kind of problem a photo shows. Categories is its one
// list: the store, the API's enum, reports and the console follow it (see
// docs/adding-a-category.md for the places a new one takes).
type Category string

// The campaign categories (docs/glossary.md#categories).
const (
	CategoryDustSite     Category = "dust_site"     // 扬尘: construction site, road, material yard
	CategoryOpenBurning  Category = "open_burning"  // 露天焚烧: straw, garbage
	CategoryRiverSection Category = "river_section" // 河段问题: garbage, outfall, sand mining
	CategoryOther        Category = "other"
)

// Categories lists every category, in the order reports and the console
// show them.
func Categories() []Category {
	return []Category{CategoryDustSite, CategoryOpenBurning, CategoryRiverSection, CategoryOther}
}

// Valid reports whether c is one of Categories.
func (c Category) Valid() bool { return slices.Contains(Categories(), c) }

// Label is c's Chinese name, as exports show it; an unknown category (or
// "", all categories) shows as it is.
func (c Category) Label() string {
	switch c {
	case CategoryDustSite:
		return "扬尘"
	case CategoryOpenBurning:
		return "露天焚烧"
	case CategoryRiverSection:
		return "河段问题"
	case CategoryOther:
		return "其他"
	}
	return string(c)
}

// ParseCategory returns the category named s or an error wrapping ErrInvalid.
func ParseCategory(s string) (Category, error) {
	if c := Category(s); c.Valid() {
		return c, nil
	}
	return "", Errorf(EINVALID, "category: unknown category %q", s)
}

// Flag marks something a reviewer should look at. Flags never reject an
// upload: evidence is kept and its doubts are recorded beside it.
type Flag string

// Evidence flags.
const (
	FlagEXIFMissing        Flag = "exif_missing"         // no usable EXIF GPS position
	FlagEXIFDeviceMismatch Flag = "exif_device_mismatch" // EXIF and device positions disagree beyond the threshold
	FlagLocationMissing    Flag = "location_missing"     // neither EXIF nor device gave a position
	FlagMockLocation       Flag = "mock_location"        // the phone reported a mock (simulated) device fix
	FlagCaptureTimeFuture  Flag = "capture_time_future"  // capture time after receipt (beyond clock skew)
	FlagCaptureStale       Flag = "capture_stale"        // captured long before receipt
	FlagCaptureTimeMissing Flag = "capture_time_missing" // neither EXIF nor the phone gave a capture time
	FlagOutsideCounty      Flag = "outside_county"       // the position lies outside the county
	FlagDecodeIncomplete   Flag = "decode_incomplete"    // the image is truncated or its metadata is damaged
	FlagDuplicateOf        Flag = "duplicate_of"         // the same bytes were submitted before
)

// Flags lists every flag. The database accepts any non-empty name: a new
// flag takes its constant, a place here, and the API's enum.
func Flags() []Flag {
	return []Flag{FlagEXIFMissing, FlagEXIFDeviceMismatch, FlagLocationMissing, FlagMockLocation,
		FlagCaptureTimeFuture, FlagCaptureStale, FlagCaptureTimeMissing, FlagOutsideCounty,
		FlagDecodeIncomplete, FlagDuplicateOf}
}

// Valid reports whether f is one of Flags.
func (f Flag) Valid() bool { return slices.Contains(Flags(), f) }

// Source says where a position or a capture time came from.
type Source string

// Sources of positions and capture times.
const (
	SourceEXIF   Source = "exif"
	SourceDevice Source = "device"
	SourceNone   Source = "none"
)

// Sources lists every Source.
func Sources() []Source { return []Source{SourceEXIF, SourceDevice, SourceNone} }

// Valid reports whether s is one of Sources.
func (s Source) Valid() bool { return slices.Contains(Sources(), s) }

// DeviceFix is the position the phone reported beside the photo, as
// received, plus its WGS-84 equivalent.
type DeviceFix struct {
	Lon, Lat  float64 // as received, in CRS
	CRS       geo.CRS
	WGS84     geo.Point
	AccuracyM *float64
	Provider  string // "gps", "network", "fused", an SDK name…
	Mock      bool   // the OS says the fix came from a mock provider
}

// PhotoEXIF is what the server read from the photo's own metadata. Every
// field is optional; Problems says why a present-but-unusable field was
// dropped.
type PhotoEXIF struct {
	Position     *geo.Point
	AltitudeM    *float64
	GPSTime      *time.Time
	TakenAt      *time.Time // DateTimeOriginal; in UTC when TakenAtZoned
	TakenAtZoned bool       // OffsetTimeOriginal was present
	Orientation  int        // 1–8, 0 when absent
	Make, Model  string
	DirectionDeg *float64
	Problems     []string
}

// Evidence is one stored photo and what is known about it. It is never
// edited after it is stored; reviews and cases are records beside it.
type Evidence struct {
	ID          string
	UploaderID  string
	Category    Category
	Subcategory string
	Note        string

	SHA256      string // hex
	Size        int64
	ContentType string // sniffed from the bytes
	ObjectKey   string // server-generated, content-addressed
	Width       int    // as stored, before orientation
	Height      int

	ReceivedAt        time.Time // server time: authoritative
	CapturedAt        *time.Time
	CaptureTimeSource Source

	Location            *geo.Point // WGS-84
	LocationSource      Source
	EXIF                PhotoEXIF
	Device              *DeviceFix
	EXIFDeviceDistanceM *float64

	Flags       []Flag
	DuplicateOf string // id of the first evidence with the same bytes

	// TownshipCode and ReachCode say who answers for the place; set by
	// linking, empty until then or when nothing contains the point.
	TownshipCode string
	ReachCode    string
	// Responsibility records how TownshipCode and ReachCode were decided
	// and who answered for the place then; nil until linking records it.
	Responsibility *Responsibility

	Thumbnails []int // sizes made so far, e.g. 320, 1280
	// ThumbnailTries records the thumbnail worker's failures; zero while
	// none. See ThumbnailState.
	ThumbnailTries ThumbnailTries
}

// HasFlag reports whether e carries f.
func (e Evidence) HasFlag(f Flag) bool {
	for _, g := range e.Flags {
		if g == f {
			return true
		}
	}
	return false
}

// SubmissionState is where an idempotent upload stands.
type SubmissionState string

// Submission states.
const (
	SubmissionPending SubmissionState = "pending" // claimed; bytes arriving or being stored
	SubmissionStored  SubmissionState = "stored"  // evidence committed
)

// SubmissionStates lists every SubmissionState.
func SubmissionStates() []SubmissionState {
	return []SubmissionState{SubmissionPending, SubmissionStored}
}

// Valid reports whether s is one of SubmissionStates.
func (s SubmissionState) Valid() bool { return slices.Contains(SubmissionStates(), s) }

// SubmissionAttempt names one claim on a submission: the attempt token
// ClaimSubmission handed out for (UserID, Key). Heartbeats name claims
// this way.
type SubmissionAttempt struct {
	UserID, Key, Attempt string
}

// Submission records an upload under a (user, Idempotency-Key) pair, so
// that a retry replays the original answer instead of storing twice.
type Submission struct {
	UserID      string
	Key         string // the client's Idempotency-Key (a UUID)
	State       SubmissionState
	Fingerprint []byte // SHA-256 over the photo's hash and the raw meta part; set when stored
	EvidenceID  string // set when stored
	CreatedAt   time.Time
	UpdatedAt   time.Time // heartbeat while pending
	// Attempt is the token of the claim that holds a pending submission:
	// a takeover gets a new one, so the request it replaced can no longer
	// commit or release.
	Attempt string
}

// EvidenceFilter selects evidence for a listing. Nil fields do not filter.
// Results are ordered newest first by ReceivedAt, then ID; After is the
// (ReceivedAt, ID) of the last item of the previous page.
type EvidenceFilter struct {
	Category *Category
	Township *string // linked township code
	Reach    *string // linked reach code
	// ReviewState: ReviewPending (never reviewed) or the latest Decision;
	// one of ReviewStates.
	ReviewState *string
	UploaderID  *string
	Flag        *Flag
	From, To    *time.Time // ReceivedAt in [From, To)
	BBox        *geo.Box
	Near        *geo.Point
	RadiusM     float64 // with Near

	// Scope limits results to what a non-admin caller may see: their own
	// uploads, evidence linked to their townships, or to their reaches.
	Scope *Scope

	AfterTime *time.Time
	AfterID   string
	Limit     int
}

// Upload is a direct upload session: the phone PUTs the photo straight
// to the photo store under ObjectKey, then completes it into evidence.
// See NewUpload for its lifetimes.
type Upload struct {
	ID        string
	UserID    string
	ObjectKey string
	Size      int64
	SHA256    string // declared, hex
	CreatedAt time.Time
	// ExpiresAt is the session's deadline: while open, for its
	// completion (the URL's expiry plus UploadGrace); once completed, for
	// replays of the completion (UploadReplayRetention).
	ExpiresAt time.Time
	// CompletedAt is set when the session became evidence; its object is
	// then no longer needed.
	CompletedAt *time.Time
}

// Decision is a reviewer's verdict on evidence.
type Decision string

// Review decisions. Withdrawing evidence is a review too: evidence is
// never deleted.
const (
	DecisionAccepted  Decision = "accepted"
	DecisionRejected  Decision = "rejected"
	DecisionNeedsInfo Decision = "needs_info"
	DecisionWithdrawn Decision = "withdrawn"
)

// Decisions lists every Decision.
func Decisions() []Decision {
	return []Decision{DecisionAccepted, DecisionRejected, DecisionNeedsInfo, DecisionWithdrawn}
}

// Valid reports whether d is one of Decisions.
func (d Decision) Valid() bool { return slices.Contains(Decisions(), d) }

// ReviewPending is the review state of evidence nobody has reviewed yet;
// after a review, its state is the latest Decision.
const ReviewPending = "pending"

// ReviewStates lists the review states a listing filters on: ReviewPending,
// then every Decision.
func ReviewStates() []string {
	out := []string{ReviewPending}
	for _, d := range Decisions() {
		out = append(out, string(d))
	}
	return out
}

// Review is one decision on evidence; the latest is its review state, all
// of them its history.
type Review struct {
	ID         string
	EvidenceID string
	ReviewerID string
	Decision   Decision
	Note       string
	At         time.Time
}
