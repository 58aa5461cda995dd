package api

import (
	"context"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/inspect"
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
			p, err := s.cfg.Identity.Authenticate(req.Context(), token)
			if err != nil {
				return err
			}
			c.Set(ctxKeyUserID, p.UserID)
			if !rule.Allows(p) {
				return errForbidden
			}
			// The actor rides along in the context so that every audit
			// event the request's writes append names who acted.
			ctx := inspect.WithActor(withPrincipal(req.Context(), p), p.UserID)
			c.SetRequest(req.WithContext(ctx))
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

type principalKey struct{}

func withPrincipal(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principal is the authenticated caller. Handlers of non-public operations
// always have one: guard ran first.
func principal(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(auth.Principal)
	return p, ok
}
