// Package auth decides who is calling and what they may see: argon2id
// password hashes, EdDSA access tokens, rotating opaque refresh tokens,
// login rate limits and the scope policy of docs/glossary.md#roles.
//
// It knows nothing of HTTP or SQL. The API layer turns its errors into
// statuses (ErrUnauthenticated → 401, ErrRateLimited → 429) and the store
// satisfies the small RefreshStore interface declared here.
//
// # Login
//
// The API runs one login in this order, so that every failure looks and
// takes the same to the client:
//
//  1. Limiter.Allow(username, clientIP); refuse with ErrRateLimited and
//     Retry-After before touching the password.
//  2. Look the user up. Unknown user: Hasher.DummyVerify, Limiter.Failure,
//     ErrUnauthenticated.
//  3. Hasher.VerifyPassword. Wrong password or inactive user:
//     Limiter.Failure, ErrUnauthenticated (the same message for both).
//  4. Limiter.Success; if needsRehash, store Hasher.HashPassword(pw).
//  5. Sessions.Login issues the access token and the first refresh token
//     of a new family.
//
// # Every request
//
// Tokens.Verify checks the bearer token; the API then loads the user and,
// for river chiefs, their current reach assignments, and calls
// NewActor. Scope therefore follows the database, not the token: a
// deactivated user or a reassigned chief is refused on the next request
// (docs/reliability.md#a4), not when the token expires. Service caches
// both halves briefly: verified tokens until they expire (Tokens.Verify),
// user rows for ServiceConfig.UserCacheTTL, which bounds how late a change
// made by another process takes effect; its own changes apply at once.
package auth
