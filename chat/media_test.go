package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// Tests of media privacy (issue 9, item 11) through the Service: URLs are
// signed per view for the dialog, expire on bucket boundaries that screen
// versions follow, and files go with their message or, unclaimed, after a
// day.

var testSecret = []byte("test secret of at least 32 bytes!")

func signer(t testing.TB) *chat.MediaSigner {
	t.Helper()
	s, err := chat.NewMediaSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mediaURL splits a media URL into its key and query.
func mediaURL(t testing.TB, raw string) (key string, q url.Values) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("media URL %q: %v", raw, err)
	}
	p, ok := strings.CutPrefix(u.Path, "/media/")
	if !ok {
		t.Fatalf("media URL %q is not under /media/", raw)
	}
	for _, ext := range []string{"_thumb.jpg", ".jpg", ".bin"} {
		if k, ok := strings.CutSuffix(p, ext); ok {
			return k, u.Query()
		}
	}
	t.Fatalf("media URL %q has no media extension", raw)
	return "", nil
}

func attachmentsOf(t testing.TB, v chat.MessageView) []chat.Attachment {
	t.Helper()
	var list []chat.Attachment
	if err := json.Unmarshal(v.Attachments, &list); err != nil {
		t.Fatalf("attachments %s: %v", v.Attachments, err)
	}
	return list
}

func TestMediaURLSigner(t *testing.T) {
	s := signer(t)
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	q := s.Query("uploads/abc", chat.MediaScope{Dialog: 17}, at.Add(10*time.Minute))
	// Every view within the bucket renders the same URL; it is valid until
	// the end of the next bucket.
	if again := s.Query("uploads/abc", chat.MediaScope{Dialog: 17}, at.Add(59*time.Minute)); again != q {
		t.Errorf("within a bucket: %q then %q, want the same", q, again)
	}
	if next := s.Query("uploads/abc", chat.MediaScope{Dialog: 17}, at.Add(61*time.Minute)); next == q {
		t.Error("the next bucket renders the same URL")
	}
	vals, _ := url.ParseQuery(q)
	for _, now := range []time.Time{at, at.Add(119 * time.Minute)} {
		exp, err := s.Check("uploads/abc", vals, now)
		if err != nil || !exp.Equal(at.Add(2*time.Hour)) {
			t.Errorf("Check at %s: %v, %v; want valid until 12:00", now, exp, err)
		}
	}
	if _, err := s.Check("uploads/abc", vals, at.Add(2*time.Hour)); !errors.Is(err, chat.ErrMediaURLExpired) {
		t.Errorf("at expiry: %v, want media_url_expired", err)
	}
	// A node whose clock is a little behind the signer's, at a bucket's
	// edge, still takes the URL; one from over a bucket ahead it does not.
	if _, err := s.Check("uploads/abc", vals, at.Add(-time.Second)); err != nil {
		t.Errorf("checked a second before the bucket: %v", err)
	}
	if _, err := s.Check("uploads/abc", vals, at.Add(-61*time.Minute)); !errors.Is(err, chat.ErrMediaURLInvalid) {
		t.Errorf("checked over a bucket before: %v, want invalid_media_url", err)
	}
	if _, err := s.Check("uploads/abd", vals, at); !errors.Is(err, chat.ErrMediaURLInvalid) {
		t.Errorf("another key: %v, want invalid_media_url", err)
	}
	other, _ := chat.NewMediaSigner([]byte(strings.Repeat("x", 32)))
	if _, err := other.Check("uploads/abc", vals, at); !errors.Is(err, chat.ErrMediaURLInvalid) {
		t.Errorf("another secret: %v, want invalid_media_url", err)
	}
	if _, err := chat.NewMediaSigner([]byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

// TestMediaIsPrivateToDialog: an upload's answer is signed for its owner,
// the message's attachment for the dialog (and only members can read the
// message); the sender's copy, the event and history carry the same URL
// within a bucket. Deleting the message removes the files and the upload.
func TestMediaIsPrivateToDialog(t *testing.T) {
	f, _ := newTestServiceWith(t, func(c *chat.Config) { c.MediaSigner = signer(t) })
	ctx := context.Background()
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	d := f.direct(t, ann, bob)

	up, err := f.svc.Upload(ctx, ann.p, strings.NewReader("the plan"), "plan.txt")
	if err != nil {
		t.Fatal(err)
	}
	key, q := mediaURL(t, up.URL)
	if q.Get("owner") != chat.FormatID(ann.id) || q.Has("dialog") {
		t.Errorf("upload URL %s, want it signed for its owner", up.URL)
	}
	if _, err := signer(t).Check(key, q, f.clock.Now()); err != nil {
		t.Errorf("upload URL: %v", err)
	}

	sent, _, err := f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "p1", Text: "see",
		Attachments: json.RawMessage(`[{"upload_id":"` + up.ID + `"}]`)})
	if err != nil {
		t.Fatal(err)
	}
	att := attachmentsOf(t, sent)
	if len(att) != 1 || att[0].ID != up.ID {
		t.Fatalf("sent attachments %+v, want the upload", att)
	}
	k2, q2 := mediaURL(t, att[0].URL)
	if k2 != key || q2.Get("dialog") != chat.FormatID(d) || q2.Has("owner") {
		t.Errorf("message URL %s, want the key signed for dialog %d", att[0].URL, d)
	}
	if _, err := signer(t).Check(key, q2, f.clock.Now()); err != nil {
		t.Errorf("message URL: %v", err)
	}
	hist, err := f.svc.History(ctx, bob.p, d, 0, 10)
	if err != nil || len(hist) != 1 || attachmentsOf(t, hist[0])[0].URL != att[0].URL {
		t.Errorf("Bob's history %+v (%v), want the same URL", hist, err)
	}
	if _, err := f.svc.History(ctx, eve.p, d, 0, 10); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Eve's history of a dialog she is not in: %v, want not found", err)
	}
	// Stored messages keep the key, never a URL.
	stored, err := f.store.Messages(ctx, d, 0, 1)
	if err != nil || strings.Contains(string(stored[0].Attachments), "url") || !strings.Contains(string(stored[0].Attachments), key) {
		t.Errorf("stored attachments %s (%v), want the key and no URL", stored[0].Attachments, err)
	}

	del, err := f.svc.DeleteMessage(ctx, ann.p, d, sent.Seq)
	if err != nil || string(del.Attachments) != "[]" {
		t.Fatalf("delete: %+v, %v", del, err)
	}
	if !f.images.wasDeleted(key) {
		t.Error("the deleted message's files are still on disk")
	}
	if _, err := f.store.Upload(ctx, parseID(t, up.ID)); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("the deleted message's upload: %v, want gone", err)
	}
	hist, _ = f.svc.History(ctx, bob.p, d, 0, 10)
	if len(hist) != 1 || string(hist[0].Attachments) != "[]" {
		t.Errorf("history after delete %+v, want no attachments", hist)
	}
}

