package renderer

import (
	"encoding/json"
)

// The schemas in schemas/ are generated from the catalogue by
// TestSchemasUpToDate (-update rewrites them), so they cannot drift from
// what the compiler accepts and the renderer emits.

type obj = map[string]any

const draft = "https://json-schema.org/draft/2020-12/schema"

func outPropSchema(p propSpec) obj {
	var s obj
	switch p.kind {
	case kText, kString, kURL:
		s = obj{"type": "string"}
	case kNumber, kSpacing, kRadius:
		s = obj{"type": "number"}
	case kBool:
		s = obj{"type": "boolean"}
	case kEnum:
		s = obj{"type": "string"}
		if len(p.enum) > 0 {
			s["enum"] = p.enum
		}
	case kColor:
		s = obj{"type": "string", "pattern": "^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"}
	case kNode:
		s = obj{"$ref": "#/$defs/node"}
	case kAction:
		s = obj{"$ref": "#/$defs/action"}
	case kParams:
		s = obj{"type": "object", "additionalProperties": obj{"type": "string"}}
	case kFields:
		s = obj{"type": "array", "items": obj{"type": "string"}}
	}
	s["description"] = p.doc
	return s
}

func unionSchema(doc string, names []string, defPrefix string) obj {
	var all []any
	for _, n := range names {
		all = append(all, obj{
			"if":   obj{"properties": obj{"type": obj{"const": n}}},
			"then": obj{"$ref": "#/$defs/" + defPrefix + n},
		})
	}
	return obj{
		"description": doc,
		"type":        "object",
		"required":    []string{"type"},
		"properties":  obj{"type": obj{"enum": names}},
		"allOf":       all,
	}
}

// layoutSchemaDoc describes what shells receive.
func layoutSchemaDoc() obj {
	defs := obj{}
	var names []string
	for _, c := range catalog {
		names = append(names, c.name)
		props := obj{
			"type":   obj{"const": c.name},
			"id":     obj{"type": "string", "description": "Stable id; patches address nodes by it."},
			"style":  obj{"type": "string", "description": "Name of a style in the layout's styles object."},
			"action": obj{"$ref": "#/$defs/action", "description": "Run when the node is tapped."},
		}
		for _, p := range c.props {
			if p.kind == kFlag {
				continue
			}
			props[p.outName()] = outPropSchema(p)
		}
		if c.children {
			props["children"] = obj{"type": "array", "items": obj{"$ref": "#/$defs/node"}, "description": "Child nodes in order."}
		}
		if c.spans {
			props["spans"] = obj{"type": "array", "items": obj{"$ref": "#/$defs/span"},
				"description": "The text cut into runs; runs with an action are tappable (links, e-mail, phones). Absent when nothing is tappable."}
		}
		doc := c.doc
		if c.optional {
			doc += " Optional: sent only to shells that list it in X-Korobka-Shell."
		}
		defs["node."+c.name] = obj{"description": doc, "type": "object", "required": []string{"type"},
			"properties": props, "additionalProperties": false}
	}
	var anames []string
	for _, a := range actions {
		anames = append(anames, a.name)
		props := obj{"type": obj{"const": a.name}}
		var req []string
		for _, p := range a.props {
			props[p.name] = outPropSchema(p)
		}
		switch a.name {
		case "navigate":
			req = []string{"screen"}
		case "load_more":
			req = []string{"source", "cursor"}
		case "open_url":
			req = []string{"url"}
		case "submit":
			req = []string{"endpoint"}
		case "call":
			req = []string{"phone"}
		}
		defs["action."+a.name] = obj{"description": a.doc, "type": "object", "required": append([]string{"type"}, req...),
			"properties": props, "additionalProperties": false}
	}
	defs["node"] = unionSchema("A layout node: a component type, its props, optional id, style, action and children.", names, "node.")
	defs["action"] = unionSchema("What a tap does.", anames, "action.")
	defs["span"] = obj{"type": "object", "required": []string{"text"}, "additionalProperties": false,
		"description": "A run of text; a span with an action is tappable.",
		"properties": obj{
			"text":   obj{"type": "string"},
			"kind":   obj{"enum": []string{"url", "email", "phone"}},
			"action": obj{"$ref": "#/$defs/action"},
		}}
	defs["font"] = obj{"type": "object", "additionalProperties": false,
		"description": "A typography token: size and line height in points (CSS px), weight.",
		"properties": obj{
			"size": obj{"type": "number"}, "line_height": obj{"type": "number"},
			"weight": obj{"enum": fontWeights}}}
	defs["style"] = obj{"type": "object", "additionalProperties": false,
		"description": "A theme style resolved for the layout's theme (light or dark).",
		"properties": obj{
			"font":       obj{"$ref": "#/$defs/font"},
			"color":      obj{"type": "string"},
			"background": obj{"type": "string"},
			"radius":     obj{"type": "number"},
			"padding":    obj{"type": "number"},
			"margin":     obj{"type": "number", "description": "Space kept around the node, in points."},
		}}
	defs["patch"] = obj{"type": "object", "required": []string{"type", "screen", "ops"}, "additionalProperties": false,
		"description": "WebSocket frame that updates an open screen by node id.",
		"properties": obj{
			"type":   obj{"const": "patch"},
			"screen": obj{"type": "string", "description": "Screen instance, e.g. chat:17."},
			"ops":    obj{"type": "array", "items": obj{"$ref": "#/$defs/op"}},
		}}
	defs["op"] = obj{"type": "object", "required": []string{"op"}, "additionalProperties": false,
		"description": "insert (into a list id, at start or end), replace (a node id), remove (a node id), set (props of a node id).",
		"properties": obj{
			"op":    obj{"enum": []string{"insert", "replace", "remove", "set"}},
			"into":  obj{"type": "string"},
			"at":    obj{"enum": []string{"start", "end"}},
			"id":    obj{"type": "string"},
			"node":  obj{"$ref": "#/$defs/node"},
			"props": obj{"type": "object"},
		}}
	return obj{
		"$schema":              draft,
		"$id":                  "https://korobka.dev/schemas/layout.schema.json",
		"title":                "korobka layout",
		"description":          "A resolved screen as shells receive it from GET /v1/screens/{name}: no expressions, loops or string keys remain. Shells generate their models from this file. Generated from renderer/catalog.go; do not edit by hand.",
		"type":                 "object",
		"required":             []string{"screen", "rev", "title", "theme", "styles", "root", "live"},
		"additionalProperties": false,
		"properties": obj{
			"screen": obj{"type": "string", "description": "Screen name."},
			"rev":    obj{"type": "string", "description": "Revision of the screen files that produced this layout."},
			"title":  obj{"type": "string", "description": "Localised title."},
			"theme":  obj{"type": "string", "description": "Theme and mode, e.g. default-dark."},
			"tokens": obj{
				"type":                 "object",
				"description":          "Every design token of the theme resolved for its mode: what the shell draws by itself (buttons, fields, banners, ticks) takes its colours, fonts, radii and spacing from here.",
				"additionalProperties": false,
				"properties": obj{
					"colors":  obj{"type": "object", "additionalProperties": obj{"type": "string", "pattern": `^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`}},
					"fonts":   obj{"type": "object", "additionalProperties": obj{"$ref": "#/$defs/font"}},
					"radii":   obj{"type": "object", "additionalProperties": obj{"type": "number", "minimum": 0}},
					"spacing": obj{"type": "object", "additionalProperties": obj{"type": "number", "minimum": 0}},
				},
			},
			"styles": obj{"type": "object", "additionalProperties": obj{"$ref": "#/$defs/style"}, "description": "Styles used by this layout, resolved for its theme."},
			"root":   obj{"$ref": "#/$defs/node"},
			"live":   obj{"type": "array", "items": obj{"type": "string"}, "description": "Topics whose patches arrive over the WebSocket while the screen is open."},
		},
		"$defs": defs,
	}
}

