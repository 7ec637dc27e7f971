package chat

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"golang.org/x/sync/singleflight"
	"golang.org/x/text/unicode/norm"
)

// Link previews. The first link of a message's text (as the renderer
// links it: PreviewConfig.FindURL) gets a preview card: the page's site
// name, title, description and image, read from its Open Graph, Twitter
// Card and <title> tags. The preview is fetched after the message is
// stored, never on the send path: Send hands a job to a bounded queue that
// a pool of workers drains; the preview then reaches the message as a
// change of its own (the dialog's next change number, like an edit), so
// live clients get a message event and a device that was away gets it from
// sync. Fetching goes through an Unfurler (chat/outbound: the address
// actually dialled is checked, so a link to the server's own network gets
// no preview). What pages show is cached per URL (PreviewStore) for
// PreviewConfig.TTL, failures for FailTTL. The image is re-encoded by the
// FileStore like an upload and kept as an attachment of the message,
// private to its dialog (an upload row of the message: deleting the
// message removes it).

// Preview limits: characters (grapheme clusters) kept of each text, and
// the longest URL previewed (bytes).
const (
	MaxPreviewTitle       = 200
	MaxPreviewDescription = 300
	MaxPreviewSiteName    = 100
	MaxPreviewURL         = 2048
)

// Preview defaults (PreviewConfig).
const (
	DefaultPreviewWorkers = 4
	DefaultPreviewQueue   = 256
	DefaultPreviewTTL     = 24 * time.Hour
	DefaultPreviewFailTTL = time.Hour
)

// limitPreviewsPerUser bounds the pages fetched for one user's links (a
// cached URL costs no fetch): the server fetches what users post, so a
// user must not be able to make it fetch at their sending rate.
var limitPreviewsPerUser = Limit{Rate: 60, Period: time.Hour, Burst: 20}

// ErrLinkRefused is what an Unfurler's error wraps when the link leads to
// an address the server does not connect to (loopback, private, ...): such
// a link gets no preview and leaves nothing behind, not even a cache entry.
var ErrLinkRefused = errors.New("chat: link address refused")

// Unfurled is what a page shows for its preview, as fetched: texts as the
// page has them (the Service cleans and cuts them), and the image's bytes
// (nil when there is none or it could not be fetched).
type Unfurled struct {
	SiteName    string
	Title       string
	Description string
	Image       []byte
}

// Unfurler fetches the page a link points to and what its preview shows
// (chat/outbound.Unfurler). It must refuse addresses inside the server's
// network, wrapping ErrLinkRefused.
type Unfurler interface {
	Unfurl(ctx context.Context, url string) (Unfurled, error)
}

// PreviewConfig turns link previews on (KOROBKA_LINK_PREVIEWS): with a nil
// Unfurler or FindURL there are none.
type PreviewConfig struct {
	Unfurler Unfurler
	// FindURL returns the first link of a message's text as the
	// renderer makes it tappable ("" for none), so the previewed link is
	// the one the bubble links (renderer.FirstURL).
	FindURL func(text string) string
	// Workers fetch previews (default DefaultPreviewWorkers); Queue is how
	// many jobs wait for them (default DefaultPreviewQueue), beyond which
	// a message gets no preview.
	Workers, Queue int
	// TTL is how long a fetched page is cached, FailTTL a page that
	// failed or had nothing to show (defaults DefaultPreviewTTL,
	// DefaultPreviewFailTTL).
	TTL, FailTTL time.Duration
}

// LinkPreview is a message's preview card in the wire form of the shell
// contract. Image is signed for the dialog like an attachment.
type LinkPreview struct {
	URL         string      `json:"url"`
	SiteName    string      `json:"site_name,omitempty"`
	Title       string      `json:"title,omitempty"`
	Description string      `json:"description,omitempty"`
	Image       *Attachment `json:"image,omitempty"`
}

// storedPreview is a preview as a message keeps it: the image's media key,
// never a URL.
type storedPreview struct {
	URL         string            `json:"url"`
	SiteName    string            `json:"site_name,omitempty"`
	Title       string            `json:"title,omitempty"`
	Description string            `json:"description,omitempty"`
	Image       *storedAttachment `json:"image,omitempty"`
}

// CachedPreview is the cache entry of one URL. Found is false for a page
// that failed or had nothing to show. ImageKey names the cache's own
// re-encoded image files; a message gets a copy.
type CachedPreview struct {
	URL         string
	Found       bool
	SiteName    string
	Title       string
	Description string
	ImageKey    string
	ImageSize   int64
	ImageWidth  int
	ImageHeight int
	FetchedAt   time.Time
	ExpiresAt   time.Time
}

