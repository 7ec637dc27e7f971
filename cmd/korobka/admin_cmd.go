package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/redis"
	"github.com/korobka/korobka/chat/sqlstore"
)

const adminUsage = `usage:
  korobka admin create --phone PHONE   make PHONE an admin, creating the account if it has none
  korobka admin role PHONE ROLE        give a registered user the role user, operator or admin
Storage flags and variables are those of korobka serve (KOROBKA_DATA, KOROBKA_MYSQL_DSN,
KOROBKA_REDIS_URL, KOROBKA_REGION).`

// adminCmd is the deployment's first admin and its role changes from the
// command line (docs/operations.md, "The first admin"): `korobka admin
// create --phone +79161234567` and `korobka admin role PHONE ROLE`. A role
// change ends the user's sessions, as it does through the admin API, and
// is written to the audit log with actor 0 (the command line).
func adminCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, adminUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	var flags, pos []string
	phone := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--phone" || a == "-phone":
			if i+1 >= len(args) {
				fmt.Fprintln(stderr, adminUsage)
				return errUsage
			}
			phone = args[i+1]
			i++
		case strings.HasPrefix(a, "--phone=") || strings.HasPrefix(a, "-phone="):
			_, phone, _ = strings.Cut(a, "=")
		case len(a) > 0 && a[0] == '-':
			flags = append(flags, a)
		default:
			pos = append(pos, a)
		}
	}
	var role chat.Role
	create := false
	switch {
	case sub == "create" && phone != "" && len(pos) == 0:
		role, create = chat.RoleAdmin, true
	case sub == "role" && phone == "" && len(pos) == 2:
		phone, role = pos[0], chat.Role(pos[1])
		if !chat.ValidRole(role) {
			return fmt.Errorf("role %q: want user, operator or admin", pos[1])
		}
	default:
		fmt.Fprintln(stderr, adminUsage)
		return errUsage
	}
	cfg, err := parseConfig("admin", flags, getenv, stderr)
	if err != nil {
		return err
	}
	e164, err := chat.NormalizePhone(phone, cfg.Region)
	if err != nil {
		return fmt.Errorf("%q: %w", phone, err)
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
	now := time.Now()
	if create {
		if _, _, err := store.UpsertUser(ctx, e164, now); err != nil {
			return err
		}
	}
	before, err := store.SetRole(ctx, e164, role)
	if errors.Is(err, chat.ErrNotFound) {
		return fmt.Errorf("%s: no such user (the number must have logged in once; `korobka admin create --phone` creates an admin)", e164)
	}
	if err != nil {
		return err
	}
	u, err := store.User(ctx, before.ID)
	if err != nil {
		return err
	}
	// The role is in every session's answer to Authenticate, so sessions
	// end: the user's shells log in again under the new role.
	if err := store.RevokeUserSessions(ctx, u.ID, now); err != nil {
		return err
	}
	closed := "their sessions ended"
	if cfg.RedisURL != "" {
		// Servers on Redis close the user's sockets at once.
		if err := closeUserSockets(ctx, cfg, u.ID); err != nil {
			fmt.Fprintf(stderr, "korobka admin: sockets not closed at once (%v); they close at their token's expiry\n", err)
		} else {
			closed += " and their sockets closed"
		}
	}
	action := "user.role"
	if create {
		action = "user.create_admin"
	}
	details := fmt.Sprintf(`{"role":%q,"via":"cli"}`, role)
	if _, err := store.AppendAudit(ctx, chat.AuditEntry{At: now.UTC().Truncate(time.Microsecond), ActorID: 0, ActorRole: chat.RoleAdmin,
		Action: action, TargetType: "user", TargetID: chat.FormatID(u.ID), Details: []byte(details)}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (user %d) is now %s; %s\n", e164, u.ID, role, closed)
	return nil
}

// closeUserSockets asks every node on the Redis bus to close the user's
// WebSockets with 4001, as Service.EndUserSessions does.
func closeUserSockets(ctx context.Context, cfg Config, userID int64) error {
	client, err := redis.Open(ctx, cfg.RedisURL)
	if err != nil {
		return err
	}
	defer client.Close()
	b := redis.NewBroker(client, redis.BrokerConfig{Prefix: cfg.RedisPrefix + "bus:"})
	defer b.Close()
	return b.Publish(ctx, chat.Publication{Topic: chat.UserTopic(userID), Payload: chat.Envelope(chat.EnvCloseUser, 0, nil)})
}
