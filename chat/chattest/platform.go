package chattest

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestPlatformStores checks the stores of the platform part against one
// implementation: collections (chat.CollectionStore), forms
// (chat.FormStore), bot keys (chat.APIKeyStore), webhooks and their
// delivery log (chat.WebhookStore), operators' assignments and replies
// (chat.OperatorStore), and the user lists broadcasts by content tag walk
// (chat.AdminStore with UserFilter.Interacted). Broadcast progress and the
// audit log are in TestStore (Admin/BroadcastProgress,
// Audit/AppendFilterPage).
//
// open returns an empty store for one subtest and closes it in t.Cleanup;
// subtests run in parallel.
func TestPlatformStores(t *testing.T, open func(t *testing.T) chat.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s chat.Store)
	}{
		{"Collections/DefineTagsSeed", testCollectionsDefine},
		{"Collections/Documents", testCollectionDocuments},
		{"Forms/Submissions", testFormSubmissions},
		{"APIKeys/CreateFindRevoke", testAPIKeys},
		{"Webhooks/RegisterDisable", testWebhooks},
		{"Webhooks/DeliveryLog", testWebhookDeliveries},
		{"Operators/Assign", testOperatorAssign},
		{"Operators/Replies", testOperatorReplies},
		{"Broadcasts/SegmentByInteraction", testUsersInteracted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var objectSchema = json.RawMessage(`{"type":"object"}`)

// testCollectionsDefine: a definition round-trips with its tags, a
// redefinition keeps created_at, a seed never overwrites, and the list is
// by name.
func testCollectionsDefine(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	_, err := s.Collection(ctx, "news")
	wantErrIs(t, "missing collection", err, chat.ErrNoCollection)
	created, err := s.PutCollection(ctx, chat.Collection{Name: "news", Title: "Новости", Schema: objectSchema,
		Tags: []string{"promo", "sale"}, CreatedAt: t0, UpdatedAt: t0})
	noErr(t, "put", err)
	if !created {
		t.Fatal("first put: created false")
	}
	later := t0.Add(time.Hour)
	created, err = s.PutCollection(ctx, chat.Collection{Name: "news", Title: "News", Schema: json.RawMessage(`{"type":"object","required":["title"]}`),
		Form: false, Tags: []string{"sale"}, CreatedAt: later, UpdatedAt: later})
	noErr(t, "redefine", err)
	if created {
		t.Fatal("redefinition: created true")
	}
	c, err := s.Collection(ctx, "news")
	noErr(t, "get", err)
	if c.Title != "News" || !slices.Equal(c.Tags, []string{"sale"}) || !c.CreatedAt.Equal(t0) || !c.UpdatedAt.Equal(later) ||
		!bytes.Contains(c.Schema, []byte("required")) {
		t.Fatalf("redefined collection: %+v", c)
	}
	seeded, err := s.SeedCollection(ctx, chat.Collection{Name: "news", Title: "seed", Schema: objectSchema, CreatedAt: t0, UpdatedAt: t0})
	noErr(t, "seed over", err)
	if seeded {
		t.Fatal("a seed overwrote an admin's definition")
	}
	seeded, err = s.SeedCollection(ctx, chat.Collection{Name: "order_service", Title: "Заказ", Schema: objectSchema, Form: true, CreatedAt: t0, UpdatedAt: t0})
	noErr(t, "seed", err)
	if !seeded {
		t.Fatal("seed of a new collection: false")
	}
	cs, err := s.Collections(ctx)
	noErr(t, "list", err)
	if len(cs) != 2 || cs[0].Name != "news" || cs[1].Name != "order_service" || !cs[1].Form || cs[1].Tags == nil || len(cs[1].Tags) != 0 {
		t.Fatalf("collections: %+v", cs)
	}
}

// testCollectionDocuments: documents go last without a position, keep
// their data and publish state, reorder only as a whole, and delete once.
func testCollectionDocuments(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	_, err := s.PutCollection(ctx, chat.Collection{Name: "faq", Schema: objectSchema, CreatedAt: t0, UpdatedAt: t0})
	noErr(t, "put collection", err)
	for i, id := range []string{"a", "b", "c"} {
		d, created, err := s.PutContentDoc(ctx, chat.ContentDoc{Collection: "faq", ID: id, Position: -1, Published: i != 1,
			Data: json.RawMessage(`{"q":"` + id + `"}`), UpdatedAt: t0})
		noErr(t, "put doc", err)
		if !created || d.Position <= 0 && i > 0 {
			t.Fatalf("put %s: %+v created %v", id, d, created)
		}
	}
	_, created, err := s.PutContentDoc(ctx, chat.ContentDoc{Collection: "faq", ID: "b", Position: -1, Published: true,
		Data: json.RawMessage(`{"q":"B"}`), UpdatedAt: t0})
	noErr(t, "replace doc", err)
	if created {
		t.Fatal("replacing a document: created true")
	}
	order := func() []string {
		docs, err := s.Content(ctx, "faq", false)
		noErr(t, "content", err)
		var ids []string
		for _, d := range docs {
			ids = append(ids, d.ID)
		}
		return ids
	}
	wantErrIs(t, "partial reorder", s.ReorderContent(ctx, "faq", []string{"c", "a"}, t0), chat.ErrInvalidOrder)
	wantErrIs(t, "repeated reorder", s.ReorderContent(ctx, "faq", []string{"c", "a", "a"}, t0), chat.ErrInvalidOrder)
	noErr(t, "reorder", s.ReorderContent(ctx, "faq", []string{"c", "a", "b"}, t0))
	if got := order(); !slices.Equal(got, []string{"c", "a", "b"}) {
		t.Fatalf("order after reorder: %v", got)
	}
	d, err := s.ContentDoc(ctx, "faq", "b")
	noErr(t, "doc", err)
	if !d.Published || !bytes.Contains(d.Data, []byte(`"B"`)) {
		t.Fatalf("replaced doc: %+v", d)
	}
	noErr(t, "delete", s.DeleteContentDoc(ctx, "faq", "a"))
	wantErrIs(t, "delete again", s.DeleteContentDoc(ctx, "faq", "a"), chat.ErrNoDocument)
	_, err = s.ContentDoc(ctx, "faq", "a")
	wantErrIs(t, "deleted doc", err, chat.ErrNoDocument)
	if got := order(); !slices.Equal(got, []string{"c", "b"}) {
		t.Fatalf("order after delete: %v", got)
	}
}

// testFormSubmissions: ids grow, pages go backwards per form.
func testFormSubmissions(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000301")
	var ids []int64
	for i := range 5 {
		col := "order_service"
		if i == 2 {
			col = "feedback"
		}
		f, err := s.CreateSubmission(ctx, chat.FormSubmission{Collection: col, AuthorID: u.ID,
			Data: json.RawMessage(`{"n":` + string(rune('0'+i)) + `}`), DialogID: 7, CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
		noErr(t, "submit", err)
		if len(ids) > 0 && f.ID <= ids[len(ids)-1] {
			t.Fatalf("submission ids do not grow: %d after %v", f.ID, ids)
		}
		ids = append(ids, f.ID)
	}
	page, err := s.Submissions(ctx, "order_service", 0, 2)
	noErr(t, "page 1", err)
	if len(page) != 2 || page[0].ID != ids[4] || page[1].ID != ids[3] || page[0].AuthorID != u.ID || page[0].DialogID != 7 ||
		!page[0].CreatedAt.Equal(t0.Add(4*time.Minute)) || !bytes.Contains(page[0].Data, []byte(`"n":4`)) {
		t.Fatalf("page 1: %+v", page)
	}
	page, err = s.Submissions(ctx, "order_service", page[1].ID, 10)
	noErr(t, "page 2", err)
	if len(page) != 2 || page[0].ID != ids[1] || page[1].ID != ids[0] {
		t.Fatalf("page 2 skips the other form: %+v", page)
	}
}

// testAPIKeys: a key is found by its hash until revoked, listed newest
// first, revoked once.
func testAPIKeys(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	k1 := chat.APIKey{ID: 101, Name: "CRM", Prefix: "kbk_aaaaaa", Hash: bytes.Repeat([]byte{1}, 32), CreatedBy: 5, CreatedAt: t0}
	k2 := chat.APIKey{ID: 102, Name: "Shop", Prefix: "kbk_bbbbbb", Hash: bytes.Repeat([]byte{2}, 32), CreatedBy: 5, CreatedAt: t0.Add(time.Minute)}
	noErr(t, "create 1", s.CreateAPIKey(ctx, k1))
	noErr(t, "create 2", s.CreateAPIKey(ctx, k2))
	got, err := s.APIKeyByHash(ctx, k1.Hash)
	noErr(t, "by hash", err)
	if got.ID != 101 || got.Name != "CRM" || got.Prefix != "kbk_aaaaaa" || !got.CreatedAt.Equal(t0) || !got.RevokedAt.IsZero() {
		t.Fatalf("key by hash: %+v", got)
	}
	_, err = s.APIKeyByHash(ctx, bytes.Repeat([]byte{3}, 32))
	wantErrIs(t, "unknown hash", err, chat.ErrNotFound)
	noErr(t, "revoke", s.RevokeAPIKey(ctx, 101, t0.Add(time.Hour)))
	wantErrIs(t, "revoke twice", s.RevokeAPIKey(ctx, 101, t0.Add(time.Hour)), chat.ErrNotFound)
	_, err = s.APIKeyByHash(ctx, k1.Hash)
	wantErrIs(t, "revoked key", err, chat.ErrNotFound)
	ks, err := s.APIKeys(ctx)
	noErr(t, "list", err)
	if len(ks) != 2 || ks[0].ID != 102 || ks[1].ID != 101 || !ks[1].RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("keys: %+v", ks)
	}
}

// testWebhooks: working webhooks are listed oldest first; a disabled one
// is still readable by id and disabled once.
func testWebhooks(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	w1 := chat.Webhook{ID: 201, URL: "https://crm.example.com/a", Events: []string{"form.submitted"}, Secret: "whsec_1", CreatedBy: 5, CreatedAt: t0}
	w2 := chat.Webhook{ID: 202, URL: "https://crm.example.com/b", Events: []string{"message.created", "dialog.created"}, Secret: "whsec_2", CreatedBy: 5, CreatedAt: t0.Add(time.Minute)}
	noErr(t, "create 1", s.CreateWebhook(ctx, w1))
	noErr(t, "create 2", s.CreateWebhook(ctx, w2))
	ws, err := s.Webhooks(ctx)
	noErr(t, "list", err)
	if len(ws) != 2 || ws[0].ID != 201 || ws[1].ID != 202 || !slices.Equal(ws[1].Events, w2.Events) || ws[0].Secret != "whsec_1" {
		t.Fatalf("webhooks: %+v", ws)
	}
	noErr(t, "disable", s.DisableWebhook(ctx, 201, t0.Add(time.Hour)))
	wantErrIs(t, "disable twice", s.DisableWebhook(ctx, 201, t0.Add(time.Hour)), chat.ErrNotFound)
	ws, err = s.Webhooks(ctx)
	noErr(t, "list after disable", err)
	if len(ws) != 1 || ws[0].ID != 202 {
		t.Fatalf("working webhooks: %+v", ws)
	}
	w, err := s.Webhook(ctx, 201)
	noErr(t, "disabled by id", err)
	if !w.DisabledAt.Equal(t0.Add(time.Hour)) || w.URL != w1.URL {
		t.Fatalf("disabled webhook: %+v", w)
	}
	_, err = s.Webhook(ctx, 999)
	wantErrIs(t, "missing webhook", err, chat.ErrNotFound)
}

// testWebhookDeliveries: attempts are recorded; the log pages backwards
// per webhook.
func testWebhookDeliveries(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	for _, id := range []int64{301, 302} {
		noErr(t, "create webhook", s.CreateWebhook(ctx, chat.Webhook{ID: id, URL: "https://crm.example.com/", Events: []string{"form.submitted"},
			Secret: "whsec", CreatedBy: 5, CreatedAt: t0}))
	}
	var ds []chat.WebhookDelivery
	for i := range 4 {
		wh := int64(301)
		if i == 1 {
			wh = 302
		}
		ds = append(ds, chat.WebhookDelivery{ID: int64(1000 + i), WebhookID: wh, Event: "form.submitted",
			Payload: json.RawMessage(`{"i":` + string(rune('0'+i)) + `}`), State: chat.WebhookPending, CreatedAt: t0, UpdatedAt: t0})
	}
	noErr(t, "create deliveries", s.CreateDeliveries(ctx, ds))
	d := ds[3]
	d.State, d.Attempts, d.LastStatus, d.LastError, d.UpdatedAt = chat.WebhookFailed, 3, 502, "bad gateway", t0.Add(time.Minute)
	noErr(t, "update", s.UpdateDelivery(ctx, d))
	got, err := s.WebhookDelivery(ctx, 1003)
	noErr(t, "get", err)
	if got.State != chat.WebhookFailed || got.Attempts != 3 || got.LastStatus != 502 || got.LastError != "bad gateway" ||
		!got.UpdatedAt.Equal(t0.Add(time.Minute)) || !bytes.Contains(got.Payload, []byte(`"i":3`)) {
		t.Fatalf("updated delivery: %+v", got)
	}
	_, err = s.WebhookDelivery(ctx, 42)
	wantErrIs(t, "missing delivery", err, chat.ErrNotFound)
	page, err := s.WebhookDeliveries(ctx, 301, 0, 2)
	noErr(t, "page 1", err)
	if len(page) != 2 || page[0].ID != 1003 || page[1].ID != 1002 {
		t.Fatalf("page 1: %+v", page)
	}
	page, err = s.WebhookDeliveries(ctx, 301, 1002, 10)
	noErr(t, "page 2", err)
	if len(page) != 1 || page[0].ID != 1000 {
		t.Fatalf("page 2: %+v", page)
	}
}

// testOperatorAssign: one assignment per dialog, replaced by a
// reassignment that reports the one it replaced; a missing dialog is
// ErrNotFound; a page's assignments are read together.
func testOperatorAssign(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	biz := newUser(t, s, "+79990000401")
	c1 := newUser(t, s, "+79990000402")
	c2 := newUser(t, s, "+79990000403")
	d1, _, err := s.DirectDialog(ctx, biz.ID, c1.ID, "", t0)
	noErr(t, "dialog 1", err)
	d2, _, err := s.DirectDialog(ctx, biz.ID, c2.ID, "", t0)
	noErr(t, "dialog 2", err)
	const op1, op2, admin = 11, 12, 13

	_, _, err = s.AssignDialog(ctx, chat.DialogAssignment{DialogID: 987654321, OperatorID: op1, AssignedBy: admin, AssignedAt: t0})
	wantErrIs(t, "assign a missing dialog", err, chat.ErrNotFound)
	_, had, err := s.AssignDialog(ctx, chat.DialogAssignment{DialogID: d1.ID, OperatorID: op1, AssignedBy: admin, AssignedAt: t0})
	noErr(t, "assign", err)
	if had {
		t.Fatal("first assignment replaced one")
	}
	prev, had, err := s.AssignDialog(ctx, chat.DialogAssignment{DialogID: d1.ID, OperatorID: op2, AssignedBy: op1, AssignedAt: t0.Add(time.Minute)})
	noErr(t, "reassign", err)
	if !had || prev.OperatorID != op1 || prev.AssignedBy != admin || !prev.AssignedAt.Equal(t0) {
		t.Fatalf("reassignment replaced %+v (had %v)", prev, had)
	}
	as, err := s.Assignments(ctx, []int64{d1.ID, d2.ID, 987654321})
	noErr(t, "assignments", err)
	if len(as) != 1 || as[0].DialogID != d1.ID || as[0].OperatorID != op2 || as[0].AssignedBy != op1 || !as[0].AssignedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("assignments: %+v", as)
	}
	_, _, err = s.AssignDialog(ctx, chat.DialogAssignment{DialogID: d2.ID, OperatorID: op1, AssignedBy: admin, AssignedAt: t0})
	noErr(t, "assign 2", err)
	as, err = s.Assignments(ctx, []int64{d1.ID, d2.ID})
	noErr(t, "assignments 2", err)
	if len(as) != 2 {
		t.Fatalf("two dialogs' assignments: %+v", as)
	}
	as, err = s.Assignments(ctx, nil)
	noErr(t, "no dialogs", err)
	if len(as) != 0 {
		t.Fatalf("assignments of no dialogs: %+v", as)
	}
}

// testOperatorReplies: a message keeps its first record; records page
// backwards by seq; RepliesOf reads a page's records.
func testOperatorReplies(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	biz := newUser(t, s, "+79990000411")
	c := newUser(t, s, "+79990000412")
	d, _, err := s.DirectDialog(ctx, biz.ID, c.ID, "", t0)
	noErr(t, "dialog", err)
	const op1, op2 = 21, 22
	for seq := int64(1); seq <= 4; seq++ {
		op := int64(op1)
		if seq%2 == 0 {
			op = op2
		}
		noErr(t, "record", s.RecordReply(ctx, chat.ReplyRecord{DialogID: d.ID, Seq: seq, OperatorID: op, At: t0.Add(time.Duration(seq) * time.Second)}))
	}
	// A retried send records again, possibly from another operator: the
	// first record stays.
	noErr(t, "record again", s.RecordReply(ctx, chat.ReplyRecord{DialogID: d.ID, Seq: 1, OperatorID: op2, At: t0.Add(time.Hour)}))
	rs, err := s.RepliesOf(ctx, d.ID, []int64{1, 2, 9})
	noErr(t, "replies of", err)
	slices.SortFunc(rs, func(a, b chat.ReplyRecord) int { return int(a.Seq - b.Seq) })
	if len(rs) != 2 || rs[0].Seq != 1 || rs[0].OperatorID != op1 || !rs[0].At.Equal(t0.Add(time.Second)) || rs[1].OperatorID != op2 {
		t.Fatalf("replies of 1, 2, 9: %+v", rs)
	}
	page, err := s.Replies(ctx, d.ID, 0, 3)
	noErr(t, "page 1", err)
	if len(page) != 3 || page[0].Seq != 4 || page[2].Seq != 2 {
		t.Fatalf("page 1: %+v", page)
	}
	page, err = s.Replies(ctx, d.ID, 2, 3)
	noErr(t, "page 2", err)
	if len(page) != 1 || page[0].Seq != 1 {
		t.Fatalf("page 2: %+v", page)
	}
	other, err := s.Replies(ctx, d.ID+1, 0, 3)
	noErr(t, "other dialog", err)
	if len(other) != 0 {
		t.Fatalf("another dialog's replies: %+v", other)
	}
}

// testUsersInteracted: UserFilter.Interacted keeps the users who
// submitted one of its forms or are in a dialog about one of its
// subjects, combines with the other conditions and pages like any list.
func testUsersInteracted(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	biz := newUser(t, s, chat.BusinessPhone) // a member of its dialogs, never listed
	var us []chat.User
	for i := range 6 {
		u, _, err := s.UpsertUser(ctx, "+7999000051"+string(rune('0'+i)), t0.Add(time.Duration(i)*time.Hour))
		noErr(t, "user", err)
		us = append(us, u)
	}
	// 0 ordered a service; 1 sent feedback; 2 discussed the launch post;
	// 3 discussed another post; 4 and 5 discussed listing 17 with each
	// other (a marketplace dialog, not with the business).
	for i, col := range map[int]string{0: "order_service", 1: "feedback"} {
		_, err := s.CreateSubmission(ctx, chat.FormSubmission{Collection: col, AuthorID: us[i].ID, Data: json.RawMessage(`{}`), DialogID: 1, CreatedAt: t0})
		noErr(t, "submit", err)
	}
	for i, subj := range map[int]string{2: "news:launch", 3: "news:other"} {
		_, _, err := s.DirectDialog(ctx, biz.ID, us[i].ID, subj, t0)
		noErr(t, "subject dialog", err)
	}
	_, _, err := s.DirectDialog(ctx, us[4].ID, us[5].ID, "listing:17", t0)
	noErr(t, "listing dialog", err)
	// Everyone also has a plain dialog with the business.
	for _, u := range us {
		_, _, err := s.DirectDialog(ctx, biz.ID, u.ID, "", t0)
		noErr(t, "plain dialog", err)
	}

	list := func(what string, f chat.UserFilter, limit int) []int64 {
		t.Helper()
		got, err := s.ListUsers(ctx, f, limit)
		noErr(t, what, err)
		var ids []int64
		for _, u := range got {
			ids = append(ids, u.ID)
		}
		return ids
	}
	in := &chat.Interaction{Forms: []string{"order_service"}, Subjects: []string{"news:launch", "listing:17"}}
	want := []int64{us[5].ID, us[4].ID, us[2].ID, us[0].ID} // newest first
	if got := list("interacted", chat.UserFilter{Interacted: in}, 50); !slices.Equal(got, want) {
		t.Fatalf("interacted: got %v, want %v", got, want)
	}
	// Paged two at a time, without gaps or repeats.
	var paged []int64
	var after chat.UserCursor
	for range 5 {
		page, err := s.ListUsers(ctx, chat.UserFilter{Interacted: in, After: after}, 2)
		noErr(t, "page", err)
		for _, u := range page {
			paged = append(paged, u.ID)
		}
		if len(page) < 2 {
			break
		}
		after = chat.UserCursor{CreatedAt: page[len(page)-1].CreatedAt, ID: page[len(page)-1].ID}
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("paged: got %v, want %v", paged, want)
	}
	if got := list("forms only", chat.UserFilter{Interacted: &chat.Interaction{Forms: []string{"order_service", "feedback"}}}, 50); !slices.Equal(got, []int64{us[1].ID, us[0].ID}) {
		t.Fatalf("forms only: %v", got)
	}
	if got := list("with a window", chat.UserFilter{Interacted: in, RegisteredFrom: t0.Add(2 * time.Hour), RegisteredTo: t0.Add(5 * time.Hour)}, 50); !slices.Equal(got, []int64{us[4].ID, us[2].ID}) {
		t.Fatalf("interacted in a window: %v", got)
	}
	if got := list("nothing to match", chat.UserFilter{Interacted: &chat.Interaction{}}, 50); len(got) != 0 {
		t.Fatalf("an empty interaction matched %v", got)
	}
	if got := list("no match", chat.UserFilter{Interacted: &chat.Interaction{Subjects: []string{"news:none"}}}, 50); len(got) != 0 {
		t.Fatalf("an unknown subject matched %v", got)
	}
}
