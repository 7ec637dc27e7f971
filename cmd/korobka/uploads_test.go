package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"strings"
	"testing"
)

// postUpload sends data as the multipart field "file" named filename.
func (e *env) postUpload(token, filename string, data []byte) response {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", filename)
	w.Write(data)
	mw.Close()
	return e.doType("POST", "/v1/uploads", token, mw.FormDataContentType(), body.Bytes())
}

// gradient is a w x h test picture.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 100, 255})
		}
	}
	return img
}

// jpegWithExif encodes img as JPEG with an EXIF segment that says
// "rotate 90° clockwise" (orientation 6) and carries a marker string.
func jpegWithExif(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a\x00\x00\x00\x08")
	binary.Write(&tiff, binary.BigEndian, uint16(2)) // two entries
	// Orientation, SHORT, 1 value: 6.
	binary.Write(&tiff, binary.BigEndian, []uint16{0x0112, 3, 0, 1, 6, 0})
	// ImageDescription, ASCII, pointing at the marker after the IFD.
	marker := "SECRET-GPS-MARKER\x00"
	binary.Write(&tiff, binary.BigEndian, []uint16{0x010e, 2})
	binary.Write(&tiff, binary.BigEndian, []uint32{uint32(len(marker)), 8 + 2 + 2*12 + 4})
	binary.Write(&tiff, binary.BigEndian, uint32(0)) // no next IFD
	tiff.WriteString(marker)
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	var out bytes.Buffer
	out.Write(buf.Bytes()[:2]) // SOI
	out.Write([]byte{0xff, 0xe1})
	binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(buf.Bytes()[2:])
	return out.Bytes()
}

func TestUploadImage(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tk := e.loginTest("+79990000001", "111111")
		photo := jpegWithExif(t, gradient(3000, 1000))
		if !bytes.Contains(photo, []byte("SECRET-GPS-MARKER")) {
			t.Fatal("test photo lacks its EXIF marker")
		}
		r := e.want(e.postUpload(tk.AccessToken, "IMG_0001.jpg", photo), 201)
		var a struct {
			ID, Kind, URL, Name, Mime string
			ThumbURL                  string `json:"thumb_url"`
			Size                      int64
			Width, Height             int
		}
		r.json(t, &a)
		if a.ID == "" || a.Kind != "image" || a.Mime != "image/jpeg" || a.Name != "IMG_0001.jpg" || a.ThumbURL == "" ||
			!strings.HasPrefix(a.URL, "/media/uploads/") {
			t.Fatalf("got %s, want an image upload", r.body)
		}
		// Rotated upright by its EXIF (1000x3000), then fitted into 2048.
		if a.Height != 2048 || a.Width < 682 || a.Width > 683 {
			t.Fatalf("got %dx%d, want about 683x2048", a.Width, a.Height)
		}
		res := e.get(a.URL)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
			res.Header.Get("Content-Disposition") != "" {
			t.Fatalf("GET %s: %d %v", a.URL, res.StatusCode, res.Header)
		}
		body, _ := io.ReadAll(res.Body)
		if int64(len(body)) != a.Size {
			t.Errorf("served %d bytes, answer says %d", len(body), a.Size)
		}
		if bytes.Contains(body, []byte("Exif")) || bytes.Contains(body, []byte("SECRET-GPS-MARKER")) {
			t.Error("the served image still carries EXIF")
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
		if err != nil || cfg.Width != a.Width || cfg.Height != a.Height {
			t.Fatalf("served image %+v (%v), want %dx%d", cfg, err, a.Width, a.Height)
		}
		th := e.get(a.ThumbURL)
		tcfg, err := jpeg.DecodeConfig(th.Body)
		if err != nil || tcfg.Height != 320 {
			t.Fatalf("thumbnail %+v (%v), want 320 high", tcfg, err)
		}

		// A small PNG is re-encoded as JPEG and never upscaled.
		var pngBuf bytes.Buffer
		png.Encode(&pngBuf, gradient(300, 200))
		r = e.want(e.postUpload(tk.AccessToken, "small.png", pngBuf.Bytes()), 201)
		if r.field(t, "width") != float64(300) || r.field(t, "height") != float64(200) || r.field(t, "mime") != "image/jpeg" {
			t.Fatalf("got %s, want a 300x200 JPEG", r.body)
		}

		// A broken image, a missing field, no multipart, no token.
		e.wantErr(e.postUpload(tk.AccessToken, "broken.png", pngBuf.Bytes()[:100]), 400, "invalid_image")
		var body2 bytes.Buffer
		mw := multipart.NewWriter(&body2)
		w, _ := mw.CreateFormFile("photo", "x.png")
		w.Write(pngBuf.Bytes())
		mw.Close()
		e.wantErr(e.doType("POST", "/v1/uploads", tk.AccessToken, mw.FormDataContentType(), body2.Bytes()), 400, "missing_file")
		e.wantErr(e.do("POST", "/v1/uploads", tk.AccessToken, map[string]any{"file": "x"}), 415, "unsupported_media_type")
		e.want(e.postUpload("", "small.png", pngBuf.Bytes()), 401)
	})
}

