package media

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"crypto/rand"

	"github.com/korobka/korobka/chat"
)

var _ chat.FileStore = (*Store)(nil)

// uploadPrefix is the folder, and key prefix, of message attachments.
const uploadPrefix = "uploads"

// Upload sizes: images are fitted into these boxes, never upscaled.
const (
	UploadFullSize  = 2048
	UploadThumbSize = 320
)

// uploadMeta is the sidecar of a stored file (<key>.json): what Handler
// needs to serve it. It is never served itself.
type uploadMeta struct {
	Name string `json:"name"`
	Mime string `json:"mime"`
}

func errFileTooLarge() error {
	return chat.Errorf(chat.KindTooLarge, "file_too_large", "The file is over 25 MiB.")
}

// SaveUpload stores an attachment. The type is sniffed from the first 512
// bytes: JPEG, PNG, GIF and WebP are decoded under the pixel caps, fitted
// into UploadFullSize (EXIF orientation applied), re-encoded as JPEG with a
// UploadThumbSize thumbnail; MP4, QuickTime and WebM are videos, streamed
// to disk up to Limits.MaxVideoBytes with a poster (video.go); anything
// else is streamed to disk as received, up to chat.MaxUploadFileSize, under
// its sniffed type. A name that says video (".mp4", ".mov", ".webm") on
// bytes that are not one is refused with invalid_video, nothing stored.
func (s *Store) SaveUpload(ctx context.Context, r io.Reader, name string) (chat.StoredMedia, error) {
	br := bufio.NewReaderSize(ctxReader{ctx, r}, 512)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return chat.StoredMedia{}, fmt.Errorf("media: read upload: %w", err)
	}
	if len(head) == 0 {
		return chat.StoredMedia{}, chat.Errorf(chat.KindInvalid, "missing_file", "The file is empty.")
	}
	if v := sniffVideo(head); v != "" {
		return s.saveUploadVideo(ctx, br, v, name)
	}
	if claimsVideo(name) {
		return chat.StoredMedia{}, errInvalidVideo(errors.New("the bytes are not a video"))
	}
	limited := io.LimitReader(br, chat.MaxUploadFileSize+1)
	mime := http.DetectContentType(head)
	switch mime {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return s.saveUploadImage(ctx, limited)
	}
	return s.saveUploadFile(limited, mime, name)
}

func (s *Store) saveUploadImage(ctx context.Context, r io.Reader) (chat.StoredMedia, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: read upload: %w", err)
	}
	if int64(len(data)) > chat.MaxUploadFileSize {
		return chat.StoredMedia{}, errFileTooLarge()
	}
	fullJPEG, thumbJPEG, width, height, err := s.imageVariants(ctx, data)
	if err != nil {
		return chat.StoredMedia{}, err
	}
	if err := ctx.Err(); err != nil {
		return chat.StoredMedia{}, err
	}
	key := newUploadKey()
	base := s.uploadBase(key)
	if err := writeFileAtomic(base+"_thumb.jpg", thumbJPEG); err != nil {
		return chat.StoredMedia{}, err
	}
	if err := writeFileAtomic(base+".jpg", fullJPEG); err != nil {
		_ = os.Remove(base + "_thumb.jpg")
		return chat.StoredMedia{}, err
	}
	return chat.StoredMedia{Kind: chat.UploadImage, Key: key, Size: int64(len(fullJPEG)),
		Mime: "image/jpeg", Width: width, Height: height}, nil
}

// saveUploadFile streams r to a temp file, then renames it into place after
// its sidecar, so a served .bin always has its name and type.
func (s *Store) saveUploadFile(r io.Reader, mime, name string) (_ chat.StoredMedia, err error) {
	key := newUploadKey()
	base := s.uploadBase(key)
	f, err := os.CreateTemp(filepath.Dir(base), ".tmp-*")
	if err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	n, err := io.Copy(f, r)
	if err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: write upload: %w", err)
	}
	if n > chat.MaxUploadFileSize {
		return chat.StoredMedia{}, errFileTooLarge()
	}
	if err = f.Chmod(0o644); err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	if err = f.Sync(); err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	if err = f.Close(); err != nil {
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	meta, _ := json.Marshal(uploadMeta{Name: name, Mime: mime})
	if err = writeFileAtomic(base+".json", meta); err != nil {
		return chat.StoredMedia{}, err
	}
	if err = os.Rename(f.Name(), base+".bin"); err != nil {
		_ = os.Remove(base + ".json")
		return chat.StoredMedia{}, fmt.Errorf("media: %w", err)
	}
	return chat.StoredMedia{Kind: chat.UploadFile, Key: key, Size: n, Mime: mime}, nil
}

// CopyUpload gives every file of key a fresh key: a hard link, which costs
// no space and survives the other name's deletion, or a copy where the
// disk refuses links. The sidecar comes before the .bin, as in
// saveUploadFile. ErrNotFound when key has no files.
func (s *Store) CopyUpload(ctx context.Context, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !validKey(key) || !strings.HasPrefix(key, uploadPrefix+"/") {
		return "", chat.Errorf(chat.KindInvalid, "invalid_media_key", "The media key is malformed.")
	}
	src, next := s.uploadBase(key), newUploadKey()
	dst := s.uploadBase(next)
	copied := 0
	for _, suffix := range []string{".jpg", "_thumb.jpg", ".json", ".bin"} {
		err := os.Link(src+suffix, dst+suffix)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			err = copyFile(src+suffix, dst+suffix)
		}
		if err != nil {
			_ = s.DeleteUpload(context.WithoutCancel(ctx), next)
			return "", fmt.Errorf("media: copy upload: %w", err)
		}
		copied++
	}
	if copied == 0 {
		return "", chat.ErrNotFound
	}
	return next, nil
}

// copyFile copies src to dst through a temp file and a rename.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, in); err != nil {
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
	return os.Rename(f.Name(), dst)
}

// DeleteUpload removes every file of key; missing files are no error.
func (s *Store) DeleteUpload(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validKey(key) {
		return chat.Errorf(chat.KindInvalid, "invalid_media_key", "The media key is malformed.")
	}
	base := s.uploadBase(key)
	var errs []error
	for _, suffix := range []string{".jpg", "_thumb.jpg", ".bin", ".json"} {
		if err := os.Remove(base + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	return nil
}

func (s *Store) uploadBase(key string) string {
	return filepath.Join(s.dir, filepath.FromSlash(key))
}

// newUploadKey returns a fresh upload key with 128 random bits.
func newUploadKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return uploadPrefix + "/" + hex.EncodeToString(b[:])
}