func designPropSchema(p propSpec) obj {
	expr := obj{"type": "string", "pattern": `^\s*\{\{.*\}\}\s*$`, "description": "A {{ expression }}."}
	var s obj
	switch p.kind {
	case kText:
		s = obj{"anyOf": []any{obj{"type": "string"}, obj{"$ref": "#/$defs/string_ref"}}}
	case kString, kURL:
		s = obj{"type": "string"}
	case kNumber:
		s = obj{"anyOf": []any{obj{"type": "number"}, expr}}
		if p.name == "width" {
			s = obj{"anyOf": []any{obj{"type": "number"}, expr, obj{"const": "@logo", "description": "The theme's logo size (logo.size)."}}}
		}
	case kBool, kFlag:
		s = obj{"anyOf": []any{obj{"type": "boolean"}, expr}}
	case kEnum:
		if len(p.enum) > 0 {
			s = obj{"anyOf": []any{obj{"enum": p.enum}, expr}}
		} else {
			s = obj{"type": "string"}
		}
	case kColor:
		s = obj{"type": "string", "description": "A colour token from theme.yaml."}
	case kSpacing:
		s = obj{"type": "string", "description": "A spacing token from theme.yaml."}
	case kRadius:
		s = obj{"type": "string", "description": "A radius token from theme.yaml."}
	case kNode:
		s = obj{"$ref": "#/$defs/node"}
	case kAction:
		s = obj{"$ref": "#/$defs/action"}
	case kParams:
		s = obj{"type": "object", "additionalProperties": obj{"type": "string"}}
	case kFields:
		s = obj{"type": "array", "items": obj{"type": "string"}}
	}
	if _, ok := s["description"]; !ok {
		s["description"] = p.doc
	}
	return s
}

