package api

import (
	"context"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
)

// guard authenticates and authorizes before the request is parsed or
// validated, so anonymous callers learn nothing about the shape of
// protected operations.
func (s *Server) guard(rule auth.Access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if rule.Public {
			return next
		}
		return func(c echo.Context) error {
			token, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
			if !ok {
				return auth.ErrUnauthenticated
			}
			req := c.Request()
			a, err := s.cfg.Identity.Authenticate(req.Context(), token)
			if err != nil {
				return err
			}
			c.Set(ctxKeyUserID, a.UserID)
			if !rule.Allows(a) {
				return errForbidden
			}
			// The actor rides along in the context: handlers hand it to
			// the domain, and every audit event the request's writes
			// append names who acted.
			c.SetRequest(req.WithContext(fieldwatch.WithActor(req.Context(), a)))
			return next(c)
		}
	}
}

// bearerToken extracts the token of an "Authorization: Bearer …" header.
func bearerToken(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != ""
}

// actor is the authenticated caller. Handlers of non-public operations
// always have one: guard ran first.
func actor(ctx context.Context) fieldwatch.Actor {
	a, _ := fieldwatch.ActorFromContext(ctx)
	return a
}
