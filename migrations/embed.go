// Package migrations holds the database schema as numbered goose SQL files,
// one folder per dialect, embedded so that the single korobka binary can
// bring any database up to date at start (or with `korobka migrate`)
// without shipping files beside it. The files are the truth about the
// schema; chat/sqlstore applies them.
package migrations

import "embed"

// FS holds mysql/*.sql and sqlite/*.sql. The two folders describe the same
// schema and keep the same numbering, so a change lands in both at once.
//
//go:embed mysql/*.sql sqlite/*.sql
var FS embed.FS
