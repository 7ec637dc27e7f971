// Package renderer turns the designer-owned YAML screens (screens/) into the
// JSON layouts the shells draw: it loads and compiles screens, fragments,
// theme and strings, evaluates their expressions against a screen's data,
// lints them (`korobka lint`) against schemas/screen.schema.json and their
// fixtures, and computes the patches that keep an open screen current. It
// imports no chat package: data reaches it as plain values.
package renderer
