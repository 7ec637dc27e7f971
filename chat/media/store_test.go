package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"github.com/korobka/korobka/chat"
)

func newTestStore(t testing.TB, l Limits) *Store {
	t.Helper()
	s, err := NewStore(filepath.Join(t.TempDir(), "media"), l)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

// pattern is a photo-like image: smooth gradients with some texture, so
// encoders and resamplers do realistic work.
func pattern(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x*y>>6 + x/7), 255})
		}
	}
	return m
}

// halves is w x h, red above the middle row and blue below it.
func halves(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		c := color.RGBA{255, 0, 0, 255}
		if y >= h/2 {
			c = color.RGBA{0, 0, 255, 255}
		}
		for x := range w {
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

func encode(t testing.TB, format string, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90})
	case "png":
		err = png.Encode(&buf, m)
	case "gif":
		err = gif.Encode(&buf, m, nil)
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatalf("encode %s: %v", format, err)
	}
	return buf.Bytes()
}

// withOrientation splices an APP1 Exif segment holding only the orientation
// tag right after the SOI marker, as a phone camera would.
func withOrientation(t *testing.T, jpg []byte, orientation uint16) []byte {
	t.Helper()
	if !bytes.HasPrefix(jpg, []byte{0xFF, 0xD8}) {
		t.Fatal("not a JPEG")
	}
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2A")                        // big-endian TIFF header
	binary.Write(&tiff, binary.BigEndian, uint32(8))      // offset of IFD0
	binary.Write(&tiff, binary.BigEndian, uint16(1))      // one entry
	binary.Write(&tiff, binary.BigEndian, uint16(0x0112)) // Orientation
	binary.Write(&tiff, binary.BigEndian, uint16(3))      // SHORT
	binary.Write(&tiff, binary.BigEndian, uint32(1))      // count
	binary.Write(&tiff, binary.BigEndian, orientation)    // value, left-aligned
	binary.Write(&tiff, binary.BigEndian, uint16(0))      // padding
	binary.Write(&tiff, binary.BigEndian, uint32(0))      // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)

	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xFF, 0xE1})
	binary.Write(&out, binary.BigEndian, uint16(len(payload)+2))
	out.Write(payload)
	out.Write(jpg[2:])
	return out.Bytes()
}

// jpegMarkers lists the markers of the segments before the scan data.
func jpegMarkers(t *testing.T, jpg []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(jpg, []byte{0xFF, 0xD8}) {
		t.Fatal("output is not a JPEG")
	}
	var markers []byte
	for i := 2; i+4 <= len(jpg); {
		if jpg[i] != 0xFF {
			t.Fatalf("no marker at offset %d", i)
		}
		m := jpg[i+1]
		markers = append(markers, m)
		if m == 0xDA { // start of scan: entropy-coded data follows
			return markers
		}
		i += 2 + int(binary.BigEndian.Uint16(jpg[i+2:]))
	}
	t.Fatal("no start of scan")
	return nil
}

// pngHeader is a PNG signature and a valid IHDR claiming w x h, with no
// pixel data: what a decompression bomb looks like to DecodeConfig.
func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 0, 17)
	ihdr = append(ihdr, "IHDR"...)
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA, no interlace
	binary.Write(&buf, binary.BigEndian, uint32(len(ihdr)-4))
	buf.Write(ihdr)
	binary.Write(&buf, binary.BigEndian, crc32.ChecksumIEEE(ihdr))
	return buf.Bytes()
}

func readImage(t *testing.T, name string) image.Image {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return m
}

func save(t *testing.T, s *Store, data []byte) string {
	t.Helper()
	key, err := s.SaveAvatar(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("SaveAvatar: %v", err)
	}
	return key
}

func TestSaveAvatarFormats(t *testing.T) {
	webpData, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	keyRE := regexp.MustCompile(`^avatars/[0-9a-f]{32}$`)
	transparent := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	tests := []struct {
		name      string
		data      []byte
		wantFull  int
		wantThumb int
	}{
		{"jpeg large", encode(t, "jpeg", pattern(2000, 1500)), 1024, 256},
		{"jpeg portrait", encode(t, "jpeg", pattern(600, 900)), 600, 256},
		{"png", encode(t, "png", pattern(300, 200)), 200, 200},
		{"png transparent", encode(t, "png", transparent), 30, 30},
		{"gif", encode(t, "gif", pattern(120, 80)), 80, 80},
		{"webp", webpData, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, Limits{})
			key := save(t, s, tt.data)
			if !keyRE.MatchString(key) {
				t.Errorf("got key %q, want avatars/<32 hex>", key)
			}
			for _, f := range []struct {
				path string
				side int
			}{
				{filepath.Join(s.dir, key+".jpg"), tt.wantFull},
				{filepath.Join(s.dir, key+"_thumb.jpg"), tt.wantThumb},
			} {
				fi, err := os.Stat(f.path)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != 0o644 {
					t.Errorf("%s: got mode %v, want 0644", filepath.Base(f.path), got)
				}
				b := readImage(t, f.path).Bounds()
				if b.Dx() != f.side || b.Dy() != f.side {
					t.Errorf("%s: got %dx%d, want %dx%d", filepath.Base(f.path), b.Dx(), b.Dy(), f.side, f.side)
				}
			}
		})
	}
}

