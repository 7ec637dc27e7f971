package main

import (
	"bytes"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testFFmpeg returns the ffmpeg the video tests make clips with (Debian
// package ffmpeg, which .ci/run installs). Without it the tests skip, or
// fail under KOROBKA_TEST_REQUIRE_SERVICES.
func testFFmpeg(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err == nil {
		if _, err = exec.LookPath(filepath.Join(filepath.Dir(p), "ffprobe")); err == nil {
			return p
		}
	}
	if os.Getenv("KOROBKA_TEST_REQUIRE_SERVICES") != "" {
		t.Fatalf("ffmpeg and ffprobe are needed (KOROBKA_TEST_REQUIRE_SERVICES is set): %v", err)
	}
	t.Skipf("ffmpeg not installed (apt-get install ffmpeg; KOROBKA_TEST_REQUIRE_SERVICES makes this fail): %v", err)
	return ""
}

// testClip has ffmpeg make a two-second 160x120 test clip (lavfi
// testsrc) as mp4 or webm.
func testClip(t testing.TB, format string) []byte {
	t.Helper()
	ff := testFFmpeg(t)
	out := filepath.Join(t.TempDir(), "clip."+format)
	args := []string{"-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2"}
	if format == "webm" {
		args = append(args, "-c:v", "libvpx", "-b:v", "200k")
	} else {
		args = append(args, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
	}
	if b, err := exec.Command(ff, append(args, "-y", out)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// getMediaWith fetches a media URL with extra request headers and checks
// the answer against the contract.
func (e *env) getMediaWith(u string, headers map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.url+u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := theContract(e.t).ValidateHTTP("GET", strings.Split(u, "?")[0], res.StatusCode, res.Header, body); err != nil {
		e.t.Errorf("GET %s: %v", u, err)
	}
	return response{res.StatusCode, res.Header, body}
}

// videoAttachment is a video attachment as the API answers it.
type videoAttachment struct {
	ID, Kind, URL, Name, Mime string
	ThumbURL                  string `json:"thumb_url"`
	PosterURL                 string `json:"poster_url"`
	Size                      int64
	Width, Height             int
	DurationMS                int64 `json:"duration_ms"`
}

func TestVideoMessage(t *testing.T) {
	clip := testClip(t, "mp4")
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		up := e.want(e.postUpload(a.AccessToken, "answer.mp4", clip), 201)
		var v videoAttachment
		up.json(t, &v)
		if v.Kind != "video" || v.Mime != "video/mp4" || v.Size != int64(len(clip)) || v.Width != 160 || v.Height != 120 ||
			v.DurationMS < 1900 || v.DurationMS > 2100 || v.PosterURL == "" || v.ThumbURL == "" || v.Name != "answer.mp4" {
			t.Fatalf("got %s, want a 160x120 mp4 of 2 s with a poster", up.body)
		}
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{
			"client_id": "v1", "attachments": []any{map[string]any{"upload_id": v.ID}}}), 201)
		hist := e.want(e.do("GET", "/v1/dialogs/"+id+"/messages", b.AccessToken, nil), 200)
		var h struct {
			Messages []struct {
				Attachments []videoAttachment
			}
		}
		hist.json(t, &h)
		if len(h.Messages) != 1 || len(h.Messages[0].Attachments) != 1 {
			t.Fatalf("history %s, want one message with the video", hist.body)
		}
		got := h.Messages[0].Attachments[0]
		if got.Kind != "video" || got.DurationMS != v.DurationMS || got.Width != 160 || !strings.Contains(got.URL, "?dialog="+id+"&") ||
			!strings.Contains(got.PosterURL, "?dialog="+id+"&") {
			t.Fatalf("Boris sees %+v, want the video signed for the dialog", got)
		}

		// The video plays inline and seeks by byte ranges.
		full := e.getMediaWith(got.URL, nil)
		if full.status != 200 || full.header.Get("Content-Type") != "video/mp4" || !bytes.Equal(full.body, clip) ||
			!strings.HasPrefix(full.header.Get("Content-Disposition"), "inline;") || full.header.Get("Accept-Ranges") != "bytes" {
			t.Fatalf("GET video: %d %v", full.status, full.header)
		}
		part := e.getMediaWith(got.URL, map[string]string{"Range": "bytes=100-199"})
		if part.status != 206 || !bytes.Equal(part.body, clip[100:200]) || part.header.Get("Content-Range") == "" {
			t.Fatalf("Range: %d %v (%d bytes)", part.status, part.header, len(part.body))
		}
		etag := full.header.Get("ETag")
		if r := e.getMediaWith(got.URL, map[string]string{"Range": "bytes=0-9", "If-Range": etag}); r.status != 206 || len(r.body) != 10 {
			t.Errorf("If-Range with the ETag: %d (%d bytes), want 206 of 10", r.status, len(r.body))
		}
		if r := e.getMediaWith(got.URL, map[string]string{"Range": "bytes=0-9", "If-Range": `"stale"`}); r.status != 200 || len(r.body) != len(clip) {
			t.Errorf("If-Range stale: %d (%d bytes), want the whole video", r.status, len(r.body))
		}
		// A range beyond the end of the file.
		beyond := e.getMediaWith(got.URL, map[string]string{"Range": "bytes=" + strconv.Itoa(len(clip)+10) + "-"})
		if beyond.status != 416 || beyond.header.Get("Content-Range") != "bytes */"+strconv.Itoa(len(clip)) {
			t.Errorf("a range past the end: %d %v, want 416", beyond.status, beyond.header)
		}
		poster := e.getMediaWith(got.PosterURL, nil)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(poster.body))
		if poster.status != 200 || err != nil || cfg.Width != 160 || cfg.Height != 120 {
			t.Fatalf("poster: %d %+v (%v), want a 160x120 JPEG", poster.status, cfg, err)
		}
	})
}

