package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
)

// Media privacy end to end (issue 9, item 11), on both backends: an
// attachment's URL works for the dialog's members and nobody else, fails
// when altered or expired, and dies with its message, whose files leave
// the disk; the old unsigned path serves attachments no more.

// mediaSig computes a media URL signature as docs/api.md describes it,
// independently of the server's code: HMAC-SHA256 with the media secret
// over "korobka-media-v1\0<key>\0<scope>:<id>\0<exp>", its first 16 bytes
// in unpadded base64url.
func mediaSig(secret []byte, key, scope, id string, exp int64) string {
	h := hmac.New(sha256.New, secret)
	fmt.Fprintf(h, "korobka-media-v1\x00%s\x00%s:%s\x00%d", key, scope, id, exp)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// getMedia fetches a media URL and returns the answer with its body.
func (e *env) getMedia(u string) response {
	e.t.Helper()
	res := e.get(u)
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := theContract(e.t).ValidateHTTP("GET", strings.Split(u, "?")[0], res.StatusCode, res.Header, body); err != nil {
		e.t.Errorf("%v", err)
	}
	return response{res.StatusCode, res.Header, body}
}

func TestMediaIsPrivateToDialog(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		eve := e.loginTest("+79991230001", "333333")
		var pngBuf bytes.Buffer
		png.Encode(&pngBuf, gradient(64, 48))
		up := e.want(e.postUpload(a.AccessToken, "cat.png", pngBuf.Bytes()), 201)
		upURL := up.field(t, "url").(string)
		if !strings.Contains(upURL, "?owner="+a.User.ID+"&") {
			t.Fatalf("upload URL %s, want it signed for its owner", upURL)
		}
		if r := e.getMedia(upURL); r.status != 200 {
			t.Fatalf("the owner's upload URL: %d", r.status)
		}

		sent := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{
			"client_id": "p1", "attachments": []any{map[string]any{"upload_id": up.field(t, "id")}}}), 201)
		seq := sent.field(t, "seq").(float64)
		att := sent.field(t, "attachments").([]any)[0].(map[string]any)
		u, thumb := att["url"].(string), att["thumb_url"].(string)
		if !strings.Contains(u, "?dialog="+id+"&") {
			t.Fatalf("message URL %s, want it signed for dialog %s", u, id)
		}

		// A member reads the same URLs and fetches the files.
		hist := e.want(e.do("GET", "/v1/dialogs/"+id+"/messages", b.AccessToken, nil), 200)
		if got := hist.field(t, "messages").([]any)[0].(map[string]any)["attachments"].([]any)[0].(map[string]any)["url"]; got != u {
			t.Errorf("Boris's history URL %v, want %s", got, u)
		}
		for _, target := range []string{u, thumb} {
			r := e.getMedia(target)
			if r.status != 200 || r.header.Get("Content-Type") != "image/jpeg" || r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("GET %s: %d %v", target, r.status, r.header)
			}
			cc := r.header.Get("Cache-Control")
			if !strings.HasPrefix(cc, "private, max-age=") || strings.Contains(cc, "public") || strings.Contains(cc, "immutable") {
				t.Errorf("GET %s: Cache-Control %q, want private until the URL expires", target, cc)
			}
		}
		// Someone outside the dialog gets no URL.
		e.wantErr(e.do("GET", "/v1/dialogs/"+id+"/messages", eve.AccessToken, nil), 404, "not_found")

		// The URL names its key, dialog and expiry under the server's
		// secret: computed independently, the signature is the same.
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		q := parsed.Query()
		key := strings.TrimSuffix(strings.TrimPrefix(parsed.Path, "/media/"), ".jpg")
		exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
		secret, err := os.ReadFile(filepath.Join(e.data, mediaSecretFile))
		if err != nil {
			t.Fatal(err)
		}
		secret = bytes.TrimSpace(secret)
		if got := mediaSig(secret, key, "dialog", id, exp); got != q.Get("sig") {
			t.Fatalf("signature %s, want %s as documented", q.Get("sig"), got)
		}
		if left := time.Until(time.Unix(exp, 0)); left <= time.Hour || left > 2*time.Hour {
			t.Errorf("the URL expires in %v, want between one and two hours", left)
		}

		// Altered, expired, or the old unsigned path: refused.
		past := exp - 2*3600
		for _, tc := range []struct{ name, target, code string }{
			{"the old unsigned path", parsed.Path, "invalid_media_url"},
			{"the old unsigned thumbnail", strings.Split(thumb, "?")[0], "invalid_media_url"},
			{"another dialog", strings.Replace(u, "dialog="+id, "dialog="+id+"1", 1), "invalid_media_url"},
			{"a later expiry", strings.Replace(u, "exp=", "exp=9", 1), "invalid_media_url"},
			{"another signature", strings.Replace(u, "sig=", "sig=A", 1), "invalid_media_url"},
			{"the owner's scope", strings.Replace(u, "dialog=", "owner=", 1), "invalid_media_url"},
			{"expired", fmt.Sprintf("%s?dialog=%s&exp=%d&sig=%s", parsed.Path, id, past, mediaSig(secret, key, "dialog", id, past)), "media_url_expired"},
		} {
			r := e.getMedia(tc.target)
			if r.status != 403 || strings.TrimSpace(string(r.body)) != tc.code {
				t.Errorf("%s: GET %s: %d %q, want 403 %s", tc.name, tc.target, r.status, r.body, tc.code)
			}
		}

		// Deleting the message removes its files: the URL answers 404 and
		// the disk holds nothing of the key.
		e.want(e.do("DELETE", fmt.Sprintf("/v1/dialogs/%s/messages/%.0f", id, seq), a.AccessToken, nil), 200)
		for _, target := range []string{u, thumb, upURL} {
			if r := e.getMedia(target); r.status != 404 {
				t.Errorf("after the delete: GET %s: %d, want 404", target, r.status)
			}
		}
		for _, name := range []string{key + ".jpg", key + "_thumb.jpg"} {
			if _, err := os.Stat(filepath.Join(e.data, "media", filepath.FromSlash(name))); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s after the delete: %v, want it gone from disk", name, err)
			}
		}
		e.wantErr(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{
			"client_id": "p2", "attachments": []any{map[string]any{"upload_id": up.field(t, "id")}}}), 400, "invalid_attachment")
	})
}

