package renderer

import (
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"go.yaml.in/yaml/v3"
)

// Templates compile, once per (language, theme mode), into parts: either
// precomputed JSON bytes (everything that does not depend on data: static
// subtrees, resolved strings, theme values) or closures that append to the
// output buffer. Rendering is then a walk over closures with no maps built,
// no reflection and no template parsing.

// state is one render in progress; pooled.
type state struct {
	buf   []byte
	vals  []any // frames: screen slots, then fragment frames stacked above
	base  int
	caps  Capabilities
	nodes int
	over  bool
	// loc is the zone times are shown in; now is the render's "now" for
	// day(). Both come from the Request or Variant.
	loc *time.Location
	now time.Time
	// region reads phone numbers written without a country code; phones
	// is the engine's cache of verdicts on phone candidates.
	region string
	phones *lru.Cache[string, string]
	// lang is the render's language ("ru", "en"), for the functions that
	// write numbers and dates; set for screens and fragments alike (a
	// fragment's frame has no lang slot).
	lang string
	// dayKey and dayVal remember day_label's last answer: a chat's
	// messages come a day at a time, so most bubbles reuse it.
	dayKey int
	dayVal any
}

func (st *state) budget() bool {
	if st.nodes > maxOutNodes || len(st.buf) > maxOutBytes {
		st.over = true
	}
	return !st.over
}

// part writes one JSON value. A part with neither static nor fn writes
// nothing (a node whose if is constantly false).
type part struct {
	static []byte
	nodes  int
	fn     func(st *state) bool // false when it chose to write nothing
}

func (p part) empty() bool { return p.fn == nil && p.static == nil }

func (p part) write(st *state) bool {
	if p.fn != nil {
		return p.fn(st)
	}
	if p.static == nil {
		return false
	}
	st.buf = append(st.buf, p.static...)
	st.nodes += p.nodes
	return true
}

// emitter accumulates a value as literal bytes and closures, merging
// adjacent literals.
type emitter struct {
	lit   []byte
	segs  []func(st *state)
	nodes int
	dyn   bool
}

func (e *emitter) raw(s string) { e.lit = append(e.lit, s...) }

func (e *emitter) rawb(b []byte) { e.lit = append(e.lit, b...) }

func (e *emitter) flush() {
	if len(e.lit) > 0 {
		lit := e.lit
		e.segs = append(e.segs, func(st *state) { st.buf = append(st.buf, lit...) })
		e.lit = nil
	}
}

func (e *emitter) add(fn func(st *state)) {
	e.flush()
	e.dyn = true
	e.segs = append(e.segs, fn)
}

// keyed writes ,"key":value, or nothing when the value writes nothing.
func (e *emitter) keyed(key string, p part) {
	if p.empty() {
		return
	}
	prefix := `,"` + key + `":`
	if p.fn == nil {
		e.raw(prefix)
		e.rawb(p.static)
		e.nodes += p.nodes
		return
	}
	e.add(func(st *state) {
		mark := len(st.buf)
		st.buf = append(st.buf, prefix...)
		if !p.write(st) {
			st.buf = st.buf[:mark]
		}
	})
}

func (e *emitter) done(selfNodes int) part {
	if !e.dyn {
		return part{static: e.lit, nodes: e.nodes + selfNodes}
	}
	e.flush()
	segs := e.segs
	staticNodes := e.nodes + selfNodes
	return part{fn: func(st *state) bool {
		st.nodes += staticNodes
		for _, s := range segs {
			s(st)
		}
		return true
	}}
}

// arrayPart joins element parts into a JSON array, skipping elements that
// write nothing.
func arrayPart(elems []part) part {
	allStatic := true
	for _, p := range elems {
		allStatic = allStatic && p.fn == nil
	}
	if allStatic {
		b := []byte{'['}
		n := 0
		for _, p := range elems {
			if p.static == nil {
				continue
			}
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = append(b, p.static...)
			n += p.nodes
		}
		return part{static: append(b, ']'), nodes: n}
	}
	return part{fn: func(st *state) bool {
		st.buf = append(st.buf, '[')
		first := true
		for _, p := range elems {
			mark := len(st.buf)
			if !first {
				st.buf = append(st.buf, ',')
			}
			if p.write(st) {
				first = false
			} else {
				st.buf = st.buf[:mark]
			}
		}
		st.buf = append(st.buf, ']')
		return true
	}}
}

