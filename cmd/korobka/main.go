// Command korobka is the boxed messenger server: `korobka serve` runs it,
// `korobka migrate` applies database migrations, `korobka help` lists the
// rest.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// The IANA time zone database inside the binary: the distroless image
	// has none, and shells name zones (X-Korobka-TZ, KOROBKA_TIME_ZONE).
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if err != errUsage && err != errLint {
			fmt.Fprintln(os.Stderr, "korobka:", err)
		}
		os.Exit(1)
	}
}