// URLHash is the cache key of a URL: SHA-256, hex.
func URLHash(url string) string {
	h := sha256.Sum256([]byte(url))
	return hex.EncodeToString(h[:])
}

// PreviewStore keeps the preview cache and messages' previews.
type PreviewStore interface {
	// CachedPreview returns the entry of the URL if it has not expired
	// at now; ErrNotFound otherwise.
	CachedPreview(ctx context.Context, url string, now time.Time) (CachedPreview, error)
	// PutCachedPreview stores the entry of p.URL, replacing any, and
	// returns the image key of the entry it replaced ("" for none), whose
	// files the caller removes.
	PutCachedPreview(ctx context.Context, p CachedPreview) (replacedImage string, err error)
	// ExpireCachedPreviews removes at most limit entries expired at now
	// and returns how many, and their image keys, whose files the caller
	// removes.
	ExpireCachedPreviews(ctx context.Context, now time.Time, limit int) (removed int, imageKeys []string, err error)
	// SetMessagePreview gives a message that is not deleted and has no
	// preview its stored preview (JSON) and the dialog's next change
	// number, and, with image, stores that upload (state attached,
	// claimed by the message), all in one transaction; it returns the
	// message. ErrNotFound when the message is missing, deleted or has a
	// preview already.
	SetMessagePreview(ctx context.Context, dialogID, seq int64, preview json.RawMessage, image *Upload) (Message, error)
}

// previewJob is one message waiting for its preview. The worker finds the
// link in the text (url), so the send path pays only for a substring scan.
type previewJob struct {
	dialogID, seq, sender int64
	clientID, text, url   string
}

// previews runs the preview workers.
type previews struct {
	cfg    PreviewConfig
	jobs   chan previewJob
	flight singleflight.Group
	// done counts jobs handled (a preview or none), dropped jobs the
	// queue had no room for or shutdown left.
	done, dropped atomic.Int64
	stopped       atomic.Bool
}

func newPreviews(cfg PreviewConfig) *previews {
	if cfg.Unfurler == nil || cfg.FindURL == nil {
		return nil
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultPreviewWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultPreviewQueue
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultPreviewTTL
	}
	if cfg.FailTTL <= 0 {
		cfg.FailTTL = DefaultPreviewFailTTL
	}
	return &previews{cfg: cfg, jobs: make(chan previewJob, cfg.Queue)}
}

// PreviewStats are counters of the preview workers, for metrics and
// tests: jobs handled (with a preview or without), and jobs dropped
// because the queue was full or the server stopped.
type PreviewStats struct {
	Handled, Dropped int64
}

// PreviewStats reports the preview workers' counters (zero when previews
// are off).
func (s *Service) PreviewStats() PreviewStats {
	if s.previews == nil {
		return PreviewStats{}
	}
	return PreviewStats{Handled: s.previews.done.Load(), Dropped: s.previews.dropped.Load()}
}

// queuePreview hands a stored message to the preview workers when its text
// has a link and the sender did not opt out. It never blocks: with the
// queue full the message gets no preview.
func (s *Service) queuePreview(m Message, noPreview bool) {
	pv := s.previews
	if pv == nil || noPreview || !mayHaveLink(m.Text) {
		return
	}
	if pv.stopped.Load() {
		pv.dropped.Add(1)
		return
	}
	select {
	case pv.jobs <- previewJob{dialogID: m.DialogID, seq: m.Seq, sender: m.SenderID, clientID: m.ClientID, text: m.Text}:
	default:
		pv.dropped.Add(1)
		s.log.Warn("link preview dropped: queue full", "dialog", m.DialogID, "seq", m.Seq)
	}
}

// runPreviews runs the workers until ctx ends. A fetch under way is
// abandoned (its context ends with ctx) and leaves nothing behind; jobs
// still queued are dropped and counted.
func (s *Service) runPreviews(ctx context.Context) {
	pv := s.previews
	if pv == nil {
		return
	}
	var wg sync.WaitGroup
	for range pv.cfg.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-pv.jobs:
					if ctx.Err() != nil {
						// select picks at random among ready cases.
						pv.dropped.Add(1)
						return
					}
					s.preview(ctx, j)
					pv.done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	pv.stopped.Store(true)
	left := 0
	for {
		select {
		case <-pv.jobs:
			left++
			continue
		default:
		}
		break
	}
	if left > 0 {
		pv.dropped.Add(int64(left))
		s.log.Info("link previews dropped at shutdown", "jobs", left)
	}
}

