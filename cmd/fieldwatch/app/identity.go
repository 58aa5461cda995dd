package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/internal/durable"
	"github.com/fieldwatch/fieldwatch/store"
)

// NewIdentity wires token signing, refresh sessions, password hashing and
// login limits to the store.
// A river chief's scope is the reaches atlas assigns them today; nil
// atlas (user management commands) leaves chiefs without reaches.
func NewIdentity(c Config, db *store.Store, atlas *fieldwatch.Atlas) (*auth.Service, error) {
	keys, err := SigningKeys(c)
	if err != nil {
		return nil, err
	}
	return newIdentity(c, keys, db, atlas, Options{})
}

func newIdentity(c Config, keys *auth.KeySet, db *store.Store, atlas *fieldwatch.Atlas, o Options) (*auth.Service, error) {
	now := o.clock()
	var reaches auth.ReachScope
	if atlas != nil {
		reaches = func(ctx context.Context, userID string) ([]string, error) {
			return atlas.ChiefReaches(ctx, userID, now())
		}
	}
	userCache := c.UserCacheTTL
	if userCache == 0 {
		userCache = -1 // off, in auth's terms
	}
	return auth.New(db, store.ErrNotFound, auth.Options{
		UserCacheTTL: userCache,
		Reaches:      reaches,
		Keys:         keys,
		Issuer:       c.JWTIssuer,
		Audience:     c.JWTAudience,
		AccessTTL:    c.AccessTTL,
		RefreshTTL:   c.RefreshTTL,
		Limits:       o.LoginLimits,
		Clock:        o.Clock,
	})
}

// SigningKeys are the configured keys or, for the embedded deployment, a
// key generated once into DATA_DIR/jwt-keys (mode 0600) so that tokens
// survive restarts. Production sets FIELDWATCH_JWT_KEYS on every replica.
func SigningKeys(c Config) (*auth.KeySet, error) {
	if c.JWTKeys != "" {
		return auth.ParseKeySet(c.JWTKeys)
	}
	path := filepath.Join(c.DataDir, "jwt-keys")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := auth.GenerateKey()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
			return nil, err
		}
		// Written whole under a temporary name and linked into place, so
		// that a process starting at the same moment never reads an empty
		// file: it finds none (and links its own, which fails) or this one.
		f, err := os.CreateTemp(c.DataDir, "jwt-keys-*.tmp")
		if err != nil {
			return nil, fmt.Errorf("jwt key file: %w", err)
		}
		defer os.Remove(f.Name())
		_, werr := f.WriteString(key + "\n")
		if err := errors.Join(werr, f.Chmod(0o600), f.Sync(), f.Close()); err != nil {
			return nil, fmt.Errorf("jwt key file: %w", err)
		}
		err = os.Link(f.Name(), path)
		if errors.Is(err, fs.ErrExist) {
			return SigningKeys(c) // another process made it first
		}
		if err != nil {
			return nil, fmt.Errorf("jwt key file: %w", err)
		}
		if err := durable.Sync(c.DataDir); err != nil {
			return nil, fmt.Errorf("jwt key file: %w", err)
		}
		return auth.ParseKeySet(key)
	}
	if err != nil {
		return nil, fmt.Errorf("jwt key file: %w", err)
	}
	return auth.ParseKeySet(strings.TrimSpace(string(b)))
}