// unit collects what a screen or fragment uses, for its styles object and
// its capability fingerprint.
type unit struct {
	styles    map[string]bool
	optional  map[string]bool
	loopDepth int
	// now is set when an expression depends on the current date (day()),
	// so the ETag includes that date.
	now bool
}

func newUnit() *unit { return &unit{styles: map[string]bool{}, optional: map[string]bool{}} }

func (u *unit) merge(o *unit) {
	for k := range o.styles {
		u.styles[k] = true
	}
	for k := range o.optional {
		u.optional[k] = true
	}
	u.now = u.now || o.now
}

type variant struct {
	idx  int
	lang *langStrings
	mode int
}

// navRef is a navigate action, checked once all screens are known.
type navRef struct {
	file      string
	line, col int
	screen    string
	params    []*yaml.Node // keys
}

type compiler struct {
	ld   *loader
	v    *variant
	d    *diags
	file string
	u    *unit
}

func (c *compiler) errf(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	c.d.add(c.file, line, col, format, args...)
}

// exprPos maps an offset inside a scalar's value to a file position; exact
// for single-line scalars, the scalar's start otherwise.
func exprPos(n *yaml.Node, off int) (int, int) {
	if strings.ContainsRune(n.Value, '\n') {
		return n.Line, n.Column
	}
	col := n.Column + off
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		col++
	}
	return n.Line, col
}

func (c *compiler) exprErr(n *yaml.Node, off int, err *exprError) {
	line, col := exprPos(n, off+err.off)
	c.d.add(c.file, line, col, "expression: %s", err.msg)
}

// tpart is a piece of an interpolated string: literal text or {{ expr }}.
type tpart struct {
	lit  string
	expr string
	off  int
}

func splitTemplate(s string) ([]tpart, int, string) {
	var parts []tpart
	pos := 0
	for {
		i := strings.Index(s[pos:], "{{")
		if i < 0 {
			if pos < len(s) {
				parts = append(parts, tpart{lit: s[pos:]})
			}
			return parts, 0, ""
		}
		i += pos
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return nil, i, "unterminated {{"
		}
		if i > pos {
			parts = append(parts, tpart{lit: s[pos:i]})
		}
		parts = append(parts, tpart{expr: s[i+2 : i+2+j], off: i + 2})
		pos = i + 2 + j + 2
	}
}

// textVal is a string-valued template: literal, interpolation or a string
// key resolved for the compile's language.
type textVal struct {
	static bool
	s      string
	exprs  []cexpr  // interpolation: parts alternate by lits
	lits   []string // lits[i] precedes exprs[i]; one extra trailing literal
	msg    *message // string key with n or args
	n      cexpr
	hasN   bool
	args   map[string]textVal
	lang   *langStrings
}

func staticText(s string) textVal { return textVal{static: true, s: s} }

func (t *textVal) str(st *state) string {
	switch {
	case t.static:
		return t.s
	case t.msg != nil:
		return string(t.appendMsg(st, nil))
	case len(t.exprs) == 1 && t.lits[0] == "" && t.lits[1] == "":
		return toText(t.exprs[0].eval(st))
	}
	var b strings.Builder
	for i, e := range t.exprs {
		b.WriteString(t.lits[i])
		b.WriteString(toText(e.eval(st)))
	}
	b.WriteString(t.lits[len(t.exprs)])
	return b.String()
}

// appendJSON writes the value as a JSON string without building it first.
func (t *textVal) appendJSON(st *state) {
	if t.msg != nil || t.static {
		st.buf = appendString(st.buf, t.str(st))
		return
	}
	st.buf = append(st.buf, '"')
	for i, e := range t.exprs {
		st.buf = appendStringBody(st.buf, t.lits[i])
		st.buf = appendStringBody(st.buf, toText(e.eval(st)))
	}
	st.buf = appendStringBody(st.buf, t.lits[len(t.exprs)])
	st.buf = append(st.buf, '"')
}

func (t *textVal) appendMsg(st *state, b []byte) []byte {
	parts := t.msg.plain
	var nText string
	if t.hasN {
		nv := t.n.eval(st)
		f, _ := toFloat(nv)
		nText = toText(nv)
		if t.msg.forms != nil {
			var ok bool
			if parts, ok = t.msg.forms[pluralForm(t.lang.tag, f)]; !ok {
				parts = t.msg.forms[formNames["other"]]
			}
		}
	}
	for _, p := range parts {
		switch {
		case p.param == "":
			b = append(b, p.lit...)
		case p.param == "n" && t.hasN:
			b = append(b, nText...)
		default:
			if a, ok := t.args[p.param]; ok {
				b = append(b, a.str(st)...)
			}
		}
	}
	return b
}