// TestScreenETagFollowsMediaBucket: a chat screen's ETag holds within a
// media URL bucket and changes with it, so a shell revalidating with
// If-None-Match is never left with expired URLs by a 304.
func TestScreenETagFollowsMediaBucket(t *testing.T) {
	// Two minutes before the end of the current hour (a bucket).
	var offset atomic.Int64
	now := time.Now()
	offset.Store(int64(now.Truncate(time.Hour).Add(time.Hour - 2*time.Minute).Sub(now)))
	e := newEnvConfig(t, nil, func(c *Config) {
		c.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	a, b, id := e.pair()
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, gradient(64, 48))
	up := e.want(e.postUpload(a.AccessToken, "cat.png", pngBuf.Bytes()), 201)
	e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{
		"client_id": "p1", "attachments": []any{map[string]any{"upload_id": up.field(t, "id")}}}), 201)

	path := "/v1/screens/chat?dialog_id=" + id
	first := e.screen(path, b.AccessToken, "")
	etag := first.header.Get("ETag")
	if first.status != 200 || etag == "" || !bytes.Contains(first.body, []byte("/media/uploads/")) {
		t.Fatalf("chat screen: %d %s", first.status, first.body)
	}
	if r := e.screen(path, b.AccessToken, etag); r.status != 304 {
		t.Fatalf("within the bucket: %d, want 304", r.status)
	}
	offset.Add(int64(3 * time.Minute)) // into the next bucket
	next := e.screen(path, b.AccessToken, etag)
	if next.status != 200 || next.header.Get("ETag") == etag || bytes.Equal(next.body, first.body) {
		t.Fatalf("in the next bucket: %d, ETag %s (was %s); want 200, a new ETag and new URLs", next.status, next.header.Get("ETag"), etag)
	}
}

