// Package media keeps uploaded images and files in a local folder and serves
// them. It is the embedded default behind chat.ImageStore and
// chat.FileStore; an S3-compatible bucket may later sit beside it as
// another implementation of the same interfaces.
//
// Uploads are untrusted: the type is sniffed from the bytes, the header is
// checked against pixel caps before anything is decoded (so a small file that
// claims a huge canvas cannot exhaust memory), and every image is decoded and
// re-encoded as JPEG, which drops EXIF, GPS, ICC and any payload hidden in
// metadata or trailing bytes. Files that are not images are kept byte for
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
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"

	"github.com/korobka/korobka/chat"
)

var _ chat.ImageStore = (*Store)(nil)

// Limits caps what an upload may cost and sets the output sizes. A zero
// field takes its default, so Limits{} is a sensible configuration.
type Limits struct {
	// MaxBytes caps the upload body (default 10 MiB).
	MaxBytes int64
	// MaxPixels caps width*height as declared in the header (default 40
	// million): decoding costs about 4 bytes a pixel, twice over when the
	// image must be rotated.
	MaxPixels int64
	// MaxSide caps either dimension (default 12000), refusing absurd
	// strips that pass the pixel cap.
	MaxSide int
	// FullSize is the side of the square full-size avatar (default 1024).
	FullSize int
	// ThumbSize is the side of the square thumbnail (default 256); it may
	// not exceed FullSize because the thumbnail is made from the full size.
	ThumbSize int
}

// Default limits, applied field by field to a zero Limits.
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
	if l.MaxBytes < 0 || l.MaxPixels < 0 || l.MaxSide < 0 || l.FullSize < 0 || l.ThumbSize < 0 {
		return l, fmt.Errorf("media: negative limit in %+v", l)
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPixels == 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxSide == 0 {
		l.MaxSide = DefaultMaxSide
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
	// decoding bounds how many images are decoded at once: a 40 MP photo
	// costs a few hundred MB while it is cropped and rotated, so without a
	// bound a burst of uploads could exhaust memory.
	decoding chan struct{}
}

// maxDecoding is how many uploads are decoded at once.
const maxDecoding = 2

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
	return &Store{dir: abs, limits: l, decoding: make(chan struct{}, maxDecoding)}, nil
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
// MaxBytes+1 bytes whatever r holds, and checks the declared dimensions before
// decoding, so the work done for a hostile upload is bounded by Limits.
func (s *Store) SaveAvatar(ctx context.Context, r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, r}, s.limits.MaxBytes+1))
	if err != nil {
		return "", fmt.Errorf("media: read upload: %w", err)
	}
	if int64(len(data)) > s.limits.MaxBytes {
		return "", errTooLarge()
	}
	select {
	case s.decoding <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.decoding }()
	img, err := s.decode(data)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}

	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	fullSide := min(s.limits.FullSize, side) // never upscale
	thumbSide := min(s.limits.ThumbSize, side)
	full := imaging.Fill(img, fullSide, fullSide, imaging.Center, imaging.Lanczos)
	thumb := imaging.Fill(full, thumbSide, thumbSide, imaging.Center, imaging.Lanczos)

	fullJPEG, err := encodeJPEG(full)
	if err != nil {
		return "", err
	}
	thumbJPEG, err := encodeJPEG(thumb)
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

// decode sniffs, checks the header against the caps, and only then decodes.
// Each sniffed type is decoded by its own decoder, so a file can never be
// sniffed as one format and parsed as another.
func (s *Store) decode(data []byte) (image.Image, error) {
	var (
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
	)
	switch http.DetectContentType(data) {
	case "image/jpeg":
		// Only JPEG carries EXIF orientation in practice; phones store
		// photos sideways and rely on the tag.
		decodeConfig = jpeg.DecodeConfig
		decode = func(r io.Reader) (image.Image, error) {
			return imaging.Decode(r, imaging.AutoOrientation(true))
		}
	case "image/png":
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case "image/gif":
		// The first frame only: avatars do not move.
		decodeConfig, decode = gif.DecodeConfig, gif.Decode
	case "image/webp":
		decodeConfig, decode = webp.DecodeConfig, webp.Decode
	default:
		return nil, errUnsupported()
	}

	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, errInvalid(err)
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return nil, errInvalid(fmt.Errorf("empty image %dx%d", w, h))
	}
	if w > int64(s.limits.MaxSide) || h > int64(s.limits.MaxSide) || w*h > s.limits.MaxPixels {
		return nil, errTooLarge()
	}

	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, errInvalid(err)
	}
	if b := img.Bounds(); b.Empty() {
		return nil, errInvalid(errors.New("decoded an empty image"))
	}
	return img, nil
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
