package renderer

import (
	"bytes"
	"fmt"
	"io/fs"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jsonSchema wraps a compiled schema so the rest of the package does not
// depend on the validator's API.
type jsonSchema struct{ s *jsonschema.Schema }

// compileSchema compiles name from fsys, resolving relative $refs inside
// fsys only: no network.
func compileSchema(fsys fs.FS, name string) (*jsonSchema, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(fsLoader{fsys})
	s, err := c.Compile("mem:///" + name)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	return &jsonSchema{s}, nil
}

type fsLoader struct{ fsys fs.FS }

func (l fsLoader) Load(url string) (any, error) {
	const prefix = "mem:///"
	if len(url) < len(prefix) || url[:len(prefix)] != prefix {
		return nil, fmt.Errorf("schema %s: only local schemas are allowed", url)
	}
	data, err := fs.ReadFile(l.fsys, url[len(prefix):])
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}

// validateJSON validates encoded JSON against the schema.
func (s *jsonSchema) validateJSON(data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.s.Validate(v)
}

// validate validates a JSON-shaped Go value.
func (s *jsonSchema) validate(v any) error { return s.s.Validate(v) }
