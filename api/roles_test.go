package api_test

import "github.com/fieldwatch/fieldwatch/inspect"

func roleOf(s string) inspect.Role { return inspect.Role(s) }