// screenSchemaDoc describes what designers write, for editor completion.
func screenSchemaDoc() obj {
	defs := obj{}
	common := func() obj {
		return obj{
			"id":       obj{"type": "string", "description": "Node id; may interpolate, e.g. msg-{{ m.id }}."},
			"style":    obj{"type": "string", "description": "A style token from theme.yaml."},
			"if":       obj{"description": "Expression; the node is left out when false.", "type": "string"},
			"action":   obj{"$ref": "#/$defs/action"},
			"fallback": obj{"$ref": "#/$defs/node", "description": "Drawn instead when the shell lacks this component."},
		}
	}
	var nodeRefs []any
	for _, c := range catalog {
		props := common()
		props["type"] = obj{"const": c.name}
		for _, p := range c.props {
			props[p.name] = designPropSchema(p)
		}
		if c.children {
			props["children"] = obj{"type": "array", "items": obj{"$ref": "#/$defs/node"}}
			props["for"] = obj{"type": "string", "description": `"name in expression": repeat item for each element.`}
			props["item"] = obj{"$ref": "#/$defs/node"}
		}
		defs["node."+c.name] = obj{"description": c.doc, "type": "object", "required": []string{"type"},
			"properties": props, "additionalProperties": false}
		nodeRefs = append(nodeRefs, obj{"$ref": "#/$defs/node." + c.name})
	}
	defs["use"] = obj{"type": "object", "required": []string{"use"}, "additionalProperties": false,
		"description": "Insert a fragment from fragments/.",
		"properties": obj{
			"use":  obj{"type": "string"},
			"with": obj{"type": "object", "additionalProperties": obj{"description": "An expression."}},
			"if":   obj{"type": "string"},
		}}
	nodeRefs = append(nodeRefs, obj{"$ref": "#/$defs/use"})
	defs["node"] = obj{"anyOf": nodeRefs}
	var actRefs []any
	for _, a := range actions {
		props := obj{"type": obj{"const": a.name}}
		for _, p := range a.props {
			props[p.name] = designPropSchema(p)
		}
		defs["action."+a.name] = obj{"description": a.doc, "type": "object", "required": []string{"type"},
			"properties": props, "additionalProperties": false}
		actRefs = append(actRefs, obj{"$ref": "#/$defs/action." + a.name})
	}
	defs["action"] = obj{"anyOf": actRefs}
	defs["string_ref"] = obj{"type": "object", "required": []string{"t"}, "additionalProperties": false,
		"description": "A key in strings/<lang>.yaml, with a count for plural forms and named args.",
		"properties": obj{
			"t":    obj{"type": "string"},
			"n":    obj{"description": "A number or {{ expression }} choosing the plural form; fills {n}."},
			"args": obj{"type": "object", "additionalProperties": obj{"type": "string"}},
		}}
	defs["screen"] = obj{"type": "object", "required": []string{"screen", "root"}, "additionalProperties": false,
		"properties": obj{
			"screen": obj{"type": "string", "description": "Must equal the file name."},
			"doc":    obj{"type": "string"},
			"title":  obj{"anyOf": []any{obj{"type": "string"}, obj{"$ref": "#/$defs/string_ref"}}},
			"auth":   obj{"enum": []string{"public", "user"}},
			"params": obj{"type": "object", "additionalProperties": obj{"type": "object", "additionalProperties": false,
				"properties": obj{"type": obj{"enum": []string{"string", "int"}}, "required": obj{"type": "boolean"}, "pattern": obj{"type": "string"}}}},
			"data": obj{"type": "object", "additionalProperties": obj{"type": "object", "required": []string{"source"},
				"properties": obj{"source": obj{"type": "string", "description": "me, user, contacts, dialogs.list, dialog, messages or content.<collection>"}}}},
			"live": obj{"type": "array", "items": obj{"type": "string"}},
			"root": obj{"$ref": "#/$defs/node"},
		}}
	defs["fragment"] = obj{"type": "object", "required": []string{"fragment", "root"}, "additionalProperties": false,
		"properties": obj{
			"fragment": obj{"type": "string"},
			"doc":      obj{"type": "string"},
			"params":   obj{"type": "array", "items": obj{"type": "string"}},
			"root":     obj{"$ref": "#/$defs/node"},
		}}
	return obj{
		"$schema":     draft,
		"$id":         "https://korobka.dev/schemas/screen.schema.json",
		"title":       "korobka screen or fragment",
		"description": "What designers write in screens/*.yaml and screens/fragments/*.yaml. Generated from renderer/catalog.go; do not edit by hand. korobka lint checks more (tokens, strings, expressions).",
		"anyOf":       []any{obj{"$ref": "#/$defs/screen"}, obj{"$ref": "#/$defs/fragment"}},
		"$defs":       defs,
	}
}

func marshalSchema(v obj) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err) // static data: cannot fail
	}
	return append(b, '\n')
}
