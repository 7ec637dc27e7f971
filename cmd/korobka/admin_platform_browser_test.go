package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
	"github.com/korobka/korobka/chat"
)

// adminSignIn signs a browser in at /admin/ with a staff test number
// (+7 999 123-xx-xx, code 333333) and waits for the first section.
func adminSignIn(b *person, base, typed string) {
	b.T.Helper()
	b.Do("desktop size", chromedp.EmulateViewport(1280, 860))
	b.Do("open /admin/", chromedp.Navigate(base+"/admin/"))
	b.WaitFor("sign-in form", `!document.getElementById('a-login').hidden && document.activeElement?.id === 'a-phone'`)
	b.typeInto("phone", "#a-phone", typed)
	b.tap("get code", "#a-login-button")
	b.WaitFor("code field", `!document.getElementById('a-code-row').hidden`)
	b.typeInto("code", "#a-code", "333333")
	b.tap("sign in", "#a-login-button")
	b.WaitFor("signed in", `!document.getElementById('a-app').hidden && !!document.querySelector('.a-side a.a-current')`)
}

// setValue sets a form field's value in the page (JSON and long texts are
// not worth typing key by key).
func (p *person) setValue(what, sel, value string) {
	p.T.Helper()
	p.WaitFor(what, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
	p.Do(what, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = %q`, sel, value)))
}

// TestBrowserAdminPlatform drives the platform sections of /admin/: an
// admin defines a collection with tags and a schema, adds documents (one
// with an uploaded image), reorders and publishes them; registers a
// webhook (the secret shown once) and reads its delivery log; creates a
// bot key (shown once) and revokes it; and assigns a client's dialog to
// an operator, who then sees it assigned on the same page and answers the
// client there (a typed reply, a refused one, a canned answer; the client's
// next message appears in the open view). Each state is
// checked through the API and saved as a screenshot under
// $KOROBKA_SCREENSHOTS/admin/.
func TestBrowserAdminPlatform(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, map[string]string{"KOROBKA_BUSINESS_NAME": "Acme support"})
	ctx := context.Background()
	client := e.loginTest("+79990000002", "222222")
	e.want(e.do("PATCH", "/v1/me", client.AccessToken, map[string]any{"first_name": "Анна", "last_name": "Петрова"}), 200)
	d := e.want(e.do("POST", "/v1/business/dialog", client.AccessToken, map[string]any{"subject": "news:launch"}), 201).field(t, "id").(string)
	e.want(e.do("POST", "/v1/dialogs/"+d+"/messages", client.AccessToken, map[string]any{"client_id": "c1", "text": "Здравствуйте! Когда доставка?"}), 201)
	admin := e.staff("+79991230011", "333333", chat.RoleAdmin)
	e.want(e.do("PATCH", "/v1/me", admin.AccessToken, map[string]any{"first_name": "Ольга", "last_name": "Админ"}), 200)
	op := e.staff("+79991230010", "333333", chat.RoleOperator)
	e.want(e.do("PATCH", "/v1/me", op.AccessToken, map[string]any{"first_name": "Олег", "last_name": "Оператор"}), 200)

	dir := filepath.Join(artifactDir(t), "admin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(b *person, name string) { b.Screenshot(filepath.Join(dir, name+".png")) }

	b := newPerson(t, "admin")
	b.FailOnProblems()
	adminSignIn(b, e.url, "+7 999 123-00-11")
	b.Do("confirm everything", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))

	// Content: the seeded collections, then a new one with tags.
	b.tap("content", `.a-side a[data-view="collections"]`)
	b.WaitFor("collections", `!!document.querySelector('tr[data-collection="news"]') && !!document.querySelector('tr[data-collection="order_service"]')`)
	shot(b, "collections")
	b.typeInto("name", `#a-collection-form input[name="name"]`, "promos")
	b.typeInto("title", `#a-collection-form input[name="title"]`, "Акции")
	b.typeInto("tags", `#a-collection-form input[name="tags"]`, "sale, spb")
	b.setValue("schema", `#a-collection-form textarea[name="schema"]`,
		`{"type":"object","required":["title"],"properties":{"title":{"type":"string","maxLength":200},"image":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}}}`)
	b.tap("define", `#a-collection-form button[data-action="define"]`)
	b.WaitFor("the collection's page", `location.hash === '#/collections/promos' && !!document.querySelector('button[data-action="new-document"]')`)
	c, err := e.app.store.Collection(ctx, "promos")
	if err != nil || c.Title != "Акции" || !slices.Equal(c.Tags, []string{"sale", "spb"}) {
		t.Fatalf("defined collection: %+v %v", c, err)
	}

	// Two documents; the first with an uploaded image, the second a draft.
	photo := filepath.Join(t.TempDir(), "promo.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, gradient(120, 80)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(photo, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, doc := range []struct{ id, title string }{{"spring", "Весенняя распродажа"}, {"bikes", "Велосипеды −20%"}} {
		b.tap("new document", `button[data-action="new-document"]`)
		b.typeInto("id", `#a-document-form input[name="id"]`, doc.id)
		b.setValue("data", `#a-document-form textarea[name="data"]`, fmt.Sprintf(`{"title":%q,"tags":["sale"]}`, doc.title))
		if i == 0 {
			b.tap("published", `#a-document-form input[name="published"]`)
			b.Do("pick the image", chromedp.SetUploadFiles(chromedp.CSS(`#a-document-form input[type="file"]`), []string{photo}))
			b.WaitFor("image in the data", `document.querySelector('#a-document-form textarea[name="data"]').value.includes('"image"') && !document.querySelector('#a-document-form .a-thumb').hidden`)
			shot(b, "document-edit")
		}
		b.tap("save", `#a-document-form button[data-action="save-document"]`)
		b.WaitFor("listed", fmt.Sprintf(`!!document.querySelector('tr[data-document=%q]')`, doc.id))
	}
	// Bikes first.
	b.tap("move bikes up", `tr[data-document="bikes"] button[data-action="up"]`)
	b.WaitFor("reordered", `[...document.querySelectorAll('tr[data-document]')].map((r) => r.dataset.document).join() === 'bikes,spring'`)
	shot(b, "collection")
	docs, err := e.app.store.Content(ctx, "promos", false)
	if err != nil || len(docs) != 2 || docs[0].ID != "bikes" || docs[0].Published || !docs[1].Published ||
		!strings.Contains(string(docs[1].Data), `"image":"`) {
		t.Fatalf("documents: %+v %v", docs, err)
	}

	// Webhooks: register one; the secret shows once; a form submission
	// lands in its delivery log.
	b.tap("webhooks", `.a-side a[data-view="webhooks"]`)
	b.typeInto("url", `#a-webhook-form input[name="url"]`, "https://crm.example.com/korobka")
	b.tap("message.created too", `#a-webhook-form input[value="message.created"]`)
	b.tap("register", `#a-webhook-form button[type="submit"]`)
	b.WaitFor("secret shown once", `document.querySelector('[data-secret]')?.textContent.startsWith('whsec_') && !!document.querySelector('tr[data-webhook]')`)
	shot(b, "webhooks")
	hooks, err := e.app.store.Webhooks(ctx)
	if err != nil || len(hooks) != 1 || !slices.Equal(hooks[0].Events, []string{"message.created", "form.submitted"}) {
		t.Fatalf("webhooks: %+v %v", hooks, err)
	}
	if secret := eval[string](b, `document.querySelector('[data-secret]').textContent`); secret != hooks[0].Secret {
		t.Fatalf("the page showed %q, the webhook's secret is another", secret)
	}
	e.want(e.do("POST", "/v1/forms/order_service", client.AccessToken,
		map[string]any{"service": "business", "name": "Анна", "phone": "+79161234567"}), 201)
	b.tap("its deliveries", `tr[data-webhook] td`)
	b.WaitFor("a delivery", `!!document.querySelector('tr[data-delivery]')`)
	shot(b, "webhook-deliveries")
	b.Do("back to the list", chromedp.Navigate(e.url+"/admin/#/webhooks"))
	b.WaitFor("the list again", `!!document.querySelector('tr[data-webhook]') && !document.querySelector('[data-secret]')`)

	// Bot keys: create (shown once), then revoke.
	b.tap("bot keys", `.a-side a[data-view="keys"]`)
	b.typeInto("key name", `#a-key-form input[name="name"]`, "CRM")
	b.tap("create", `#a-key-form button[type="submit"]`)
	b.WaitFor("key shown once", `document.querySelector('[data-secret]')?.textContent.startsWith('kbk_') && !!document.querySelector('tr[data-key] button[data-action="revoke"]')`)
	key := eval[string](b, `document.querySelector('[data-secret]').textContent`)
	e.want(e.do("GET", "/v1/bot/dialogs", key, nil), 200)
	shot(b, "keys")
	b.tap("revoke", `tr[data-key] button[data-action="revoke"]`)
	b.WaitFor("revoked, the key no longer shown", `!document.querySelector('tr[data-key] button[data-action="revoke"]') && !!document.querySelector('tr[data-key] .a-blocked') && !document.querySelector('[data-secret]')`)
	e.wantErr(e.do("GET", "/v1/bot/dialogs", key, nil), 401, "invalid_token")
	shot(b, "keys-revoked")

	// Client dialogs: assign Anna's dialog to Oleg.
	b.tap("client dialogs", `.a-side a[data-view="operators"]`)
	row := fmt.Sprintf(`tr[data-operator-dialog=%q]`, d)
	b.WaitFor("Anna's dialog, unassigned", fmt.Sprintf(`!!document.querySelector('%s [data-field="assignee"] .a-draft')`, row))
	b.setValue("pick Oleg", row+` select[name="operator"]`, op.User.ID)
	b.tap("assign", row+` button[data-action="assign"]`)
	b.WaitFor("assigned to Oleg", fmt.Sprintf(`document.querySelector('%s [data-field="assignee"]')?.textContent.includes('Олег Оператор')`, row))
	shot(b, "operators")
	as, err := e.app.store.Assignments(ctx, []int64{mustID(t, d)})
	if err != nil || len(as) != 1 || chat.FormatID(as[0].OperatorID) != op.User.ID || chat.FormatID(as[0].AssignedBy) != admin.User.ID {
		t.Fatalf("assignment: %+v %v", as, err)
	}

	// The operator, whose browser is in Russian, sees the same page (and
	// only what operators may).
	o := &person{browsertest.New(t, "operator", pageHooks+inRussian, 4*time.Minute)}
	o.FailOnProblems()
	adminSignIn(o, e.url, "+7 999 123-00-10")
	o.WaitFor("no admin sections, in Russian", `document.querySelector('.a-side a[data-view="collections"]').hidden && document.querySelector('.a-side a[data-view="keys"]').hidden && document.querySelector('.a-side a[data-view="operators"]').textContent === 'Диалоги клиентов'`)
	o.tap("client dialogs", `.a-side a[data-view="operators"]`)
	o.WaitFor("assigned to them", fmt.Sprintf(`document.querySelector('%s [data-field="assignee"]')?.textContent.includes('Олег Оператор')`, row))
	shot(o, "operators-as-operator")

	// Oleg answers; the dialog's page says who answered each answer.
	m := e.want(e.do("POST", "/v1/operator/dialogs/"+d+"/messages", op.AccessToken,
		map[string]any{"client_id": "o1", "text": "Добрый день! Доставим завтра с 10 до 14."}), 201).field(t, "id").(string)
	o.tap("Anna's dialog", row+` td`)
	o.WaitFor("who answered", fmt.Sprintf(`document.querySelector('[data-message=%q] [data-answered-by=%q]')?.textContent.includes('Олег Оператор')`, m, op.User.ID))
	if n := eval[int](o, `document.querySelectorAll('[data-answered-by]').length`); n != 1 {
		t.Fatalf("%d messages say who answered, want Oleg's one", n)
	}
	shot(o, "operator-dialog")

	// Oleg replies on the page: two lines (Shift+Enter), Enter sends; then
	// a canned answer with one tap. Anna receives both from the business,
	// and her next message shows up in the open view without a reload.
	o.setValue("too long a reply", `textarea[name="reply"]`, strings.Repeat("я", chat.MaxTextLen+1))
	o.Do("Enter", chromedp.Evaluate[chromedp.Void](`document.querySelector('textarea[name="reply"]').focus()`), chromedp.KeyEvent("\r"))
	o.WaitFor("the API's message, the text kept", `document.querySelector('[data-field="reply-error"]').textContent.includes('4096') && !document.querySelector('.a-reply').disabled && document.querySelector('textarea[name="reply"]').value.length > 4096`)
	// The refusal is the one error the browser may report.
	for _, p := range o.TakeProblems() {
		if !strings.Contains(p, "400") || !strings.Contains(p, "/v1/operator/dialogs/"+d+"/messages") {
			t.Errorf("browser reported: %s", p)
		}
	}
	o.setValue("clear the reply", `textarea[name="reply"]`, "")
	o.typeInto("reply", `textarea[name="reply"]`, "Добрый день!")
	o.Do("Shift+Enter", chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierShift)))
	o.typeInto("reply, second line", `textarea[name="reply"]`, "Курьер позвонит заранее.\r")
	o.WaitFor("the reply, answered by Oleg", fmt.Sprintf(`[...document.querySelectorAll('[data-answered-by=%q]')].length === 2 && document.querySelector('textarea[name="reply"]').value === ''`, op.User.ID))
	if msg := eval[string](o, `document.querySelector('[data-field="reply-error"]').textContent`); msg != "" {
		t.Fatalf("the error stays after a good send: %q", msg)
	}
	o.tap("canned: greeting", `button[data-canned="greeting"]`)
	o.WaitFor("the canned answer, answered by Oleg", fmt.Sprintf(`[...document.querySelectorAll('[data-answered-by=%q]')].length === 3`, op.User.ID))
	var hist struct {
		Messages []struct {
			SenderID   string `json:"sender_id"`
			Text       string
			AnsweredBy string `json:"answered_by"`
		}
	}
	e.want(e.do("GET", "/v1/dialogs/"+d+"/messages", client.AccessToken, nil), 200).json(t, &hist)
	if n := len(hist.Messages); n != 4 || hist.Messages[2].Text != "Добрый день!\nКурьер позвонит заранее." ||
		!strings.HasPrefix(hist.Messages[3].Text, "Здравствуйте! Спасибо") || hist.Messages[2].SenderID != hist.Messages[1].SenderID ||
		hist.Messages[3].SenderID != hist.Messages[1].SenderID || hist.Messages[3].SenderID == op.User.ID || hist.Messages[3].AnsweredBy != "" {
		t.Fatalf("the client's history: %+v", hist.Messages)
	}
	c2 := e.want(e.do("POST", "/v1/dialogs/"+d+"/messages", client.AccessToken, map[string]any{"client_id": "c2", "text": "Спасибо, жду!"}), 201).field(t, "id").(string)
	o.WaitFor("Anna's new message, no reload", fmt.Sprintf(`document.querySelector('[data-message=%q]')?.textContent.includes('Спасибо, жду!') && document.querySelectorAll('[data-message]').length === 5`, c2))
	shot(o, "operator-reply")
	t.Logf("screenshots in %s", dir)
}
