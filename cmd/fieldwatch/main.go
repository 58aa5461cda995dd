// Command fieldwatch runs the fieldwatch service and its administration
// tasks. Run `fieldwatch help` for the subcommands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// The county's time zone (deadlines end at its midnight) must load on
	// machines without a zoneinfo database, such as minimal containers.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fieldwatch:", err)
		os.Exit(exitCode(err))
	}
}
