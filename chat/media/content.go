package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/korobka/korobka/chat"
)

// contentPrefix is the folder, and key prefix, of content images: pictures
// of content documents (a tariff, a news post, a listing) that screens
// show to everyone, signed in or not. Like avatars they are public, with
// unguessable names that are never reused.
const contentPrefix = "content"

var _ chat.ImagePublisher = (*Store)(nil)

// PublishImage makes a public copy of an image upload (its re-encoded JPEG
// and thumbnail, hard-linked where the disk allows) and returns the copy's
// key, content/<hex>. The upload itself stays private and is collected
// like any other.
func (s *Store) PublishImage(ctx context.Context, uploadKey string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !validKey(uploadKey) || !strings.HasPrefix(uploadKey, uploadPrefix+"/") {
		return "", chat.Errorf(chat.KindInvalid, "invalid_media_key", "The media key is malformed.")
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	key := contentPrefix + "/" + hex.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Join(s.dir, contentPrefix), 0o755); err != nil {
		return "", fmt.Errorf("media: publish image: %w", err)
	}
	src, dst := s.uploadBase(uploadKey), s.uploadBase(key)
	for _, suffix := range []string{".jpg", "_thumb.jpg"} {
		err := os.Link(src+suffix, dst+suffix)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			err = copyFile(src+suffix, dst+suffix)
		}
		if err != nil {
			for _, sfx := range []string{".jpg", "_thumb.jpg"} {
				_ = os.Remove(dst + sfx)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return "", chat.ErrNotFound
			}
			return "", fmt.Errorf("media: publish image: %w", err)
		}
	}
	return key, nil
}