// TestScreenVersionsFollowMediaBucket: the versions behind screen ETags
// stay put within a media URL bucket and change with it, as the URLs the
// screens show do; a 304 never leaves a shell holding expired URLs.
func TestScreenVersionsFollowMediaBucket(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	f.send(t, ann, d, "m1", "hi")
	// Start just after a bucket boundary, so a minute stays inside it.
	now := f.clock.Now()
	f.clock.Advance(now.Truncate(chat.MediaURLBucket).Add(chat.MediaURLBucket + time.Second).Sub(now))

	versions := func() (string, string) {
		t.Helper()
		dv, err := f.svc.DialogVersion(ctx, bob.p, d)
		if err != nil {
			t.Fatal(err)
		}
		lv, err := f.svc.DialogsVersion(ctx, bob.p)
		if err != nil {
			t.Fatal(err)
		}
		return dv, lv
	}
	d1, l1 := versions()
	f.clock.Advance(time.Minute)
	if d2, l2 := versions(); d2 != d1 || l2 != l1 {
		t.Errorf("within a bucket: %s, %s then %s, %s; want unchanged", d1, l1, d2, l2)
	}
	f.clock.Advance(chat.MediaURLBucket)
	if d3, l3 := versions(); d3 == d1 || l3 == l1 {
		t.Errorf("next bucket: dialog %s, list %s; want both changed", d3, l3)
	}
}

// TestReattachedUploadIsCopied: an upload attached to a second message is
// copied for it, so deleting either message leaves the other's files; a
// retried send attaches what it attached the first time.
func TestReattachedUploadIsCopied(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	d1, d2 := f.direct(t, ann, bob), f.direct(t, ann, eve)
	up, err := f.svc.Upload(ctx, ann.p, strings.NewReader("the plan"), "plan.txt")
	if err != nil {
		t.Fatal(err)
	}
	ref := json.RawMessage(`[{"upload_id":"` + up.ID + `"}]`)
	send := func(d int64, clientID string) chat.Attachment {
		t.Helper()
		v, _, err := f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: clientID, Attachments: ref})
		if err != nil {
			t.Fatal(err)
		}
		return attachmentsOf(t, v)[0]
	}
	first := send(d1, "m1")
	if again := send(d1, "m1"); again.ID != first.ID || again.URL != first.URL {
		t.Errorf("retried send attached %+v, want %+v", again, first)
	}
	second := send(d2, "m2")
	if second.ID == first.ID || second.Name != first.Name {
		t.Fatalf("second attachment %+v, want a copy of %+v", second, first)
	}
	k1, _ := mediaURL(t, first.URL)
	k2, _ := mediaURL(t, second.URL)
	if _, err := f.svc.DeleteMessage(ctx, ann.p, d1, 1); err != nil {
		t.Fatal(err)
	}
	if !f.images.wasDeleted(k1) || f.images.wasDeleted(k2) {
		t.Errorf("after deleting the first message: first deleted %v, copy deleted %v; want true, false",
			f.images.wasDeleted(k1), f.images.wasDeleted(k2))
	}
	hist, err := f.svc.History(ctx, eve.p, d2, 0, 10)
	if err != nil || len(hist) != 1 || attachmentsOf(t, hist[0])[0].ID != second.ID {
		t.Errorf("Eve's history %+v (%v), want the copy", hist, err)
	}
	// A deleted upload cannot be attached again.
	_, _, err = f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d1, ClientID: "m3", Attachments: ref})
	wantErr(t, "attaching the deleted message's upload", err, chat.ErrInvalidAttachment)
}

