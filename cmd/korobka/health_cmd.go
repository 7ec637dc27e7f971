package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthCmd asks a running server for GET /healthz and fails unless it
// answers 200, for container healthchecks: the distroless image has no
// shell or curl, only this binary. The address is --url, else the
// loopback port of KOROBKA_ADDR.
func healthCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("korobka health", flag.ContinueOnError)
	fl.SetOutput(stderr)
	url := fl.String("url", "", "health URL (default: http://127.0.0.1:<port of KOROBKA_ADDR>/healthz)")
	timeout := fl.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fl.Parse(args); err != nil || fl.NArg() > 0 {
		return errUsage
	}
	if *url == "" {
		addr := getenv("KOROBKA_ADDR")
		if addr == "" {
			addr = ":8080"
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil || port == "" {
			return fmt.Errorf("KOROBKA_ADDR: %q is not host:port", addr)
		}
		*url = "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return errors.New("health: " + *url + " answered " + resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