// text compiles a string-valued prop.
func (c *compiler) text(n *yaml.Node, sc *scope, k kind) textVal {
	switch n.Kind {
	case yaml.ScalarNode:
		if k == kURL && strings.HasPrefix(n.Value, "@") {
			a, ok := c.ld.theme.assets[n.Value[1:]]
			if !ok {
				c.errf(n, "unknown theme asset %q (known: logo)", n.Value)
				return staticText("")
			}
			return staticText(a[c.v.mode])
		}
		if k == kURL && !strings.Contains(n.Value, "{{") {
			c.ld.checkImage(c.file, n.Line, n.Column, n.Value)
		}
		return c.interpolate(n, sc)
	case yaml.MappingNode:
		if k != kText {
			c.errf(n, "only text props take {t: key}; this one takes a string")
			return staticText("")
		}
		return c.stringKey(n, sc)
	}
	c.errf(n, "expected a string")
	return staticText("")
}

func (c *compiler) interpolate(n *yaml.Node, sc *scope) textVal {
	parts, off, msg := splitTemplate(n.Value)
	if msg != "" {
		line, col := exprPos(n, off)
		c.d.add(c.file, line, col, "%s", msg)
		return staticText("")
	}
	t := textVal{lits: []string{""}}
	for _, p := range parts {
		if p.expr == "" {
			t.lits[len(t.lits)-1] += p.lit
			continue
		}
		e, err := compileExpr(p.expr, sc)
		if err != nil {
			c.exprErr(n, p.off, err)
			return staticText("")
		}
		if e.isConst {
			t.lits[len(t.lits)-1] += toText(e.val)
			continue
		}
		t.exprs = append(t.exprs, e)
		t.lits = append(t.lits, "")
	}
	if len(t.exprs) == 0 {
		return staticText(t.lits[0])
	}
	return t
}

func (c *compiler) stringKey(n *yaml.Node, sc *scope) textVal {
	var key *yaml.Node
	t := textVal{lang: c.v.lang}
	eachPair(n, func(k, v *yaml.Node) {
		switch k.Value {
		case "t":
			key = v
		case "n":
			e, ok := c.value(v, sc)
			if ok {
				t.n, t.hasN = e, true
			}
		case "args":
			t.args = map[string]textVal{}
			eachPair(v, func(ak, av *yaml.Node) { t.args[ak.Value] = c.text(av, sc, kString) })
		default:
			c.errf(k, "unknown key %q in a string reference (want t, n, args)", k.Value)
		}
	})
	if key == nil || key.Kind != yaml.ScalarNode {
		c.errf(n, "a string reference needs t: key")
		return staticText("")
	}
	m, ok := c.v.lang.msgs[key.Value]
	if !ok {
		c.errf(key, "missing string key %q in %s", key.Value, c.v.lang.file)
		return staticText(key.Value)
	}
	if m.forms != nil && !t.hasN {
		c.errf(key, "string %q has plural forms and needs n", key.Value)
	}
	for p := range m.params() {
		if p == "n" && t.hasN {
			continue
		}
		if _, ok := t.args[p]; !ok {
			c.errf(key, "string %q in %s uses {%s} but no arg gives it", key.Value, c.v.lang.file, p)
		}
	}
	t.msg = m
	if !t.hasN && len(t.args) == 0 {
		return staticText(string(t.appendMsg(nil, nil)))
	}
	allStatic := !t.hasN || t.n.isConst
	for _, a := range t.args {
		allStatic = allStatic && a.static
	}
	if allStatic {
		return staticText(string(t.appendMsg(nil, nil)))
	}
	return t
}

// value compiles a scalar that is a literal or a whole "{{ expr }}".
func (c *compiler) value(n *yaml.Node, sc *scope) (cexpr, bool) {
	if n.Kind != yaml.ScalarNode {
		c.errf(n, "expected a value or {{ expression }}")
		return cexpr{}, false
	}
	if n.Tag == "!!str" {
		s := strings.TrimSpace(n.Value)
		if strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}") && strings.Count(s, "{{") == 1 {
			off := strings.Index(n.Value, "{{") + 2
			e, err := compileExpr(s[2:len(s)-2], sc)
			if err != nil {
				c.exprErr(n, off, err)
				return cexpr{}, false
			}
			return e, true
		}
	}
	v, err := yamlValue(n)
	if err != nil {
		c.errf(n, "%v", err)
		return cexpr{}, false
	}
	return constExpr(v), true
}

