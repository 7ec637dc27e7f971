// Package schemas holds the JSON Schemas of korobka's contract: what shells
// receive (layout.schema.json), what designers write (screen.schema.json)
// and the content collections (content/*.schema.json).
package schemas

import "embed"

// FS holds every schema, so the binary validates without files on disk.
//
//go:embed *.json content/*.json
var FS embed.FS