// TestMediaSecret: without KOROBKA_MEDIA_SECRET a secret is generated
// once, kept (owner-only) in KOROBKA_DATA and read back on the next start,
// so URLs survive a restart; with it, the setting is the secret.
func TestMediaSecret(t *testing.T) {
	cfg := Config{Data: t.TempDir()}
	log := slog.New(slog.DiscardHandler)
	first, err := openMediaSigner(cfg, log, false)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(cfg.Data, mediaSecretFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, %v; want mode 0600", fi, err)
	}
	again, err := openMediaSigner(cfg, log, false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	q := first.Query("uploads/ab", chat.MediaScope{Dialog: 1}, now)
	if again.Query("uploads/ab", chat.MediaScope{Dialog: 1}, now) != q {
		t.Error("a restart signs with another secret")
	}
	cfg.MediaSecret = strings.Repeat("s", 40)
	set, err := openMediaSigner(cfg, log, true)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := chat.NewMediaSigner([]byte(cfg.MediaSecret))
	if got := set.Query("uploads/ab", chat.MediaScope{Dialog: 1}, now); got == q || got != want.Query("uploads/ab", chat.MediaScope{Dialog: 1}, now) {
		t.Error("KOROBKA_MEDIA_SECRET is not the secret")
	}
}

// TestMediaAcrossNodes: two nodes sharing MariaDB, Redis, the media folder
// and KOROBKA_MEDIA_SECRET serve each other's URLs, and a delete on one
// removes the file for both; a node with another secret refuses them.
func TestMediaAcrossNodes(t *testing.T) {
	data := t.TempDir()
	vars := map[string]string{
		"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
		"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
		"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
		"KOROBKA_DATA":         data,
		"KOROBKA_MEDIA_SECRET": "the secret every node of this deployment shares",
	}
	nodeA, nodeB := newEnv(t, vars), newEnv(t, vars)
	anna, boris, id := nodeA.pair()
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, gradient(64, 48))
	up := nodeA.want(nodeA.postUpload(anna.AccessToken, "cat.png", pngBuf.Bytes()), 201)
	sent := nodeA.want(nodeA.do("POST", "/v1/dialogs/"+id+"/messages", anna.AccessToken, map[string]any{
		"client_id": "p1", "attachments": []any{map[string]any{"upload_id": up.field(t, "id")}}}), 201)
	hist := nodeB.want(nodeB.do("GET", "/v1/dialogs/"+id+"/messages", boris.AccessToken, nil), 200)
	u := hist.field(t, "messages").([]any)[0].(map[string]any)["attachments"].([]any)[0].(map[string]any)["url"].(string)
	for _, n := range []*env{nodeA, nodeB} {
		if r := n.getMedia(u); r.status != 200 {
			t.Fatalf("GET %s on a node: %d", u, r.status)
		}
	}
	other := map[string]string{}
	for k, v := range vars {
		other[k] = v
	}
	other["KOROBKA_MEDIA_SECRET"] = "a node that was given another secret by mistake"
	if r := newEnv(t, other).getMedia(u); r.status != 403 {
		t.Errorf("a node with another secret: %d, want 403", r.status)
	}
	nodeB.want(nodeB.do("DELETE", fmt.Sprintf("/v1/dialogs/%s/messages/%.0f", id, sent.field(t, "seq").(float64)), anna.AccessToken, nil), 200)
	if r := nodeA.getMedia(u); r.status != 404 {
		t.Errorf("after the delete on node B: GET on node A: %d, want 404", r.status)
	}
}
