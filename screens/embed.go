// Package screens holds the designer-owned files: screens, fragments, theme,
// strings, content seeds and their schemas, images (the logo, pictures of
// content) and the fixtures that lint renders them with.
package screens

import "embed"

// FS is the embedded default set of screens; KOROBKA_SCREENS replaces it
// with a folder on disk.
//
//go:embed *.yaml fragments/*.yaml strings/*.yaml content/*.yaml content/*.schema.json fixtures/*.json images themes
var FS embed.FS