// mayHaveLink is the send path's check: every link FindURL finds has
// "://" or starts with "www." (any case).
func mayHaveLink(text string) bool {
	if strings.Contains(text, "://") {
		return true
	}
	for i := 0; ; i++ {
		k := strings.IndexByte(text[i:], '.')
		if k < 0 {
			return false
		}
		if i += k; i >= 3 && strings.EqualFold(text[i-3:i], "www") {
			return true
		}
	}
}

// preview gives one message its preview, if its first link has one.
func (s *Service) preview(ctx context.Context, j previewJob) {
	j.url = s.previews.cfg.FindURL(j.text)
	if j.url == "" || len(j.url) > MaxPreviewURL {
		return
	}
	c, err := s.store.CachedPreview(ctx, j.url, s.now())
	if errors.Is(err, ErrNotFound) {
		c, err = s.fetchPreview(ctx, j)
	}
	if err != nil {
		if !errors.Is(err, ErrLinkRefused) && !errors.Is(err, errPreviewBudget) && ctx.Err() == nil {
			s.log.WarnContext(ctx, "link preview failed", "dialog", j.dialogID, "seq", j.seq, "err", err)
		}
		return
	}
	if !c.Found {
		return
	}
	sp := storedPreview{URL: j.url, SiteName: c.SiteName, Title: c.Title, Description: c.Description}
	var up *Upload
	if c.ImageKey != "" {
		// The message's own copy, so that deleting it removes its files.
		key, err := s.files.CopyUpload(ctx, c.ImageKey)
		if err == nil {
			now := s.now().UTC().Truncate(time.Microsecond)
			up = &Upload{ID: NewID(), OwnerID: j.sender, Kind: UploadImage, Key: key, Name: "preview.jpg",
				Size: c.ImageSize, Mime: "image/jpeg", Width: c.ImageWidth, Height: c.ImageHeight, CreatedAt: now,
				State: UploadAttached, DialogID: j.dialogID, ClientID: j.clientID, AttachedAt: now}
			a := up.stored()
			sp.Image = &a
		} else if ctx.Err() == nil {
			// A cache entry replaced meanwhile: the card goes without.
			s.log.WarnContext(ctx, "link preview image not copied", "key", c.ImageKey, "err", err)
		}
	}
	raw, err := json.Marshal(sp)
	if err != nil {
		return
	}
	m, err := s.store.SetMessagePreview(ctx, j.dialogID, j.seq, raw, up)
	if err != nil {
		if up != nil {
			s.deleteFiles(ctx, up.Key)
		}
		if !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
			s.log.WarnContext(ctx, "link preview not stored", "dialog", j.dialogID, "seq", j.seq, "err", err)
		}
		return
	}
	ms, err := s.store.Members(ctx, j.dialogID)
	if err != nil {
		s.log.WarnContext(ctx, "link preview not announced", "dialog", j.dialogID, "seq", j.seq, "err", err)
		return
	}
	ids := make([]int64, len(ms))
	for i, mb := range ms {
		ids[i] = mb.UserID
	}
	_, _ = s.announceChange(ctx, m, ids)
}

// errPreviewBudget: the sender's preview budget is spent.
var errPreviewBudget = errors.New("chat: preview budget spent")

// fetchPreview fetches the page of j.url (once per node at a time for one
// URL), re-encodes its image and caches the result.
func (s *Service) fetchPreview(ctx context.Context, j previewJob) (CachedPreview, error) {
	v, err, _ := s.previews.flight.Do(j.url, func() (any, error) {
		if ok, _, err := s.limiter.Allow(ctx, "preview:user:"+FormatID(j.sender), limitPreviewsPerUser); err != nil || !ok {
			return CachedPreview{}, errPreviewBudget
		}
		return s.unfurl(ctx, j.url)
	})
	c, _ := v.(CachedPreview)
	return c, err
}