// bareExpr compiles an expression written without braces (if:, with:).
func (c *compiler) bareExpr(n *yaml.Node, sc *scope) (cexpr, bool) {
	if n.Kind != yaml.ScalarNode {
		c.errf(n, "expected an expression")
		return cexpr{}, false
	}
	if n.Tag != "!!str" {
		v, _ := yamlValue(n)
		return constExpr(v), true
	}
	src, off := n.Value, 0
	if s := strings.TrimSpace(src); strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}") {
		off = strings.Index(src, "{{") + 2
		src = s[2 : len(s)-2]
	}
	e, err := compileExpr(src, sc)
	if err != nil {
		c.exprErr(n, off, err)
		return cexpr{}, false
	}
	return e, true
}

func textPart(t textVal) part {
	if t.static {
		return part{static: appendString(nil, t.s)}
	}
	return part{fn: func(st *state) bool { t.appendJSON(st); return true }}
}

// node compiles one layout node.
func (c *compiler) node(n *yaml.Node, sc *scope) part {
	if n.Kind != yaml.MappingNode {
		c.errf(n, "a node must be a map with a type")
		return part{}
	}
	if mapGet(n, "use") != nil {
		return c.useNode(n, sc)
	}
	typ := mapGet(n, "type")
	if typ == nil {
		c.errf(n, "node needs a type (or use: fragment)")
		return part{}
	}
	spec, _ := lookupComponent(typ.Value)
	if spec == nil {
		c.errf(typ, "unknown node type %q", typ.Value)
		return part{}
	}
	ok := true
	eachPair(n, func(k, v *yaml.Node) {
		if k.Value == "with" {
			c.errf(k, "with: goes with use:, not with type:")
			ok = false
			return
		}
		if _, isProp := spec.prop(k.Value); !isProp && !contains(nodeKeys, k.Value) {
			c.errf(k, "unknown prop %q for %s", k.Value, spec.name)
			ok = false
		}
	})
	if !ok {
		return part{}
	}
	var e emitter
	e.raw(`{"type":`)
	e.rawb(appendString(nil, spec.name))
	if id := mapGet(n, "id"); id != nil {
		e.keyed("id", textPart(c.text(id, sc, kString)))
	}
	linkify := false
	if lv := mapGet(n, "linkify"); lv != nil {
		linkify = lv.Value == "true"
		if lv.Tag != "!!bool" {
			c.errf(lv, "linkify must be true or false")
		}
	}
	for _, p := range spec.props {
		v := mapGet(n, p.name)
		if v == nil {
			continue
		}
		c.prop(&e, p, v, sc, linkify && spec.spans && p.name == "text")
	}
	if s := mapGet(n, "style"); s != nil {
		styles := c.ld.theme.styles
		if x, lits, ok := c.choice(s, sc, "style token", func(l string) bool { _, ok := styles[l]; return ok },
			c.ld.theme.tokenNames(styles)); ok {
			for _, l := range lits {
				c.u.styles[l] = true
			}
			e.keyed("style", choicePart(x))
		}
	}
	if a := mapGet(n, "action"); a != nil {
		e.keyed("action", c.action(a, sc))
	}
	ch, forN, item := mapGet(n, "children"), mapGet(n, "for"), mapGet(n, "item")
	switch {
	case (ch != nil || forN != nil) && !spec.children:
		c.errf(n, "%s takes no children", spec.name)
	case ch != nil && forN != nil:
		c.errf(forN, "use either children or for/item, not both")
	case ch != nil:
		if ch.Kind != yaml.SequenceNode {
			c.errf(ch, "children must be a list of nodes")
			break
		}
		kids := make([]part, 0, len(ch.Content))
		for _, k := range ch.Content {
			kids = append(kids, c.node(k, sc))
		}
		e.keyed("children", arrayPart(kids))
	case forN != nil:
		if item == nil {
			c.errf(forN, "for needs an item node")
			break
		}
		e.keyed("children", c.loop(forN, item, sc))
	case item != nil:
		c.errf(item, "item needs for")
	}
	e.raw("}")
	p := e.done(1)
	if spec.optional {
		var fb part
		if f := mapGet(n, "fallback"); f != nil {
			fb = c.node(f, sc)
		}
		c.u.optional[spec.name] = true
		inner, name := p, spec.name
		p = part{fn: func(st *state) bool {
			if st.caps.Has(name, 1) {
				return inner.write(st)
			}
			return fb.write(st)
		}}
	} else if f := mapGet(n, "fallback"); f != nil {
		c.node(f, sc) // still checked: it is dead until the component becomes optional
	}
	return c.guard(n, p, sc)
}