func TestSaveAvatarTransparentBecomesWhite(t *testing.T) {
	s := newTestStore(t, Limits{})
	key := save(t, s, encode(t, "png", image.NewNRGBA(image.Rect(0, 0, 40, 40))))
	r, g, b, _ := readImage(t, filepath.Join(s.dir, key+".jpg")).At(20, 20).RGBA()
	if r>>8 < 250 || g>>8 < 250 || b>>8 < 250 {
		t.Errorf("got colour %d,%d,%d for a transparent pixel, want white", r>>8, g>>8, b>>8)
	}
}

func TestSaveAvatarOrientation(t *testing.T) {
	// Stored 600x300 with red on top; orientation 6 means "rotate 90°
	// clockwise to display", so upright it is 300x600 with red on the right
	// and blue on the left. Without rotation the centre crop would be red
	// at the top and blue at the bottom instead.
	src := withOrientation(t, encode(t, "jpeg", halves(600, 300)), 6)
	s := newTestStore(t, Limits{})
	key := save(t, s, src)

	for _, name := range []string{key + ".jpg", key + "_thumb.jpg"} {
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range jpegMarkers(t, data) {
			if m >= 0xE0 && m <= 0xEF {
				t.Errorf("%s: got APP%d segment, want no metadata", name, m-0xE0)
			}
		}
		if bytes.Contains(data, []byte("Exif")) {
			t.Errorf("%s: output contains Exif", name)
		}
		m, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		b := m.Bounds()
		inset := b.Dx() / 10
		checks := []struct {
			corner string
			x, y   int
			want   string
		}{
			{"top-left", inset, inset, "blue"},
			{"bottom-left", inset, b.Dy() - inset, "blue"},
			{"top-right", b.Dx() - inset, inset, "red"},
			{"bottom-right", b.Dx() - inset, b.Dy() - inset, "red"},
		}
		for _, c := range checks {
			if got := colourName(m.At(c.x, c.y)); got != c.want {
				t.Errorf("%s %s: got %s, want %s", name, c.corner, got, c.want)
			}
		}
	}
}

func colourName(c color.Color) string {
	r, g, b, _ := c.RGBA()
	r, g, b = r>>8, g>>8, b>>8
	switch {
	case r > 200 && g < 60 && b < 60:
		return "red"
	case b > 200 && r < 60 && g < 60:
		return "blue"
	}
	return "other"
}

func TestSaveAvatarRefuses(t *testing.T) {
	jpg := encode(t, "jpeg", pattern(200, 200))
	tests := []struct {
		name     string
		limits   Limits
		data     []byte
		wantKind chat.Kind
		wantCode string
	}{
		{"text", Limits{}, []byte("hello, this is not an image\n"), chat.KindUnsupported, "unsupported_media_type"},
		{"empty", Limits{}, nil, chat.KindUnsupported, "unsupported_media_type"},
		{"html", Limits{}, []byte("<html><script>alert(1)</script>"), chat.KindUnsupported, "unsupported_media_type"},
		{"bmp", Limits{}, append([]byte("BM"), make([]byte, 60)...), chat.KindUnsupported, "unsupported_media_type"},
		{"truncated jpeg", Limits{}, jpg[:len(jpg)/2], chat.KindInvalid, "invalid_image"},
		{"jpeg header only", Limits{}, []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0}, chat.KindInvalid, "invalid_image"},
		{"png zero size", Limits{}, pngHeader(0, 10), chat.KindInvalid, "invalid_image"},
		{"png bomb", Limits{}, pngHeader(100000, 100000), chat.KindTooLarge, "image_too_large"},
		{"over max side", Limits{}, pngHeader(12001, 1), chat.KindTooLarge, "image_too_large"},
		{"over max pixels", Limits{MaxPixels: 100 * 100}, pngHeader(101, 100), chat.KindTooLarge, "image_too_large"},
		{"over max bytes", Limits{MaxBytes: int64(len(jpg) - 1)}, jpg, chat.KindTooLarge, "image_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, tt.limits)
			key, err := s.SaveAvatar(context.Background(), bytes.NewReader(tt.data))
			var e *chat.Error
			if !errors.As(err, &e) {
				t.Fatalf("got key %q, error %v; want *chat.Error %s", key, err, tt.wantCode)
			}
			if e.Kind != tt.wantKind || e.Code != tt.wantCode {
				t.Errorf("got kind %d code %q, want kind %d code %q", e.Kind, e.Code, tt.wantKind, tt.wantCode)
			}
			entries, err := os.ReadDir(filepath.Join(s.dir, avatarPrefix))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("got %d files after a refusal, want 0", len(entries))
			}
		})
	}
}

