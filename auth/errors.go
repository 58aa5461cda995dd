package auth

import (
	"errors"
	"fmt"

	"github.com/fieldwatch/fieldwatch"
)

// Errors returned by this package. Match them with errors.Is: most are
// wrapped with a reason that belongs in logs. Those a client may see carry
// the domain's codes (fieldwatch.ErrorCode) and a message fit for it.
var (
	// ErrUnauthenticated covers every credential the caller cannot use: a
	// bad, expired or revoked token, a wrong password, an unknown or
	// inactive user. Clients see one message for all of them, so an
	// attacker learns nothing about which one it was.
	ErrUnauthenticated error = fieldwatch.NewSentinel(fieldwatch.EUNAUTHENTICATED, "auth: unauthenticated",
		"missing, invalid or expired credentials")

	// ErrRefreshReuse is returned when a refresh token that was already
	// exchanged is presented again after the grace window. The whole
	// family has been revoked. It wraps ErrUnauthenticated; the API should
	// log it as a security event.
	ErrRefreshReuse = fmt.Errorf("%w: refresh token reused, family revoked", ErrUnauthenticated)

	// ErrRateLimited is what the API answers (429 with Retry-After) when
	// Limiter.Allow refuses an attempt.
	ErrRateLimited error = fieldwatch.NewSentinel(fieldwatch.ERATELIMITED, "auth: too many attempts", rateLimitedMessage)

	// ErrWeakPassword marks a new password that breaks the password rules
	// (too short). The wrapping message is fit to show the user.
	ErrWeakPassword error = fieldwatch.NewSentinel(fieldwatch.EINVALID, "auth: weak password", "weak password")

	// ErrInvalidPassword marks a password that cannot be a password at
	// all: invalid UTF-8, a NUL character, or longer than the maximum. The
	// wrapping message is fit to show the user.
	ErrInvalidPassword error = fieldwatch.NewSentinel(fieldwatch.EINVALID, "auth: invalid password", "invalid password")

	// ErrInvalidHash marks a stored password hash that is not a PHC string
	// this package accepts. It means corrupt or foreign data in the store,
	// never a wrong password.
	ErrInvalidHash = errors.New("auth: invalid password hash")

	// ErrWeakKey marks signing-key configuration the service refuses to
	// start with.
	ErrWeakKey = errors.New("auth: weak signing key")
)

// rateLimitedMessage is what a refused login attempt tells the client.
const rateLimitedMessage = "too many attempts; retry later"
