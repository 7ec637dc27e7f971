package chat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"
)

// Upload kinds: an image was re-encoded as JPEG with a thumbnail; a file is
// kept byte for byte.
const (
	UploadImage = "image"
	UploadFile  = "file"
)

// Upload and attachment limits.
const (
	MaxAttachments    = 10
	MaxUploadNameLen  = 200 // characters (grapheme clusters)
	MaxUploadFileSize = 25 << 20
)

// Upload is a stored upload: an image or a file a user may attach to their
// messages. Key is the media key (see UploadURL); Name is the cleaned
// display name the client gave, never used as a path.
type Upload struct {
	ID        int64
	OwnerID   int64
	Kind      string
	Key       string
	Name      string
	Size      int64
	Mime      string
	Width     int
	Height    int
	CreatedAt time.Time
}

// StoredMedia is what a FileStore made of the bytes it was given.
type StoredMedia struct {
	Kind   string // UploadImage or UploadFile
	Key    string
	Size   int64
	Mime   string
	Width  int // images only
	Height int
}

// FileStore keeps the bytes of message attachments (chat/media on local
// disk). It refuses input over its caps with an *Error of kind TooLarge
// and an image it cannot read with kind Invalid.
type FileStore interface {
	// SaveUpload stores r: an image (sniffed from the bytes) is decoded,
	// resized and re-encoded as JPEG with a thumbnail; anything else is
	// kept as received under its sniffed type. name is the cleaned display
	// name, kept beside a file for its Content-Disposition.
	SaveUpload(ctx context.Context, r io.Reader, name string) (StoredMedia, error)
	// DeleteUpload removes the files of a key; a missing file is no error.
	DeleteUpload(ctx context.Context, key string) error
}

// Attachment is an upload in the wire form of the shell contract, as
// answered by POST /v1/uploads and stored in a message's attachments.
type Attachment struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	URL      string `json:"url"`
	ThumbURL string `json:"thumb_url,omitempty"`
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	Mime     string `json:"mime"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
}

// UploadURL and UploadThumbURL derive the public paths of an upload's key:
// an image is a .jpg with a _thumb.jpg beside it, a file a .bin.
func UploadURL(kind, key string) string {
	if kind == UploadImage {
		return "/media/" + key + ".jpg"
	}
	return "/media/" + key + ".bin"
}

// UploadThumbURL is the thumbnail of an image upload.
func UploadThumbURL(key string) string { return "/media/" + key + "_thumb.jpg" }

// Attachment returns u in the wire form.
func (u Upload) Attachment() Attachment {
	a := Attachment{
		ID:   FormatID(u.ID),
		Kind: u.Kind,
		URL:  UploadURL(u.Kind, u.Key),
		Name: u.Name,
		Size: u.Size,
		Mime: u.Mime,
	}
	if u.Kind == UploadImage {
		a.ThumbURL = UploadThumbURL(u.Key)
		a.Width, a.Height = u.Width, u.Height
	}
	return a
}

// Upload errors.
var (
	ErrInvalidFileName   = &Error{Kind: KindInvalid, Code: "invalid_file_name", Message: "A file name is at most 200 characters of visible text."}
	ErrInvalidAttachment = &Error{Kind: KindInvalid, Code: "invalid_attachment", Message: "Attach at most 10 of your own uploads, as [{\"upload_id\": \"...\"}]."}
)

// limitUploadsPerUser bounds the disk and CPU one account can spend.
var limitUploadsPerUser = Limit{Rate: 60, Period: time.Hour, Burst: 20}

// Upload stores the bytes of r as a new upload of the caller. name is the
// file name the client gave, kept for display only; one that breaks the
// text policy is refused (CleanFileName).
func (s *Service) Upload(ctx context.Context, p Principal, r io.Reader, name string) (Attachment, error) {
	name, err := CleanFileName(name)
	if err != nil {
		return Attachment{}, err
	}
	if err := s.allow(ctx, "upload:user:"+FormatID(p.UserID), limitUploadsPerUser); err != nil {
		return Attachment{}, err
	}
	m, err := s.files.SaveUpload(ctx, r, name)
	if err != nil {
		return Attachment{}, err
	}
	u := Upload{
		ID:        NewID(),
		OwnerID:   p.UserID,
		Kind:      m.Kind,
		Key:       m.Key,
		Name:      name,
		Size:      m.Size,
		Mime:      m.Mime,
		Width:     m.Width,
		Height:    m.Height,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	if err := s.store.CreateUpload(ctx, u); err != nil {
		if derr := s.files.DeleteUpload(context.WithoutCancel(ctx), m.Key); derr != nil {
			s.log.WarnContext(ctx, "upload delete failed", "key", m.Key, "err", derr)
		}
		return Attachment{}, err
	}
	return u.Attachment(), nil
}

// attachments resolves a send's [{"upload_id"}] into the attachment objects
// stored with the message: nil for none.
func (s *Service) attachments(ctx context.Context, p Principal, raw json.RawMessage) (json.RawMessage, error) {
	if a := strings.TrimSpace(string(raw)); a == "" || a == "null" || a == "[]" {
		return nil, nil
	}
	var refs []struct {
		UploadID string `json:"upload_id"`
	}
	if err := json.Unmarshal(raw, &refs); err != nil || len(refs) > MaxAttachments {
		return nil, ErrInvalidAttachment
	}
	if len(refs) == 0 {
		return nil, nil
	}
	out := make([]Attachment, 0, len(refs))
	for _, r := range refs {
		id, err := ParseID(r.UploadID)
		if err != nil {
			return nil, ErrInvalidAttachment
		}
		u, err := s.store.Upload(ctx, id)
		if errors.Is(err, ErrNotFound) || err == nil && u.OwnerID != p.UserID {
			return nil, ErrInvalidAttachment
		}
		if err != nil {
			return nil, err
		}
		out = append(out, u.Attachment())
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// fileNameRule is the text policy of upload names: one line, at most
// MaxUploadNameLen characters (grapheme clusters) and 255 code points (the
// column).
var fileNameRule = TextRule{MaxChars: MaxUploadNameLen, MaxRunes: 255}

// CleanFileName returns the display name of a client's file name: its last
// path element (after the last / or \), checked by the text policy
// (CleanText) like every string a person sees, so a name that hides a
// bidi override ("photo\u202Egpj.exe") is refused with
// ErrInvalidFileName rather than stored or silently altered. No name, or
// "." or "..", is "file".
func CleanFileName(name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if strings.TrimSpace(name) == "" || name == "." || name == ".." {
		return "file", nil
	}
	n, err := CleanText(name, fileNameRule)
	if err != nil {
		return "", textError(ErrInvalidFileName, err)
	}
	return n, nil
}