// guard applies if: to a part.
func (c *compiler) guard(n *yaml.Node, p part, sc *scope) part {
	ifN := mapGet(n, "if")
	if ifN == nil {
		return p
	}
	cond, ok := c.bareExpr(ifN, sc)
	if !ok {
		return p
	}
	if cond.isConst {
		if truthy(cond.val) {
			return p
		}
		return part{}
	}
	return part{fn: func(st *state) bool {
		if !truthy(cond.fn(st)) {
			return false
		}
		return p.write(st)
	}}
}

func (c *compiler) loop(forN, item *yaml.Node, sc *scope) part {
	name, src, ok := strings.Cut(forN.Value, " in ")
	name = strings.TrimSpace(name)
	if !ok || !isIdent(name) {
		c.errf(forN, `for must read "name in expression"`)
		return part{}
	}
	if _, dup := sc.lookup(name); dup {
		c.errf(forN, "loop variable %q shadows a name already in scope", name)
		return part{}
	}
	list, err := compileExpr(src, sc)
	if err != nil {
		c.exprErr(forN, len(forN.Value)-len(src)+err.off, err)
		return part{}
	}
	inner := sc.child()
	inner.loops++
	if inner.loops > maxForDepth {
		c.errf(forN, "for loops nest deeper than %d", maxForDepth)
		return part{}
	}
	if inner.loops > c.u.loopDepth {
		c.u.loopDepth = inner.loops
	}
	slot := inner.declare(name)
	it := c.node(item, inner)
	return part{fn: func(st *state) bool {
		st.buf = append(st.buf, '[')
		l, _ := list.eval(st).([]any)
		first := true
		for _, el := range l {
			st.vals[st.base+slot] = el
			mark := len(st.buf)
			if !first {
				st.buf = append(st.buf, ',')
			}
			if it.write(st) {
				first = false
			} else {
				st.buf = st.buf[:mark]
			}
			if !st.budget() {
				break
			}
		}
		st.buf = append(st.buf, ']')
		return true
	}}
}

func (c *compiler) prop(e *emitter, p propSpec, v *yaml.Node, sc *scope, linkify bool) {
	key := p.outName()
	switch p.kind {
	case kText, kString, kURL:
		t := c.text(v, sc, p.kind)
		if linkify {
			e.raw(`,"` + key + `":`)
			// Spans depend on the request's region (phone numbers), so
			// even a literal is linkified at render time.
			e.add(func(st *state) {
				s := t.str(st)
				st.buf = appendString(st.buf, s)
				st.buf = appendSpans(st.buf, s, st.region, st.phones)
			})
			return
		}
		e.keyed(key, textPart(t))
	case kNumber, kBool, kEnum:
		if p.kind == kNumber && v.Kind == yaml.ScalarNode && strings.HasPrefix(v.Value, "@") {
			// A size of the theme: "@logo" is the logo's size.
			f, ok := c.ld.theme.sizes[v.Value[1:]]
			if !ok {
				c.errf(v, "unknown theme size %q (known: @logo, from the theme's logo.size)", v.Value)
				return
			}
			e.keyed(key, part{static: []byte(formatFloat(f))})
			return
		}
		x, ok := c.value(v, sc)
		if !ok {
			return
		}
		enc := func(b []byte, val any) ([]byte, bool) {
			switch p.kind {
			case kNumber:
				if f, ok := toFloat(val); ok {
					return append(b, formatFloat(f)...), true
				}
			case kBool:
				return strconv.AppendBool(b, truthy(val)), true
			case kEnum:
				if s, ok := val.(string); ok && contains(p.enum, s) {
					return appendString(b, s), true
				}
			}
			return b, false
		}
		if x.isConst {
			b, ok := enc(nil, x.val)
			if !ok {
				if p.kind == kEnum {
					c.errf(v, "%s must be one of %s", p.name, strings.Join(p.enum, ", "))
				} else {
					c.errf(v, "%s must be a %s", p.name, map[kind]string{kNumber: "number", kBool: "boolean"}[p.kind])
				}
				return
			}
			e.keyed(key, part{static: b})
			return
		}
		e.keyed(key, part{fn: func(st *state) bool {
			var ok bool
			st.buf, ok = enc(st.buf, x.fn(st))
			return ok
		}})
	case kColor:
		col, ok := c.ld.theme.colors[v.Value]
		if !ok || v.Kind != yaml.ScalarNode {
			c.errf(v, "unknown colour token %q (known: %s)", v.Value, c.ld.theme.tokenNames(c.ld.theme.colors))
			return
		}
		e.keyed(key, part{static: appendString(nil, col[c.v.mode])})
	case kSpacing, kRadius:
		m, what := c.ld.theme.spacing, "spacing"
		if p.kind == kRadius {
			m, what = c.ld.theme.radii, "radius"
		}
		f, ok := m[v.Value]
		if !ok || v.Kind != yaml.ScalarNode {
			c.errf(v, "unknown %s token %q (known: %s)", what, v.Value, c.ld.theme.tokenNames(m))
			return
		}
		e.keyed(key, part{static: []byte(formatFloat(f))})
	case kNode:
		e.keyed(key, c.node(v, sc))
	case kAction:
		e.keyed(key, c.action(v, sc))
	case kFlag:
	}
}

