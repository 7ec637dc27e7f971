package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/korobka/korobka/cmd/korobka/loadgen"
)

// errUsage reports a usage error that has already been printed.
var errUsage = errors.New("usage")

const usage = `korobka: a boxed messenger backend.

Usage:
  korobka serve   [flags]   run the server (embedded SQLite + memory when no DSN/URL is set)
  korobka migrate [flags]   apply database migrations and exit
  korobka lint [dir]        check screens, theme, strings, content and fixtures
  korobka render NAME --data fixture.json [--lang ru] [--theme dark]
                            print a screen's layout for fixture data
  korobka bench [flags]     load-test a running server on loopback
  korobka admin create --phone PHONE
                            make PHONE an admin (the first admin of a deployment)
  korobka admin role PHONE ROLE
                            give a user the role user, operator or admin
  korobka health [--url U]  exit 0 when the server on KOROBKA_ADDR answers /healthz (container healthchecks)
  korobka help              show this text

Every flag has an environment variable (see README.md); "korobka serve -h"
lists the flags with their variables and defaults.
`

// benchCmd runs the load generator against a server on loopback. It fails
// when the run saw lost, duplicated or out-of-order messages.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadgen.ParseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return err
	}
	res, err := loadgen.Run(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	if !res.Healthy() {
		return errors.New("bench: the run saw lost, duplicated or out-of-order messages, or errors")
	}
	return nil
}

// run is the whole program: main only supplies the process's arguments,
// environment and streams, so tests can run the real thing in process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		cfg, err := parseConfig("serve", rest, getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	case "migrate":
		cfg, err := parseConfig("migrate", rest, getenv, stderr)
		if err != nil {
			return err
		}
		return migrate(ctx, cfg, stdout)
	case "lint":
		return lintCmd(rest, getenv, stdout, stderr)
	case "render":
		return renderCmd(ctx, rest, getenv, stdout, stderr)
	case "admin":
		return adminCmd(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case "health":
		return healthCmd(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "korobka: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}
