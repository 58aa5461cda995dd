package api

import (
	"context"
	"errors"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/runtime/types"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
)

// Identity authenticates callers and runs the login session flow.
// Authenticate returns the caller as currently stored: a deactivated user or
// a changed assignment takes effect on the next request, not when the token
// expires.
type Identity interface {
	Authenticate(ctx context.Context, accessToken string) (fieldwatch.Actor, error)
	Login(ctx context.Context, username, password, clientAddr string) (auth.Pair, error)
	Refresh(ctx context.Context, refreshToken string) (auth.Pair, error)
	Logout(ctx context.Context, refreshToken string) error
}

// Accounts manages users (administrators only; the access rules say so).
type Accounts interface {
	CreateUser(ctx context.Context, in auth.NewUser) (fieldwatch.User, error)
	User(ctx context.Context, id string) (fieldwatch.User, error)
	ListUsers(ctx context.Context, f fieldwatch.UserFilter) ([]fieldwatch.User, error)
	UpdateUser(ctx context.Context, id string, in auth.UserUpdate) (fieldwatch.User, error)
}

// Login exchanges credentials for a token pair. Every failure, unknown
// user, wrong password or inactive account, is the same 401.
func (s *Server) Login(ctx context.Context, req LoginRequestObject) (LoginResponseObject, error) {
	pair, err := s.cfg.Identity.Login(ctx, req.Body.Username, req.Body.Password, clientAddr(ctx))
	if err != nil {
		return nil, err
	}
	return Login200JSONResponse(tokenPair(pair)), nil
}

// Refresh rotates a refresh token.
func (s *Server) Refresh(ctx context.Context, req RefreshRequestObject) (RefreshResponseObject, error) {
	pair, err := s.cfg.Identity.Refresh(ctx, req.Body.RefreshToken)
	if err != nil {
		return nil, err
	}
	return Refresh200JSONResponse(tokenPair(pair)), nil
}

// Logout revokes the token's family. An unusable token is not an error:
// the caller's goal, no live session for this token, holds either way.
func (s *Server) Logout(ctx context.Context, req LogoutRequestObject) (LogoutResponseObject, error) {
	if err := s.cfg.Identity.Logout(ctx, req.Body.RefreshToken); err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
		return nil, err
	}
	return Logout204Response{}, nil
}

// GetMe describes the caller and the scope in force now.
func (s *Server) GetMe(ctx context.Context, _ GetMeRequestObject) (GetMeResponseObject, error) {
	p := actor(ctx)
	u, err := s.cfg.Accounts.User(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	me := Me{
		Id:          mustUUID(u.ID),
		Username:    u.Username,
		DisplayName: u.DisplayName,
		Role:        Role(p.Role),
		Townships:   nonNil(p.Townships),
		Reaches:     nonNil(p.Reaches),
	}
	if u.Phone != "" {
		me.Phone = &u.Phone
	}
	return GetMe200JSONResponse(me), nil
}

func tokenPair(p auth.Pair) TokenPair {
	return TokenPair{
		AccessToken:  p.AccessToken,
		RefreshToken: p.RefreshToken,
		TokenType:    TokenPairTokenTypeBearer,
		ExpiresIn:    int(p.ExpiresIn / time.Second),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// mustUUID converts a store id; ids are always UUIDs the server minted.
func mustUUID(id string) types.UUID {
	var u types.UUID
	_ = u.UnmarshalText([]byte(id))
	return u
}

type clientAddrKey struct{}

// withRequestInfo puts what strict handlers need of the HTTP request on
// its context: the client address (as the trusted IPExtractor sees it) for
// login limits, and the Accept header for content negotiation.
func withRequestInfo(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		ctx := context.WithValue(req.Context(), clientAddrKey{}, c.RealIP())
		ctx = withAccept(ctx, req.Header.Get(echo.HeaderAccept))
		ctx = context.WithValue(ctx, lengthKey{}, req.ContentLength)
		c.SetRequest(req.WithContext(ctx))
		return next(c)
	}
}

type lengthKey struct{}

// requestLength is the request's Content-Length (-1 when unknown).
func requestLength(ctx context.Context) int64 {
	n, ok := ctx.Value(lengthKey{}).(int64)
	if !ok {
		return -1
	}
	return n
}

func clientAddr(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}
