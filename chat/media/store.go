// Package media keeps uploaded images and files in a local folder and serves
// them. It is the embedded default behind chat.ImageStore and
// chat.FileStore; an S3-compatible bucket may later sit beside it as
// another implementation of the same interfaces.
//
// Uploads are untrusted: the type is sniffed from the bytes, the header
// decides what decoding will cost before anything is decoded (so a small
// file that claims a huge canvas, a deep pixel format or a thousand scans
// cannot exhaust memory or CPU), decoding draws on bounded budgets
// (decode.go), and every image is decoded and re-encoded as JPEG, which
// drops EXIF, GPS, ICC and any payload hidden in metadata or trailing
// bytes. Files that are not images are kept byte for
// byte and only ever served as downloads (uploads.go, handler.go).
package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/disintegration/imaging"

	"github.com/korobka/korobka/chat"
)

var _ chat.ImageStore = (*Store)(nil)

// Limits caps what an upload may cost and sets the output sizes. A zero
// field takes its default, so Limits{} is a sensible configuration.
type Limits struct {
	// MaxBytes caps the avatar upload body (default 10 MiB).
	MaxBytes int64
	// MaxPixels caps width*height as declared in the header (default 40
	// million).
	MaxPixels int64
	// MaxSide caps either dimension (default 12000), refusing absurd
	// strips that pass the pixel cap.
	MaxSide int
	// MaxScans caps the scans of a JPEG (default 32; encoders write 1 to
	// 3 for a baseline file and about 10 for a progressive one): each scan
	// makes the decoder walk the image once more.
	MaxScans int
	// MaxDecodeBytes caps the memory decoding one image may take, as the
	// header predicts it (default 256 MiB): the decoder's buffers (a
	// 16-bit PNG takes 8 bytes a pixel, a progressive JPEG 4 bytes a
	// coefficient), one 8-bit RGBA copy and the output (decode.go).
	MaxDecodeBytes int64
	// SmallDecodeBytes is the largest cost of an image decoded within the
	// small budget (default 32 MiB: a 5-megapixel JPEG, a 4-megapixel
	// PNG); larger images use the large budget, so they never hold up
	// small ones.
	SmallDecodeBytes int64
	// SmallDecodeBudget and LargeDecodeBudget are the bytes each budget
	// lends to concurrent decodes (defaults 128 MiB and MaxDecodeBytes).
	SmallDecodeBudget int64
	LargeDecodeBudget int64
	// DecodeWait bounds how long a decode waits for its budget before it
	// is refused with media_busy (default 10 s).
	DecodeWait time.Duration
	// FullSize is the side of the square full-size avatar (default 1024).
	FullSize int
	// ThumbSize is the side of the square thumbnail (default 256); it may
	// not exceed FullSize because the thumbnail is made from the full size.
	ThumbSize int
	// MaxVideoBytes caps a video upload (default
	// chat.DefaultMaxVideoSize, 200 MiB); it is streamed to disk, never
	// held in memory. Images and other files keep chat.MaxUploadFileSize.
	MaxVideoBytes int64
	// FFmpeg is the path of the ffmpeg binary; ffprobe is looked for
	// beside it. Empty: videos are stored unprobed, with a generic poster
	// and no duration or dimensions (video.go).
	FFmpeg string
	// ProbeTimeout bounds each ffprobe and ffmpeg run (default 30 s);
	// MaxProbes bounds the runs at once on this node (default 2), each
	// waiting at most DecodeWait for its turn (then media_busy).
	ProbeTimeout time.Duration
	MaxProbes    int
}

// Default limits, applied field by field to a zero Limits (decode.go has
// the decoding ones).
const (
	DefaultMaxBytes  = 10 << 20
	DefaultMaxPixels = 40_000_000
	DefaultMaxSide   = 12000
	DefaultFullSize  = 1024
	DefaultThumbSize = 256
)

// jpegQuality balances size and artefacts for photos of faces.
const jpegQuality = 85

// avatarPrefix is the folder, and key prefix, of avatars; other kinds of
// media get their own prefix so they can have their own lifecycle.
const avatarPrefix = "avatars"

