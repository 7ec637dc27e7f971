package renderer

import (
	"strings"
	"testing"
	"testing/fstest"
)

// menuFolder is the shipped screens plus a collection a designer added: its
// schema, seed, screen, fixture and a picture, all in the folder.
func menuFolder(t *testing.T) fstest.MapFS {
	t.Helper()
	m := shippedFS(t)
	m["content/menu.schema.json"] = &fstest.MapFile{Data: []byte(`{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object", "required": ["id", "name", "photo"], "additionalProperties": false,
  "properties": {"id": {"type": "string"}, "name": {"type": "string", "maxLength": 40}, "photo": {"type": "string"}}
}`)}
	m["content/menu.yaml"] = &fstest.MapFile{Data: []byte("collection: menu\nitems:\n  - id: soup\n    name: Borscht\n    photo: /assets/menu/soup.svg\n")}
	m["images/menu/soup.svg"] = &fstest.MapFile{Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)}
	m["menu.yaml"] = &fstest.MapFile{Data: []byte(`screen: menu
data:
  menu: { source: content.menu }
root:
  type: list
  id: menu
  for: d in menu.items
  item:
    type: row
    children:
      - { type: image, src: "{{ d.photo }}", aspect: 1 }
      - { type: text, text: "{{ d.name }}", style: body }
`)}
	m["fixtures/menu.json"] = &fstest.MapFile{Data: []byte(`{"params": {}, "viewer": "u1", "data": {"menu": {"items": [{"id": "soup", "name": "Borscht", "photo": "/assets/menu/soup.svg"}]}}}`)}
	return m
}

func TestFolderCarriesItsContentSchemasAndImages(t *testing.T) {
	m := menuFolder(t)
	if d := Lint(m); len(d) != 0 {
		t.Fatalf("a folder with its own collection fails lint: %v", d)
	}
	seeds, err := LoadContentSeeds(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := seeds["menu"]; len(got) != 1 || got[0].Data["name"] != "Borscht" {
		t.Errorf("menu seeds: %+v", got)
	}
}

func TestLintChecksFolderSchemasAndImages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(m fstest.MapFS)
		file   string
		line   int
		substr string
	}{
		{"screen reads a collection without schema", func(m fstest.MapFS) {
			delete(m, "content/menu.schema.json")
			delete(m, "content/menu.yaml")
		}, "menu.yaml", 3, `collection "menu" has no schema: add content/menu.schema.json`},
		{"schema does not compile", func(m fstest.MapFS) {
			m["content/menu.schema.json"] = &fstest.MapFile{Data: []byte(`{"type": "objekt"}`)}
		}, "content/menu.schema.json", 1, "compile schema"},
		{"seed breaks the schema", func(m fstest.MapFS) {
			m["content/menu.yaml"] = &fstest.MapFile{Data: []byte("collection: menu\nitems:\n  - id: soup\n    name: Borscht\n")}
		}, "content/menu.yaml", 3, "does not match content/menu.schema.json"},
		{"seed names a missing image", func(m fstest.MapFS) {
			delete(m, "images/menu/soup.svg")
			m["images/menu/salad.svg"] = &fstest.MapFile{Data: []byte(`<svg/>`)}
		}, "content/menu.yaml", 3, "image /assets/menu/soup.svg is not in the screens folder: add images/menu/soup.svg"},
		{"theme names a missing logo", func(m fstest.MapFS) {
			delete(m, "images/logo-dark.svg")
		}, "theme.yaml", 0, "image /assets/logo-dark.svg is not in the screens folder"},
		{"screen names a missing image", func(m fstest.MapFS) {
			m["menu.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(string(m["menu.yaml"].Data), `"{{ d.photo }}"`, "/assets/menu/nope.png", 1))}
		}, "menu.yaml", 11, "image /assets/menu/nope.png is not in the screens folder"},
		{"fixture names a missing image", func(m fstest.MapFS) {
			m["fixtures/menu.json"] = &fstest.MapFile{Data: []byte(strings.Replace(string(m["fixtures/menu.json"].Data), "soup.svg", "stew.svg", 1))}
		}, "fixtures/menu.json", 1, "image /assets/menu/stew.svg is not in the screens folder"},
		{"not an image in images/", func(m fstest.MapFS) {
			m["images/notes.txt"] = &fstest.MapFile{Data: []byte("hi")}
		}, "images/notes.txt", 1, "images/ holds images only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := menuFolder(t)
			tc.edit(m)
			d := Lint(m)
			if _, ok := findDiag(d, tc.file, tc.substr); !ok {
				t.Fatalf("want %s:%d: ...%s..., got %v", tc.file, tc.line, tc.substr, d)
			}
			got, _ := findDiag(d, tc.file, tc.substr)
			if tc.line == 0 {
				tc.line, _ = lineCol(string(m["theme.yaml"].Data), "logo:", 0)
			}
			if got.Line != tc.line {
				t.Errorf("got %s, want line %d", got, tc.line)
			}
		})
	}
}