func TestSaveAvatarExactlyMaxBytes(t *testing.T) {
	jpg := encode(t, "jpeg", pattern(64, 64))
	s := newTestStore(t, Limits{MaxBytes: int64(len(jpg))})
	save(t, s, jpg)
}

// TestSaveAvatarBombAllocates checks that a header claiming 10^10 pixels is
// refused before any pixel buffer exists: the whole call must allocate far
// less than one row of such an image would.
func TestSaveAvatarBombAllocates(t *testing.T) {
	s := newTestStore(t, Limits{})
	bomb := pngHeader(100000, 100000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := s.SaveAvatar(context.Background(), bytes.NewReader(bomb))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, chat.Errorf(chat.KindTooLarge, "image_too_large", "")) {
		t.Fatalf("got %v, want image_too_large", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("got %d bytes allocated, want under 1 MiB", got)
	}
}

// endless never ends: SaveAvatar must stop after MaxBytes+1.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xFF
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestSaveAvatarReadsAtMostMaxBytesPlusOne(t *testing.T) {
	s := newTestStore(t, Limits{MaxBytes: 1000})
	r := &endless{}
	_, err := s.SaveAvatar(context.Background(), r)
	if e := chat.ErrorOf(err); e.Code != "image_too_large" {
		t.Fatalf("got %v, want image_too_large", err)
	}
	if r.n > 1001 {
		t.Errorf("got %d bytes read, want at most 1001", r.n)
	}
}

func TestSaveAvatarCancelled(t *testing.T) {
	s := newTestStore(t, Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.SaveAvatar(ctx, bytes.NewReader(encode(t, "png", pattern(10, 10))))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestDeleteAvatar(t *testing.T) {
	s := newTestStore(t, Limits{})
	key := save(t, s, encode(t, "png", pattern(10, 10)))
	ctx := context.Background()
	for i := range 2 { // the second delete finds nothing and still succeeds
		if err := s.DeleteAvatar(ctx, key); err != nil {
			t.Fatalf("DeleteAvatar #%d: %v", i+1, err)
		}
	}
	for _, name := range []string{key + ".jpg", key + "_thumb.jpg"} {
		if _, err := os.Stat(filepath.Join(s.dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: got %v, want not exist", name, err)
		}
	}
}

func TestDeleteAvatarRejectsBadKeys(t *testing.T) {
	s := newTestStore(t, Limits{})
	// A file outside the folder that a traversal would reach.
	victim := filepath.Join(filepath.Dir(s.dir), "victim.jpg")
	if err := os.WriteFile(victim, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		"", "../victim", "avatars/../../victim", "/etc/passwd", "avatars//x",
		"avatars/", "Avatars/ABC", "avatars/a.b", `avatars\x`, "avatars/x%2f",
	} {
		err := s.DeleteAvatar(context.Background(), key)
		if e := chat.ErrorOf(err); e.Kind != chat.KindInvalid {
			t.Errorf("DeleteAvatar(%q): got %v, want invalid_media_key", key, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("victim: got %v, want it untouched", err)
	}
}

func TestNewStoreLimits(t *testing.T) {
	s := newTestStore(t, Limits{FullSize: 512})
	want := Limits{
		MaxBytes: DefaultMaxBytes, MaxPixels: DefaultMaxPixels, MaxSide: DefaultMaxSide, MaxScans: DefaultMaxScans,
		MaxDecodeBytes: DefaultMaxDecodeBytes, SmallDecodeBytes: DefaultSmallDecodeBytes,
		SmallDecodeBudget: DefaultSmallDecodeBudget, LargeDecodeBudget: DefaultMaxDecodeBytes,
		DecodeWait: DefaultDecodeWait, FullSize: 512, ThumbSize: DefaultThumbSize,
		MaxVideoBytes: chat.DefaultMaxVideoSize, ProbeTimeout: DefaultProbeTimeout, MaxProbes: DefaultMaxProbes,
	}
	if s.limits != want {
		t.Errorf("got %+v, want %+v", s.limits, want)
	}
	for _, l := range []Limits{
		{MaxBytes: -1}, {FullSize: 100, ThumbSize: 200}, {DecodeWait: -1}, {MaxVideoBytes: -1}, {ProbeTimeout: -1},
		{MaxDecodeBytes: 100 << 20, LargeDecodeBudget: 50 << 20}, {SmallDecodeBytes: 10 << 20, SmallDecodeBudget: 5 << 20},
	} {
		if _, err := NewStore(t.TempDir(), l); err == nil {
			t.Errorf("NewStore(%+v): got no error, want one", l)
		}
	}
}

func BenchmarkSaveAvatar(b *testing.B) {
	s := newTestStore(b, Limits{})
	src := encode(b, "jpeg", pattern(2000, 1500))
	ctx := context.Background()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SaveAvatar(ctx, bytes.NewReader(src)); err != nil {
			b.Fatal(err)
		}
	}
}