func (l Limits) withDefaults() (Limits, error) {
	if l.MaxBytes < 0 || l.MaxPixels < 0 || l.MaxSide < 0 || l.MaxScans < 0 || l.MaxDecodeBytes < 0 ||
		l.SmallDecodeBytes < 0 || l.SmallDecodeBudget < 0 || l.LargeDecodeBudget < 0 || l.DecodeWait < 0 ||
		l.FullSize < 0 || l.ThumbSize < 0 || l.MaxVideoBytes < 0 || l.ProbeTimeout < 0 || l.MaxProbes < 0 {
		return l, fmt.Errorf("media: negative limit in %+v", l)
	}
	def := func(p *int64, v int64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxPixels, DefaultMaxPixels)
	def(&l.MaxDecodeBytes, DefaultMaxDecodeBytes)
	def(&l.SmallDecodeBytes, DefaultSmallDecodeBytes)
	def(&l.SmallDecodeBudget, DefaultSmallDecodeBudget)
	def(&l.LargeDecodeBudget, l.MaxDecodeBytes)
	def(&l.MaxVideoBytes, chat.DefaultMaxVideoSize)
	if l.ProbeTimeout == 0 {
		l.ProbeTimeout = DefaultProbeTimeout
	}
	if l.MaxProbes == 0 {
		l.MaxProbes = DefaultMaxProbes
	}
	if l.MaxSide == 0 {
		l.MaxSide = DefaultMaxSide
	}
	if l.MaxScans == 0 {
		l.MaxScans = DefaultMaxScans
	}
	if l.DecodeWait == 0 {
		l.DecodeWait = DefaultDecodeWait
	}
	if l.FullSize == 0 {
		l.FullSize = DefaultFullSize
	}
	if l.ThumbSize == 0 {
		l.ThumbSize = DefaultThumbSize
	}
	if l.ThumbSize > l.FullSize {
		return l, fmt.Errorf("media: ThumbSize %d over FullSize %d", l.ThumbSize, l.FullSize)
	}
	// Every admissible image must fit its budget, or it would wait forever.
	if l.SmallDecodeBytes > l.SmallDecodeBudget || l.MaxDecodeBytes > l.LargeDecodeBudget {
		return l, fmt.Errorf("media: a budget is smaller than the images it takes in %+v", l)
	}
	return l, nil
}

// Store keeps images as files under one folder. Keys look like
// "avatars/<32 hex digits>"; the files are <dir>/<key>.jpg and
// <dir>/<key>_thumb.jpg, matching chat.AvatarURL and chat.AvatarThumbURL
// when Handler serves the folder at /media/. Names are random and never
// reused, which is what lets Handler mark them immutable.
//
// A Store is safe for concurrent use.
type Store struct {
	dir    string
	limits Limits
	// small and large bound the memory of the images being decoded at
	// once (decode.go); busy counts the decodes they turned away.
	small, large *budget
	busy         atomic.Int64
	// video is the ffprobe/ffmpeg runner (nil without FFmpeg); probes
	// bounds the runs at once.
	video  *videoTools
	probes chan struct{}
}

// NewStore returns a Store on dir, creating it (and its avatars folder) when
// missing, so that the first upload does not fail on a fresh install.
func NewStore(dir string, limits Limits) (*Store, error) {
	l, err := limits.withDefaults()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("media: empty folder")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	for _, sub := range []string{avatarPrefix, uploadPrefix} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
	}
	st := &Store{dir: abs, limits: l, small: newBudget(l.SmallDecodeBudget), large: newBudget(l.LargeDecodeBudget),
		probes: make(chan struct{}, l.MaxProbes)}
	if l.FFmpeg != "" {
		st.video = &videoTools{ffmpeg: l.FFmpeg, ffprobe: filepath.Join(filepath.Dir(l.FFmpeg), "ffprobe"), timeout: l.ProbeTimeout}
	}
	return st, nil
}

