package chattest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// testPreviewCache: entries are found by URL until they expire, a put
// replaces an entry and names the image it replaced, and expiry removes
// the oldest expired entries with their image keys.
func testPreviewCache(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	const u = "https://example.com/a?b=1"
	if _, err := s.CachedPreview(ctx, u, t0); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("CachedPreview of nothing: got %v, want ErrNotFound", err)
	}
	p := chat.CachedPreview{URL: u, Found: true, SiteName: "Пример", Title: "T", Description: "D", ImageKey: "uploads/k1",
		ImageSize: 10, ImageWidth: 4, ImageHeight: 3, FetchedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	old, err := s.PutCachedPreview(ctx, p)
	noErr(t, "PutCachedPreview", err)
	if old != "" {
		t.Fatalf("first put replaced %q", old)
	}
	got, err := s.CachedPreview(ctx, u, t0.Add(time.Minute))
	noErr(t, "CachedPreview", err)
	if got != p {
		t.Fatalf("CachedPreview: got %+v, want %+v", got, p)
	}
	if _, err := s.CachedPreview(ctx, u, t0.Add(time.Hour)); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("CachedPreview after expiry: got %v, want ErrNotFound", err)
	}
	p2 := chat.CachedPreview{URL: u, FetchedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(2 * time.Hour)}
	old, err = s.PutCachedPreview(ctx, p2)
	noErr(t, "PutCachedPreview", err)
	if old != "uploads/k1" {
		t.Fatalf("replacing put: got old image %q, want uploads/k1", old)
	}
	other := chat.CachedPreview{URL: "https://example.org/", Found: true, Title: "x", ImageKey: "uploads/k2", FetchedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
	_, err = s.PutCachedPreview(ctx, other)
	noErr(t, "PutCachedPreview", err)
	n, keys, err := s.ExpireCachedPreviews(ctx, t0.Add(90*time.Minute), 10)
	noErr(t, "ExpireCachedPreviews", err)
	if n != 1 || len(keys) != 1 || keys[0] != "uploads/k2" {
		t.Fatalf("ExpireCachedPreviews: got %d %v, want the one expired entry and uploads/k2", n, keys)
	}
	if got, err := s.CachedPreview(ctx, u, t0.Add(90*time.Minute)); err != nil || got.Found {
		t.Fatalf("the unexpired entry: got %+v, %v", got, err)
	}
}

// testSetMessagePreview: a preview is a change of the message (the next
// change number, replayed by Changes) with its image's upload row; a
// second preview, or one for a deleted message, is ErrNotFound, and a
// delete drops the preview and releases the image's upload.
func testSetMessagePreview(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	a, b := newUser(t, s, "+79990000101"), newUser(t, s, "+79990000102")
	d, _, err := s.DirectDialog(ctx, a.ID, b.ID, "", now)
	noErr(t, "DirectDialog", err)
	batch := &chat.Batch{Appends: []chat.Append{
		{Msg: chat.Message{DialogID: d.ID, SenderID: a.ID, ClientID: "m1", Text: "https://example.com", CreatedAt: now}},
		{Msg: chat.Message{DialogID: d.ID, SenderID: a.ID, ClientID: "m2", Text: "https://example.org", CreatedAt: now}},
	}}
	noErr(t, "Commit", s.Commit(ctx, batch))
	m1 := batch.Appends[0].Msg
	img := &chat.Upload{ID: chat.NewID(), OwnerID: a.ID, Kind: chat.UploadImage, Key: "uploads/pv", Name: "preview.jpg",
		Size: 5, Mime: "image/jpeg", Width: 2, Height: 2, CreatedAt: now, State: chat.UploadAttached,
		DialogID: d.ID, ClientID: "m1", AttachedAt: now}
	raw := json.RawMessage(`{"url":"https://example.com","title":"T"}`)
	got, err := s.SetMessagePreview(ctx, d.ID, m1.Seq, raw, img)
	noErr(t, "SetMessagePreview", err)
	if got.Change != 3 || string(got.Preview) == "" {
		t.Fatalf("SetMessagePreview: got change %d preview %s, want change 3", got.Change, got.Preview)
	}
	changed, err := s.Changes(ctx, d.ID, 2, 10)
	noErr(t, "Changes", err)
	if len(changed) != 1 || changed[0].Seq != m1.Seq || len(changed[0].Preview) == 0 {
		t.Fatalf("Changes since 2: got %+v, want the message with its preview", changed)
	}
	var p map[string]any
	if err := json.Unmarshal(changed[0].Preview, &p); err != nil || p["title"] != "T" {
		t.Fatalf("stored preview %s: %v", changed[0].Preview, err)
	}
	if u, err := s.Upload(ctx, img.ID); err != nil || u.State != chat.UploadAttached || u.DialogID != d.ID {
		t.Fatalf("image upload: got %+v, %v", u, err)
	}
	if _, err := s.SetMessagePreview(ctx, d.ID, m1.Seq, raw, nil); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("a second preview: got %v, want ErrNotFound", err)
	}
	del, err := s.DeleteMessage(ctx, d.ID, m1.Seq, a.ID, now)
	noErr(t, "DeleteMessage", err)
	if len(del.Preview) == 0 {
		t.Fatal("DeleteMessage did not return the preview it removed")
	}
	if u, err := s.Upload(ctx, img.ID); err != nil || u.State != chat.UploadDeleted {
		t.Fatalf("image upload after delete: got %+v, %v", u, err)
	}
	ms, err := s.Messages(ctx, d.ID, 0, 10)
	noErr(t, "Messages", err)
	if len(ms[0].Preview) != 0 {
		t.Fatalf("deleted message keeps its preview %s", ms[0].Preview)
	}
	if _, err := s.SetMessagePreview(ctx, d.ID, m1.Seq, raw, nil); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("preview of a deleted message: got %v, want ErrNotFound", err)
	}
	if _, err := s.SetMessagePreview(ctx, d.ID, 99, raw, nil); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("preview of no message: got %v, want ErrNotFound", err)
	}
}
