package live

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
)

// Preview is the designer preview's view of the screens (assets/web/
// preview.js draws one screen with sample data beside its YAML): the
// screens being served with their fixtures, a screen's source, a render
// with a fixture's data, and the reloads of a watched folder. Sources and
// fixtures come from files, the folder the screens load from.
type Preview struct {
	screens Screens
	files   fs.FS
}

// NewPreview returns the preview of screens loaded from files.
func NewPreview(screens Screens, files fs.FS) *Preview {
	return &Preview{screens: screens, files: files}
}

// Reloads is what a watched screens folder (renderer.Watcher) adds to
// Screens: the preview checks for it by type assertion; the embedded set
// never reloads.
type Reloads interface {
	Subscribe() (<-chan renderer.Reload, func())
	Last() renderer.Reload
}

var (
	screenName  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	fixtureName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}(\.[a-z0-9_-]{1,64})?$`)
)

// Diagnostic is a lint or render failure at a place in a file.
type Diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

// PreviewScreen is one screen being served and its fixtures
// (fixtures/<screen>[.case].json).
type PreviewScreen struct {
	Name     string   `json:"name"`
	Fixtures []string `json:"fixtures"`
}

// Catalogue lists the screens being served, each with its fixtures, and
// the languages of strings/.
func (p *Preview) Catalogue() (screens []PreviewScreen, langs []string) {
	fixtures := map[string][]string{}
	if entries, err := fs.ReadDir(p.files, "fixtures"); err == nil {
		for _, e := range entries {
			stem, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || e.IsDir() {
				continue
			}
			screen, _, _ := strings.Cut(stem, ".")
			fixtures[screen] = append(fixtures[screen], stem)
		}
	}
	langs = []string{}
	if entries, err := fs.ReadDir(p.files, "strings"); err == nil {
		for _, e := range entries {
			if l, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
				langs = append(langs, l)
			}
		}
	}
	screens = []PreviewScreen{}
	for _, name := range p.screens.Current().Screens() {
		fx := fixtures[name]
		if fx == nil {
			fx = []string{}
		}
		slices.Sort(fx)
		screens = append(screens, PreviewScreen{Name: name, Fixtures: fx})
	}
	return screens, langs
}

// Source is a screen's YAML as the designer wrote it.
func (p *Preview) Source(name string) ([]byte, error) {
	if !screenName.MatchString(name) {
		return nil, ErrUnknownScreen
	}
	data, err := fs.ReadFile(p.files, name+".yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrUnknownScreen
	}
	return data, err
}

// PreviewRequest asks for one screen with a fixture's data: Fixture ""
// takes fixtures/<name>.json when there is one; Caps are component names
// as X-Korobka-Shell lists them.
type PreviewRequest struct {
	Name, Lang, Theme, Caps, Fixture string
}

var errUnknownFixture = chat.Errorf(chat.KindNotFound, "unknown_fixture", "No such fixture for this screen.")

// Render renders a screen with a fixture's data. Lint failures of the
// watched folder and render failures of the fixture come back as
// diagnostics, not errors: the preview worked, the screen did not.
func (p *Preview) Render(ctx context.Context, r PreviewRequest) (body []byte, lang string, diags []Diagnostic, err error) {
	if d := p.Diagnostics(); len(d) > 0 {
		return nil, "", d, nil
	}
	eng := p.screens.Current()
	if _, ok := eng.Screen(r.Name); !ok {
		return nil, "", nil, ErrUnknownScreen
	}
	if r.Theme == "" {
		r.Theme = "light"
	}
	if r.Theme != "light" && r.Theme != "dark" {
		return nil, "", nil, chat.Errorf(chat.KindInvalid, "invalid_param", "theme is light or dark.")
	}
	fixture, explicit := r.Fixture, r.Fixture != ""
	if !explicit {
		fixture = r.Name
	}
	if !fixtureName.MatchString(fixture) || !(fixture == r.Name || strings.HasPrefix(fixture, r.Name+".")) {
		return nil, "", nil, errUnknownFixture
	}
	file := path.Join("fixtures", fixture+".json")
	fx := &renderer.Fixture{}
	data, err := fs.ReadFile(p.files, file)
	switch {
	case err == nil:
		if fx, err = renderer.ParseFixture(data); err != nil {
			return nil, "", []Diagnostic{{file, 1, 1, err.Error()}}, nil
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// No sample data: render what the screen shows without any.
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", nil, errUnknownFixture
	default:
		return nil, "", nil, err
	}
	req := fx.Request(r.Name, r.Lang, r.Theme)
	if r.Lang == "" {
		req.Langs = nil
	}
	req.Caps = renderer.ParseShell("web/1 (components: " + r.Caps + ")")
	body, _, err = eng.AppendRender(ctx, nil, req, fx.Provider())
	if err != nil {
		at := file
		if !explicit && data == nil {
			at = r.Name + ".yaml"
		}
		return nil, "", []Diagnostic{{at, 1, 1, "render: " + err.Error()}}, nil
	}
	return body, eng.Lang(req.Langs), nil, nil
}

// Diagnostics reports why the watched folder's latest files were refused,
// or nothing when they are served.
func (p *Preview) Diagnostics() []Diagnostic {
	r, ok := p.screens.(Reloads)
	if !ok {
		return nil
	}
	return reloadDiagnostics(r.Last())
}

// Reload is one reload attempt of a watched folder, as the preview's event
// stream sends it.
type Reload struct {
	Applied     bool         `json:"applied"`
	Rev         string       `json:"rev,omitempty"`
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// Reloads streams every reload attempt of a watched folder, applied or
// refused, until stop is called; a fixed set of screens never sends (the
// channel is nil). Event turns each into what the preview shows.
func (p *Preview) Reloads() (events <-chan renderer.Reload, stop func()) {
	r, ok := p.screens.(Reloads)
	if !ok {
		return nil, func() {}
	}
	return r.Subscribe()
}

// Event is a reload as the preview's event stream sends it.
func (p *Preview) Event(r renderer.Reload) Reload {
	ev := Reload{Applied: r.Applied, Diagnostics: reloadDiagnostics(r)}
	if r.Engine != nil {
		ev.Rev = r.Engine.Rev()
	}
	return ev
}

func reloadDiagnostics(r renderer.Reload) []Diagnostic {
	out := []Diagnostic{}
	if r.Applied {
		return out
	}
	for _, d := range r.Diagnostics {
		out = append(out, Diagnostic{d.File, d.Line, d.Col, d.Message})
	}
	if len(out) == 0 && r.Err != nil {
		out = append(out, Diagnostic{".", 1, 1, r.Err.Error()})
	}
	return out
}