func TestUploadFile(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tk := e.loginTest("+79990000001", "111111")
		pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
		r := e.want(e.postUpload(tk.AccessToken, "docs/отчёт 2026.pdf", pdf), 201)
		var a struct{ ID, Kind, URL, Name, Mime string }
		r.json(t, &a)
		if a.Kind != "file" || a.Mime != "application/pdf" || a.Name != "отчёт 2026.pdf" || r.field(t, "size") != float64(len(pdf)) ||
			r.field(t, "thumb_url") != nil || r.field(t, "width") != nil {
			t.Fatalf("got %s, want a PDF file upload", r.body)
		}
		res := e.get(a.URL)
		got, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !bytes.Equal(got, pdf) {
			t.Fatalf("GET %s: %d, %q, want the bytes as uploaded", a.URL, res.StatusCode, got)
		}
		h := res.Header
		wantCD := "attachment; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%202026.pdf"
		if h.Get("Content-Type") != "application/pdf" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Content-Disposition") != wantCD || !strings.HasPrefix(h.Get("Cache-Control"), "private, max-age=") {
			t.Fatalf("GET %s: headers %v", a.URL, h)
		}

		// The client's type is ignored: markup is sniffed as what it is and
		// still only downloaded.
		page := []byte("<html><script>alert(1)</script></html>")
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		hdr := make(map[string][]string)
		hdr["Content-Disposition"] = []string{`form-data; name="file"; filename="pic.jpg"`}
		hdr["Content-Type"] = []string{"image/jpeg"}
		w, _ := mw.CreatePart(hdr)
		w.Write(page)
		mw.Close()
		r = e.want(e.doType("POST", "/v1/uploads", tk.AccessToken, mw.FormDataContentType(), body.Bytes()), 201)
		if r.field(t, "kind") != "file" || r.field(t, "mime") != "text/html; charset=utf-8" {
			t.Fatalf("got %s, want a file sniffed as HTML", r.body)
		}
		res = e.get(r.field(t, "url").(string))
		got, _ = io.ReadAll(res.Body)
		if !bytes.Equal(got, page) || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("markup served as %v", res.Header)
		}

		// The sidecar and the folder are not served.
		path, query, _ := strings.Cut(a.URL, "?")
		base := strings.TrimSuffix(path, ".bin")
		for _, p := range []string{base + ".json?" + query, "/media/uploads/", "/media/uploads", "/media/uploads/../avatars/x.jpg"} {
			if res := e.get(p); res.StatusCode != 404 {
				t.Errorf("GET %s: got %d, want 404", p, res.StatusCode)
			}
		}

		// Over 25 MiB.
		big := bytes.Repeat([]byte("a"), 25<<20+1)
		e.wantErr(e.postUpload(tk.AccessToken, "big.txt", big), 413, "file_too_large")
		e.wantErr(e.postUpload(tk.AccessToken, "empty.txt", nil), 400, "missing_file")

		// 20 at once per user (including the refusals' budget), then 429.
		for i := 0; ; i++ {
			r := e.postUpload(tk.AccessToken, "n.txt", []byte("note"))
			if r.status == 429 {
				e.wantErr(r, 429, "rate_limited")
				if r.header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				if i > 20 {
					t.Errorf("rate limited only after %d more uploads", i)
				}
				break
			}
			e.want(r, 201)
			if i > 25 {
				t.Fatal("no rate limit on uploads")
			}
		}
		// Another user has their own budget.
		other := e.loginTest("+79990000002", "222222")
		e.want(e.postUpload(other.AccessToken, "n.txt", []byte("note")), 201)
	})
}

