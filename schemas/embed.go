// Package schemas holds the JSON Schemas of korobka's contract: what shells
// receive (layout.schema.json), what designers write (screen.schema.json)
// and the HTTP and WebSocket contract itself (openapi.yaml, OpenAPI 3.1).
// The schemas of content collections belong to a screens folder
// (screens/content/<name>.schema.json).
package schemas

import "embed"

// FS holds every schema, so the binary validates without files on disk.
//
//go:embed *.json *.yaml
var FS embed.FS
