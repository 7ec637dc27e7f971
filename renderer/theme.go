package renderer

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// theme holds typed design tokens. Screens name tokens, never raw values, so
// a rebrand is one file and dark mode is free.
type theme struct {
	name    string
	colors  map[string][2]string // light, dark
	fonts   map[string][]byte    // resolved typography JSON object
	spacing map[string]float64
	radii   map[string]float64
	assets  map[string][2]string // logo: light, dark
	sizes   map[string]float64   // logo: the logo's size in points (logo.size)
	styles  map[string]styleDef
}

type styleDef struct {
	font, color, background, radius, padding, margin string
}

const (
	modeLight = 0
	modeDark  = 1
)

var (
	hexColorRE  = regexp.MustCompile(`^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)
	tokenNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	fontWeights = []string{"regular", "medium", "semibold", "bold"}
)

func loadTheme(file string, root *yaml.Node, d *diags) *theme {
	t := &theme{
		colors: map[string][2]string{}, fonts: map[string][]byte{}, spacing: map[string]float64{},
		radii: map[string]float64{}, assets: map[string][2]string{}, styles: map[string]styleDef{},
		sizes: map[string]float64{},
	}
	if root.Kind != yaml.MappingNode {
		d.add(file, root.Line, root.Column, "theme must be a map")
		return t
	}
	eachPair(root, func(k, v *yaml.Node) {
		switch k.Value {
		case "name":
			t.name = v.Value
		case "colors":
			eachToken(file, v, d, func(name string, v *yaml.Node) {
				light, dark := mapGet(v, "light"), mapGet(v, "dark")
				if light == nil || dark == nil || len(v.Content) != 4 {
					d.add(file, v.Line, v.Column, "colour %q needs exactly light and dark", name)
					return
				}
				for _, c := range []*yaml.Node{light, dark} {
					if !hexColorRE.MatchString(c.Value) {
						d.add(file, c.Line, c.Column, "colour %q: %q is not #rrggbb or #rrggbbaa", name, c.Value)
					}
				}
				t.colors[name] = [2]string{light.Value, dark.Value}
			})
		case "typography":
			eachToken(file, v, d, func(name string, v *yaml.Node) {
				obj := []byte{'{'}
				if v.Kind != yaml.MappingNode {
					d.add(file, v.Line, v.Column, "font %q must be a map of size, weight, line_height", name)
					return
				}
				eachPair(v, func(k, x *yaml.Node) {
					if len(obj) > 1 {
						obj = append(obj, ',')
					}
					switch k.Value {
					case "size", "line_height":
						f, err := strconv.ParseFloat(x.Value, 64)
						if x.Tag != "!!int" && x.Tag != "!!float" || err != nil || f <= 0 || f > 200 {
							d.add(file, x.Line, x.Column, "font %q: %s must be a number between 0 and 200", name, k.Value)
						}
						obj = appendString(obj, k.Value)
						obj = append(obj, ':')
						obj = append(obj, formatFloat(f)...)
					case "weight":
						if !contains(fontWeights, x.Value) {
							d.add(file, x.Line, x.Column, "font %q: weight must be one of %v", name, fontWeights)
						}
						obj = appendString(obj, "weight")
						obj = append(obj, ':')
						obj = appendString(obj, x.Value)
					default:
						d.add(file, k.Line, k.Column, "font %q: unknown field %q (want size, weight, line_height)", name, k.Value)
					}
				})
				t.fonts[name] = append(obj, '}')
			})
		case "spacing", "radii":
			dst := t.spacing
			if k.Value == "radii" {
				dst = t.radii
			}
			eachToken(file, v, d, func(name string, v *yaml.Node) {
				f, err := strconv.ParseFloat(v.Value, 64)
				if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") || err != nil || f < 0 || f > 10000 {
					d.add(file, v.Line, v.Column, "%s %q must be a non-negative number", k.Value, name)
				}
				dst[name] = f
			})
		case "logo":
			light, dark := mapGet(v, "light"), mapGet(v, "dark")
			if light == nil || dark == nil {
				d.add(file, v.Line, v.Column, "logo needs light and dark URLs")
				return
			}
			t.assets["logo"] = [2]string{light.Value, dark.Value}
			// size is how big screens draw the logo ("@logo" in a width), so
			// a brand whose mark reads large sets a smaller one.
			if size := mapGet(v, "size"); size != nil {
				f, err := strconv.ParseFloat(size.Value, 64)
				if size.Kind != yaml.ScalarNode || (size.Tag != "!!int" && size.Tag != "!!float") || err != nil || f < 16 || f > 160 {
					d.add(file, size.Line, size.Column, "logo size must be a number of points between 16 and 160")
				} else {
					t.sizes["logo"] = f
				}
			}
			eachPair(v, func(k, _ *yaml.Node) {
				if k.Value != "light" && k.Value != "dark" && k.Value != "size" {
					d.add(file, k.Line, k.Column, "logo: unknown field %q (want light, dark, size)", k.Value)
				}
			})
		case "styles":
			eachToken(file, v, d, func(name string, v *yaml.Node) {
				if v.Kind != yaml.MappingNode {
					d.add(file, v.Line, v.Column, "style %q must be a map", name)
					return
				}
				var s styleDef
				eachPair(v, func(k, x *yaml.Node) {
					switch k.Value {
					case "font":
						s.font = x.Value
					case "color":
						s.color = x.Value
					case "background":
						s.background = x.Value
					case "radius":
						s.radius = x.Value
					case "padding":
						s.padding = x.Value
					case "margin":
						s.margin = x.Value
					default:
						d.add(file, k.Line, k.Column, "style %q: unknown field %q (want font, color, background, radius, padding, margin)", name, k.Value)
					}
				})
				t.styles[name] = s
			})
		default:
			d.add(file, k.Line, k.Column, "unknown theme section %q (want name, colors, typography, spacing, radii, logo, styles)", k.Value)
		}
	})
	if t.name == "" {
		d.add(file, root.Line, root.Column, "theme needs a name")
		t.name = "default"
	}
	// Styles refer to tokens: check them once the whole file is read.
	eachPair(mapGet(root, "styles"), func(k, v *yaml.Node) {
		s := t.styles[k.Value]
		check := func(field, val string, ok bool) {
			if val != "" && !ok {
				n := mapGet(v, field)
				d.add(file, n.Line, n.Column, "style %q: unknown %s token %q", k.Value, field, val)
			}
		}
		_, ok := t.fonts[s.font]
		check("font", s.font, ok)
		_, ok = t.colors[s.color]
		check("color", s.color, ok)
		_, ok = t.colors[s.background]
		check("background", s.background, ok)
		_, ok = t.radii[s.radius]
		check("radius", s.radius, ok)
		_, ok = t.spacing[s.padding]
		check("padding", s.padding, ok)
		_, ok = t.spacing[s.margin]
		check("margin", s.margin, ok)
	})
	return t
}

// styleJSON resolves a style to concrete values for one mode.
func (t *theme) styleJSON(name string, mode int) []byte {
	s := t.styles[name]
	b := []byte{'{'}
	add := func(k string, v []byte) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = append(b, v...)
	}
	if f, ok := t.fonts[s.font]; ok {
		add("font", f)
	}
	if c, ok := t.colors[s.color]; ok {
		add("color", appendString(nil, c[mode]))
	}
	if c, ok := t.colors[s.background]; ok {
		add("background", appendString(nil, c[mode]))
	}
	if r, ok := t.radii[s.radius]; ok {
		add("radius", []byte(formatFloat(r)))
	}
	if p, ok := t.spacing[s.padding]; ok {
		add("padding", []byte(formatFloat(p)))
	}
	if m, ok := t.spacing[s.margin]; ok {
		add("margin", []byte(formatFloat(m)))
	}
	return append(b, '}')
}

// stylesJSON is the "styles" object of a layout: only the styles it uses.
func (t *theme) stylesJSON(used map[string]bool, mode int) []byte {
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	b := []byte{'{'}
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
		b = append(b, ':')
		b = append(b, t.styleJSON(n, mode)...)
	}
	return append(b, '}')
}

func (t *theme) tokenNames(m any) string {
	var names []string
	switch m := m.(type) {
	case map[string][2]string:
		for k := range m {
			names = append(names, k)
		}
	case map[string]float64:
		for k := range m {
			names = append(names, k)
		}
	case map[string]styleDef:
		for k := range m {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

func eachPair(n *yaml.Node, f func(k, v *yaml.Node)) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f(n.Content[i], n.Content[i+1])
	}
}

func eachToken(file string, n *yaml.Node, d *diags, f func(name string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.add(file, n.Line, n.Column, "expected a map of tokens")
		return
	}
	eachPair(n, func(k, v *yaml.Node) {
		if !tokenNameRE.MatchString(k.Value) {
			d.add(file, k.Line, k.Column, "token name %q must be lower_snake_case", k.Value)
			return
		}
		f(k.Value, v)
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}