func TestAttachments(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		var pngBuf bytes.Buffer
		png.Encode(&pngBuf, gradient(400, 300))
		up := e.want(e.postUpload(a.AccessToken, "cat.png", pngBuf.Bytes()), 201)
		upID := up.field(t, "id").(string)
		borisUp := e.want(e.postUpload(b.AccessToken, "notes.txt", []byte("Boris's notes")), 201)

		msgs := "/v1/dialogs/" + id + "/messages"
		att := func(ids ...string) []any {
			out := []any{}
			for _, x := range ids {
				out = append(out, map[string]any{"upload_id": x})
			}
			return out
		}
		e.wantErr(e.do("POST", msgs, a.AccessToken, map[string]any{"client_id": "x1", "attachments": att(borisUp.field(t, "id").(string))}), 400, "invalid_attachment")
		e.wantErr(e.do("POST", msgs, a.AccessToken, map[string]any{"client_id": "x2", "attachments": att("nope")}), 400, "invalid_attachment")
		eleven := make([]string, 11)
		for i := range eleven {
			eleven[i] = upID
		}
		e.wantErr(e.do("POST", msgs, a.AccessToken, map[string]any{"client_id": "x3", "attachments": att(eleven...)}), 400, "invalid_attachment")
		e.wantErr(e.do("POST", msgs, a.AccessToken, map[string]any{"client_id": "x4", "text": " ", "attachments": att()}), 400, "invalid_text")

		// A photo without a caption, over the WebSocket: Boris gets the
		// full attachment object.
		b1 := dial(t, e.url, b.AccessToken)
		a1 := dial(t, e.url, a.AccessToken)
		a1.send(map[string]any{"type": "send", "id": "1", "dialog_id": id, "client_id": "photo-1", "text": "", "attachments": att(upID)})
		reply := a1.waitFor("reply", replyTo("1"))
		if reply["type"] != "reply" {
			t.Fatalf("got %v, want a reply", reply)
		}
		ev := b1.waitFor("message on b", messageWith("photo-1"))
		m := ev["message"].(map[string]any)
		list, _ := m["attachments"].([]any)
		if len(list) != 1 || m["text"] != "" {
			t.Fatalf("got %v, want one attachment and no text", m)
		}
		got := list[0].(map[string]any)
		for _, k := range []string{"id", "kind", "name", "size", "mime", "width", "height"} {
			if fmt.Sprint(got[k]) != fmt.Sprint(up.field(t, k)) {
				t.Errorf("attachment %s: got %v, want %v", k, got[k], up.field(t, k))
			}
		}
		// The same files, signed for the dialog rather than the uploader.
		for _, k := range []string{"url", "thumb_url"} {
			path, query, _ := strings.Cut(got[k].(string), "?")
			if want, _, _ := strings.Cut(up.field(t, k).(string), "?"); path != want || !strings.HasPrefix(query, "dialog="+id+"&") {
				t.Errorf("attachment %s: got %v, want %s signed for dialog %s", k, got[k], want, id)
			}
		}

		// With a caption over REST, and in history.
		e.want(e.do("POST", msgs, a.AccessToken, map[string]any{"client_id": "photo-2", "text": "two", "attachments": att(upID, upID)}), 201)
		h := e.want(e.do("GET", msgs, b.AccessToken, nil), 200)
		hist := h.field(t, "messages").([]any)
		if len(hist) != 2 {
			t.Fatalf("got %d messages, want 2", len(hist))
		}
		last := hist[1].(map[string]any)
		if last["text"] != "two" || len(last["attachments"].([]any)) != 2 {
			t.Fatalf("got %v, want the captioned message with two attachments", last)
		}

		// The chat list names a photo without a caption.
		e.want(e.do("POST", msgs, a.AccessToken, map[string]any{"client_id": "photo-3", "attachments": att(upID)}), 201)
		list2 := e.want(e.do("GET", "/v1/screens/chat_list", b.AccessToken, nil), 200)
		if !bytes.Contains(list2.body, []byte(`"Attachment"`)) && !bytes.Contains(list2.body, []byte(`"Вложение"`)) {
			t.Fatalf("chat list %s does not show the attachment", list2.body)
		}
	})
}
