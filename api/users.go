package api

import (
	"context"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
)

// ListUsers pages through users by username (keyset: the cursor is the
// last username of the previous page).
func (s *Server) ListUsers(ctx context.Context, req ListUsersRequestObject) (ListUsersResponseObject, error) {
	f := fieldwatch.UserFilter{Limit: 50}
	if req.Params.Limit != nil {
		f.Limit = *req.Params.Limit
	}
	if req.Params.Role != nil {
		r := fieldwatch.Role(*req.Params.Role)
		f.Role = &r
	}
	f.Active = req.Params.Active
	if req.Params.Cursor != nil {
		payload, err := s.cursors.open("users", *req.Params.Cursor)
		if err != nil {
			return nil, err
		}
		after, err := decodeCursor(payload)
		if err != nil {
			return nil, err
		}
		f.After = after
	}
	users, err := s.cfg.Accounts.ListUsers(ctx, f)
	if err != nil {
		return nil, err
	}
	page := UserPage{Items: make([]User, 0, len(users))}
	for _, u := range users {
		page.Items = append(page.Items, userOut(u))
	}
	if len(users) == f.Limit {
		next := s.cursors.seal("users", encodeCursor(users[len(users)-1].Username))
		page.NextCursor = &next
	}
	return ListUsers200JSONResponse(page), nil
}

// CreateUser adds an account.
func (s *Server) CreateUser(ctx context.Context, req CreateUserRequestObject) (CreateUserResponseObject, error) {
	b := req.Body
	in := auth.NewUser{
		Username:    b.Username,
		DisplayName: b.DisplayName,
		Role:        fieldwatch.Role(b.Role),
		Password:    b.Password,
	}
	if b.Phone != nil {
		in.Phone = *b.Phone
	}
	if b.Townships != nil {
		in.Townships = *b.Townships
	}
	u, err := s.cfg.Accounts.CreateUser(ctx, in)
	if err != nil {
		return nil, err
	}
	return CreateUser201JSONResponse(userOut(u)), nil
}

// GetUser shows one account.
func (s *Server) GetUser(ctx context.Context, req GetUserRequestObject) (GetUserResponseObject, error) {
	u, err := s.cfg.Accounts.User(ctx, req.Id.String())
	if err != nil {
		return nil, err
	}
	return GetUser200JSONResponse(userOut(u)), nil
}

// UpdateUser changes an account; see auth.UserUpdate for the effects on
// sessions.
func (s *Server) UpdateUser(ctx context.Context, req UpdateUserRequestObject) (UpdateUserResponseObject, error) {
	b := req.Body
	in := auth.UserUpdate{
		DisplayName: b.DisplayName,
		Phone:       b.Phone,
		Active:      b.Active,
		Password:    b.Password,
		Townships:   b.Townships,
	}
	if b.Role != nil {
		r := fieldwatch.Role(*b.Role)
		in.Role = &r
	}
	u, err := s.cfg.Accounts.UpdateUser(ctx, req.Id.String(), in)
	if err != nil {
		return nil, err
	}
	return UpdateUser200JSONResponse(userOut(u)), nil
}

// userOut is the public view of a user: never the password hash.
func userOut(u fieldwatch.User) User {
	out := User{
		Id:          mustUUID(u.ID),
		Username:    u.Username,
		DisplayName: u.DisplayName,
		Role:        Role(u.Role),
		Active:      u.Active,
		Townships:   nonNil(u.Townships),
		CreatedAt:   u.CreatedAt,
		UpdatedAt:   u.UpdatedAt,
	}
	if u.Phone != "" {
		out.Phone = &u.Phone
	}
	return out
}
