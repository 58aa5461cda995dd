// Package media keeps evidence photos: the bytes inspectors upload, which
// must stay exactly as received. It defines one small interface, Store,
// and two implementations: Dir, a local directory for the embedded
// deployment, and S3, any S3-compatible object store (MinIO, versitygw,
// AWS) through minio-go. The contract test suite in media/mediatest is
// what makes them interchangeable; a new backend must pass it.
//
// The package imports nothing of HTTP handlers or SQL. Keys are generated
// by the server (ValidateKey gives their form); client file names are
// metadata kept elsewhere.
//
// # The upload promise
//
// A Put that returns nil stored exactly size bytes from the reader, whose
// SHA-256 is Object.SHA256 and equals PutOptions.SHA256 when one was
// declared, durably (Dir: fsynced file and directories; S3: the store's
// answer to the PUT), and read back (Dir: renamed into place only after
// the checks; S3: size and recorded hash re-read with a HEAD). A Put that
// returns an error leaves nothing visible under the key. Both backends
// read the body through the same checker, which refuses a short, long or
// wrong body before its last byte leaves, so no backend can commit one.
//
// # Errors
//
// Errors wrap one of ErrNotExist, ErrInvalidKey, ErrInvalidRange,
// ErrChecksumMismatch, ErrSizeMismatch, ErrUnavailable or ErrUnsupported
// when one applies, and always keep their cause for the log. The API turns
// the kinds into answers; ErrUnavailable means "503, Retry-After": the
// store is down, slow past the caller's deadline, throttling, rejecting
// our clock or credentials, missing its bucket, out of space, or it
// received corrupted bytes. ErrChecksumMismatch and ErrSizeMismatch are
// only ever about the caller's bytes (or, from Get, about stored bytes
// that rotted), never about transport trouble.
package media
