package api_test

import "github.com/fieldwatch/fieldwatch"

func roleOf(s string) fieldwatch.Role { return fieldwatch.Role(s) }
