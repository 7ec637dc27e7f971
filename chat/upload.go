package chat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"
)

// Upload kinds: an image was re-encoded as JPEG with a thumbnail; a video
// (MP4, QuickTime or WebM, sniffed from its bytes) is kept byte for byte
// with a poster frame (a JPEG and its thumbnail) and, when it could be
// probed, its duration and dimensions; a file is kept byte for byte.
const (
	UploadImage = "image"
	UploadVideo = "video"
	UploadFile  = "file"
)

// Upload and attachment limits.
const (
	MaxAttachments    = 10
	MaxUploadNameLen  = 200 // characters (grapheme clusters)
	MaxUploadFileSize = 25 << 20
	// DefaultMaxVideoSize is the default cap of a video upload in bytes
	// (KOROBKA_MAX_VIDEO_BYTES); videos have their own cap, files and
	// images keep MaxUploadFileSize.
	DefaultMaxVideoSize = 200 << 20
)

// UploadState is where an upload is in its life: uploaded, claimed by a
// send, attached to a stored message, or waiting for its files to be
// removed (its message was deleted, or nothing claimed it in time).
type UploadState string

// Upload states.
const (
	UploadUnattached UploadState = "unattached"
	UploadAttaching  UploadState = "attaching" // claimed by a send; its message is not confirmed yet
	UploadAttached   UploadState = "attached"
	UploadDeleted    UploadState = "deleted" // files to remove, then the row
)

// UploadTTL is how long an upload may stay unattached, and a claimed one
// wait for its message, before the collector removes it.
const UploadTTL = 24 * time.Hour

// DefaultUploadGCInterval is how often Service.Run collects uploads.
const DefaultUploadGCInterval = time.Hour

// Upload is a stored upload: an image or a file a user may attach to their
// messages. Key is the media key (URLs are derived from it and signed per
// view, mediaurl.go); Name is the cleaned display name the client gave,
// never used as a path. An upload belongs to its owner until a send claims
// it for one message, (DialogID, OwnerID, ClientID); from then on it is
// that message's, seen by the dialog's members, and goes with it.
type Upload struct {
	ID         int64
	OwnerID    int64
	Kind       string
	Key        string
	Name       string
	Size       int64
	Mime       string
	Width      int
	Height     int
	DurationMS int64 // videos: 0 when unknown
	CreatedAt  time.Time
	State      UploadState // "" is UploadUnattached
	DialogID   int64       // 0 until claimed
	ClientID   string      // the claiming message's client_id
	AttachedAt time.Time   // when claimed; zero until then
}

// StoredMedia is what a FileStore made of the bytes it was given.
type StoredMedia struct {
	Kind       string // UploadImage, UploadVideo or UploadFile
	Key        string
	Size       int64
	Mime       string
	Width      int   // images, and videos that could be probed (as displayed, rotation applied)
	Height     int   //
	DurationMS int64 // videos that could be probed, in milliseconds
}

// FileStore keeps the bytes of message attachments (chat/media on local
// disk). It refuses input over its caps with an *Error of kind TooLarge
// and an image it cannot read with kind Invalid.
type FileStore interface {
	// SaveUpload stores r: an image (sniffed from the bytes) is decoded,
	// resized and re-encoded as JPEG with a thumbnail; a video (sniffed
	// from the bytes: MP4, QuickTime, WebM) is kept as received with a
	// poster frame, or refused with kind Invalid (invalid_video) when its
	// bytes are not a video; anything else is kept as received under its
	// sniffed type. name is the cleaned display name, kept beside a file
	// for its Content-Disposition.
	SaveUpload(ctx context.Context, r io.Reader, name string) (StoredMedia, error)
	// CopyUpload gives the files of a key a new key (a hard link where
	// the disk allows), so that two messages attaching one upload can
	// each delete their own.
	CopyUpload(ctx context.Context, key string) (string, error)
	// DeleteUpload removes the files of a key; a missing file is no error.
	DeleteUpload(ctx context.Context, key string) error
}

// Attachment is an upload in the wire form of the shell contract, as
// answered by POST /v1/uploads and shown in a message's attachments. URL
// and ThumbURL are signed and expire (mediaurl.go): they are made for each
// view, for the dialog's members or, before the upload is attached, for
// its owner. A video's URL is the video itself (served with byte ranges,
// so players seek), PosterURL its poster frame and ThumbURL the poster's
// thumbnail; DurationMS, Width and Height are present when known.
type Attachment struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	URL        string `json:"url"`
	ThumbURL   string `json:"thumb_url,omitempty"`
	PosterURL  string `json:"poster_url,omitempty"`
	Name       string `json:"name"`
	Size       int64  `json:"size"`
	Mime       string `json:"mime"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"`
}

