package renderer

// tokensJSON is the "tokens" object of every layout: all of the theme's
// tokens resolved for one mode, {"colors":{name:"#RRGGBB"},
// "fonts":{name:{size,weight,line_height}},"radii":{name:px},
// "spacing":{name:px}}. Styles carry only what a layout's nodes name; the
// tokens carry everything a shell draws by itself (buttons, fields,
// banners, ticks, bubbles), so a theme.yaml change reaches every screen
// (docs/shell.md, "Theme").
func (t *theme) tokensJSON(mode int) []byte {
	b := []byte(`{"colors":{`)
	for i, n := range sortedKeys(t.colors) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
		b = append(b, ':')
		b = appendString(b, t.colors[n][mode])
	}
	b = append(b, `},"fonts":{`...)
	for i, n := range sortedKeys(t.fonts) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
		b = append(b, ':')
		b = append(b, t.fonts[n]...)
	}
	for _, sec := range []struct {
		name string
		m    map[string]float64
	}{{"radii", t.radii}, {"spacing", t.spacing}} {
		b = append(b, `},`...)
		b = appendString(b, sec.name)
		b = append(b, `:{`...)
		for i, n := range sortedKeys(sec.m) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, n)
			b = append(b, ':')
			b = append(b, formatFloat(sec.m[n])...)
		}
	}
	return append(b, "}}"...)
}
