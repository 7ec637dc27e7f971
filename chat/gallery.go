package chat

import (
	"context"
	"time"
)

// The media gallery of a dialog (GET /v1/dialogs/{id}/media, the media
// screen): the photos, videos or files of its messages that are not
// deleted, newest first, a bounded page at a time.

// Gallery kinds, as the API names them, and the upload kind of each.
const (
	GalleryPhoto = "photo"
	GalleryVideo = "video"
	GalleryFile  = "file"
)

// galleryKinds maps a gallery kind to its upload kind.
var galleryKinds = map[string]string{GalleryPhoto: UploadImage, GalleryVideo: UploadVideo, GalleryFile: UploadFile}

// GalleryKind returns the upload kind of a gallery kind (photo, video,
// file), or ErrInvalidMediaKind.
func GalleryKind(kind string) (string, error) {
	k, ok := galleryKinds[kind]
	if !ok {
		return "", ErrInvalidMediaKind
	}
	return k, nil
}

// ErrInvalidMediaKind is a gallery asked for a kind it does not have.
var ErrInvalidMediaKind = &Error{Kind: KindInvalid, Code: "invalid_media_kind", Message: "Ask for kind photo, video or file."}

// DefaultGalleryPage and MaxGalleryPage bound a gallery page.
const (
	DefaultGalleryPage = 30
	MaxGalleryPage     = 100
)

// MediaEntry is one attachment of a stored, undeleted message, as the
// store reads it for the gallery.
type MediaEntry struct {
	Upload    Upload
	Seq       int64
	SenderID  int64
	CreatedAt time.Time // the message's
	// Listed says the message lists the upload, at Index among its
	// attachments; one that does not (its send failed after the claim) is
	// skipped, but still moves the cursor.
	Listed bool
	Index  int
}

// MediaItem is a gallery entry in the wire form: the attachment (URLs
// signed for the dialog) and the message it is in.
type MediaItem struct {
	Seq int64 `json:"seq"`
	// Index is the attachment's place among its message's attachments
	// (from 0): (Seq, Index) names it in the dialog, as the media
	// screen's item ids do (media-<seq>-<index>).
	Index      int        `json:"index"`
	SenderID   string     `json:"sender_id"`
	CreatedAt  time.Time  `json:"created_at"`
	Attachment Attachment `json:"attachment"`
}

// MediaPage is a page of a gallery. NextCursor, when set, reads the next
// (older) page.
type MediaPage struct {
	Kind       string      `json:"kind"`
	Items      []MediaItem `json:"items"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// DialogMedia returns a page of the dialog's gallery of one kind (photo,
// video, file) for a member: the attachments of its messages that are not
// deleted, newest first (by when the send claimed them), at most limit (default
// DefaultGalleryPage, at most MaxGalleryPage), from cursor ("" for the
// newest; a page's NextCursor for the next), from the first seq the member
// may read (Member.VisibleFrom). Not a member: ErrNotFound, like a dialog
// that does not exist.
func (s *Service) DialogMedia(ctx context.Context, p Principal, dialogID int64, kind, cursor string, limit int) (MediaPage, error) {
	uk, err := GalleryKind(kind)
	if err != nil {
		return MediaPage{}, err
	}
	before, err := parseCursor(cursor)
	if err != nil {
		return MediaPage{}, err
	}
	// A member who may not read the whole history (added to a group
	// that hides it) sees the media of what they may read.
	from, err := s.members.VisibleFrom(ctx, p, dialogID)
	if err != nil {
		return MediaPage{}, err
	}
	if limit <= 0 || limit > MaxGalleryPage {
		limit = DefaultGalleryPage
	}
	entries, err := s.store.DialogMedia(ctx, dialogID, uk, before, limit+1)
	if err != nil {
		return MediaPage{}, err
	}
	page := MediaPage{Kind: kind, Items: make([]MediaItem, 0, min(len(entries), limit))}
	if len(entries) > limit {
		entries = entries[:limit]
		last := entries[limit-1].Upload
		page.NextCursor = formatCursor(DialogCursor{UpdatedAt: last.AttachedAt, ID: last.ID})
	}
	now := s.now()
	for _, e := range entries {
		if !e.Listed || e.Seq < from {
			continue
		}
		page.Items = append(page.Items, MediaItem{
			Seq:        e.Seq,
			Index:      e.Index,
			SenderID:   FormatID(e.SenderID),
			CreatedAt:  e.CreatedAt,
			Attachment: e.Upload.stored().view(s.media, MediaScope{Dialog: dialogID}, now),
		})
	}
	return page, nil
}