// storedAttachment is an attachment as a message keeps it in its
// attachments JSON: the upload's media key, never a URL. Messages stored
// before keys carry the unsigned URL instead ("/media/<key>.jpg"), from
// which the key is read back.
type storedAttachment struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Key    string `json:"key,omitempty"`
	URL    string `json:"url,omitempty"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Mime   string `json:"mime"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	// DurationMS is a video's duration in milliseconds.
	DurationMS int64 `json:"duration_ms,omitempty"`
	// Card is the data of a card (Kind CardKind, forms.go): no file, shown
	// as the message's card instead of an attachment.
	Card json.RawMessage `json:"card,omitempty"`
}

func (u Upload) stored() storedAttachment {
	a := storedAttachment{ID: FormatID(u.ID), Kind: u.Kind, Key: u.Key, Name: u.Name, Size: u.Size, Mime: u.Mime}
	switch u.Kind {
	case UploadImage:
		a.Width, a.Height = u.Width, u.Height
	case UploadVideo:
		a.Width, a.Height, a.DurationMS = u.Width, u.Height, u.DurationMS
	}
	return a
}

// key returns the media key of a stored attachment, reading it from the
// legacy URL when the attachment has none.
func (a storedAttachment) key() string {
	if a.Key != "" {
		return a.Key
	}
	k, ok := strings.CutPrefix(a.URL, "/media/")
	if !ok {
		return ""
	}
	for _, ext := range []string{".jpg", ".bin"} {
		if base, ok := strings.CutSuffix(k, ext); ok {
			return base
		}
	}
	return ""
}

// view returns a in the wire form, its URLs signed for scope at now.
func (a storedAttachment) view(signer *MediaSigner, scope MediaScope, now time.Time) Attachment {
	v := Attachment{ID: a.ID, Kind: a.Kind, Name: a.Name, Size: a.Size, Mime: a.Mime}
	key := a.key()
	if key == "" {
		return v // nothing to serve; shells show a file without a link
	}
	q := "?" + signer.Query(key, scope, now)
	switch a.Kind {
	case UploadImage:
		v.URL = "/media/" + key + ".jpg" + q
		v.ThumbURL = "/media/" + key + "_thumb.jpg" + q
		v.Width, v.Height = a.Width, a.Height
	case UploadVideo:
		v.URL = "/media/" + key + ".bin" + q
		v.PosterURL = "/media/" + key + ".jpg" + q
		v.ThumbURL = "/media/" + key + "_thumb.jpg" + q
		v.Width, v.Height, v.DurationMS = a.Width, a.Height, a.DurationMS
	default:
		v.URL = "/media/" + key + ".bin" + q
	}
	return v
}

// parseStored reads a message's attachments JSON.
func parseStored(raw json.RawMessage) ([]storedAttachment, error) {
	var list []storedAttachment
	if len(raw) == 0 {
		return nil, nil
	}
	err := json.Unmarshal(raw, &list)
	return list, err
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
// text policy is refused (CleanFileName). The answer's URLs are signed for
// the caller alone.
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
	now := s.now()
	u := Upload{
		ID:         NewID(),
		OwnerID:    p.UserID,
		Kind:       m.Kind,
		Key:        m.Key,
		Name:       name,
		Size:       m.Size,
		Mime:       m.Mime,
		Width:      m.Width,
		Height:     m.Height,
		DurationMS: m.DurationMS,
		CreatedAt:  now.UTC().Truncate(time.Microsecond),
		State:      UploadUnattached,
	}
	if err := s.store.CreateUpload(ctx, u); err != nil {
		s.deleteFiles(ctx, m.Key)
		return Attachment{}, err
	}
	return u.stored().view(s.media, MediaScope{Owner: p.UserID}, now), nil
}

func (s *Service) deleteFiles(ctx context.Context, key string) {
	if err := s.files.DeleteUpload(context.WithoutCancel(ctx), key); err != nil {
		s.log.WarnContext(ctx, "upload delete failed", "key", key, "err", err)
	}
}