func (c *compiler) action(n *yaml.Node, sc *scope) part {
	if n.Kind != yaml.MappingNode {
		c.errf(n, "an action must be a map with a type")
		return part{}
	}
	typ := mapGet(n, "type")
	if typ == nil {
		c.errf(n, "action needs a type")
		return part{}
	}
	spec := lookupAction(typ.Value)
	if spec == nil {
		names := make([]string, len(actions))
		for i, a := range actions {
			names[i] = a.name
		}
		c.errf(typ, "unknown action %q (known: %s)", typ.Value, strings.Join(names, ", "))
		return part{}
	}
	var e emitter
	e.raw(`{"type":`)
	e.rawb(appendString(nil, spec.name))
	eachPair(n, func(k, v *yaml.Node) {
		if k.Value == "type" {
			return
		}
		if _, ok := findProp(spec.props, k.Value); !ok {
			c.errf(k, "unknown field %q for action %s", k.Value, spec.name)
		}
	})
	var drop textVal
	dropSet := false
	for _, p := range spec.props {
		v := mapGet(n, p.name)
		if v == nil {
			continue
		}
		switch {
		case spec.name == "navigate" && p.name == "screen":
			x, lits, ok := c.choice(v, sc, "screen", func(string) bool { return true }, "")
			if !ok {
				continue
			}
			for _, l := range lits {
				ref := navRef{file: c.file, line: v.Line, col: v.Column, screen: l}
				eachPair(mapGet(n, "params"), func(k, _ *yaml.Node) { ref.params = append(ref.params, k) })
				if c.v.idx == 0 {
					c.ld.navs = append(c.ld.navs, ref)
				}
			}
			e.keyed("screen", choicePart(x))
		case p.kind == kParams:
			if v.Kind != yaml.MappingNode {
				c.errf(v, "%s must be a map", p.name)
				continue
			}
			e.raw(`,"` + p.name + `":{`)
			i := 0
			eachPair(v, func(k, x *yaml.Node) {
				if i > 0 {
					e.raw(",")
				}
				i++
				e.rawb(appendString(nil, k.Value))
				e.raw(":")
				t := textPart(c.text(x, sc, kString))
				if t.fn == nil {
					e.rawb(t.static)
				} else {
					e.add(func(st *state) { t.fn(st) })
				}
			})
			e.raw("}")
		case p.kind == kFields:
			if v.Kind != yaml.SequenceNode {
				c.errf(v, "fields must be a list of input names")
				continue
			}
			b := []byte{'['}
			for i, f := range v.Content {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, f.Value)
			}
			e.raw(`,"fields":`)
			e.rawb(append(b, ']'))
		case p.name == "endpoint":
			if !strings.HasPrefix(v.Value, "/v1/") {
				c.errf(v, "endpoint must be a path under /v1/")
			}
			t := c.text(v, sc, kString)
			e.keyed(p.name, textPart(t))
		default:
			if p.name == spec.dropWhenEmpty {
				drop, dropSet = c.text(v, sc, kString), true
				e.keyed(p.name, textPart(drop))
				continue
			}
			c.prop(&e, p, v, sc, false)
		}
	}
	e.raw("}")
	out := e.done(0)
	if spec.dropWhenEmpty != "" {
		if !dropSet || drop.static && drop.s == "" {
			return part{}
		}
		if !drop.static {
			inner := out
			return part{fn: func(st *state) bool {
				if drop.str(st) == "" {
					return false
				}
				return inner.write(st)
			}}
		}
	}
	return out
}