// TestUnattachedUploadsCollected: Run's collector removes, a day on,
// uploads never attached and uploads claimed by a send whose message never
// came, files first; attached uploads stay.
func TestUnattachedUploadsCollected(t *testing.T) {
	f, _ := newTestServiceWith(t, func(c *chat.Config) { c.UploadGCInterval = 5 * time.Millisecond })
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	upload := func(name string) chat.Attachment {
		t.Helper()
		a, err := f.svc.Upload(ctx, ann.p, strings.NewReader(name), name)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	loose, claimed, kept := upload("loose.txt"), upload("claimed.txt"), upload("kept.txt")
	// A send claimed this one, and its message never came.
	if _, ok, err := f.store.ClaimUpload(ctx, parseID(t, claimed.ID), ann.id, d, "lost", f.clock.Now()); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, _, err := f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "k1",
		Attachments: json.RawMessage(`[{"upload_id":"` + kept.ID + `"}]`)}); err != nil {
		t.Fatal(err)
	}
	gone := func(a chat.Attachment) bool {
		_, err := f.store.Upload(ctx, parseID(t, a.ID))
		key, _ := mediaURL(t, a.URL)
		return errors.Is(err, chat.ErrNotFound) && f.images.wasDeleted(key)
	}
	// Nothing is collected before a day has passed.
	if n, err := f.svc.CollectUploads(ctx); err != nil || n != 0 || gone(loose) || gone(claimed) || gone(kept) {
		t.Fatalf("collected %d (%v) before a day had passed", n, err)
	}
	// A day on, the loop in Run collects without being asked.
	f.clock.Advance(chat.UploadTTL + time.Minute)
	waitFor(t, "the loose and the lost claim's uploads to be collected", func() bool { return gone(loose) && gone(claimed) })
	u, err := f.store.Upload(ctx, parseID(t, kept.ID))
	if err != nil || u.State != chat.UploadAttached {
		t.Errorf("the attached upload: %+v, %v; want it kept, attached", u, err)
	}
}

// TestLegacyAttachmentsSigned: messages stored before keys list unsigned
// URLs; views read the key back and sign it like any other.
func TestLegacyAttachmentsSigned(t *testing.T) {
	f, _ := newTestServiceWith(t, func(c *chat.Config) { c.MediaSigner = signer(t) })
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	legacy := `[{"id":"5","kind":"image","url":"/media/uploads/0a1b.jpg","thumb_url":"/media/uploads/0a1b_thumb.jpg","name":"a.jpg","size":1,"mime":"image/jpeg","width":2,"height":3},` +
		`{"id":"6","kind":"file","url":"/media/uploads/0c2d.bin","name":"b.txt","size":1,"mime":"text/plain"}]`
	b := &chat.Batch{Appends: []chat.Append{{Msg: chat.Message{DialogID: d, SenderID: ann.id, ClientID: "old", Text: "x",
		Attachments: json.RawMessage(legacy), CreatedAt: f.clock.Now()}}}}
	if err := f.store.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	hist, err := f.svc.History(ctx, bob.p, d, 0, 10)
	if err != nil || len(hist) != 1 {
		t.Fatalf("history %+v, %v", hist, err)
	}
	att := attachmentsOf(t, hist[0])
	for i, want := range []string{"uploads/0a1b", "uploads/0c2d"} {
		key, q := mediaURL(t, att[i].URL)
		if _, err := signer(t).Check(key, q, f.clock.Now()); key != want || err != nil {
			t.Errorf("legacy attachment %d: URL %s (%v), want %s signed", i, att[i].URL, err, want)
		}
	}
	if tk, _ := mediaURL(t, att[0].ThumbURL); tk != "uploads/0a1b" || att[0].Width != 2 {
		t.Errorf("legacy image: %+v", att[0])
	}
}
