package fieldwatch

import (
	"slices"
	"time"

	"github.com/fieldwatch/fieldwatch/media"
)

// ThumbnailState is where the previews of a photo stand. It is the one
// list of these states: the API's enum is checked against it.
type ThumbnailState string

// Thumbnail states. Adding one: here, ThumbnailStates, Evidence's
// ThumbnailState, the thumbnail_state enum in openapi.yaml, and the
// thumbnail_gave_up CHECK in the migrations if the worker stores it.
const (
	ThumbnailPending     ThumbnailState = "pending"     // not made yet; the worker will try (again)
	ThumbnailReady       ThumbnailState = "ready"       // every size is made
	ThumbnailFailed      ThumbnailState = "failed"      // given up after MaxAttempts failures; ThumbnailTries.Error says why
	ThumbnailUnsupported ThumbnailState = "unsupported" // no decoder for the format (HEIC/HEIF), or more pixels than a worker decodes
)

// ThumbnailStates lists every ThumbnailState.
func ThumbnailStates() []ThumbnailState {
	return []ThumbnailState{ThumbnailPending, ThumbnailReady, ThumbnailFailed, ThumbnailUnsupported}
}

// Valid reports whether s is one of ThumbnailStates.
func (s ThumbnailState) Valid() bool { return slices.Contains(ThumbnailStates(), s) }

// ThumbnailTries is the thumbnail worker's record of failed attempts at
// one photo's previews. Only failures that are the photo's own count: an
// unavailable photo store does not.
type ThumbnailTries struct {
	Attempts int        // failures so far
	NextAt   *time.Time // no attempt before this; nil: any time
	Error    string     // why the last attempt failed
	// GaveUp is ThumbnailFailed or ThumbnailUnsupported once the worker
	// stopped trying; "" while it goes on.
	GaveUp ThumbnailState
}

// ThumbnailState says where e's previews stand: given up on (failed or
// unsupported), unsupported by format, ready when every size of
// ThumbnailSizes is made, else pending.
func (e Evidence) ThumbnailState() ThumbnailState {
	if e.ThumbnailTries.GaveUp != "" {
		return e.ThumbnailTries.GaveUp
	}
	if f := formatOf(e.ContentType); f == media.FormatUnknown || f == media.FormatHEIC || f == media.FormatHEIF {
		return ThumbnailUnsupported
	}
	for _, n := range ThumbnailSizes() {
		if !slices.Contains(e.Thumbnails, n) {
			return ThumbnailPending
		}
	}
	return ThumbnailReady
}
