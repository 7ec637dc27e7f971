package renderer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"go.yaml.in/yaml/v3"

	"github.com/korobka/korobka/schemas"
)

// Engine is a compiled set of screens. It is immutable once loaded and
// safe for concurrent use; a reload builds a new Engine.
type Engine struct {
	rev     string
	theme   *theme
	langs   []*langStrings // sorted by tag; index is part of the variant
	defLang int
	screens map[string]*Screen
	frags   map[string][]*cfrag // per variant
	pool    sync.Pool
	// phones remembers linkify's verdict on phone candidates: validating
	// one with phonenumbers costs tens of microseconds, and the same
	// numbers recur in a chat.
	phones *lru.Cache[string, string]
}

// phoneCacheSize bounds the remembered phone candidates (a few hundred KB).
const phoneCacheSize = 4096

// Rev identifies the loaded files; it is in every layout and ETag, so a
// deploy or a saved file invalidates caches.
func (e *Engine) Rev() string { return e.rev }

// Screens lists screen names, sorted.
func (e *Engine) Screens() []string {
	out := make([]string, 0, len(e.screens))
	for n := range e.screens {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Screen returns a screen's metadata: the HTTP layer needs its params, its
// public flag and its live topics before rendering.
func (e *Engine) Screen(name string) (*Screen, bool) {
	s, ok := e.screens[name]
	return s, ok
}

// Screen describes one compiled screen.
type Screen struct {
	Name string
	// Public screens (login, otp) render without a signed-in viewer.
	Public bool
	Params []Param
	// Live holds topic templates such as "dialog:{{ params.dialog_id }}";
	// LiveTopics resolves them.
	Live []string
	Data []DataRef

	file     string
	data     []dataSpec
	live     []textVal
	nslots   int
	variants []*cscreen
	optional []string // optional components used, sorted: the capability fingerprint
	usesNow  bool     // an expression reads the current date (day()): the ETag includes it
}

// Param is a declared screen parameter.
type Param struct {
	Name     string
	Type     string // "string" or "int"
	Required bool
	Pattern  string
	re       *regexp.Regexp
}

// DataRef names one data binding of a screen and its source.
type DataRef struct{ Name, Source string }

type dataSpec struct {
	name, source string
	args         []argSpec
	slot         int
	// pageArg is the argument a page cursor goes into ("" when the
	// source does not page): Request.Page sets it for this data.
	pageArg string
}

type argSpec struct {
	name string
	val  textVal
}

type cscreen struct {
	head  []byte // {"screen":..,"rev":..,"title":
	title textVal
	mid   []byte // ,"theme":..,"tokens":{..},"styles":{..},"root":
	root  part
}

type cfrag struct {
	name   string
	params []string
	nslots int
	root   part
	u      *unit
	busy   bool
}

type fragSrc struct {
	file   string
	name   string
	params []string
	root   *yaml.Node
	nameN  *yaml.Node
}

type screenSrc struct {
	file string
	doc  *yaml.Node
	s    *Screen
}

// loader holds everything while an Engine is being built.
type loader struct {
	d        *diags
	theme    *theme
	langs    []*langStrings
	frags    map[string]*fragSrc
	screens  map[string]*screenSrc
	fixtures map[string][]byte
	contents map[string][]byte
	themeDoc *yaml.Node
	fsys     fs.FS
	schemas  map[string]bool // content/<name>.schema.json files, by collection
	images   map[string]bool // files under images/, as "images/<path>"
	// unreadable: a file failed to parse. Load then stops after reading:
	// every other file would report what the missing one defines
	// (fragments, strings, styles) as unknown.
	unreadable bool
	navs       []navRef
	rev        string
	fcache     []map[string]*cfrag // per variant
}

// Fixed slots of every screen frame.
const (
	slotParams = iota
	slotViewer
	slotLang
	slotTheme
	firstDataSlot
)

// sourceArgs lists each source's arguments; page names the one a page
// cursor (Request.Page) goes into, for the sources whose lists page.
var sourceArgs = map[string]struct {
	args, required []string
	page           string
}{
	"me":           {},
	"user":         {args: []string{"id"}, required: []string{"id"}},
	"contacts":     {args: []string{"limit", "cursor"}, page: "cursor"},
	"dialogs.list": {args: []string{"limit", "cursor"}, page: "cursor"},
	"dialog":       {args: []string{"id"}, required: []string{"id"}},
	"messages":     {args: []string{"dialog_id", "before", "limit"}, required: []string{"dialog_id"}, page: "before"},
	"media":        {args: []string{"dialog_id", "kind", "cursor", "limit"}, required: []string{"dialog_id", "kind"}, page: "cursor"},
	"members":      {args: []string{"dialog_id", "cursor", "limit"}, required: []string{"dialog_id"}, page: "cursor"},
}

var (
	nameRE        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	langFileRE    = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{2,8})?$`)
	errLintFailed = errors.New("renderer: screens failed lint")
)

// Lint checks every screen, fragment, theme, strings file, content seed and
// fixture, and returns the findings sorted by file and position. It is
// Load without keeping the result, for `korobka lint`.
//
// Each brand (themes/<name>/theme.yaml) is checked too, as if it were
// theme.yaml: its tokens, logo and contrast on every screen.
func Lint(fsys fs.FS) []Diagnostic {
	_, d, err := Load(fsys)
	if err != nil && len(d) == 0 {
		return []Diagnostic{{File: ".", Line: 1, Col: 1, Message: err.Error()}}
	}
	return lintBrands(fsys, d)
}

// Load parses, compiles and checks everything under fsys: the top-level
// *.yaml screens, fragments/, strings/, theme.yaml, content/ seeds and
// fixtures/. Any diagnostic means no Engine: a half-valid set of screens is
// never served. Fixtures are rendered in every variant and validated
// against schemas/layout.schema.json, so lint also proves the output shape.
func Load(fsys fs.FS) (*Engine, []Diagnostic, error) {
	ld := &loader{
		d: &diags{}, frags: map[string]*fragSrc{}, screens: map[string]*screenSrc{},
		fixtures: map[string][]byte{}, contents: map[string][]byte{},
		fsys: fsys, schemas: map[string]bool{}, images: map[string]bool{},
	}
	rev, err := ld.readAll(fsys)
	if err != nil {
		return nil, nil, err
	}
	ld.rev = rev
	if ld.unreadable {
		d := ld.d.sorted()
		return nil, d, fmt.Errorf("%w: %d problems, first: %s", errLintFailed, len(d), d[0])
	}
	ld.checkLogo()
	e := ld.build(rev)
	if len(ld.d.list) == 0 {
		ld.checkContrast()
	}
	if len(ld.d.list) == 0 {
		ld.checkFixtures(e)
		ld.checkContent()
	}
	if len(ld.d.list) > 0 {
		d := ld.d.sorted()
		return nil, d, fmt.Errorf("%w: %d problems, first: %s", errLintFailed, len(d), d[0])
	}
	return e, nil, nil
}

// readAll reads and parses every file, hashing them into the revision.
func (ld *loader) readAll(fsys fs.FS) (string, error) {
	type file struct {
		name string
		data []byte
	}
	var files []file
	total := 0
	read := func(dir, ext string) error {
		ents, err := fs.ReadDir(fsys, dir)
		if errors.Is(err, fs.ErrNotExist) && dir != "." {
			return nil
		}
		if err != nil {
			return err
		}
		for _, ent := range ents {
			if ent.IsDir() || !strings.HasSuffix(ent.Name(), ext) || strings.HasPrefix(ent.Name(), ".") {
				continue
			}
			name := path.Join(dir, ent.Name())
			if len(files) >= maxFiles {
				ld.d.add(name, 1, 1, "more than %d files", maxFiles)
				return nil
			}
			data, err := readLimited(fsys, name)
			if err != nil {
				ld.d.add(name, 1, 1, "%v", err)
				continue
			}
			total += len(data)
			if total > maxTotalSize {
				ld.d.add(name, 1, 1, "screens exceed %d bytes in total", maxTotalSize)
				return nil
			}
			files = append(files, file{name, data})
		}
		return nil
	}
	for _, dir := range []struct{ dir, ext string }{
		{".", ".yaml"}, {"fragments", ".yaml"}, {"strings", ".yaml"},
		{"content", ".yaml"}, {"content", ".schema.json"}, {"fixtures", ".json"},
	} {
		if err := read(dir.dir, dir.ext); err != nil {
			return "", fmt.Errorf("renderer: read %s: %w", dir.dir, err)
		}
	}
	if err := ld.readImages(fsys); err != nil {
		return "", fmt.Errorf("renderer: read images: %w", err)
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.name, len(f.data))
		h.Write(f.data)
	}
	rev := hex.EncodeToString(h.Sum(nil))[:12]

	for _, f := range files {
		dir, base := path.Split(f.name)
		stem := strings.TrimSuffix(base, path.Ext(base))
		switch dir {
		case "fixtures/":
			ld.fixtures[f.name] = f.data
			continue
		case "content/":
			if strings.HasSuffix(base, ".schema.json") {
				ld.schemas[strings.TrimSuffix(base, ".schema.json")] = true
			} else {
				ld.contents[f.name] = f.data
			}
			continue
		}
		doc := parseYAML(f.name, f.data, ld.d)
		if doc == nil {
			ld.unreadable = true
			continue
		}
		switch {
		case dir == "" && base == "theme.yaml":
			ld.theme, ld.themeDoc = loadTheme(f.name, doc, ld.d), doc
		case dir == "strings/":
			if !langFileRE.MatchString(stem) {
				ld.d.add(f.name, 1, 1, "strings files are named <language>.yaml, like ru.yaml")
				continue
			}
			ld.langs = append(ld.langs, loadStrings(f.name, stem, doc, ld.d))
		case dir == "fragments/":
			ld.addFragment(f.name, stem, doc)
		case dir == "":
			ld.addScreen(f.name, stem, doc)
		}
	}
	if ld.theme == nil {
		if !ld.unreadable {
			ld.d.add("theme.yaml", 1, 1, "theme.yaml is missing")
		}
		ld.theme = &theme{name: "default", colors: map[string][2]string{}, fonts: map[string][]byte{},
			spacing: map[string]float64{}, radii: map[string]float64{}, assets: map[string][2]string{}, styles: map[string]styleDef{}}
	}
	if len(ld.langs) == 0 && !ld.unreadable {
		ld.d.add("strings/en.yaml", 1, 1, "no strings files: add strings/en.yaml")
	}
	sort.Slice(ld.langs, func(i, j int) bool { return ld.langs[i].lang < ld.langs[j].lang })
	return rev, nil
}

func (ld *loader) addFragment(file, stem string, doc *yaml.Node) {
	fs := &fragSrc{file: file, name: stem}
	if doc.Kind != yaml.MappingNode {
		ld.d.add(file, doc.Line, doc.Column, "a fragment must be a map with fragment, params and root")
		return
	}
	eachPair(doc, func(k, v *yaml.Node) {
		switch k.Value {
		case "fragment":
			fs.nameN = v
			if v.Value != stem {
				ld.d.add(file, v.Line, v.Column, "fragment %q must be in fragments/%s.yaml", v.Value, v.Value)
			}
		case "params":
			if v.Kind != yaml.SequenceNode {
				ld.d.add(file, v.Line, v.Column, "params must be a list of names")
				return
			}
			for _, p := range v.Content {
				if !isIdent(p.Value) || contains(fs.params, p.Value) {
					ld.d.add(file, p.Line, p.Column, "bad or repeated param name %q", p.Value)
					continue
				}
				fs.params = append(fs.params, p.Value)
			}
		case "root":
			fs.root = v
		case "doc":
		default:
			ld.d.add(file, k.Line, k.Column, "unknown fragment key %q (want fragment, params, root, doc)", k.Value)
		}
	})
	if fs.root == nil {
		ld.d.add(file, doc.Line, doc.Column, "fragment needs a root node")
		return
	}
	ld.frags[stem] = fs
}

func (ld *loader) addScreen(file, stem string, doc *yaml.Node) {
	if !nameRE.MatchString(stem) {
		ld.d.add(file, 1, 1, "screen file names are lower_snake_case")
		return
	}
	if doc.Kind != yaml.MappingNode {
		ld.d.add(file, doc.Line, doc.Column, "a screen must be a map")
		return
	}
	s := &Screen{Name: stem, file: file}
	for _, k := range []string{"screen", "root"} {
		if mapGet(doc, k) == nil {
			ld.d.add(file, doc.Line, doc.Column, "screen needs %s:", k)
			return
		}
	}
	eachPair(doc, func(k, v *yaml.Node) {
		switch k.Value {
		case "screen":
			if v.Value != stem {
				ld.d.add(file, v.Line, v.Column, "screen %q must be in %s.yaml", v.Value, v.Value)
			}
		case "auth":
			switch v.Value {
			case "public":
				s.Public = true
			case "user":
			default:
				ld.d.add(file, v.Line, v.Column, "auth must be public or user")
			}
		case "params":
			eachPair(v, func(pk, pv *yaml.Node) {
				if !isIdent(pk.Value) {
					ld.d.add(file, pk.Line, pk.Column, "bad param name %q", pk.Value)
					return
				}
				p := Param{Name: pk.Value, Type: "string"}
				eachPair(pv, func(fk, fv *yaml.Node) {
					switch fk.Value {
					case "type":
						if fv.Value != "string" && fv.Value != "int" {
							ld.d.add(file, fv.Line, fv.Column, "param type must be string or int")
						}
						p.Type = fv.Value
					case "required":
						p.Required = fv.Value == "true"
					case "pattern":
						re, err := regexp.Compile(fv.Value)
						if err != nil {
							ld.d.add(file, fv.Line, fv.Column, "bad pattern: %v", err)
							return
						}
						p.Pattern, p.re = fv.Value, re
					default:
						ld.d.add(file, fk.Line, fk.Column, "unknown param field %q (want type, required, pattern)", fk.Value)
					}
				})
				s.Params = append(s.Params, p)
			})
		case "title", "data", "live", "root", "doc":
		default:
			ld.d.add(file, k.Line, k.Column, "unknown screen key %q (want screen, title, auth, params, data, live, root, doc)", k.Value)
		}
	})
	ld.screens[stem] = &screenSrc{file: file, doc: doc, s: s}
}

func (ld *loader) variants() []*variant {
	var vs []*variant
	for li, l := range ld.langs {
		for mode := range 2 {
			vs = append(vs, &variant{idx: li*2 + mode, lang: l, mode: mode})
		}
	}
	return vs
}

func (ld *loader) build(rev string) *Engine {
	e := &Engine{rev: rev, theme: ld.theme, langs: ld.langs, screens: map[string]*Screen{}, frags: map[string][]*cfrag{}}
	e.phones, _ = lru.New[string, string](phoneCacheSize)
	for i, l := range ld.langs {
		if l.lang == "en" {
			e.defLang = i
		}
	}
	vs := ld.variants()
	ld.fcache = make([]map[string]*cfrag, len(vs))
	for _, v := range vs {
		ld.fcache[v.idx] = map[string]*cfrag{}
	}
	names := make([]string, 0, len(ld.screens))
	for n := range ld.screens {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		src := ld.screens[n]
		for _, v := range vs {
			ld.compileScreen(src, v)
		}
		e.screens[n] = src.s
	}
	// Fragments not used by any screen are still compiled, for patches and lint.
	fnames := make([]string, 0, len(ld.frags))
	for n := range ld.frags {
		fnames = append(fnames, n)
	}
	sort.Strings(fnames)
	for _, n := range fnames {
		for _, v := range vs {
			c := &compiler{ld: ld, v: v, d: ld.d, file: ld.frags[n].file, u: newUnit()}
			e.frags[n] = append(e.frags[n], c.fragmentByName(n, nil))
		}
	}
	ld.checkNavs()
	return e
}

func (c *compiler) fragment(useN *yaml.Node) *cfrag {
	if useN.Kind != yaml.ScalarNode {
		c.errf(useN, "use: takes a fragment name")
		return nil
	}
	return c.fragmentByName(useN.Value, useN)
}

func (c *compiler) fragmentByName(name string, at *yaml.Node) *cfrag {
	cache := c.ld.fcache[c.v.idx]
	if fr, ok := cache[name]; ok {
		if fr.busy {
			c.errf(at, "fragment %q uses itself", name)
			return nil
		}
		return fr
	}
	src, ok := c.ld.frags[name]
	if !ok {
		c.errf(at, "unknown fragment %q", name)
		return nil
	}
	fr := &cfrag{name: name, params: src.params, u: newUnit(), busy: true}
	cache[name] = fr
	sc := newScope(nil)
	for _, p := range src.params {
		sc.declare(p)
	}
	sub := &compiler{ld: c.ld, v: c.v, d: c.d, file: src.file, u: fr.u}
	fr.root = sub.node(src.root, sc)
	fr.nslots = sc.frame.n
	fr.u.now = fr.u.now || sc.frame.now
	fr.busy = false
	return fr
}

func (ld *loader) compileScreen(src *screenSrc, v *variant) {
	s := src.s
	c := &compiler{ld: ld, v: v, d: ld.d, file: src.file, u: newUnit()}
	params := map[string]bool{}
	for _, p := range s.Params {
		params[p.Name] = true
	}
	sc := newScope(params)
	for _, n := range []string{"params", "viewer", "lang", "theme"} {
		sc.declare(n)
	}
	// Data args see params and viewer only: data is fetched before binding.
	var data []dataSpec
	eachPair(mapGet(src.doc, "data"), func(k, dv *yaml.Node) {
		if !isIdent(k.Value) {
			c.errf(k, "bad data name %q", k.Value)
			return
		}
		if _, dup := sc.lookup(k.Value); dup {
			c.errf(k, "data name %q is taken", k.Value)
			return
		}
		ds := dataSpec{name: k.Value}
		srcN := mapGet(dv, "source")
		if srcN == nil {
			c.errf(dv, "data %q needs a source", k.Value)
			return
		}
		ds.source = srcN.Value
		spec, known := sourceArgs[ds.source]
		ds.pageArg = spec.page
		if coll := strings.TrimPrefix(ds.source, "content."); coll != ds.source && nameRE.MatchString(coll) {
			known, spec.args = true, []string{"limit"}
			if !ld.schemas[coll] {
				c.errf(srcN, "collection %q has no schema: add content/%s.schema.json to the screens folder", coll, coll)
			}
		}
		if !known {
			c.errf(srcN, "unknown data source %q (known: me, user, contacts, dialogs.list, dialog, messages, media, content.<collection>)", ds.source)
		}
		eachPair(dv, func(ak, av *yaml.Node) {
			if ak.Value == "source" {
				return
			}
			if known && !contains(spec.args, ak.Value) {
				c.errf(ak, "source %s takes no argument %q (takes: %s)", ds.source, ak.Value, strings.Join(spec.args, ", "))
				return
			}
			ds.args = append(ds.args, argSpec{name: ak.Value, val: c.text(av, sc, kString)})
		})
		for _, r := range spec.required {
			if mapGet(dv, r) == nil {
				c.errf(dv, "source %s needs %s", ds.source, r)
			}
		}
		sort.Slice(ds.args, func(i, j int) bool { return ds.args[i].name < ds.args[j].name })
		data = append(data, ds)
	})
	for i := range data {
		data[i].slot = sc.declare(data[i].name)
	}
	var live []textVal
	if ln := mapGet(src.doc, "live"); ln != nil {
		if ln.Kind != yaml.SequenceNode {
			c.errf(ln, "live must be a list of topics")
		}
		for _, t := range ln.Content {
			if v.idx == 0 {
				s.Live = append(s.Live, t.Value)
			}
			live = append(live, c.text(t, sc, kString))
		}
	}
	cs := &cscreen{}
	if t := mapGet(src.doc, "title"); t != nil {
		cs.title = c.text(t, sc, kText)
	} else {
		cs.title = staticText("")
	}
	rootN := mapGet(src.doc, "root")
	if mapGet(rootN, "if") != nil {
		c.errf(rootN, "the root node cannot have if:")
	}
	cs.root = c.node(rootN, sc)
	cs.head = fmt.Appendf(nil, `{"screen":%s,"rev":%s,"title":`, appendString(nil, s.Name), appendString(nil, ld.rev))
	th := ld.theme.name + "-light"
	if v.mode == modeDark {
		th = ld.theme.name + "-dark"
	}
	cs.mid = fmt.Appendf(nil, `,"theme":%s,"tokens":%s,"styles":%s,"root":`, appendString(nil, th),
		ld.theme.tokensJSON(v.mode), ld.theme.stylesJSON(c.u.styles, v.mode))
	if v.idx == 0 {
		s.data, s.live = data, live
		for _, ds := range data {
			s.Data = append(s.Data, DataRef{Name: ds.name, Source: ds.source})
		}
		for o := range c.u.optional {
			s.optional = append(s.optional, o)
		}
		sort.Strings(s.optional)
		s.usesNow = c.u.now || sc.frame.now
	}
	s.nslots = max(s.nslots, sc.frame.n)
	s.variants = append(s.variants, cs)
}

func (ld *loader) checkNavs() {
	for _, n := range ld.navs {
		target, ok := ld.screens[n.screen]
		if !ok {
			ld.d.add(n.file, n.line, n.col, "navigate to unknown screen %q", n.screen)
			continue
		}
		given := map[string]bool{}
		for _, k := range n.params {
			given[k.Value] = true
			found := false
			for _, p := range target.s.Params {
				found = found || p.Name == k.Value
			}
			if !found {
				ld.d.add(n.file, k.Line, k.Column, "screen %q has no param %q", n.screen, k.Value)
			}
		}
		for _, p := range target.s.Params {
			if p.Required && !given[p.Name] {
				ld.d.add(n.file, n.line, n.col, "navigate to %q lacks required param %q", n.screen, p.Name)
			}
		}
	}
}

// layoutSchema compiles schemas/layout.schema.json once per Load.
func layoutSchema() (*jsonSchema, error) { return compileSchema(schemas.FS, "layout.schema.json") }