func (s *Service) unfurl(ctx context.Context, url string) (CachedPreview, error) {
	pv := s.previews
	now := s.now().UTC().Truncate(time.Microsecond)
	c := CachedPreview{URL: url, FetchedAt: now, ExpiresAt: now.Add(pv.cfg.FailTTL)}
	u, err := pv.cfg.Unfurler.Unfurl(ctx, url)
	if errors.Is(err, ErrLinkRefused) || ctx.Err() != nil {
		return CachedPreview{}, err // nothing is kept of these
	}
	if err == nil {
		c.SiteName = previewText(u.SiteName, MaxPreviewSiteName)
		c.Title = previewText(u.Title, MaxPreviewTitle)
		c.Description = previewText(u.Description, MaxPreviewDescription)
		c.Found = c.Title != "" || c.Description != ""
	} else {
		s.log.DebugContext(ctx, "link preview fetch failed", "err", err)
	}
	if c.Found {
		c.ExpiresAt = now.Add(pv.cfg.TTL)
		if len(u.Image) > 0 {
			// Re-encoded like an upload, under the same decoding budget.
			m, err := s.files.SaveUpload(ctx, bytes.NewReader(u.Image), "preview.jpg")
			switch {
			case err != nil:
				s.log.DebugContext(ctx, "link preview image refused", "err", err)
			case m.Kind != UploadImage:
				s.deleteFiles(ctx, m.Key)
			default:
				c.ImageKey, c.ImageSize, c.ImageWidth, c.ImageHeight = m.Key, m.Size, m.Width, m.Height
			}
		}
	}
	if ctx.Err() != nil {
		if c.ImageKey != "" {
			s.deleteFiles(ctx, c.ImageKey)
		}
		return CachedPreview{}, ctx.Err()
	}
	old, err := s.store.PutCachedPreview(ctx, c)
	if err != nil {
		if c.ImageKey != "" {
			s.deleteFiles(ctx, c.ImageKey)
		}
		return CachedPreview{}, err
	}
	if old != "" && old != c.ImageKey {
		s.deleteFiles(ctx, old)
	}
	return c, nil
}

// expirePreviews removes expired cache entries and their images, a
// bounded amount per call (with the upload collector).
func (s *Service) expirePreviews(ctx context.Context) (int, error) {
	total := 0
	for range gcMaxBatches {
		n, keys, err := s.store.ExpireCachedPreviews(ctx, s.now(), gcBatch)
		for _, k := range keys {
			s.deleteFiles(ctx, k)
		}
		total += n
		if err != nil || n < gcBatch {
			return total, err
		}
	}
	return total, nil
}

// signPreview turns a message's stored preview into the wire form, its
// image's URLs signed for the dialog's members; nil when unreadable.
func (s *Service) signPreview(dialogID int64, raw json.RawMessage, now time.Time) *LinkPreview {
	var sp storedPreview
	if err := json.Unmarshal(raw, &sp); err != nil {
		s.log.Error("unreadable link preview", "dialog", dialogID, "err", err)
		return nil
	}
	p := &LinkPreview{URL: sp.URL, SiteName: sp.SiteName, Title: sp.Title, Description: sp.Description}
	if sp.Image != nil {
		a := sp.Image.view(s.media, MediaScope{Dialog: dialogID}, now)
		p.Image = &a
	}
	return p
}

// previewUploadID is the upload id of a stored preview's image (0: none).
func previewUploadID(raw json.RawMessage) int64 {
	var sp storedPreview
	if len(raw) == 0 || json.Unmarshal(raw, &sp) != nil || sp.Image == nil {
		return 0
	}
	id, _ := ParseID(sp.Image.ID)
	return id
}

// previewText is a page's text as a preview shows it: valid UTF-8 in NFC,
// without control or format characters (the text policy's refusals,
// dropped instead of refused: the page is not the sender's), white space
// runs as one space, cut to max characters (grapheme clusters) with an
// ellipsis and to 4*max code points; "" when nothing visible is left.
func previewText(s string, max int) string {
	s = norm.NFC.String(strings.ToValidUTF8(s, ""))
	var b strings.Builder
	space, visible := false, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if r == utf8.RuneError || refused(r, false) != "" {
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		visible = visible || isVisible(r)
		b.WriteRune(r)
	}
	if !visible {
		return ""
	}
	out := b.String()
	if uniseg.GraphemeClusterCount(out) > max || utf8.RuneCountInString(out) > 4*max {
		var cut strings.Builder
		g := uniseg.NewGraphemes(out)
		for n, runes := 0, 0; n < max-1 && g.Next(); n++ {
			if runes += len(g.Runes()); runes > 4*max-1 {
				break
			}
			cut.WriteString(g.Str())
		}
		out = strings.TrimSpace(cut.String()) + "…"
	}
	return out
}
