// Package screens holds the designer-owned YAML: screens, fragments, theme,
// strings, content seeds and the fixtures that lint renders them with.
package screens

import "embed"

// FS is the embedded default set of screens; KOROBKA_SCREENS replaces it
// with a folder on disk.
//
//go:embed *.yaml fragments/*.yaml strings/*.yaml content/*.yaml fixtures/*.json
var FS embed.FS