// attachments resolves a send's [{"upload_id"}] into the caller's uploads,
// in order: nil for none. It only reads; claimUploads takes them.
func (s *Service) attachments(ctx context.Context, p Principal, raw json.RawMessage) ([]Upload, error) {
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
	out := make([]Upload, 0, len(refs))
	for _, r := range refs {
		id, err := ParseID(r.UploadID)
		if err != nil {
			return nil, ErrInvalidAttachment
		}
		u, err := s.store.Upload(ctx, id)
		if errors.Is(err, ErrNotFound) || err == nil && (u.OwnerID != p.UserID || u.State == UploadDeleted) {
			return nil, ErrInvalidAttachment
		}
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// claimUploads makes the uploads the message (dialogID, caller, clientID)'s
// and returns its attachments JSON. An upload is claimed for one message;
// one that another message already has is copied, so that each message
// deletes its own files. A retried send claims what it claimed before.
func (s *Service) claimUploads(ctx context.Context, p Principal, dialogID int64, clientID string, ups []Upload) (json.RawMessage, error) {
	if len(ups) == 0 {
		return nil, nil
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	out := make([]storedAttachment, len(ups))
	for i, u := range ups {
		got, ok, err := s.store.ClaimUpload(ctx, u.ID, p.UserID, dialogID, clientID, now)
		if errors.Is(err, ErrNotFound) {
			return nil, ErrInvalidAttachment
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			if got.State == UploadDeleted {
				return nil, ErrInvalidAttachment
			}
			if got, err = s.copyUpload(ctx, got, dialogID, clientID, now); err != nil {
				return nil, err
			}
		}
		out[i] = got.stored()
	}
	return json.Marshal(out)
}

// copyUpload gives the message its own copy of an upload another message
// has: new files, a new id, claimed at once.
func (s *Service) copyUpload(ctx context.Context, u Upload, dialogID int64, clientID string, now time.Time) (Upload, error) {
	key, err := s.files.CopyUpload(ctx, u.Key)
	if err != nil {
		return Upload{}, err
	}
	c := u
	c.ID, c.Key, c.CreatedAt = NewID(), key, now
	c.State, c.DialogID, c.ClientID, c.AttachedAt = UploadAttaching, dialogID, clientID, now
	if err := s.store.CreateUpload(ctx, c); err != nil {
		s.deleteFiles(ctx, key)
		return Upload{}, err
	}
	return c, nil
}

// signAttachments turns a message's stored attachments into the wire form
// with URLs for the dialog's members, valid for the current bucket, and
// returns the message's card apart (nil: none).
func (s *Service) signAttachments(dialogID int64, raw json.RawMessage, now time.Time) (attachments, card json.RawMessage) {
	list, err := parseStored(raw)
	if err != nil {
		s.log.Error("unreadable attachments", "dialog", dialogID, "err", err)
		return emptyArray, nil
	}
	if len(list) == 0 {
		return emptyArray, nil
	}
	out := make([]Attachment, 0, len(list))
	for _, a := range list {
		if a.Kind == CardKind {
			card = a.Card
			continue
		}
		out = append(out, a.view(s.media, s.dialogScope(dialogID), now))
	}
	b, err := json.Marshal(out)
	if err != nil {
		return emptyArray, card
	}
	return b, card
}

// removeUploads removes the files, then the rows, of the uploads among ids
// (nil: any) that are in state deleted, at most limit of them, and says
// how many it removed. A file that cannot be removed keeps its row, so the
// collector tries again.
func (s *Service) removeUploads(ctx context.Context, ids []int64, limit int) (int, error) {
	ctx = context.WithoutCancel(ctx)
	ups, err := s.store.DeletedUploads(ctx, ids, limit)
	if err != nil || len(ups) == 0 {
		return 0, err
	}
	gone := make([]int64, 0, len(ups))
	for _, u := range ups {
		if err := s.files.DeleteUpload(ctx, u.Key); err != nil {
			s.log.WarnContext(ctx, "upload files not removed", "upload", u.ID, "key", u.Key, "err", err)
			continue
		}
		gone = append(gone, u.ID)
	}
	if err := s.store.PurgeUploads(ctx, gone); err != nil {
		return 0, err
	}
	return len(gone), nil
}

// gcBatch bounds the uploads one collector step looks at, and
// gcMaxBatches the steps of one collection.
const (
	gcBatch      = 200
	gcMaxBatches = 50
)

// CollectUploads removes the uploads that lost their purpose: those left
// unattached for UploadTTL, those claimed by a send whose message never
// came (or does not list them) within UploadTTL, and those whose message
// was deleted (normally removed at once; here after a crash). It returns
// how many it removed. Service.Run calls it every UploadGCInterval; each
// call does a bounded amount of work.
func (s *Service) CollectUploads(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-UploadTTL)
	for range gcMaxBatches {
		n, err := s.store.ExpireUploads(ctx, cutoff, gcBatch)
		if err != nil {
			return 0, err
		}
		if n < gcBatch {
			break
		}
	}
	removed := 0
	for range gcMaxBatches {
		n, err := s.removeUploads(ctx, nil, gcBatch)
		removed += n
		if err != nil || n < gcBatch {
			return removed, err
		}
	}
	return removed, nil
}

// collectUploads runs CollectUploads now and every interval until ctx
// ends.
func (s *Service) collectUploads(ctx context.Context) {
	t := time.NewTicker(s.uploadGCInterval)
	defer t.Stop()
	for {
		if n, err := s.CollectUploads(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "upload collection failed", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "uploads collected", "removed", n)
		}
		if n, err := s.expirePreviews(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "link preview cache expiry failed", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "link previews expired", "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
