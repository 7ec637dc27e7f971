package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/sqlstore"
)

// roleCmd gives a registered user a role: `korobka role PHONE admin`. It is
// how the first admin of a deployment is made; the number must have logged
// in once.
func roleCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var flags, pos []string
	for _, a := range args {
		if len(a) > 0 && a[0] == '-' {
			flags = append(flags, a)
		} else {
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: korobka role PHONE user|operator|admin [storage flags, as for serve]")
		return errUsage
	}
	cfg, err := parseConfig("role", flags, getenv, stderr)
	if err != nil {
		return err
	}
	role := chat.Role(pos[1])
	if !chat.ValidRole(role) {
		return fmt.Errorf("role %q: want user, operator or admin", pos[1])
	}
	phone, err := chat.NormalizePhone(pos[0], cfg.Region)
	if err != nil {
		return fmt.Errorf("%q: %w", pos[0], err)
	}
	dialect, dsn := sqlstore.SQLite, filepath.Join(cfg.Data, "korobka.db")
	if cfg.MySQLDSN != "" {
		dialect, dsn = sqlstore.MySQL, cfg.MySQLDSN
	} else if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return fmt.Errorf("KOROBKA_DATA: %w", err)
	}
	store, err := sqlstore.Open(ctx, dialect, dsn, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.SetRole(ctx, phone, role)
	if err != nil {
		return fmt.Errorf("%s: %w (the number must have logged in once)", phone, err)
	}
	fmt.Fprintf(stdout, "%s (user %d) is now %s\n", phone, u.ID, u.Role)
	return nil
}
