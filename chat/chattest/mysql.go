package chattest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQLDSN returns the DSN of a fresh, empty MySQL database that is dropped
// when t ends, so that tests never share or leave behind state. The server
// comes from KOROBKA_TEST_MYSQL_DSN (root@tcp(127.0.0.1:3306)/); when that
// is unset the test is skipped, or fails if KOROBKA_TEST_REQUIRE_SERVICES
// is set, so that CI cannot pass by silently skipping.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("KOROBKA_TEST_MYSQL_DSN")
	if base == "" {
		const msg = "set KOROBKA_TEST_MYSQL_DSN to run MySQL tests (e.g. root@tcp(127.0.0.1:3306)/)"
		if os.Getenv("KOROBKA_TEST_REQUIRE_SERVICES") != "" {
			t.Fatal(msg + "; KOROBKA_TEST_REQUIRE_SERVICES is set")
		}
		t.Skip(msg)
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("parse KOROBKA_TEST_MYSQL_DSN: %v", err)
	}
	var b [8]byte
	rand.Read(b[:])
	name := "korobka_test_" + hex.EncodeToString(b[:])

	cfg.DBName = ""
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("mysql connector: %v", err)
	}
	admin := sql.OpenDB(conn)
	admin.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The name is ours (hex only), so building the statement is safe;
	// identifiers cannot be placeholders.
	if _, err := admin.ExecContext(ctx,
		"CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}
