package renderer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Fixture is sample data for one screen: lint renders every screen with
// its fixtures, goldens are made from them, and `korobka render NAME
// --data fixture.json` reads the same format:
//
//	{"params": {"dialog_id": "d1"}, "viewer": "u1", "data": {"messages": {...}},
//	 "tz": "Europe/Moscow", "now": "2025-03-14T20:30:00Z"}
//
// data is keyed by the screen's data names, not by source. tz (an IANA
// zone, default UTC) and now (RFC 3339, default the real time) are what
// clock(), date() and day() see; region (ISO 3166-1, default none) reads
// linkified phone numbers written without a country code.
type Fixture struct {
	Params map[string]string `json:"params"`
	Viewer string            `json:"viewer"`
	Data   map[string]any    `json:"data"`
	TZ     string            `json:"tz,omitempty"`
	Now    string            `json:"now,omitempty"`
	Region string            `json:"region,omitempty"`

	loc *time.Location
	now time.Time
}

// ParseFixture decodes a fixture, refusing unknown fields so typos show.
func ParseFixture(data []byte) (*Fixture, error) {
	var f Fixture
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	f.Data, _ = normalizeNumbers(f.Data).(map[string]any)
	if f.TZ != "" {
		loc, err := time.LoadLocation(f.TZ)
		if err != nil || f.TZ == "Local" {
			return nil, fmt.Errorf("fixture: tz %q is not an IANA time zone", f.TZ)
		}
		f.loc = loc
	}
	if f.Now != "" {
		now, err := time.Parse(time.RFC3339, f.Now)
		if err != nil {
			return nil, fmt.Errorf("fixture: now %q is not an RFC 3339 time", f.Now)
		}
		f.now = now
	}
	return &f, nil
}

// normalizeNumbers turns json.Number into float64, the shape providers use.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normalizeNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeNumbers(x[k])
		}
	}
	return v
}

// Request builds the render request the fixture describes.
func (f *Fixture) Request(screen, lang, theme string) Request {
	return Request{Screen: screen, Params: f.Params, Langs: []string{lang}, Theme: theme, Viewer: f.Viewer, TZ: f.loc, Now: f.now, Region: f.Region}
}

// Provider serves the fixture's data by binding name; a name the fixture
// lacks yields nil, as an empty source would.
func (f *Fixture) Provider() Provider {
	p := fixtureProvider{data: f.Data, versions: map[string]string{}}
	for k, v := range f.Data {
		b, _ := json.Marshal(v)
		sum := sha256.Sum256(b)
		p.versions[k] = base64.RawURLEncoding.EncodeToString(sum[:9])
	}
	return p
}

type fixtureProvider struct {
	data     map[string]any
	versions map[string]string
}

func (p fixtureProvider) Version(_ context.Context, q Query) (string, error) {
	return p.versions[q.Name], nil
}

func (p fixtureProvider) Fetch(_ context.Context, q Query) (any, string, error) {
	return p.data[q.Name], p.versions[q.Name], nil
}

// checkFixtures renders every fixture in every variant and validates the
// output against the layout schema.
func (ld *loader) checkFixtures(e *Engine) {
	sch, err := layoutSchema()
	if err != nil {
		ld.d.add("schemas/layout.schema.json", 1, 1, "%v", err)
		return
	}
	covered := map[string]bool{}
	for name, data := range ld.fixtures {
		screen := fixtureScreen(name)
		covered[screen] = true
		fx, err := ParseFixture(data)
		if err != nil {
			ld.d.add(name, 1, 1, "%v", err)
			continue
		}
		if _, ok := e.screens[screen]; !ok {
			ld.d.add(name, 1, 1, "fixture for unknown screen %q (fixtures are named <screen>[.case].json)", screen)
			continue
		}
		// Sample data that names the folder's images must name ones it has,
		// or the preview and the gallery draw holes.
		ld.checkContentImages(name, 1, 1, fx.Data)
		for _, l := range e.langs {
			for _, th := range []string{"light", "dark"} {
				var buf bytes.Buffer
				if _, err := e.Render(context.Background(), fx.Request(screen, l.lang, th), fx.Provider(), &buf); err != nil {
					ld.d.add(name, 1, 1, "render %s/%s: %v", l.lang, th, err)
					continue
				}
				if err := sch.validateJSON(buf.Bytes()); err != nil {
					ld.d.add(name, 1, 1, "render %s/%s does not match layout.schema.json: %v", l.lang, th, err)
				}
			}
		}
	}
	for n, s := range e.screens {
		if !covered[n] {
			ld.d.add(s.file, 1, 1, "screen %q has no fixture in fixtures/%s.json", n, n)
		}
	}
}

func fixtureScreen(file string) string {
	base := file[len("fixtures/"):]
	for i := 0; i < len(base); i++ {
		if base[i] == '.' {
			return base[:i]
		}
	}
	return base
}
