// Package media reads evidence photos: it tells their format by their
// first bytes (Sniff), reads their dimensions from the header without
// decoding the image (Inspect), keeps what the EXIF block says (ReadEXIF)
// and makes JPEG thumbnails (MakeThumbnails). It never alters or
// re-encodes an original.
//
// Every reader bounds what it allocates by what the header declares
// (DefaultMaxPixels), so an upload cannot make the server decode a
// decompression bomb. Storing the bytes is package blob's job; this
// package neither stores nor fetches anything, and imports nothing of
// HTTP or SQL.
//
// # Errors
//
// Errors wrap ErrUnsupportedFormat, ErrCorruptImage, ErrTooManyPixels or
// ErrThumbnailUnsupported when one applies, and always keep their cause
// for the log. The API answers 415 for the first and 422 for the next two.
package media
