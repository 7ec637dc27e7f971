package renderer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile or broken file from costing more than a
// moment: screens are hand-written and small, so these are generous.
const (
	maxFileSize   = 1 << 20 // bytes per file
	maxTotalSize  = 32 << 20
	maxFiles      = 2000
	maxYAMLNodes  = 50_000 // per file
	maxYAMLDepth  = 64     // nesting of maps and lists
	maxExprLen    = 512    // characters in one {{ }}
	maxExprNodes  = 100    // AST nodes in one expression
	maxForDepth   = 3      // nested for loops, including through fragments
	maxOutNodes   = 100_000
	maxOutBytes   = 16 << 20
	maxParamLen   = 256
	maxShellLen   = 1024
	maxComponents = 64
)

// readLimited reads a file but refuses one over maxFileSize without reading
// it all, so a 50 MB file costs nothing.
func readLimited(fsys fs.FS, name string) ([]byte, error) {
	if st, err := fs.Stat(fsys, name); err == nil && st.Size() > maxFileSize {
		return nil, fmt.Errorf("file is %d bytes, over the %d byte limit", st.Size(), maxFileSize)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("file is over the %d byte limit", maxFileSize)
	}
	return data, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxErrorAt places a YAML syntax error. yaml.v3 reports only a line,
// and for an unclosed bracket or a bad indent the line where the enclosing
// block starts; goccy/go-yaml's parser reports the token where it gave up,
// with its column. The later of the two is where the file goes wrong:
// goccy's token when it is on or after yaml.v3's line, else yaml.v3's line
// at its first non-blank character.
func syntaxErrorAt(data []byte, err error) (line, col int, msg string) {
	line, col, msg = 1, 1, err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	_, gerr := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if errors.As(gerr, &se) && se.Token != nil && se.Token.Position != nil && se.Token.Position.Line >= line {
		return se.Token.Position.Line, se.Token.Position.Column, se.Message
	}
	lines := bytes.Split(data, []byte("\n"))
	if line <= len(lines) {
		l := lines[line-1]
		col = len(l) - len(bytes.TrimLeft(l, " \t")) + 1
	}
	return line, col, msg
}

// parseYAML parses one document into a node tree and refuses anchors and
// aliases (alias bombs; fragments are the way to share), excessive depth and
// excessive size. It returns nil after reporting a diagnostic.
func parseYAML(file string, data []byte, d *diags) *yaml.Node {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		d.add(file, 1, 1, "file contains a NUL byte; YAML must be text")
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			d.add(file, 1, 1, "empty file")
			return nil
		}
		line, col, msg := syntaxErrorAt(data, err)
		d.add(file, line, col, "invalid YAML: %s", msg)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		d.add(file, extra.Line, extra.Column, "only one YAML document per file")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.add(file, 1, 1, "empty file")
		return nil
	}
	count := 0
	if !checkYAML(file, doc.Content[0], 1, &count, d) {
		return nil
	}
	return doc.Content[0]
}

func checkYAML(file string, n *yaml.Node, depth int, count *int, d *diags) bool {
	*count++
	if *count > maxYAMLNodes {
		d.add(file, n.Line, n.Column, "file has more than %d YAML nodes", maxYAMLNodes)
		return false
	}
	if depth > maxYAMLDepth {
		d.add(file, n.Line, n.Column, "nesting deeper than %d levels", maxYAMLDepth)
		return false
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.add(file, n.Line, n.Column, "YAML anchors and aliases are not allowed; use a fragment")
		return false
	}
	if n.Kind == yaml.MappingNode {
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				d.add(file, k.Line, k.Column, "map keys must be plain strings")
				return false
			}
			if k.Value == "<<" {
				d.add(file, k.Line, k.Column, "YAML merge keys are not allowed")
				return false
			}
			if seen[k.Value] {
				d.add(file, k.Line, k.Column, "duplicate key %q", k.Value)
				return false
			}
			seen[k.Value] = true
		}
	}
	for _, c := range n.Content {
		if !checkYAML(file, c, depth+1, count, d) {
			return false
		}
	}
	return true
}

// yamlValue converts a checked node into JSON-shaped Go values (numbers as
// float64), the shape providers hand the renderer.
func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!int", "!!float":
			var f float64
			err := n.Decode(&f)
			return f, err
		default:
			return n.Value, nil
		}
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// mapGet returns the value node for key in a mapping node.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
