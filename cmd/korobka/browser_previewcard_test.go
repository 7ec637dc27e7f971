package main

import (
	"fmt"
	"testing"

	"github.com/korobka/korobka/assets/browsertest"
)

// TestBrowserPreviewCard: a message with a link to the local fixture site
// (the test-only allow setting, KOROBKA_OUTBOUND_ALLOW) gets its card in
// the chat window of the real shell: the site, the title and the page's
// image, which has its size (aspect ratio) before it loads, so the chat
// does not jump.
func TestBrowserPreviewCard(t *testing.T) {
	browsertest.Need(t)
	s := newPreviewSites(t)
	e := newEnvConfig(t, map[string]string{"KOROBKA_LINK_PREVIEWS": "on", "KOROBKA_OUTBOUND_ALLOW": s.fixtureHost()},
		func(c *Config) { c.outboundResolver = loopbackResolver{} })
	a, _, id := e.pair()
	text := "Read this " + s.fixture.URL + "/article"
	e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "l-1", "text": text}), 201)

	boris := newPerson(t, "boris")
	boris.login(e.url, "8 (999) 000 00 02", "+79990000002", "222222")
	boris.tap("open the dialog", fmt.Sprintf(`#screen .k-row[data-kid="dialog-%s"]`, id))
	card := fmt.Sprintf(`window.__bubbles(%q)[0]?.querySelector('.k-card')`, text)
	// The card comes with the preview's change, live or on the next render.
	boris.WaitFor("the link card", "!!"+card+` && `+card+`.textContent.includes('Запуск & новости')`)
	if !eval[bool](boris, card+`.textContent.includes('Газета')`) {
		t.Errorf("the card does not show the site name: %s", eval[string](boris, card+`.textContent`))
	}
	img := card + `.querySelector('img')`
	if !eval[bool](boris, "!!"+img) {
		t.Fatal("the card has no image")
	}
	// 40x30: the aspect ratio is set on the element, not learnt from the
	// loaded picture.
	if ar := eval[string](boris, img+`.style.aspectRatio`); ar == "" {
		t.Errorf("the card's image has no size before it loads")
	}
	boris.WaitFor("the image loaded", img+`.complete && `+img+`.naturalWidth > 0`)
	if w, h := eval[float64](boris, img+`.getBoundingClientRect().width`), eval[float64](boris, img+`.getBoundingClientRect().height`); h == 0 || w/h < 1.2 || w/h > 1.47 {
		t.Errorf("the image is drawn %vx%v, want the page image's 4:3", w, h)
	}
	if n := len(boris.TakeProblems()); n != 0 {
		t.Errorf("%d problems in the page", n)
	}
}
