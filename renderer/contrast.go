package renderer

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Contrast: lint draws every screen in the mind's eye, light and dark, and
// checks that each piece of text and each icon stands out from the colour
// it is drawn on, by WCAG 2.x success criteria 1.4.3 (text: 4.5:1, large
// text 3:1) and 1.4.11 (icons and the fill that marks a primary button:
// 3:1). Colours come from the theme only: a node's style, the background of
// its containers (styles and the background prop), and the colour roles
// shells draw components with (contrastChecker.component below, documented
// in docs/screens.md, "Contrast").

// WCAG 2.x AA thresholds.
const (
	minContrastText    = 4.5
	minContrastLarge   = 3.0   // large text and non-text (icons, control fills)
	largeTextSize      = 24    // points (CSS px): WCAG's 18pt
	largeBoldTextSize  = 18.66 // WCAG's 14pt, when bold
	maxContrastPaints  = 16    // candidate paints carried per node (style choices multiply them)
	contrastBaseFont   = "body"
	contrastBaseText   = "text"
	contrastBaseBack   = "background"
	contrastSecondary  = "text_secondary"
	contrastPrimary    = "primary"
	contrastOnPrimary  = "on_primary"
	contrastSurface    = "surface"
	contrastDanger     = "danger"
	contrastBubbleOwn  = "bubble_own"
	contrastBubbleOthr = "bubble_other"
	contrastTickRead   = "tick_read"
)

// requiredColors are the colour tokens shells draw components with besides
// what styles name; a theme must define each (docs/screens.md, "Contrast").
var requiredColors = []string{
	contrastBaseBack, contrastSurface, contrastBaseText, contrastSecondary, contrastPrimary,
	contrastOnPrimary, contrastDanger, contrastBubbleOwn, contrastBubbleOthr, contrastTickRead, "divider",
}

// rgb is a colour with channels in 0..1.
type rgb struct{ r, g, b float64 }

// parseHex reads #rrggbb or #rrggbbaa (checked by loadTheme) and returns the
// colour and its alpha.
func parseHex(s string) (rgb, float64) {
	ch := func(i int) float64 {
		v, _ := strconv.ParseUint(s[i:i+2], 16, 8)
		return float64(v) / 255
	}
	if len(s) != 7 && len(s) != 9 {
		return rgb{}, 1
	}
	a := 1.0
	if len(s) == 9 {
		a = ch(7)
	}
	return rgb{ch(1), ch(3), ch(5)}, a
}

// over composites c with alpha a over the opaque colour under.
func over(c rgb, a float64, under rgb) rgb {
	return rgb{c.r*a + under.r*(1-a), c.g*a + under.g*(1-a), c.b*a + under.b*(1-a)}
}

