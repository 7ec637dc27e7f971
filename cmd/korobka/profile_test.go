package main

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
)

func TestProfile(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tk := e.loginTest("+79990000001", "111111")
		r := e.want(e.do("PATCH", "/v1/me", tk.AccessToken, map[string]any{"first_name": "  Анна ", "last_name": "Петрова"}), 200)
		if r.field(t, "first_name") != "Анна" || r.field(t, "last_name") != "Петрова" {
			t.Fatalf("got %s, want trimmed names", r.body)
		}
		// Absent fields stay; a last name may be cleared.
		r = e.want(e.do("PATCH", "/v1/me", tk.AccessToken, map[string]any{"last_name": ""}), 200)
		if r.field(t, "first_name") != "Анна" || r.field(t, "last_name") != "" {
			t.Fatalf("got %s, want first name kept and last name cleared", r.body)
		}
		// A user data template renders literally, as data.
		r = e.want(e.do("PATCH", "/v1/me", tk.AccessToken, map[string]any{"last_name": "{{ 7*7 }}"}), 200)
		if r.field(t, "last_name") != "{{ 7*7 }}" {
			t.Fatalf("got %s", r.body)
		}
	})
}

func TestAvatar(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tk := e.loginTest("+79990000001", "111111")
		img := image.NewRGBA(image.Rect(0, 0, 300, 200))
		for y := 0; y < 200; y++ {
			for x := 0; x < 300; x++ {
				img.Set(x, y, color.RGBA{uint8(x), uint8(y), 100, 255})
			}
		}
		var pngBuf bytes.Buffer
		png.Encode(&pngBuf, img)

		r := e.upload(tk.AccessToken, "file", pngBuf.Bytes())
		e.want(r, 200)
		full, _ := r.field(t, "avatar_url").(string)
		thumb, _ := r.field(t, "avatar_thumb_url").(string)
		if full == "" || thumb == "" {
			t.Fatalf("got %s, want avatar urls", r.body)
		}
		res := e.get(full)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s: got %d %q nosniff=%q", full, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("X-Content-Type-Options"))
		}
		got, err := jpeg.Decode(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := got.Bounds(); b.Dx() != 200 || b.Dy() != 200 {
			t.Fatalf("got full avatar %v, want a 200x200 square crop", b)
		}

		// A second upload replaces the first, whose files are gone.
		r2 := e.want(e.upload(tk.AccessToken, "file", pngBuf.Bytes()), 200)
		if r2.field(t, "avatar_url") == full {
			t.Fatal("new avatar kept the old url")
		}
		if res := e.get(full); res.StatusCode != 404 {
			t.Fatalf("old avatar: got %d, want 404", res.StatusCode)
		}

		e.wantErr(e.upload(tk.AccessToken, "file", []byte("just some text, not an image")), 415, "unsupported_media_type")
		e.wantErr(e.upload(tk.AccessToken, "file", pngBuf.Bytes()[:100]), 400, "invalid_image")
		e.wantErr(e.upload(tk.AccessToken, "photo", pngBuf.Bytes()), 400, "missing_file")
		e.wantErr(e.upload(tk.AccessToken, "file", bytes.Repeat([]byte{0xff}, 11<<20)), 413, "image_too_large")
		// The failed uploads left the second avatar in place.
		me := e.want(e.do("GET", "/v1/me", tk.AccessToken, nil), 200)
		if me.field(t, "avatar_url") != r2.field(t, "avatar_url") {
			t.Fatalf("got %s after failed uploads, want the last good avatar", me.body)
		}
	})
}

func (e *env) upload(token, field string, data []byte) response {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile(field, "photo.png")
	w.Write(data)
	mw.Close()
	return e.doType("PUT", "/v1/me/avatar", token, mw.FormDataContentType(), body.Bytes())
}

func (e *env) get(path string) *http.Response {
	e.t.Helper()
	res, err := http.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { io.Copy(io.Discard, res.Body); res.Body.Close() })
	return res
}
