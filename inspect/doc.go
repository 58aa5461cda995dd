// Package inspect holds fieldwatch's domain vocabulary: the people who use
// the system, their roles and scopes, and (as later capabilities land) the
// evidence, cases, patrols and assessments they work with.
//
// It imports nothing of HTTP or SQL. Persistence and transport packages
// depend on it, never the reverse.
package inspect