// errTooLarge and its siblings are the refusals a client is told about;
// their messages are safe to show.
func errTooLarge() error {
	return chat.Errorf(chat.KindTooLarge, "image_too_large", "The image is too large.")
}

func errUnsupported() error {
	return chat.Errorf(chat.KindUnsupported, "unsupported_media_type", "Only JPEG, PNG, GIF and WebP images are accepted.")
}

func errInvalid(cause error) error {
	e := chat.Errorf(chat.KindInvalid, "invalid_image", "The image could not be read.")
	e.Err = cause
	return e
}

// SaveAvatar stores r as a square avatar and its thumbnail. It reads at most
// MaxBytes+1 bytes whatever r holds, and checks what decoding will cost
// before decoding (decode.go), so the work done for a hostile upload is
// bounded by Limits; a cancelled ctx stops it between stages.
func (s *Store) SaveAvatar(ctx context.Context, r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, r}, s.limits.MaxBytes+1))
	if err != nil {
		return "", fmt.Errorf("media: read upload: %w", err)
	}
	if int64(len(data)) > s.limits.MaxBytes {
		return "", errTooLarge()
	}
	img, release, err := s.decode(ctx, data, s.limits.FullSize)
	if err != nil {
		return "", err
	}
	fullJPEG, thumbJPEG, err := func() ([]byte, []byte, error) {
		defer release()
		b := img.Bounds()
		side := min(b.Dx(), b.Dy())
		fullSide := min(s.limits.FullSize, side) // never upscale
		thumbSide := min(s.limits.ThumbSize, side)
		full := imaging.Fill(img, fullSide, fullSide, imaging.Center, imaging.Lanczos)
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		thumb := imaging.Fill(full, thumbSide, thumbSide, imaging.Center, imaging.Lanczos)
		fullJPEG, err := encodeJPEG(full)
		if err != nil {
			return nil, nil, err
		}
		thumbJPEG, err := encodeJPEG(thumb)
		return fullJPEG, thumbJPEG, err
	}()
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}

	key := newKey()
	fullPath, thumbPath := s.paths(key)
	if err := writeFileAtomic(thumbPath, thumbJPEG); err != nil {
		return "", err
	}
	if err := writeFileAtomic(fullPath, fullJPEG); err != nil {
		_ = os.Remove(thumbPath)
		return "", err
	}
	return key, nil
}

// encodeJPEG flattens img onto white (JPEG has no alpha; transparent pixels
// would otherwise turn black) into an *image.RGBA, which is also the type the
// JPEG encoder converts fastest.
func encodeJPEG(img image.Image) ([]byte, error) {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Over)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("media: encode jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// DeleteAvatar removes both files of key. Missing files are no error, so a
// retried or repeated delete succeeds.
func (s *Store) DeleteAvatar(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validKey(key) {
		return chat.Errorf(chat.KindInvalid, "invalid_media_key", "The media key is malformed.")
	}
	fullPath, thumbPath := s.paths(key)
	var errs []error
	for _, p := range []string{fullPath, thumbPath} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	return nil
}

// paths returns the files of a key that validKey accepted.
func (s *Store) paths(key string) (full, thumb string) {
	base := filepath.Join(s.dir, filepath.FromSlash(key))
	return base + ".jpg", base + "_thumb.jpg"
}

// newKey returns a fresh avatar key with 128 random bits: unguessable, so
// avatar URLs do not enumerate users, and never reused.
func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return avatarPrefix + "/" + hex.EncodeToString(b[:])
}

// validKey accepts only what the Store itself generates in shape: non-empty
// segments of [a-z0-9_] joined by "/". Keys come from our database, but they
// are joined to a path, so a corrupted or hand-edited row must not reach
// outside the folder.
func validKey(key string) bool {
	if key == "" || strings.Contains(key, "..") {
		return false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" {
			return false
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// writeFileAtomic writes data to name through a temp file in the same folder
// and a rename, so a reader (or a crash) never sees half a file. The temp
// name starts with a dot, which Handler refuses to serve.
func writeFileAtomic(name string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("media: write %s: %w", filepath.Base(name), err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// ctxReader stops a slow upload once the request is abandoned.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
