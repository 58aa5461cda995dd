package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Login rate-limit defaults.
const (
	DefaultAccountFailures = 5
	DefaultAccountWindow   = 15 * time.Minute
	DefaultLockout         = 15 * time.Minute
	DefaultMaxLockout      = time.Hour
	DefaultAddrAttempts    = 20
	DefaultAddrWindow      = time.Minute
	DefaultMaxEntries      = 10000

	maxLimiterKey = 256
	sweepEvery    = time.Minute
)

// LimiterConfig configures a Limiter. Zero fields take the defaults.
type LimiterConfig struct {
	// AccountFailures failed logins within AccountWindow lock the account
	// for Lockout; each further lockout doubles it, up to MaxLockout. The
	// doubling is forgotten once the account has been quiet for
	// MaxLockout after its last lockout, or on a successful login.
	AccountFailures int
	AccountWindow   time.Duration
	Lockout         time.Duration
	MaxLockout      time.Duration

	// AddrAttempts attempts (failed or not) per client address per
	// AddrWindow, as a token bucket (GCRA, exact in integer time): a burst
	// of AddrAttempts, then one every AddrWindow/AddrAttempts.
	AddrAttempts int
	AddrWindow   time.Duration

	// MaxEntries bounds each of the two tables (accounts, addresses), so
	// a flood of made-up usernames or addresses cannot grow memory
	// without limit. When a table is full, expired entries go first, then
	// (for accounts) ones that are not locked.
	MaxEntries int

	Clock func() time.Time // default time.Now
}

// Limiter throttles login attempts per account and per client address
// (docs/reliability.md#b10). It is safe for concurrent use.
//
// Counters live in memory and are per replica: with N replicas an
// attacker whose requests are spread across them gets up to N times the
// limits. That is accepted (docs/glossary.md#deployments); the account lockout still
// caps online guessing at a few attempts per hour per replica.
//
// The address must be the one Echo's IPExtractor trusts, never a raw
// X-Forwarded-For, or rotating that header bypasses the limit. IPv6
// addresses are counted per /64, which one subscriber usually holds
// whole.
//
// Locking an account by failing its logins is possible for anyone who
// knows the username; the lockout is kept short and success resets it
// so the damage is bounded. Count unknown usernames like known ones, so
// that lockouts do not reveal which accounts exist.
type Limiter struct {
	cfg LimiterConfig

	mu        sync.Mutex
	accounts  map[string]*accountState
	addrs     map[string]time.Time // address key → GCRA theoretical arrival time
	lastSweep time.Time
}

type accountState struct {
	failures    int // within the window that began at windowStart
	windowStart time.Time
	lockedUntil time.Time
	strikes     int // lockouts so far; the next lasts Lockout << strikes
}

// NewLimiter returns a Limiter for cfg with defaults filled in.
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.AccountFailures <= 0 {
		cfg.AccountFailures = DefaultAccountFailures
	}
	if cfg.AccountWindow <= 0 {
		cfg.AccountWindow = DefaultAccountWindow
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = DefaultLockout
	}
	if cfg.MaxLockout <= 0 {
		cfg.MaxLockout = DefaultMaxLockout
	}
	if cfg.MaxLockout < cfg.Lockout {
		cfg.MaxLockout = cfg.Lockout
	}
	if cfg.AddrAttempts <= 0 {
		cfg.AddrAttempts = DefaultAddrAttempts
	}
	if cfg.AddrWindow <= 0 {
		cfg.AddrWindow = DefaultAddrWindow
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Limiter{
		cfg:      cfg,
		accounts: make(map[string]*accountState),
		addrs:    make(map[string]time.Time),
	}
}

