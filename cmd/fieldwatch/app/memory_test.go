package app

import (
	"flag"
	"testing"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"192MiB", 192 << 20, true},
		{"512KiB", 512 << 10, true},
		{"2GiB", 2 << 30, true},
		{" 64 MiB ", 64 << 20, true},
		{"", 0, false},
		{"-1", 0, false},
		{"12MB", 0, false},
		{"1.5GiB", 0, false},
		{"9999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name   string
		limit  int64
		env    map[string]string
		want   int64
		wantOK bool
	}{
		{"Default", 192 << 20, nil, 192 << 20, true},
		{"GOMEMLIMITWins", 192 << 20, map[string]string{"GOMEMLIMIT": "1GiB"}, 0, false},
		{"Off", 0, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := memoryLimit(Config{MemoryLimit: tt.limit}, env(tt.env))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("memoryLimit = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
	// The default setting parses to what the README says.
	c, _, err := ParseConfig(flag.NewFlagSet("test", flag.ContinueOnError), nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryLimit != 192<<20 || c.UploadsStoring != 16 {
		t.Errorf("defaults: memory limit %d, uploads storing %d", c.MemoryLimit, c.UploadsStoring)
	}
}

// TestUploadsStoring: commits never take the whole database pool.
func TestUploadsStoring(t *testing.T) {
	tests := []struct{ configured, pool, want int }{
		{16, 25, 16}, // PostgreSQL's pool: the default stands, 9 stay for reads
		{24, 25, 17}, // at most the pool less a third
		{16, 4, 2},   // SQLite on two cores
		{16, 2, 1},   // never zero
		{16, 0, 16},  // an unlimited pool
		{0, 25, 16},  // unset: the default
		{3, 25, 3},
	}
	for _, tt := range tests {
		if got := uploadsStoring(tt.configured, tt.pool); got != tt.want {
			t.Errorf("uploadsStoring(%d, %d) = %d, want %d", tt.configured, tt.pool, got, tt.want)
		}
		if tt.pool > 0 && tt.pool-uploadsStoring(tt.configured, tt.pool) < min(2, tt.pool-1) {
			t.Errorf("uploadsStoring(%d, %d) leaves fewer than 2 connections", tt.configured, tt.pool)
		}
	}
}
