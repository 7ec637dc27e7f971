package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestImageDecodingIsBounded: what an image costs to decode is decided
// from its header, before decoding, and a file that would cost too much is
// refused with a clear code: the progressive JPEG whose thousand scans make
// the decoder walk the image a thousand times, and the 16-bit PNG that
// decodes to 320 MB. Both used to be decoded (13 CPU-seconds, 390 MB
// allocated).
func TestImageDecodingIsBounded(t *testing.T) {
	manyScans := progressiveJPEG(t, 1024, 1024, 1000)
	deep := zeroPNG(t, 6300, 6300, 16, 2)
	for _, tc := range []struct {
		name     string
		data     []byte
		wantKind chat.Kind
		wantCode string
	}{
		{"progressive JPEG of 1000 scans", manyScans, chat.KindInvalid, "image_too_complex"},
		{"16-bit PNG of 6300x6300", deep, chat.KindTooLarge, "image_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, Limits{MaxBytes: 1 << 20})
			saves := map[string]func() error{
				"avatar": func() error { _, err := s.SaveAvatar(context.Background(), bytes.NewReader(tc.data)); return err },
				"upload": func() error {
					_, err := s.SaveUpload(context.Background(), bytes.NewReader(tc.data), "x")
					return err
				},
			}
			for what, save := range saves {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				err := save()
				runtime.ReadMemStats(&after)
				e := chat.ErrorOf(err)
				if e.Kind != tc.wantKind || e.Code != tc.wantCode {
					t.Errorf("%s: got %v, want %s", what, err, tc.wantCode)
				}
				// Refused from the header: nothing near the image's
				// size was allocated (the file itself is read once).
				if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
					t.Errorf("%s: %d bytes allocated for a refusal, want under 8 MiB", what, got)
				}
			}
			if st := s.DecodeStats(); st.Small+st.Large != 0 {
				t.Errorf("got %+v, want no decode admitted", st)
			}
			for _, sub := range []string{avatarPrefix, uploadPrefix} {
				if entries, _ := os.ReadDir(filepath.Join(s.dir, sub)); len(entries) != 0 {
					t.Errorf("%s: %d files after a refusal, want 0", sub, len(entries))
				}
			}
		})
	}

	// What real encoders write passes: a progressive JPEG of ten scans
	// decodes, and the same dimensions at 8 bits a channel cost half.
	s := newTestStore(t, Limits{})
	m, err := s.SaveUpload(context.Background(), bytes.NewReader(progressiveJPEG(t, 1024, 1024, 9)), "p.jpg")
	if err != nil || m.Width != 1024 || m.Height != 1024 {
		t.Fatalf("progressive JPEG of 10 scans: got %+v, %v; want it stored", m, err)
	}
	for _, tc := range []struct {
		depth byte
		ok    bool
	}{{8, true}, {16, false}} {
		// 4500 x 4500: RGBA 81 MB decoded at 8 bits, 162 MB at 16, plus
		// an 81 MB RGBA copy and the output: the cap falls between them.
		_, err := s.inspect(pngHead(t, 4500, 4500, tc.depth, 2), UploadFullSize)
		if (err == nil) != tc.ok {
			t.Errorf("%d-bit RGB PNG of 4500x4500: got %v, want accepted %v", tc.depth, err, tc.ok)
		}
	}
}

// TestJPEGScansCounted: the scan count that decides the refusal is the
// decoder's: junk, fill bytes, stuffed zeros and restart markers between
// segments, and entropy-coded data, are skipped the way image/jpeg skips
// them, and a scan hidden in an APPn segment is no scan.
func TestJPEGScansCounted(t *testing.T) {
	baseline := encode(t, "jpeg", pattern(64, 48))
	jh, err := walkJPEG(baseline, DefaultMaxScans)
	if err != nil || jh.scans != 1 || jh.progressive || jh.width != 64 || jh.height != 48 || len(jh.comps) != 3 {
		t.Fatalf("baseline: got %+v, %v; want 1 scan of 64x48, 3 components", jh, err)
	}
	prog := progressiveJPEG(t, 1024, 1024, 20)
	if jh, err := walkJPEG(prog, 100); err != nil || jh.scans != 21 || !jh.progressive {
		t.Fatalf("progressive: got %+v, %v; want 21 scans", jh, err)
	}
	// Junk, fill and restart bytes before the second scan; the decoder
	// still decodes the file and the count is the same.
	i := bytes.Index(prog[200:], []byte{0xFF, 0xDA}) + 200
	junk := append([]byte{1, 2, 0xFF, 0x00, 0xFF, 0xD3, 0xFF, 0xFF}, prog[i+1:]...)
	messy := append(append([]byte{}, prog[:i]...), junk...)
	if _, err := jpeg.Decode(bytes.NewReader(messy)); err != nil {
		t.Fatalf("the decoder refuses the messy file: %v", err)
	}
	if jh, err := walkJPEG(messy, 100); err != nil || jh.scans != 21 {
		t.Fatalf("messy: got %+v, %v; want 21 scans", jh, err)
	}
	// A SOS inside an APP1 segment is skipped with the segment.
	app := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 6, 0xFF, 0xDA, 0, 2}, baseline[2:]...)
	if jh, err := walkJPEG(app, 100); err != nil || jh.scans != 1 {
		t.Fatalf("APP1 holding a SOS marker: got %+v, %v; want 1 scan", jh, err)
	}
	// Counting stops past the cap.
	if jh, _ := walkJPEG(progressiveJPEG(t, 1024, 1024, 1000), 32); jh.scans != 33 {
		t.Errorf("got %d scans counted, want to stop at 33", jh.scans)
	}
}