// Allow reports whether a login attempt for account from addr may go
// ahead, and if not, how long the client should wait (the API rounds it
// up to whole seconds for Retry-After). Each call within the address
// limit spends one of addr's attempts, even if the account is locked, so
// call it once per attempt, before checking the
// password, and then Failure or Success with the outcome. A locked
// account is refused without looking at the password, so the lockout
// gives away nothing about it.
func (l *Limiter) Allow(account, addr string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Clock()
	l.maybeSweep(now)

	k := addrKey(addr)
	tat, seen := l.addrs[k]
	if !seen {
		l.makeRoomAddrs(now)
	}
	// GCRA: tat is when the address's bucket would be full again. One
	// attempt costs interval; a burst may run ahead of now by up to
	// AddrWindow - interval.
	interval := l.cfg.AddrWindow / time.Duration(l.cfg.AddrAttempts)
	if tat.Before(now) {
		tat = now
	}
	if ahead := tat.Sub(now); ahead > l.cfg.AddrWindow-interval {
		return false, ahead - (l.cfg.AddrWindow - interval)
	}
	l.addrs[k] = tat.Add(interval)

	if st := l.accounts[accountKey(account)]; st != nil && now.Before(st.lockedUntil) {
		return false, st.lockedUntil.Sub(now)
	}
	return true, 0
}

// Failure records a failed login for account (wrong password, unknown
// or inactive user).
func (l *Limiter) Failure(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Clock()
	k := accountKey(account)
	st := l.accounts[k]
	switch {
	case st == nil:
		l.makeRoomAccounts(now)
		st = &accountState{windowStart: now}
		l.accounts[k] = st
	case l.accountExpired(st, now):
		// Whether or not a sweep has run yet, the backoff has lapsed.
		*st = accountState{windowStart: now}
	}
	if !now.Before(st.windowStart.Add(l.cfg.AccountWindow)) {
		st.failures, st.windowStart = 0, now
	}
	st.failures++
	if st.failures < l.cfg.AccountFailures {
		return
	}
	d := l.cfg.MaxLockout
	if st.strikes < 30 && l.cfg.Lockout<<st.strikes < d {
		d = l.cfg.Lockout << st.strikes
	}
	st.strikes++
	st.lockedUntil = now.Add(d)
	st.failures, st.windowStart = 0, now
}

// Success forgets the account's failures and lockout history.
func (l *Limiter) Success(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.accounts, accountKey(account))
}

// accountExpired reports whether forgetting the entry changes nothing: its
// window and lockout are over and the doubling has lapsed.
func (l *Limiter) accountExpired(st *accountState, now time.Time) bool {
	return !now.Before(st.windowStart.Add(l.cfg.AccountWindow)) &&
		!now.Before(st.lockedUntil.Add(l.cfg.MaxLockout))
}

func (l *Limiter) maybeSweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	l.sweepAccounts(now)
	l.sweepAddrs(now)
}

func (l *Limiter) sweepAccounts(now time.Time) {
	for k, st := range l.accounts {
		if l.accountExpired(st, now) {
			delete(l.accounts, k)
		}
	}
}

func (l *Limiter) sweepAddrs(now time.Time) {
	for k, tat := range l.addrs {
		if !now.Before(tat) { // bucket full again: the entry says nothing
			delete(l.addrs, k)
		}
	}
}

// makeRoomAccounts keeps locked accounts longest: evicting one would
// let an attacker unlock a victim by flooding the table with made-up
// usernames.
func (l *Limiter) makeRoomAccounts(now time.Time) {
	if len(l.accounts) < l.cfg.MaxEntries {
		return
	}
	l.sweepAccounts(now)
	if len(l.accounts) < l.cfg.MaxEntries {
		return
	}
	victim, soonest := "", time.Time{}
	for k, st := range l.accounts {
		if !now.Before(st.lockedUntil) {
			victim = k
			break
		}
		if victim == "" || st.lockedUntil.Before(soonest) {
			victim, soonest = k, st.lockedUntil
		}
	}
	delete(l.accounts, victim)
}

func (l *Limiter) makeRoomAddrs(now time.Time) {
	if len(l.addrs) < l.cfg.MaxEntries {
		return
	}
	l.sweepAddrs(now)
	if len(l.addrs) < l.cfg.MaxEntries {
		return
	}
	for k := range l.addrs { // random order: evict any one
		delete(l.addrs, k)
		return
	}
}

// accountKey matches the store's username rule (NFC, ASCII lower-cased),
// so "Zhang" and "zhang" share one counter.
func accountKey(s string) string {
	if len(s) > maxLimiterKey {
		return hashKey(s)
	}
	s = norm.NFC.String(s)
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// addrKey counts IPv4 per address and IPv6 per /64.
func addrKey(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		if len(s) > maxLimiterKey {
			return hashKey(s)
		}
		return s
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64) // cannot fail for an IPv6 address without zone
	return p.String()
}

func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}
