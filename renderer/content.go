package renderer

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Document is one item of a content collection (a tariff, a news post) as
// stored in the content table and served to screens as content.<name>.
type Document struct {
	ID        string
	Position  int
	Published bool
	Data      map[string]any // JSON-shaped, valid against the collection's schema

	line, col int // of the item in its seed file
}

// LoadContentSeeds reads content/<name>.yaml of a screens folder and
// validates each item against the folder's content/<name>.schema.json, so a
// deployment starts with valid content. A seed file is
//
//	collection: tariffs
//	items:
//	  - id: basic        # required, unique
//	    published: true  # optional, default true
//	    ...              # the document's data
func LoadContentSeeds(screensFS fs.FS) (map[string][]Document, error) {
	ld := &loader{d: &diags{}, contents: map[string][]byte{}, fsys: screensFS}
	ents, err := fs.ReadDir(screensFS, "content")
	if err != nil {
		return nil, fmt.Errorf("renderer: content seeds: %w", err)
	}
	for _, ent := range ents {
		if ent.IsDir() || !strings.HasSuffix(ent.Name(), ".yaml") {
			continue
		}
		name := path.Join("content", ent.Name())
		data, err := readLimited(screensFS, name)
		if err != nil {
			return nil, fmt.Errorf("renderer: %s: %w", name, err)
		}
		ld.contents[name] = data
	}
	out := ld.loadContent()
	if len(ld.d.list) > 0 {
		d := ld.d.sorted()
		return nil, fmt.Errorf("%w: %d problems, first: %s", errLintFailed, len(d), d[0])
	}
	return out, nil
}

// checkContent compiles every content schema of the folder and checks the
// seeds against them, and the images seeds name.
func (ld *loader) checkContent() {
	for _, name := range sortedKeys(ld.schemas) {
		file := "content/" + name + ".schema.json"
		if !nameRE.MatchString(name) {
			ld.d.add(file, 1, 1, "collection names are lower_snake_case")
			continue
		}
		if _, err := compileSchema(ld.fsys, file); err != nil {
			ld.d.add(file, 1, 1, "%v", err)
		}
	}
	docs := ld.loadContent()
	for _, name := range sortedKeys(docs) {
		for _, doc := range docs[name] {
			ld.checkContentImages("content/"+name+".yaml", doc.line, doc.col, doc.Data)
		}
	}
}

// checkContentImages checks /assets/ URLs anywhere in a document.
func (ld *loader) checkContentImages(file string, line, col int, v any) {
	switch v := v.(type) {
	case string:
		ld.checkImage(file, line, col, v)
	case []any:
		for _, x := range v {
			ld.checkContentImages(file, line, col, x)
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			ld.checkContentImages(file, line, col, v[k])
		}
	}
}

func (ld *loader) loadContent() map[string][]Document {
	out := map[string][]Document{}
	names := make([]string, 0, len(ld.contents))
	for n := range ld.contents {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, file := range names {
		stem := strings.TrimSuffix(path.Base(file), ".yaml")
		doc := parseYAML(file, ld.contents[file], ld.d)
		if doc == nil {
			continue
		}
		if c := mapGet(doc, "collection"); c == nil || c.Value != stem {
			ld.d.add(file, doc.Line, doc.Column, "seed needs collection: %s", stem)
			continue
		}
		sch, err := compileSchema(ld.fsys, "content/"+stem+".schema.json")
		if err != nil {
			ld.d.add(file, 1, 1, "no usable schema for collection %q (content/%s.schema.json): %v", stem, stem, err)
			continue
		}
		items := mapGet(doc, "items")
		if items == nil || items.Kind != yaml.SequenceNode {
			ld.d.add(file, doc.Line, doc.Column, "seed needs items: a list")
			continue
		}
		seen := map[string]bool{}
		docs := []Document{}
		for i, it := range items.Content {
			v, err := yamlValue(it)
			m, ok := v.(map[string]any)
			if err != nil || !ok {
				ld.d.add(file, it.Line, it.Column, "item must be a map")
				continue
			}
			id, _ := m["id"].(string)
			if id == "" || seen[id] {
				ld.d.add(file, it.Line, it.Column, "item needs a unique string id")
				continue
			}
			seen[id] = true
			pub := true
			if p, ok := m["published"].(bool); ok {
				pub = p
			}
			delete(m, "published")
			if err := sch.validate(m); err != nil {
				ld.d.add(file, it.Line, it.Column, "item %q does not match content/%s.schema.json: %v", id, stem, err)
				continue
			}
			docs = append(docs, Document{ID: id, Position: i, Published: pub, Data: m, line: it.Line, col: it.Column})
		}
		out[stem] = docs
	}
	return out
}