// luminance is the relative luminance of WCAG 2.x (sRGB, its 0.03928
// threshold): 0.2126 R + 0.7152 G + 0.0722 B of the linearised channels.
func luminance(c rgb) float64 {
	lin := func(v float64) float64 {
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

// contrastRatio is (L1 + 0.05) / (L2 + 0.05) with L1 the lighter: 1 to 21.
func contrastRatio(a, b rgb) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// paint is what a node is drawn with: the background under it (opaque, with
// where it came from), the inherited text colour token and the font token.
type paint struct {
	bg     rgb
	bgDesc string
	fg     string // colour token
	fgDesc string
	font   string
}

type contrastChecker struct {
	ld   *loader
	t    *theme
	mode int
	busy map[string]bool
}

// checkContrast walks every screen (and the fragments it uses) in both
// modes. It runs only on a set that compiled cleanly.
func (ld *loader) checkContrast() {
	t := ld.theme
	for _, c := range requiredColors {
		if _, ok := t.colors[c]; !ok {
			n := ld.themeNode("colors")
			ld.d.add("theme.yaml", line(n), col(n), "theme lacks colour %q, which shells draw components with (docs/screens.md, \"Contrast\")", c)
		}
	}
	if len(ld.d.list) > 0 {
		return
	}
	for mode := range 2 {
		k := &contrastChecker{ld: ld, t: t, mode: mode, busy: map[string]bool{}}
		k.checkStyles()
		for _, name := range sortedKeys(ld.screens) {
			src := ld.screens[name]
			base := k.color(contrastBaseBack)
			k.node(src.file, mapGet(src.doc, "root"), []paint{{
				bg: base, bgDesc: k.tokenDesc(contrastBaseBack) + " of the screen",
				fg: contrastBaseText, fgDesc: k.tokenDesc(contrastBaseText), font: contrastBaseFont,
			}})
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return sortedStrings(out)
}

func line(n *yaml.Node) int {
	if n == nil {
		return 1
	}
	return n.Line
}

func col(n *yaml.Node) int {
	if n == nil {
		return 1
	}
	return n.Column
}

// themeNode returns a section of theme.yaml, or nil.
func (ld *loader) themeNode(section string) *yaml.Node { return mapGet(ld.themeDoc, section) }

func (k *contrastChecker) modeName() string {
	if k.mode == modeDark {
		return "dark"
	}
	return "light"
}

// color resolves a token to an opaque colour (a translucent token over the
// screen background).
func (k *contrastChecker) color(token string) rgb {
	c, a := parseHex(k.t.colors[token][k.mode])
	if a < 1 {
		base, _ := parseHex(k.t.colors[contrastBaseBack][k.mode])
		c = over(c, a, base)
	}
	return c
}

func (k *contrastChecker) tokenDesc(token string) string {
	return fmt.Sprintf("%s (%s)", token, k.t.colors[token][k.mode])
}

// checkStyles checks styles that set both a colour and a background, where
// they are defined.
func (k *contrastChecker) checkStyles() {
	stylesN := k.ld.themeNode("styles")
	for _, name := range sortedKeys(k.t.styles) {
		s := k.t.styles[name]
		if s.color == "" || s.background == "" {
			continue
		}
		at := mapGet(mapGet(stylesN, name), "color")
		k.check("theme.yaml", at, s.color, "text of style "+strconv.Quote(name),
			k.color(s.background), fmt.Sprintf("its background %s", k.tokenDesc(s.background)), k.minText(s.font))
	}
}

// minText is the ratio text in a font token needs: 3:1 when it is large
// (WCAG: at least 18pt, or 14pt bold), else 4.5:1.
func (k *contrastChecker) minText(font string) float64 {
	var f struct {
		Size   float64 `json:"size"`
		Weight string  `json:"weight"`
	}
	_ = json.Unmarshal(k.t.fonts[font], &f)
	if f.Size >= largeTextSize || (f.Size >= largeBoldTextSize && f.Weight == "bold") {
		return minContrastLarge
	}
	return minContrastText
}

// check reports fg drawn on bg when their contrast is below min.
func (k *contrastChecker) check(file string, at *yaml.Node, fg, what string, bg rgb, bgDesc string, min float64) {
	c, a := parseHex(k.t.colors[fg][k.mode])
	c = over(c, a, bg)
	r := contrastRatio(c, bg)
	if r >= min {
		return
	}
	kind := "text"
	if min == minContrastLarge {
		kind = "large text, icons and control fills"
	}
	k.ld.d.add(file, line(at), col(at), "%s theme: %s in %s on %s has contrast %s:1; WCAG 2.x AA needs %s:1 for %s",
		k.modeName(), what, k.tokenDesc(fg), bgDesc, trunc2(r), strconv.FormatFloat(min, 'f', -1, 64), kind)
}

// trunc2 formats a ratio rounded down to two decimals, so 4.497 never
// shows as a passing 4.50.
func trunc2(r float64) string { return strconv.FormatFloat(math.Floor(r*100)/100, 'f', 2, 64) }

// styleLiterals returns the style names a node may take (a literal or a
// choice between literals), or nil.
func styleLiterals(n *yaml.Node) []string {
	s := mapGet(n, "style")
	if s == nil || s.Kind != yaml.ScalarNode {
		return nil
	}
	v := strings.TrimSpace(s.Value)
	if strings.HasPrefix(v, "{{") && strings.HasSuffix(v, "}}") {
		lits, _ := choiceLiterals(v[2 : len(v)-2])
		return lits
	}
	return []string{s.Value}
}

// boolChoices says which values a bool prop can take: a literal, or both
// when it is an expression.
func boolChoices(n *yaml.Node, def bool) []bool {
	if n == nil {
		return []bool{def}
	}
	switch strings.TrimSpace(n.Value) {
	case "true":
		return []bool{true}
	case "false":
		return []bool{false}
	}
	return []bool{false, true}
}

func (k *contrastChecker) withBackground(p paint, token, desc string) paint {
	c, a := parseHex(k.t.colors[token][k.mode])
	p.bg = over(c, a, p.bg)
	p.bgDesc = fmt.Sprintf("%s%s", k.tokenDesc(token), desc)
	return p
}

func addPaint(ps []paint, p paint) []paint {
	for _, q := range ps {
		if q == p {
			return ps
		}
	}
	if len(ps) >= maxContrastPaints {
		return ps
	}
	return append(ps, p)
}

func at(file string, n *yaml.Node) string { return fmt.Sprintf("%s:%d:%d", file, line(n), col(n)) }

// node walks one node with the paints it may be drawn with.
func (k *contrastChecker) node(file string, n *yaml.Node, in []paint) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	if u := mapGet(n, "use"); u != nil {
		fr, ok := k.ld.frags[u.Value]
		if !ok || k.busy[u.Value] {
			return
		}
		k.busy[u.Value] = true
		k.node(fr.file, fr.root, in)
		k.busy[u.Value] = false
		return
	}
	typ := mapGet(n, "type")
	if typ == nil {
		return
	}
	styleN := mapGet(n, "style")
	styles := styleLiterals(n)
	// The node's own paints: its style over what it inherits.
	var ps []paint
	for _, p := range in {
		if len(styles) == 0 {
			ps = addPaint(ps, p)
		}
		for _, sn := range styles {
			s := k.t.styles[sn]
			q := p
			if s.background != "" {
				q = k.withBackground(q, s.background, fmt.Sprintf(" of style %q (%s)", sn, at(file, styleN)))
			}
			if s.color != "" {
				q.fg, q.fgDesc = s.color, fmt.Sprintf("style %q", sn)
			}
			if s.font != "" {
				q.font = s.font
			}
			ps = addPaint(ps, q)
		}
	}
	if bgN := mapGet(n, "background"); bgN != nil {
		if _, ok := k.t.colors[bgN.Value]; ok {
			for i := range ps {
				ps[i] = k.withBackground(ps[i], bgN.Value, fmt.Sprintf(" of background: (%s)", at(file, bgN)))
			}
		}
	}
	where := styleN
	if where == nil {
		where = typ
	}
	kids := ps
	switch typ.Value {
	case "card":
		if !k.styleSetsBackground(styles) && mapGet(n, "background") == nil {
			for i := range ps {
				ps[i] = k.withBackground(ps[i], contrastSurface, " of a card")
			}
		}
		kids = ps
	case "nav_bar", "tabs", "composer":
		kids = nil
		for _, p := range ps {
			kids = addPaint(kids, k.withBackground(p, contrastBaseBack, " of a "+typ.Value))
		}
		ps = kids
	}
	for _, p := range ps {
		k.component(file, n, typ.Value, where, p)
	}
	for _, key := range []string{"children"} {
		if ch := mapGet(n, key); ch != nil && ch.Kind == yaml.SequenceNode {
			for _, c := range ch.Content {
				k.node(file, c, kids)
			}
		}
	}
	k.node(file, mapGet(n, "item"), kids)
	k.node(file, mapGet(n, "empty"), kids)
	k.node(file, mapGet(n, "fallback"), in)
}

func (k *contrastChecker) styleSetsBackground(styles []string) bool {
	for _, s := range styles {
		if k.t.styles[s].background != "" {
			return true
		}
	}
	return false
}

// component checks what a component draws with paint p, by the colour roles
// shells use (docs/screens.md, "Contrast").
func (k *contrastChecker) component(file string, n *yaml.Node, typ string, where *yaml.Node, p paint) {
	text := func(fg, what, font string) {
		k.check(file, where, fg, what, p.bg, p.bgDesc, k.minText(font))
	}
	// fill checks labels drawn on a component's own fill.
	fill := func(bg, what string, labels ...string) {
		q := k.withBackground(p, bg, "")
		for i := 0; i+1 < len(labels); i += 2 {
			k.check(file, where, labels[i+1], labels[i]+" of "+what, q.bg, q.bgDesc, minContrastText)
		}
	}
	linkify := mapGet(n, "linkify") != nil && mapGet(n, "linkify").Value == "true"
	switch typ {
	case "text":
		fg, what := p.fg, "text ("+p.fgDesc+")"
		if c := mapGet(n, "color"); c != nil {
			if _, ok := k.t.colors[c.Value]; ok {
				fg, what, where = c.Value, "text (color:)", c
			}
		}
		text(fg, what, p.font)
		if linkify {
			text(contrastPrimary, "a link", p.font)
		}
	case "icon":
		fg, where := p.fg, where
		if c := mapGet(n, "color"); c != nil {
			if _, ok := k.t.colors[c.Value]; ok {
				fg, where = c.Value, c
			}
		}
		k.check(file, where, fg, "an icon", p.bg, p.bgDesc, minContrastLarge)
	case "message_bubble":
		bubbles := []paint{p}
		if !k.styleSetsBackground(styleLiterals(n)) {
			bubbles = nil
			for _, own := range boolChoices(mapGet(n, "own"), false) {
				tok := contrastBubbleOthr
				if own {
					tok = contrastBubbleOwn
				}
				bubbles = append(bubbles, k.withBackground(p, tok, " of a message bubble"))
			}
		}
		for _, b := range bubbles {
			k.check(file, where, b.fg, "message text ("+b.fgDesc+")", b.bg, b.bgDesc, k.minText(b.font))
			k.check(file, where, contrastSecondary, "the time of a message", b.bg, b.bgDesc, minContrastText)
			if linkify {
				k.check(file, where, contrastPrimary, "a link", b.bg, b.bgDesc, k.minText(b.font))
			}
			if mapGet(n, "sender") != nil {
				k.check(file, where, contrastPrimary, "the sender's name", b.bg, b.bgDesc, minContrastText)
			}
			if mapGet(n, "status") != nil {
				k.check(file, where, contrastTickRead, "read ticks", b.bg, b.bgDesc, minContrastLarge)
				k.check(file, where, contrastSecondary, "ticks", b.bg, b.bgDesc, minContrastLarge)
			}
		}
	case "button":
		kind := "secondary"
		if kn := mapGet(n, "kind"); kn != nil {
			kind, where = kn.Value, kn
		}
		switch kind {
		case "primary":
			// The fill is what marks the main action: it must stand out
			// from what it is drawn on (1.4.11), and the label from the fill.
			k.check(file, where, contrastPrimary, "the fill of a primary button", p.bg, p.bgDesc, minContrastLarge)
			fill(contrastPrimary, "a primary button", "the label", contrastOnPrimary)
		case "secondary":
			fill(contrastSurface, "a secondary button", "the label", contrastBaseText)
		case "plain":
			k.check(file, where, contrastPrimary, "the label of a plain button", p.bg, p.bgDesc, minContrastText)
		case "destructive":
			k.check(file, where, contrastDanger, "the label of a destructive button", p.bg, p.bgDesc, minContrastText)
		}
	case "badge":
		tone, fillTok := "accent", contrastPrimary
		if tn := mapGet(n, "tone"); tn != nil {
			tone, where = tn.Value, tn
		}
		switch tone {
		case "muted":
			fillTok = contrastSecondary
		case "danger":
			fillTok = contrastDanger
		}
		fill(fillTok, "a badge (tone "+tone+")", "the text", contrastOnPrimary)
	case "avatar":
		fill(contrastPrimary, "an avatar", "the initials", contrastOnPrimary)
	case "input", "composer":
		k.check(file, where, contrastSecondary, "the label of a field", p.bg, p.bgDesc, minContrastText)
		fill(contrastSurface, "a field", "the text", contrastBaseText, "the placeholder", contrastSecondary)
		if typ == "composer" {
			k.check(file, where, contrastPrimary, "the fill of the send button", p.bg, p.bgDesc, minContrastLarge)
			fill(contrastPrimary, "the send button", "the icon", contrastOnPrimary)
		}
	case "nav_bar":
		text(contrastBaseText, "the title", "title")
		if mapGet(n, "subtitle") != nil {
			text(contrastSecondary, "the subtitle", "caption")
		}
		if b := mapGet(n, "back"); b != nil && b.Value != "false" {
			k.check(file, where, contrastPrimary, "the back button", p.bg, p.bgDesc, minContrastLarge)
		}
	case "tab":
		k.check(file, where, contrastSecondary, "a tab", p.bg, p.bgDesc, minContrastText)
		k.check(file, where, contrastPrimary, "the selected tab", p.bg, p.bgDesc, minContrastText)
	case "file":
		fill(contrastSurface, "a file", "the name", contrastBaseText, "the size", contrastSecondary)
	}
}