// cancelAfter is a context whose Err reports Canceled from its n-th call
// on: the decoder's reader checks it at every read, so the decode stops
// part way, wherever that is.
type cancelAfter struct {
	context.Context
	mu sync.Mutex
	n  int
}

func (c *cancelAfter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestImageDecodingStopsWhenCancelled: a request that goes away stops its
// decode at the decoder's next read instead of decoding to the end, and
// the budget it held is returned.
func TestImageDecodingStopsWhenCancelled(t *testing.T) {
	s := newTestStore(t, Limits{})
	data := encode(t, "jpeg", pattern(1500, 1000)) // tens of reads
	for _, n := range []int{1, 3, 10} {
		ctx := &cancelAfter{Context: context.Background(), n: n}
		img, release, err := s.decode(ctx, data, UploadFullSize)
		if !errors.Is(err, context.Canceled) || img != nil || release != nil {
			t.Errorf("cancelled after %d reads: got %v, %v; want context.Canceled", n, img != nil, err)
		}
	}
	if st := s.DecodeStats(); st.SmallInUse != 0 || st.LargeInUse != 0 {
		t.Errorf("got %+v after cancelled decodes, want nothing reserved", st)
	}
}

// TestSmallImagesDoNotWaitForLarge: small and large images draw on
// separate budgets, so while large decodes hold all of theirs, a small
// avatar is decoded at once, and a large upload is refused with
// media_busy after DecodeWait instead of queueing without end.
func TestSmallImagesDoNotWaitForLarge(t *testing.T) {
	s := newTestStore(t, Limits{DecodeWait: 20 * time.Millisecond})
	ctx := context.Background()
	hold, err := s.reserve(ctx, s.limits.LargeDecodeBudget)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.DecodeStats(); st.LargeInUse != s.limits.LargeDecodeBudget {
		t.Fatalf("got %+v, want the large budget taken", st)
	}

	// A small avatar goes through.
	if _, err := s.SaveAvatar(ctx, bytes.NewReader(encode(t, "png", pattern(200, 200)))); err != nil {
		t.Fatalf("small avatar while the large budget is taken: %v", err)
	}
	// A larger image (a 3 MP grey JPEG: 39 MB with its copies) waits,
	// then is refused.
	var grey bytes.Buffer
	if err := jpeg.Encode(&grey, image.NewGray(image.Rect(0, 0, 2000, 1500)), nil); err != nil {
		t.Fatal(err)
	}
	photo := grey.Bytes()
	info, err := s.inspect(photo, UploadFullSize)
	if err != nil || info.cost(UploadFullSize) <= s.limits.SmallDecodeBytes {
		t.Fatalf("photo costs %d (%v), want over the small budget's %d", info.cost(UploadFullSize), err, s.limits.SmallDecodeBytes)
	}
	_, err = s.SaveUpload(ctx, bytes.NewReader(photo), "photo.jpg")
	if e := chat.ErrorOf(err); e.Kind != chat.KindUnavailable || e.Code != "media_busy" {
		t.Fatalf("large image while the large budget is taken: got %v, want media_busy", err)
	}
	st := s.DecodeStats()
	if st.Small != 1 || st.Large != 1 || st.Busy != 1 || st.SmallInUse != 0 {
		t.Errorf("got %+v, want 1 small decode, 1 large (the hold), 1 refused", st)
	}

	// Once the large budget is free the image is decoded.
	hold()
	if _, err := s.SaveUpload(ctx, bytes.NewReader(photo), "photo.jpg"); err != nil {
		t.Fatalf("large image with the budget free: %v", err)
	}
	if st := s.DecodeStats(); st.Large != 2 || st.LargeInUse != 0 {
		t.Errorf("got %+v, want 2 large decodes and nothing held", st)
	}
}

func FuzzWalkJPEG(f *testing.F) {
	f.Add(encode(f, "jpeg", pattern(16, 16)))
	f.Add(progressiveJPEG(f, 128, 128, 3))
	f.Add([]byte{0xFF, 0xD8, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		jh, err := walkJPEG(data, DefaultMaxScans)
		if err == nil && (len(jh.comps) == 0 || jh.scans > DefaultMaxScans+1 || jh.decodedBytes() < 0) {
			t.Fatalf("walkJPEG(%x) = %+v", data, jh)
		}
	})
}