// TestVideoBadInput: bytes that are not a video, a video over the cap:
// clear errors, nothing stored (the upload budget aside).
func TestVideoBadInput(t *testing.T) {
	clip := testClip(t, "webm")
	backends(t, func(t *testing.T, e *env) {
		tk := e.loginTest("+79990000001", "111111")
		e.wantErr(e.postUpload(tk.AccessToken, "answer.mp4", []byte("not a video, only text")), 400, "invalid_video")
		e.wantErr(e.postUpload(tk.AccessToken, "cut.webm", clip[:200]), 400, "invalid_video")
		uploads, err := os.ReadDir(filepath.Join(e.data, "media", "uploads"))
		if err != nil || len(uploads) != 0 {
			t.Fatalf("media/uploads holds %d files (%v), want none", len(uploads), err)
		}
		r := e.want(e.postUpload(tk.AccessToken, "clip.webm", clip), 201)
		if r.field(t, "kind") != "video" || r.field(t, "mime") != "video/webm" {
			t.Fatalf("got %s, want a webm video", r.body)
		}
	})
}

// TestVideoOverItsCap: KOROBKA_MAX_VIDEO_BYTES caps videos; files keep
// their own 25 MiB.
func TestVideoOverItsCap(t *testing.T) {
	e := newEnv(t, map[string]string{"KOROBKA_MAX_VIDEO_BYTES": "1048576"})
	tk := e.loginTest("+79990000001", "111111")
	head := []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	big := append(head, bytes.Repeat([]byte{0}, 1<<20)...)
	e.wantErr(e.postUpload(tk.AccessToken, "big.mp4", big), 413, "video_too_large")
	uploads, err := os.ReadDir(filepath.Join(e.data, "media", "uploads"))
	if err != nil || len(uploads) != 0 {
		t.Fatalf("media/uploads holds %d files (%v), want none", len(uploads), err)
	}
}

// TestVideoWithoutFFmpeg: pointed at no ffmpeg, the server keeps videos
// with a generic poster and no duration or dimensions.
func TestVideoWithoutFFmpeg(t *testing.T) {
	clip := testClip(t, "mp4")
	e := newEnv(t, map[string]string{"KOROBKA_FFMPEG": filepath.Join(t.TempDir(), "no-ffmpeg-here")})
	tk := e.loginTest("+79990000001", "111111")
	r := e.want(e.postUpload(tk.AccessToken, "clip.mp4", clip), 201)
	var v videoAttachment
	r.json(t, &v)
	if v.Kind != "video" || v.Mime != "video/mp4" || v.DurationMS != 0 || v.Width != 0 || v.Height != 0 || v.PosterURL == "" {
		t.Fatalf("got %s, want an unprobed video with a poster", r.body)
	}
	poster := e.getMediaWith(v.PosterURL, nil)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(poster.body))
	if poster.status != 200 || err != nil || cfg.Width != 640 || cfg.Height != 360 {
		t.Fatalf("poster: %d %+v (%v), want the generic 640x360 one", poster.status, cfg, err)
	}
}

// TestFindFFmpeg: the ffmpeg setting resolves a name on PATH or a path
// with ffprobe beside it; off, or a tool not there, turns probing off.
func TestFindFFmpeg(t *testing.T) {
	ff := testFFmpeg(t)
	log := slog.New(slog.DiscardHandler)
	if got := findFFmpeg("ffmpeg", log); got != ff {
		t.Errorf("ffmpeg on PATH: got %q, want %q", got, ff)
	}
	if got := findFFmpeg(ff, log); got != ff {
		t.Errorf("a path: got %q, want %q", got, ff)
	}
	lonely := filepath.Join(t.TempDir(), "ffmpeg") // an ffmpeg without ffprobe beside it
	if err := os.WriteFile(lonely, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"off", "", "/nonexistent/ffmpeg", lonely} {
		if got := findFFmpeg(name, log); got != "" {
			t.Errorf("%q: got %q, want probing off", name, got)
		}
	}
}
