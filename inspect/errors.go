package inspect

import "errors"

// ErrInvalid marks input that breaks a domain rule. Errors that wrap it
// carry a message fit to show the client.
var ErrInvalid = errors.New("inspect: invalid")
