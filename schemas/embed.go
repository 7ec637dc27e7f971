// Package schemas holds the JSON Schemas of korobka's contract: what shells
// receive (layout.schema.json), what designers write (screen.schema.json),
// the content collections (content/*.schema.json) and the HTTP and
// WebSocket contract itself (openapi.yaml, OpenAPI 3.1).
package schemas

import "embed"

// FS holds every schema, so the binary validates without files on disk.
//
//go:embed *.json *.yaml content/*.json
var FS embed.FS
