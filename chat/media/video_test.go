package media

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// ffmpegPath returns the ffmpeg the video tests use (Debian package
// ffmpeg, which .ci/run installs). Without it the tests skip, unless
// KOROBKA_TEST_REQUIRE_SERVICES is set, when they fail.
func ffmpegPath(t testing.TB) string {
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

// makeVideo has ffmpeg generate a short test clip (lavfi testsrc) of
// w x h pixels: format mp4, mov or webm; extra arguments go before the
// output.
func makeVideo(t testing.TB, ffmpeg, format string, w, h int, extra ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clip."+format)
	args := []string{"-nostdin", "-v", "error", "-f", "lavfi", "-i",
		"testsrc=size=" + strconv.Itoa(w) + "x" + strconv.Itoa(h) + ":rate=10", "-t", "2"}
	switch format {
	case "webm":
		args = append(args, "-c:v", "libvpx", "-b:v", "200k")
	case "mov":
		args = append(args, "-c:v", "mpeg4")
	default:
		args = append(args, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
	}
	args = append(args, extra...)
	args = append(args, "-y", out)
	if b, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// rotated returns an MP4 with a display rotation of 90 degrees.
func rotated(t testing.TB, ffmpeg string, mp4 []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.mp4"), filepath.Join(dir, "out.mp4")
	if err := os.WriteFile(in, mp4, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(ffmpeg, "-nostdin", "-v", "error", "-i", in, "-c", "copy",
		"-metadata:s:v", "rotate=90", "-y", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// files lists the regular files under the store's uploads folder.
func files(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(s.dir, uploadPrefix), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, filepath.Base(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSniffVideo(t *testing.T) {
	box := func(typ, brand string) []byte {
		return append([]byte{0, 0, 0, 0x20}, []byte(typ+brand+"\x00\x00\x02\x00")...)
	}
	for _, tc := range []struct {
		name string
		head []byte
		want string
	}{
		{"mp4 isom", box("ftyp", "isom"), mimeMP4},
		{"mp4 mp42", box("ftyp", "mp42"), mimeMP4},
		{"quicktime brand", box("ftyp", "qt  "), mimeQuickTime},
		{"quicktime moov first", box("moov", "\x00\x00\x00\x00"), mimeQuickTime},
		{"audio m4a", box("ftyp", "M4A "), ""},
		{"heic still", box("ftyp", "heic"), ""},
		{"avif still", box("ftyp", "avif"), ""},
		{"webm", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"), mimeWebM},
		{"matroska", []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska"), ""},
		{"text", []byte("hello, this is not a video at all"), ""},
		{"short", []byte("ftyp"), ""},
	} {
		if got := sniffVideo(tc.head); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSaveUploadVideo(t *testing.T) {
	ff := ffmpegPath(t)
	s := newTestStore(t, Limits{FFmpeg: ff})
	for _, tc := range []struct {
		format, mime string
		w, h         int
		rotate       bool
		wantW, wantH int
	}{
		{"mp4", mimeMP4, 160, 120, false, 160, 120},
		{"webm", mimeWebM, 160, 120, false, 160, 120},
		{"mov", mimeQuickTime, 96, 64, false, 96, 64},
		// A phone holding the camera upright: stored 160x120, shown 120x160.
		{"mp4", mimeMP4, 160, 120, true, 120, 160},
	} {
		data := makeVideo(t, ff, tc.format, tc.w, tc.h)
		if tc.rotate {
			data = rotated(t, ff, data)
		}
		m, err := s.SaveUpload(context.Background(), bytes.NewReader(data), "clip."+tc.format)
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		if m.Kind != chat.UploadVideo || m.Mime != tc.mime || m.Size != int64(len(data)) ||
			m.Width != tc.wantW || m.Height != tc.wantH || m.DurationMS < 1900 || m.DurationMS > 2100 {
			t.Fatalf("%s: got %+v, want a %dx%d %s of 2 s and %d bytes", tc.format, m, tc.wantW, tc.wantH, tc.mime, len(data))
		}
		kept, err := os.ReadFile(filepath.Join(s.dir, m.Key+".bin"))
		if err != nil || !bytes.Equal(kept, data) {
			t.Fatalf("%s: the video is not kept byte for byte (%v)", tc.format, err)
		}
		poster := readImage(t, filepath.Join(s.dir, m.Key+".jpg"))
		if b := poster.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH {
			t.Errorf("%s: poster %v, want %dx%d", tc.format, b, tc.wantW, tc.wantH)
		}
		if _, err := os.Stat(filepath.Join(s.dir, m.Key+"_thumb.jpg")); err != nil {
			t.Errorf("%s: no poster thumbnail: %v", tc.format, err)
		}
	}
}

// TestSaveUploadVideoWithoutFFmpeg: with no ffmpeg configured a video is
// kept with the generic poster and no duration or dimensions.
func TestSaveUploadVideoWithoutFFmpeg(t *testing.T) {
	ff := ffmpegPath(t) // only to make the clip
	s := newTestStore(t, Limits{})
	data := makeVideo(t, ff, "mp4", 160, 120)
	m, err := s.SaveUpload(context.Background(), bytes.NewReader(data), "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != chat.UploadVideo || m.Mime != mimeMP4 || m.Width != 0 || m.Height != 0 || m.DurationMS != 0 {
		t.Fatalf("got %+v, want an unprobed mp4", m)
	}
	f, err := os.Open(filepath.Join(s.dir, m.Key+".jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := jpeg.DecodeConfig(f)
	if err != nil || cfg.Width != 640 || cfg.Height != 360 {
		t.Errorf("generic poster %+v (%v), want 640x360", cfg, err)
	}
}

// TestSaveUploadNotAVideo: bytes that are not a video, whatever the name
// or the header claims, are refused with invalid_video and nothing is
// stored.
func TestSaveUploadNotAVideo(t *testing.T) {
	ff := ffmpegPath(t)
	s := newTestStore(t, Limits{FFmpeg: ff})
	clip := makeVideo(t, ff, "mp4", 160, 120)
	audio := filepath.Join(t.TempDir(), "tone.mp4")
	if b, err := exec.Command(ff, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
		"-c:a", "aac", "-y", audio).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	tone, err := os.ReadFile(audio)
	if err != nil {
		t.Fatal(err)
	}
	garbage := append(append([]byte{}, clip[:32]...), bytes.Repeat([]byte("x"), 4096)...)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"notes.mp4", []byte("these are notes, not a video\n")},
		{"IMG_0001.MOV", encode(t, "png", pattern(40, 40))},
		{"clip.mp4", garbage},    // an MP4 header on garbage
		{"clip.webm", clip[:64]}, // cut short
		{"tone.mp4", tone},       // an MP4 with sound only
	} {
		_, err := s.SaveUpload(context.Background(), bytes.NewReader(tc.data), tc.name)
		if e := chat.ErrorOf(err); e.Code != "invalid_video" || e.Kind != chat.KindInvalid {
			t.Errorf("%s: got %v, want invalid_video", tc.name, err)
		}
	}
	if got := files(t, s); len(got) != 0 {
		t.Errorf("stored %v, want nothing", got)
	}
}

func TestSaveUploadVideoTooLarge(t *testing.T) {
	ff := ffmpegPath(t)
	data := makeVideo(t, ff, "mp4", 160, 120)
	s := newTestStore(t, Limits{FFmpeg: ff, MaxVideoBytes: int64(len(data)) - 1})
	_, err := s.SaveUpload(context.Background(), bytes.NewReader(data), "clip.mp4")
	if e := chat.ErrorOf(err); e.Code != "video_too_large" || e.Kind != chat.KindTooLarge {
		t.Fatalf("got %v, want video_too_large", err)
	}
	if got := files(t, s); len(got) != 0 {
		t.Errorf("stored %v, want nothing", got)
	}
	// Exactly at the cap is fine, and over the file cap too.
	s = newTestStore(t, Limits{FFmpeg: ff, MaxVideoBytes: int64(len(data))})
	if _, err := s.SaveUpload(context.Background(), bytes.NewReader(data), "clip.mp4"); err != nil {
		t.Fatal(err)
	}
}

// fakeTools writes an ffprobe and an ffmpeg that record their pid and
// hang, and returns the ffmpeg path and the pid file.
func fakeTools(t *testing.T) (ffmpeg, pidFile string) {
	t.Helper()
	dir := t.TempDir()
	pidFile = filepath.Join(dir, "pid")
	script := "#!/bin/sh\necho $$ > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "\nexec sleep 60\n"
	for _, name := range []string{"ffmpeg", "ffprobe"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "ffmpeg"), pidFile
}

// waitGone polls until the process of the pid in file has exited.
func waitGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestVideoProbeKilledWhenCancelled: a request that goes away kills the
// probe, and nothing is stored.
func TestVideoProbeKilledWhenCancelled(t *testing.T) {
	ffmpeg, pidFile := fakeTools(t)
	s := newTestStore(t, Limits{FFmpeg: ffmpeg, ProbeTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	head := []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	go func() {
		_, err := s.SaveUpload(ctx, bytes.NewReader(head), "clip.mp4")
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ffprobe never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	waitGone(t, pidFile)
	if got := files(t, s); len(got) != 0 {
		t.Errorf("stored %v, want nothing", got)
	}
}

// TestVideoProbeTimesOut: a probe that hangs is killed at ProbeTimeout
// and the upload refused.
func TestVideoProbeTimesOut(t *testing.T) {
	ffmpeg, pidFile := fakeTools(t)
	s := newTestStore(t, Limits{FFmpeg: ffmpeg, ProbeTimeout: 300 * time.Millisecond})
	head := []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	_, err := s.SaveUpload(context.Background(), bytes.NewReader(head), "clip.mp4")
	if e := chat.ErrorOf(err); e.Code != "invalid_video" {
		t.Fatalf("got %v, want invalid_video", err)
	}
	waitGone(t, pidFile)
}

func TestCappedBuffer(t *testing.T) {
	killed := false
	b := &cappedBuffer{max: 4, over: func() { killed = true }}
	if n, err := b.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("got %d, %v", n, err)
	}
	if _, err := b.Write([]byte("de")); !errors.Is(err, errToolOutput) || !killed || !b.exceeded {
		t.Fatalf("got %v (killed %v), want errToolOutput and a kill", err, killed)
	}
	quiet := &cappedBuffer{max: 2}
	if n, err := quiet.Write([]byte("abcdef")); n != 6 || err != nil || quiet.buf.String() != "ab" {
		t.Fatalf("got %d, %v, %q", n, err, quiet.buf.String())
	}
}

// TestVideoServedWithRanges: a stored video plays inline and seeks with
// byte ranges.
func TestVideoServedWithRanges(t *testing.T) {
	ff := ffmpegPath(t)
	s := newTestStore(t, Limits{FFmpeg: ff})
	data := makeVideo(t, ff, "mp4", 160, 120)
	m, err := s.SaveUpload(context.Background(), bytes.NewReader(data), "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(testSigner(t), testNow)
	url := "/media/" + m.Key + ".bin?" + testSigner(t).Query(m.Key, chat.MediaScope{Dialog: 7}, testNow())
	rec := serve(t, h, http.MethodGet, url)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != mimeMP4 ||
		!strings.HasPrefix(rec.Header().Get("Content-Disposition"), "inline;") ||
		rec.Header().Get("Accept-Ranges") != "bytes" || !bytes.Equal(rec.Body.Bytes(), data) {
		t.Fatalf("got %d %v, want the video inline", rec.Code, rec.Header())
	}
	poster := serve(t, h, http.MethodGet, "/media/"+m.Key+".jpg?"+testSigner(t).Query(m.Key, chat.MediaScope{Dialog: 7}, testNow()))
	if poster.Code != http.StatusOK || poster.Header().Get("Content-Type") != "image/jpeg" {
		t.Fatalf("poster: got %d %v", poster.Code, poster.Header())
	}
}

// zeros reads n zero bytes without holding them.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// TestSaveUploadVideoStreams: a large video goes to disk through a small
// buffer; what the upload allocates does not grow with its size.
func TestSaveUploadVideoStreams(t *testing.T) {
	s := newTestStore(t, Limits{MaxVideoBytes: 256 << 20})
	head := []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	const size = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := s.SaveUpload(context.Background(), io.MultiReader(bytes.NewReader(head), &zeros{size}), "big.mp4")
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != chat.UploadVideo || m.Size != size+int64(len(head)) {
		t.Fatalf("got %+v, want a video of %d bytes", m, size+len(head))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("a %d MiB upload allocated %d KiB, want it streamed (under 8 MiB)", size>>20, alloc>>10)
	}
}

// BenchmarkSaveUploadVideo measures storing a 10 s 1280x720 H.264 clip
// with ffprobe and a poster frame.
func BenchmarkSaveUploadVideo(b *testing.B) {
	ff := ffmpegPath(b)
	out := filepath.Join(b.TempDir(), "clip.mp4")
	if o, err := exec.Command(ff, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=30", "-t", "10",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-y", out).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v: %s", err, o)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	s := newTestStore(b, Limits{FFmpeg: ff})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := s.SaveUpload(context.Background(), bytes.NewReader(data), "clip.mp4")
		if err != nil {
			b.Fatal(err)
		}
		_ = s.DeleteUpload(context.Background(), m.Key)
	}
}
