package inspect

import "errors"

// ErrInvalid marks input that breaks a domain rule. Errors that wrap it
// carry a message fit to show the client.
var ErrInvalid = errors.New("inspect: invalid")

// ErrNotFound marks an object that does not exist or is outside the
// actor's scope: the two must look the same to the caller.
var ErrNotFound = errors.New("inspect: not found")

// ErrForbidden marks an action the actor's role or position does not
// permit, such as verifying one's own rectification.
var ErrForbidden = errors.New("inspect: forbidden")

// ErrConflict marks a request the object's current state does not allow,
// or a change that lost a race with another; re-read and decide again.
var ErrConflict = errors.New("inspect: conflict")