func findProp(ps []propSpec, name string) (propSpec, bool) {
	for _, p := range ps {
		if p.name == name {
			return p, true
		}
	}
	return propSpec{}, false
}

// useNode inlines a fragment call: with: values are evaluated in the
// caller's frame into a fresh frame for the fragment.
func (c *compiler) useNode(n *yaml.Node, sc *scope) part {
	eachPair(n, func(k, _ *yaml.Node) {
		if k.Value != "use" && k.Value != "with" && k.Value != "if" {
			c.errf(k, "a use: node takes only with: and if:, not %q", k.Value)
		}
	})
	useN := mapGet(n, "use")
	fr := c.fragment(useN)
	if fr == nil {
		return part{}
	}
	if sc.loops+fr.u.loopDepth > maxForDepth {
		c.errf(useN, "for loops nest deeper than %d through fragment %q", maxForDepth, fr.name)
		return part{}
	}
	c.u.merge(fr.u)
	type arg struct {
		slot int
		e    cexpr
	}
	var args []arg
	eachPair(mapGet(n, "with"), func(k, v *yaml.Node) {
		slot := indexOf(fr.params, k.Value)
		if slot < 0 {
			c.errf(k, "fragment %q has no param %q (params: %s)", fr.name, k.Value, strings.Join(fr.params, ", "))
			return
		}
		if e, ok := c.bareExpr(v, sc); ok {
			args = append(args, arg{slot, e})
		}
	})
	root, nslots := fr.root, fr.nslots
	p := part{fn: func(st *state) bool {
		nb := len(st.vals)
		for range nslots {
			st.vals = append(st.vals, nil)
		}
		for _, a := range args {
			st.vals[nb+a.slot] = a.e.eval(st)
		}
		ob := st.base
		st.base = nb
		ok := root.write(st)
		st.base = ob
		clear(st.vals[nb:])
		st.vals = st.vals[:nb]
		return ok
	}}
	if root.fn == nil {
		p = root
	}
	return c.guard(n, p, sc)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// choice compiles a literal or a "{{ a ? 'x' : 'y' }}" choice between
// literals, checking each literal with known.
func (c *compiler) choice(n *yaml.Node, sc *scope, what string, known func(string) bool, list string) (cexpr, []string, bool) {
	if n.Kind != yaml.ScalarNode {
		c.errf(n, "%s must be a name", what)
		return cexpr{}, nil, false
	}
	var lits []string
	x := constExpr(n.Value)
	if s := strings.TrimSpace(n.Value); strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}") {
		var ok bool
		lits, ok = choiceLiterals(s[2 : len(s)-2])
		if !ok {
			c.errf(n, "%s must be a literal or a choice between literals, like {{ own ? 'a' : 'b' }}", what)
			return cexpr{}, nil, false
		}
		if x, ok = c.value(n, sc); !ok {
			return cexpr{}, nil, false
		}
	} else {
		lits = []string{n.Value}
	}
	for _, l := range lits {
		if !known(l) {
			if list != "" {
				c.errf(n, "unknown %s %q (known: %s)", what, l, list)
			} else {
				c.errf(n, "unknown %s %q", what, l)
			}
			return cexpr{}, nil, false
		}
	}
	return x, lits, true
}

// choicePart writes a choice's value as a string, or nothing when it is nil.
func choicePart(x cexpr) part {
	if x.isConst {
		s, ok := x.val.(string)
		if !ok {
			return part{}
		}
		return part{static: appendString(nil, s)}
	}
	return part{fn: func(st *state) bool {
		s, ok := x.fn(st).(string)
		if !ok || s == "" {
			return false
		}
		st.buf = appendString(st.buf, s)
		return true
	}}
}
