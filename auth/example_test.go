package auth_test

import (
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
)

func ExampleTokens() {
	entry, err := auth.GenerateKey() // in production: from configuration
	if err != nil {
		panic(err)
	}
	keys, err := auth.ParseKeySet(entry)
	if err != nil {
		panic(err)
	}
	now := func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }
	tokens, err := auth.NewTokens(auth.TokenConfig{Keys: keys, Clock: now})
	if err != nil {
		panic(err)
	}
	u := fieldwatch.User{ID: "7d1f9f8e-2b0a-4a3c-8c1e-0f5d6a7b8c9d", Role: fieldwatch.RoleRiverChief, Active: true}
	token, expiresIn, err := tokens.Issue(u)
	if err != nil {
		panic(err)
	}
	c, err := tokens.Verify(token)
	fmt.Println(expiresIn, c.Role, c.ExpiresAt.Format(time.RFC3339), err)

	_, err = tokens.Verify(token + "x")
	fmt.Println(err != nil)
	// Output:
	// 15m0s river_chief 2026-03-01T09:15:00Z <nil>
	// true
}

func ExampleLimiter() {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := auth.NewLimiter(auth.LimiterConfig{Clock: func() time.Time { return now }})
	for range 5 {
		if ok, _ := l.Allow("zhangsan", "203.0.113.7"); ok {
			l.Failure("zhangsan") // wrong password
		}
	}
	ok, retryAfter := l.Allow("zhangsan", "203.0.113.7")
	fmt.Println(ok, retryAfter)
	// Output: false 15m0s
}

func ExampleParseKeySet() {
	// Step 2 of a rotation: "new" signs, "old" still verifies. (Example
	// seeds only: real ones come from GenerateKey and stay secret.)
	keys, err := auth.ParseKeySet(
		"new:gt5mg8nrQCkpDh92g9QIyr7eUN0crTAMTpFqDS0ppvU," +
			"old:FnKlIf3_mwxP3O4t0VX90mHAlNFHhxFJ1DGnanszeC0")
	fmt.Println(keys, err)
	_, err = auth.ParseKeySet("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	fmt.Println(err)
	// Output:
	// auth.KeySet{signing: new, verifying: new,old} <nil>
	// auth: weak signing key: kid "k1": seed is not random
}
