package chat

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Message and dialog limits. A page of history or of the dialog list holds
// at most MaxPage rows; a message is at most MaxTextLen characters and
// MaxAttachments attachments, so a page is bounded in bytes too (about
// 5 MiB at the very worst, docs/operations.md).
const (
	MaxTextLen     = 4096 // characters (grapheme clusters)
	MaxClientIDLen = 64
	MaxSubjectLen  = 128 // characters (grapheme clusters)
	DefaultPage    = 50
	MaxPage        = 200
	// MaxSyncDialogs bounds the dialogs one sync names.
	MaxSyncDialogs = 500
	// MaxSyncMessages bounds the messages one sync replays, whatever the
	// backlog; beyond it the answer says more and the client syncs again.
	MaxSyncMessages = 1000
	// SyncPage is how many messages a sync reads at a time: each page is
	// handed to the transport (which writes it with its outbox's
	// backpressure) before the next is read, so a sync holds one page.
	SyncPage        = 100
	typingInterval  = 3 * time.Second
	presenceTimeout = 5 * time.Second
)

// Messaging errors.
var (
	ErrInvalidText     = &Error{Kind: KindInvalid, Code: "invalid_text", Message: "A message is 1 to 4096 characters of text."}
	ErrInvalidClientID = &Error{Kind: KindInvalid, Code: "invalid_client_id", Message: "client_id is 1 to 64 letters, digits, '-' or '_'."}
	ErrInvalidSeq      = &Error{Kind: KindInvalid, Code: "invalid_seq", Message: "seq is a positive integer."}
	ErrInvalidSubject  = &Error{Kind: KindInvalid, Code: "invalid_subject", Message: "A subject is at most 128 characters of visible text."}
	ErrSelfDialog      = &Error{Kind: KindInvalid, Code: "invalid_user", Message: "A direct dialog needs another user."}
	ErrInvalidCursor   = &Error{Kind: KindInvalid, Code: "invalid_cursor", Message: "The cursor is not one this server gave."}
	ErrTooManyDialogs  = &Error{Kind: KindInvalid, Code: "too_many_dialogs", Message: "Sync at most 500 dialogs at a time."}
	// ErrClientIDConflict answers a send whose (dialog, client_id) the
	// sender already used for a different message: idempotency keys a
	// retry of one send, never a new message (docs/api.md).
	ErrClientIDConflict = &Error{Kind: KindConflict, Code: "client_id_conflict", Message: "This client_id was already used for a different message in this dialog; send new messages with new ids."}
	ErrInvalidSince     = &Error{Kind: KindInvalid, Code: "invalid_since", Message: "since is a change number, 0 or more."}
	errDialogNotFound   = &Error{Kind: KindNotFound, Code: "not_found", Message: "No such dialog."}
)

// DialogView is a dialog in the wire form of the shell contract, as one
// member sees it: a direct dialog is titled by the partner.
type DialogView struct {
	ID             string     `json:"id"`
	Kind           DialogKind `json:"kind"`
	Title          string     `json:"title"`
	AvatarURL      string     `json:"avatar_url"`
	AvatarThumbURL string     `json:"avatar_thumb_url"`
	Subject        string     `json:"subject,omitempty"`
	// SubjectCard is what the subject names, when it names a published
	// document ("listing:<id>" a catalogue item, "news:<id>" a post):
	// shown as a card at the top of the chat and in the chat list.
	SubjectCard *SubjectCard `json:"subject_card,omitempty"`
	Members     []Profile    `json:"members,omitempty"`
	LastMessage *MessageView `json:"last_message"`
	Unread      int64        `json:"unread"`
	UpdatedAt   time.Time    `json:"updated_at"`
	// Muted says the caller muted the dialog (no pushes for it); MutedUntil
	// is when that ends, absent while not muted or muted until unmuted.
	Muted      bool       `json:"muted"`
	MutedUntil *time.Time `json:"muted_until,omitempty"`
	// Groups only: the caller's role, the actions it allows them
	// (GroupPermissions), how many members the group has (their list is
	// paged: GET /v1/dialogs/{id}/members) and whether members added
	// later see the earlier history.
	Role           GroupRole     `json:"role,omitempty"`
	Permissions    []GroupAction `json:"permissions,omitempty"`
	MemberCount    int           `json:"member_count,omitempty"`
	HistoryVisible *bool         `json:"history_visible,omitempty"`
	// Membership is set when the caller is no longer a member of the
	// group: "removed" or "left". They read the history up to their
	// removal (without media), cannot send, and receive nothing of it.
	Membership string `json:"membership,omitempty"`
	// Pinned is the dialog's pinned message, absent when none (or deleted
	// since, or beyond what a former member reads).
	Pinned *MessageView `json:"pinned,omitempty"`
}

// DialogPage is one page of a dialog list.
type DialogPage struct {
	Dialogs    []DialogView `json:"dialogs"`
	NextCursor string       `json:"next_cursor"`
}

// Receipts answers a read: the caller's watermarks after it.
type Receipts struct {
	DialogID     string `json:"dialog_id"`
	DeliveredSeq int64  `json:"delivered_seq"`
	ReadSeq      int64  `json:"read_seq"`
}

// Run writes messages and receipts until ctx ends, then drains what was
// queued before returning. The server runs it for as long as it serves.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.members.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "membership changes of other nodes are not received", "err", err)
		}
	})
	wg.Go(func() { s.collectUploads(ctx) })
	wg.Go(func() { s.seen.run(ctx) })
	// At the end the offline steps still in their grace run at once, so
	// nobody stays online; the gateway has closed its connections by then.
	// The announcer stops after them, as the last announcements are theirs.
	wg.Go(s.announce.run)
	wg.Go(func() { <-ctx.Done(); s.grace.stop(); s.announce.stop() })
	wg.Go(func() { s.runPreviews(ctx) })
	wg.Go(func() { s.stats.run(ctx) })
	wg.Go(func() { s.runBroadcasts(ctx) })
	wg.Go(func() { s.runWebhooks(ctx) })
	// Pushes stop after the committer has drained, so the jobs of its
	// last commits are queued too.
	pushCtx, stopPushes := context.WithCancel(context.WithoutCancel(ctx))
	var pushing sync.WaitGroup
	pushing.Go(func() { s.push.run(pushCtx) })
	s.commits.run(ctx)
	stopPushes()
	pushing.Wait()
	wg.Wait()
	return nil
}

// DroppedEvents counts the message and status events that were stored but
// never reached the broker, because it failed or stalled for too long
// (clients catch up with sync), for metrics.
func (s *Service) DroppedEvents() int64 { return s.commits.dropped.Load() }

// OpenDirect returns the caller's direct dialog with another user about an
// optional subject, creating it on first use; created says which. A new
// dialog is announced to both members.
func (s *Service) OpenDirect(ctx context.Context, p Principal, otherID int64, subject string) (DialogView, bool, error) {
	if otherID == p.UserID {
		return DialogView{}, false, ErrSelfDialog
	}
	subject, err := CleanText(subject, subjectRule)
	if err != nil {
		return DialogView{}, false, textError(ErrInvalidSubject, err)
	}
	if err := s.allow(ctx, "dialog:user:"+FormatID(p.UserID), limitDialogsPerUser); err != nil {
		return DialogView{}, false, err
	}
	if _, err := s.store.User(ctx, otherID); err != nil {
		return DialogView{}, false, err
	}
	d, created, err := s.store.DirectDialog(ctx, p.UserID, otherID, subject, s.now())
	if err != nil {
		return DialogView{}, false, err
	}
	if created {
		if b := s.BusinessID(); b != 0 && (p.UserID == b || otherID == b) {
			s.emitWebhook(ctx, EventDialogCreated, map[string]any{"dialog_id": FormatID(d.ID), "user_ids": []string{FormatID(p.UserID), FormatID(otherID)}, "subject": subject})
		}
	}
	viewers := []int64{p.UserID}
	if created {
		viewers = append(viewers, otherID)
	}
	views, err := s.viewsByID(ctx, p.UserID, d.ID, viewers)
	if err != nil {
		return DialogView{}, false, err
	}
	if created {
		s.announceDialog(ctx, d.ID, views)
	}
	return views[p.UserID], created, nil
}

// announceDialog sends each viewer of views a dialog event with the view
// built for them.
func (s *Service) announceDialog(ctx context.Context, dialogID int64, views map[int64]DialogView) {
	pubs := make([]Publication, 0, len(views))
	for uid, v := range views {
		pubs = appendEvent(pubs, Event{Type: EventDialog, Dialog: &v}, 0, []int64{uid}, 0)
	}
	if err := s.broker.Publish(ctx, pubs...); err != nil {
		s.log.WarnContext(ctx, "dialog event not sent", "dialog", dialogID, "err", err)
	}
}

// Dialog returns one of the caller's dialogs; one the caller is not in is
// not found, like one that does not exist (the read goes through the
// caller's membership).
//
// A group the caller was removed from or left is shown as it was for them
// (DialogView.Membership).
func (s *Service) Dialog(ctx context.Context, p Principal, dialogID int64) (DialogView, error) {
	views, err := s.viewsByID(ctx, p.UserID, dialogID, []int64{p.UserID})
	if errors.Is(err, ErrNotFound) {
		entries, ferr := s.store.FormerEntries(ctx, p.UserID, []int64{dialogID}, true)
		if ferr != nil {
			return DialogView{}, ferr
		}
		if len(entries) == 0 {
			return DialogView{}, err
		}
		fv, ferr := s.dialogViews(ctx, entries, []int64{p.UserID})
		if ferr != nil {
			return DialogView{}, ferr
		}
		return fv[p.UserID][0], nil
	}
	if err != nil {
		return DialogView{}, err
	}
	return views[p.UserID], nil
}

// viewsByID builds one dialog's view for each viewer, reading the dialog as
// the dialog list does (UserDialogs, through member's membership): with its
// newest message. ErrNotFound when member is not in it.
func (s *Service) viewsByID(ctx context.Context, member, dialogID int64, viewers []int64) (map[int64]DialogView, error) {
	entries, err := s.store.UserDialogs(ctx, member, []int64{dialogID})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errDialogNotFound
	}
	views, err := s.dialogViews(ctx, entries, viewers)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]DialogView, len(viewers))
	for _, uid := range viewers {
		out[uid] = views[uid][0]
	}
	return out, nil
}

// DialogVersion is a token that changes whenever one of the caller's
// dialogs, as a screen shows it, changes: for ETags without reading it.
// It carries the media URL bucket, since the attachment URLs a screen
// shows change with it (a 304 must not keep a shell on expired URLs).
func (s *Service) DialogVersion(ctx context.Context, p Principal, dialogID int64) (string, error) {
	if _, err := s.members.Access(ctx, p, dialogID); err != nil {
		return "", err
	}
	v, err := s.store.DialogVersion(ctx, dialogID)
	return s.withMediaEpoch(v), err
}

// DialogsVersion is a token that changes whenever the caller's dialog list
// changes, the media URL bucket included (last messages show attachments).
func (s *Service) DialogsVersion(ctx context.Context, p Principal) (string, error) {
	v, err := s.store.DialogsVersion(ctx, p.UserID)
	return s.withMediaEpoch(v), err
}

func (s *Service) withMediaEpoch(v string) string {
	return v + "/m" + strconv.FormatInt(MediaEpoch(s.now()), 10)
}

// Dialogs lists the caller's dialogs, most recent first.
func (s *Service) Dialogs(ctx context.Context, p Principal, cursor string, limit int) (DialogPage, error) {
	after, err := parseCursor(cursor)
	if err != nil {
		return DialogPage{}, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	entries, err := s.store.Dialogs(ctx, p.UserID, after, limit+1)
	if err != nil {
		return DialogPage{}, err
	}
	// Groups the caller was removed from or left are listed too, by when
	// that happened: the two pages merge into one by (time, id).
	former, err := s.store.FormerDialogs(ctx, p.UserID, after, limit+1)
	if err != nil {
		return DialogPage{}, err
	}
	entries = mergeEntries(entries, former)
	page := DialogPage{Dialogs: []DialogView{}}
	if len(entries) > limit {
		entries = entries[:limit]
		page.NextCursor = formatCursor(entryCursor(entries[limit-1]))
	}
	views, err := s.dialogViews(ctx, entries, []int64{p.UserID})
	if err != nil {
		return DialogPage{}, err
	}
	page.Dialogs = append(page.Dialogs, views[p.UserID]...)
	return page, nil
}

// pinnedOf reads the pinned messages of the entries in one query: those
// not deleted, and for a former member only up to their end.
func (s *Service) pinnedOf(ctx context.Context, entries []DialogEntry) (map[int64]Message, error) {
	var keys []MessageKey
	for _, e := range entries {
		if q := e.Dialog.PinnedSeq; q > 0 && q >= e.Self.VisibleFrom && (e.Former == nil || q <= e.Former.EndSeq) {
			keys = append(keys, MessageKey{e.Dialog.ID, q})
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	msgs, err := s.store.MessagesAt(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Message, len(msgs))
	for _, m := range msgs {
		if m.DeletedAt.IsZero() {
			out[m.DialogID] = m
		}
	}
	return out, nil
}

// entryCursor is where an entry stands in the dialog list: the dialog's
// UpdatedAt, or for a former member when their membership ended.
func entryCursor(e DialogEntry) DialogCursor {
	if e.Former != nil {
		return DialogCursor{UpdatedAt: e.Former.EndedAt, ID: e.Dialog.ID}
	}
	return DialogCursor{UpdatedAt: e.Dialog.UpdatedAt(), ID: e.Dialog.ID}
}

// mergeEntries merges two lists each ordered by entryCursor descending.
func mergeEntries(a, b []DialogEntry) []DialogEntry {
	if len(b) == 0 {
		return a
	}
	out := make([]DialogEntry, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		ca, cb := entryCursor(a[0]), entryCursor(b[0])
		if ca.UpdatedAt.After(cb.UpdatedAt) || ca.UpdatedAt.Equal(cb.UpdatedAt) && ca.ID > cb.ID {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// dialogViews is the one place a dialog view is built: the chat list, one
// dialog, a dialog got or created, the dialog event and the chat list's
// live patches (chat/live reads DialogRows) all come from it. It renders
// entries as read by the store's one entry query (Dialogs, UserDialogs:
// with the newest message) for each viewer, since titles, avatars, unread
// counts and message statuses depend on who looks. A page costs two more
// queries whatever its length: the members of every dialog, and their
// profiles.
func (s *Service) dialogViews(ctx context.Context, entries []DialogEntry, viewers []int64) (map[int64][]DialogView, error) {
	vd, err := s.loadViews(ctx, entries, viewers)
	if err != nil {
		return nil, err
	}
	out := make(map[int64][]DialogView, len(viewers))
	for _, viewer := range viewers {
		if out[viewer], err = s.dialogViewsFor(ctx, vd, viewer); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// viewData is what dialog views are built from, read once for any number
// of viewers: the entries, every dialog's members, the profiles of the
// first GroupMembersPreview of each, and the subject cards.
type viewData struct {
	entries []DialogEntry
	members [][]Member // by entry
	byID    map[int64]User
	cards   map[string]*SubjectCard
	pinned  map[int64]Message // by dialog: its pinned message, if any
}

// loadViews reads what the views of entries need: two queries (members,
// profiles), one for the pinned messages when any is pinned, plus one per
// distinct subject card. viewers matter only for
// a former member's entry, whose view lists the viewer alone.
func (s *Service) loadViews(ctx context.Context, entries []DialogEntry, viewers []int64) (*viewData, error) {
	dialogIDs := make([]int64, 0, len(entries))
	for _, e := range entries {
		if e.Former == nil { // a former member sees none of the members
			dialogIDs = append(dialogIDs, e.Dialog.ID)
		}
	}
	all, err := s.store.MembersOf(ctx, dialogIDs)
	if err != nil {
		return nil, err
	}
	byDialog := make(map[int64][]Member, len(entries))
	ids := make([]int64, 0, len(all))
	for _, m := range all {
		byDialog[m.DialogID] = append(byDialog[m.DialogID], m)
		// A group's members are paged (GroupMembers); its view carries
		// the profiles of the first GroupMembersPreview, so a page of
		// views stays bounded however large its groups.
		if len(byDialog[m.DialogID]) <= GroupMembersPreview {
			ids = append(ids, m.UserID)
		}
	}
	vd := &viewData{entries: entries, members: make([][]Member, len(entries))}
	for i, e := range entries {
		if e.Former == nil {
			vd.members[i] = byDialog[e.Dialog.ID]
		}
	}
	if len(dialogIDs) < len(entries) {
		ids = append(ids, viewers...) // a former member's view lists them alone
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	users, err := s.store.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	vd.byID = make(map[int64]User, len(users))
	for _, u := range users {
		vd.byID[u.ID] = u
	}
	vd.cards = s.subjectCards(ctx, entries)
	if vd.pinned, err = s.pinnedOf(ctx, entries); err != nil {
		return nil, err
	}
	return vd, nil
}

// dialogViewsFor builds the views of vd's entries as viewer sees them. It reads
// nothing unless a direct partner has no name (then whether viewer knows
// the partner's phone: one query).
func (s *Service) dialogViewsFor(ctx context.Context, vd *viewData, viewer int64) ([]DialogView, error) {
	var err error
	views := make([]DialogView, 0, len(vd.entries))
	for i, e := range vd.entries {
		d := e.Dialog
		v := DialogView{
			ID:          FormatID(d.ID),
			Kind:        d.Kind,
			Title:       d.Title,
			Subject:     d.Subject,
			SubjectCard: vd.cards[d.Subject],
			UpdatedAt:   d.UpdatedAt().UTC(),
		}
		self := e.Self
		for j, m := range vd.members[i] {
			if m.UserID == viewer {
				self = m
			}
			if j >= GroupMembersPreview {
				continue
			}
			u, ok := vd.byID[m.UserID]
			if !ok {
				continue
			}
			// Members see each other's phones only as contacts allow;
			// the dialog list does not reveal numbers.
			v.Members = append(v.Members, u.Profile(u.ID == viewer))
			if d.Kind == DialogDirect && u.ID != viewer {
				v.Title = strings.TrimSpace(u.FirstName + " " + u.LastName)
				if v.Title == "" {
					if v.Title, err = s.namelessTitle(ctx, viewer, u); err != nil {
						return nil, err
					}
				}
				if u.Avatar != "" {
					v.AvatarURL, v.AvatarThumbURL = AvatarURL(u.Avatar), AvatarThumbURL(u.Avatar)
				}
			}
		}
		if d.Kind == DialogGroup {
			v.MemberCount = len(vd.members[i])
			v.Role = self.Role
			v.Permissions = GroupPermissions(self.Role)
			hv := d.HistoryVisible
			v.HistoryVisible = &hv
			if d.Avatar != "" {
				v.AvatarURL, v.AvatarThumbURL = s.groupPhotoURLs(d.ID, d.Avatar)
			}
		} else if d.Avatar != "" {
			v.AvatarURL, v.AvatarThumbURL = AvatarURL(d.Avatar), AvatarThumbURL(d.Avatar)
		}
		if pm, ok := vd.pinned[d.ID]; ok {
			var mv MessageView
			if e.Former != nil {
				mv = withheldMedia(s.viewAmong(pm, nil))
			} else {
				mv = s.viewAmong(pm, vd.members[i])
			}
			v.Pinned = &mv
		}
		if e.Former != nil {
			// What they saw last: no members, role, unread or media,
			// and the list orders it by when it ended.
			v.MemberCount, v.Role, v.Permissions, v.Members = 0, "", nil, nil
			if u, ok := vd.byID[viewer]; ok {
				v.Members = []Profile{u.Profile(true)}
			}
			v.Membership, v.UpdatedAt = e.Former.Reason, e.Former.EndedAt.UTC()
			v.AvatarURL, v.AvatarThumbURL = "", ""
			if e.Former.Title != "" {
				v.Title = e.Former.Title // not a rename after the removal
			}
			if e.LastMessage != nil {
				mv := withheldMedia(s.viewAmong(*e.LastMessage, nil))
				v.LastMessage = &mv
			}
			views = append(views, v)
			continue
		}
		v.Unread = self.Unread(d)
		if ms := muteState(d.ID, self.MutedUntil, s.now()); ms.Muted {
			v.Muted, v.MutedUntil = true, ms.MutedUntil
		}
		if e.LastMessage != nil {
			mv := s.viewAmong(*e.LastMessage, vd.members[i])
			v.LastMessage = &mv
		}
		views = append(views, v)
	}
	return views, nil
}

// DialogRows is one dialog read once as the chat list shows it, for any
// number of its members: the live patches of a message to N members
// watching their chat lists cost the reads of one (three queries: the
// dialog with its newest message, its members, their profiles) instead
// of N times that. It is a snapshot: use it for the deliveries of the one
// event it was read for, not later.
type DialogRows struct {
	s  *Service
	vd *viewData
}

// DialogRows reads dialogID through the membership of p (not found when p
// is not in it, like Dialog) for building the chat list rows of its
// members with Row.
func (s *Service) DialogRows(ctx context.Context, p Principal, dialogID int64) (*DialogRows, error) {
	entries, err := s.store.UserDialogs(ctx, p.UserID, []int64{dialogID})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errDialogNotFound
	}
	vd, err := s.loadViews(ctx, entries, []int64{p.UserID})
	if err != nil {
		return nil, err
	}
	return &DialogRows{s: s, vd: vd}, nil
}

// Row is the dialog as viewer's chat list shows it: what Dialog answers
// viewer as of the snapshot. A viewer who was not a member when it was
// read gets not found.
func (r *DialogRows) Row(ctx context.Context, viewer int64) (DialogView, error) {
	if !slices.ContainsFunc(r.vd.members[0], func(m Member) bool { return m.UserID == viewer }) {
		return DialogView{}, errDialogNotFound
	}
	views, err := r.s.dialogViewsFor(ctx, r.vd, viewer)
	if err != nil {
		return DialogView{}, err
	}
	return views[0], nil
}

// Send stores a message and fans it out. origin is the sending WebSocket
// connection (0 for REST), which gets the answer instead of the event.
// created is false for a retry: the sender already sent this payload under
// the client_id in this dialog, and the stored message is returned with
// nothing stored or published. The same client_id with a different
// payload is ErrClientIDConflict. The REST limit is checked before any
// read.
func (s *Service) Send(ctx context.Context, p Principal, origin int64, req SendRequest) (m MessageView, created bool, err error) {
	if !validClientID(req.ClientID) {
		return MessageView{}, false, ErrInvalidClientID
	}
	if origin == 0 {
		// The WebSocket limits each connection; REST sends are limited per
		// user, so a script cannot go around that.
		if err := s.allow(ctx, "send:user:"+FormatID(p.UserID), limitRESTSendPerUser); err != nil {
			return MessageView{}, false, err
		}
	}
	members, err := s.members.Check(ctx, p, req.DialogID)
	if err != nil {
		return MessageView{}, false, err
	}
	ups, err := s.attachments(ctx, p, req.Attachments)
	if err != nil {
		return MessageView{}, false, err
	}
	// A photo needs no caption; a message without attachments needs text.
	text, err := cleanText(req.Text)
	if err != nil && !(ups != nil && strings.TrimSpace(req.Text) == "" && utf8.ValidString(req.Text)) {
		return MessageView{}, false, err
	}
	ents, err := checkEntities(req.Entities, text, members)
	if err != nil {
		return MessageView{}, false, err
	}
	replied, err := s.replyTarget(ctx, p, req.DialogID, req.ReplyTo)
	if err != nil {
		return MessageView{}, false, err
	}
	ids := make([]string, len(ups))
	for i, u := range ups {
		ids[i] = FormatID(u.ID)
	}
	digest := PayloadDigest(text, ids)
	if req.ReplyTo > 0 || ents != nil {
		digest = PayloadDigest(text, append(ids, "reply:"+FormatID(req.ReplyTo), "entities:"+string(ents)))
	}
	// Last, once the send is valid: the uploads become the message's.
	att, err := s.claimUploads(ctx, p, req.DialogID, req.ClientID, ups)
	if err != nil {
		return MessageView{}, false, err
	}
	app := &Append{Msg: Message{
		DialogID:    req.DialogID,
		SenderID:    p.UserID,
		ClientID:    req.ClientID,
		Text:        text,
		Attachments: att,
		Digest:      digest,
		CreatedAt:   s.now().UTC().Truncate(time.Microsecond),
		ReplyTo:     req.ReplyTo,
		Entities:    ents,
		replied:     replied,
	}}
	if err := s.commitAndWait(ctx, &job{app: app, members: members, origin: origin}); err != nil {
		return MessageView{}, false, err
	}
	if !app.Dup {
		s.queuePreview(app.Msg, req.NoPreview)
		v := s.view(app.Msg, StatusSent)
		s.emitBusinessMessage(ctx, members, v)
		return v, true, nil
	}
	if !app.Msg.SamePayload(digest) {
		return MessageView{}, false, ErrClientIDConflict
	}
	// A retry: report the status the message has reached by now.
	ms, err := s.store.Members(ctx, req.DialogID)
	if err != nil {
		return MessageView{}, false, err
	}
	return s.viewAmong(app.Msg, ms), false, nil
}

// commitAndWait queues a job and waits for its transaction.
func (s *Service) commitAndWait(ctx context.Context, j *job) error {
	j.done = make(chan error, 1)
	if err := s.commits.submit(ctx, j); err != nil {
		return err
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		// The write may still happen; a retry with the same client_id
		// finds it.
		return ctx.Err()
	}
}

// MarkDelivered records that the caller's device received everything up to
// seq. It returns once the receipt is queued: receipts are idempotent and
// monotonic, so a lost one is repaired by the next.
func (s *Service) MarkDelivered(ctx context.Context, p Principal, dialogID, seq int64) error {
	return s.receipt(ctx, p, dialogID, seq, 0, false)
}

// MarkRead records that the caller read everything up to seq (without
// waiting, for the WebSocket).
func (s *Service) MarkRead(ctx context.Context, p Principal, dialogID, seq int64) error {
	return s.receipt(ctx, p, dialogID, seq, seq, false)
}

// Read records a read and answers the caller's watermarks after it (REST).
func (s *Service) Read(ctx context.Context, p Principal, dialogID, seq int64) (Receipts, error) {
	members, err := s.members.Check(ctx, p, dialogID)
	if err != nil {
		return Receipts{}, err
	}
	if seq <= 0 {
		return Receipts{}, ErrInvalidSeq
	}
	r := &Receipt{DialogID: dialogID, UserID: p.UserID, Delivered: seq, Read: seq, WantSenders: len(members) > 2}
	if err := s.commitAndWait(ctx, &job{rcpt: r, members: members}); err != nil {
		return Receipts{}, err
	}
	return Receipts{DialogID: FormatID(dialogID), DeliveredSeq: r.Result.DeliveredSeq, ReadSeq: r.Result.ReadSeq}, nil
}

func (s *Service) receipt(ctx context.Context, p Principal, dialogID, delivered, read int64, wait bool) error {
	if delivered <= 0 {
		return ErrInvalidSeq
	}
	members, err := s.members.Check(ctx, p, dialogID)
	if err != nil {
		return err
	}
	j := &job{rcpt: &Receipt{DialogID: dialogID, UserID: p.UserID, Delivered: delivered, Read: read, WantSenders: len(members) > 2}, members: members}
	if wait {
		return s.commitAndWait(ctx, j)
	}
	return s.commits.submit(ctx, j)
}

// Typing tells the other members that the caller is typing. Typing is not
// stored; repeats within a few seconds are dropped, since shells show the
// indicator for that long anyway. A broker failure is logged, not
// answered.
func (s *Service) Typing(ctx context.Context, p Principal, dialogID int64) error {
	members, err := s.members.Check(ctx, p, dialogID)
	if err != nil {
		return err
	}
	key := [2]int64{p.UserID, dialogID}
	now := s.now()
	if last, ok := s.typing.Get(key); ok && now.Sub(last) < typingInterval {
		return nil
	}
	s.typing.Add(key, now)
	pubs := appendEvent(nil, Event{Type: EventTyping, DialogID: dialogID, UserID: p.UserID}, 0, members, p.UserID)
	if err := s.broker.Publish(ctx, pubs...); err != nil {
		// Typing is best effort, like every live event: a lost one is
		// shown by the next keystroke. The caller is not told (it is not
		// their fault, and there is nothing to retry).
		s.log.WarnContext(ctx, "typing not published", "dialog", dialogID, "err", err)
	}
	return nil
}

// History returns messages of a dialog with seq < before (before <= 0: the
// newest), in seq order.
func (s *Service) History(ctx context.Context, p Principal, dialogID, before int64, limit int) ([]MessageView, error) {
	acc, err := s.members.Access(ctx, p, dialogID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	if acc.Until > 0 && (before <= 0 || before > acc.Until+1) {
		before = acc.Until + 1 // a former member reads up to their removal
	}
	msgs, err := s.store.Messages(ctx, dialogID, before, limit)
	if err != nil {
		return nil, err
	}
	return s.viewsFor(ctx, dialogID, readable(msgs, acc), acc)
}

// readable drops the messages the access does not reach: before the
// member's first visible seq, or after a former member's end, or changed
// after it (Access.AllowsMessage).
func readable(msgs []Message, acc Access) []Message {
	if acc.From <= 1 && acc.Until == 0 {
		return msgs
	}
	return slices.DeleteFunc(msgs, func(m Message) bool { return !acc.AllowsMessage(m) })
}

// viewsFor is views for a reader with the access: a former member gets
// no media (withheldMedia).
func (s *Service) viewsFor(ctx context.Context, dialogID int64, msgs []Message, acc Access) ([]MessageView, error) {
	out, err := s.views(ctx, dialogID, msgs)
	if err != nil || acc.Former == nil {
		return out, err
	}
	for i := range out {
		out[i] = withheldMedia(out[i])
	}
	return out, nil
}

// withheldMedia is a message as a former member of its group sees it:
// without attachments (their URLs are the dialog's, which they lost with
// their membership) and without a link preview's image; a listing card
// (no media) stays.
func withheldMedia(v MessageView) MessageView {
	v.Attachments = emptyArray
	if v.Preview != nil && v.Preview.Image != nil {
		pv := *v.Preview
		pv.Image = nil
		v.Preview = &pv
	}
	return v
}

// visibleFrom drops the messages before from: a member added to a group
// that hides its history reads from their join (Member.VisibleFrom).
func visibleFrom(msgs []Message, from int64) []Message {
	if from <= 1 {
		return msgs
	}
	return slices.DeleteFunc(msgs, func(m Message) bool { return m.Seq < from })
}

// views renders messages with their statuses from the members' current
// watermarks.
func (s *Service) views(ctx context.Context, dialogID int64, msgs []Message) ([]MessageView, error) {
	out := make([]MessageView, len(msgs))
	if len(msgs) == 0 {
		return out, nil
	}
	ms, err := s.store.Members(ctx, dialogID)
	if err != nil {
		return nil, err
	}
	for i, m := range msgs {
		out[i] = s.viewAmong(m, ms)
	}
	return out, s.withReplies(ctx, dialogID, msgs, out)
}

// Changes returns the messages of a dialog changed after the change
// number since (new, edited or deleted: each once, as it is now), in
// change order, at most limit (default DefaultPage, at most MaxPage). A
// client pages forward with since = the last message's Change.
func (s *Service) Changes(ctx context.Context, p Principal, dialogID, since int64, limit int) ([]MessageView, error) {
	if since < 0 {
		return nil, ErrInvalidSince
	}
	acc, err := s.members.Access(ctx, p, dialogID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	msgs, err := s.store.Changes(ctx, dialogID, since, limit)
	if err != nil {
		return nil, err
	}
	// A member who reads from their join skips older messages changed
	// since; a page they emptied entirely would read as caught up, so
	// the next ones are read (a few at most: the work stays bounded).
	for range 4 {
		if len(msgs) < limit || len(readable(slices.Clone(msgs), acc)) > 0 {
			break
		}
		if msgs, err = s.store.Changes(ctx, dialogID, msgs[len(msgs)-1].Change, limit); err != nil {
			return nil, err
		}
	}
	return s.viewsFor(ctx, dialogID, readable(msgs, acc), acc)
}

// Sync answers a device that resumes after a gap, streaming: it reads at
// most SyncPage messages at a time and hands each to emit, in order, before
// reading more, so a sync holds one page however long the backlog; emit
// writes to the connection (waiting on its outbox) and its error ends the
// sync. One sync replays at most MaxSyncMessages messages over at most
// MaxSyncDialogs dialogs; More says there is more, and the device syncs
// again from the answer.
//
// Each dialog is in one of the request's two forms (SyncRequest): by seq,
// the messages after the seq held, in seq order; by change cursor, every
// message changed after it, in change order. A dialog the caller is not in
// fails the whole request with not_found before anything is sent.
//
// The work is bounded per request, not per dialog: one query checks every
// dialog's membership and reads its counters, one (rarely two) reads the
// members of the dialogs with something new that the request reaches (for
// statuses), and then one query per page of messages; dialogs with nothing
// new, or beyond the cap, cost nothing more.
func (s *Service) Sync(ctx context.Context, p Principal, req SyncRequest, emit func(MessageView) error) (SyncResult, error) {
	if len(req.Seqs)+len(req.Since) > MaxSyncDialogs {
		return SyncResult{}, ErrTooManyDialogs
	}
	ids := make([]int64, 0, len(req.Seqs)+len(req.Since))
	for id, seq := range req.Seqs {
		if seq < 0 {
			return SyncResult{}, ErrInvalidSeq
		}
		if _, both := req.Since[id]; both {
			return SyncResult{}, &Error{Kind: KindInvalid, Code: "invalid_frame", Message: "A dialog is synced by seq or by change cursor, not both."}
		}
		ids = append(ids, id)
	}
	for id, c := range req.Since {
		if c < 0 {
			return SyncResult{}, ErrInvalidSince
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	res := SyncResult{Synced: make(map[string]int64, len(req.Seqs)), Since: make(map[string]int64, len(req.Since))}
	if len(ids) == 0 {
		return res, nil
	}
	release, err := s.syncSlot(ctx)
	if err != nil {
		return SyncResult{}, err
	}
	entries, err := s.store.Memberships(ctx, p.UserID, ids)
	release()
	if err != nil {
		return SyncResult{}, err
	}
	if len(entries) != len(ids) {
		// Groups the caller was removed from or left sync up to the end
		// of their membership.
		var missing []int64
		for _, id := range ids {
			if !slices.ContainsFunc(entries, func(e DialogEntry) bool { return e.Dialog.ID == id }) {
				missing = append(missing, id)
			}
		}
		former, err := s.store.FormerEntries(ctx, p.UserID, missing, false)
		if err != nil {
			return SyncResult{}, err
		}
		if len(entries)+len(former) != len(ids) {
			return SyncResult{}, errDialogNotFound
		}
		entries = append(entries, former...)
	}
	dialogs := make(map[int64]Dialog, len(entries))
	floors := make(map[int64]int64, len(entries))
	ends := map[int64]int64{}       // former members: the last seq they read
	endChanges := map[int64]int64{} // and the last change (FormerMember.EndChange)
	for _, e := range entries {
		dialogs[e.Dialog.ID] = e.Dialog
		floors[e.Dialog.ID] = e.Self.VisibleFrom
		if e.Former != nil {
			ends[e.Dialog.ID] = e.Former.EndSeq
			if e.Former.EndChange > 0 {
				endChanges[e.Dialog.ID] = e.Former.EndChange
			}
		}
	}
	// Where each dialog stands, and whether it has anything new.
	cursors := make([]syncCursor, 0, len(ids))
	for _, id := range ids {
		c := syncCursor{id: id, at: max(req.Seqs[id], floors[id]-1), end: dialogs[id].LastSeq}
		if end, ok := ends[id]; ok {
			c.end = min(c.end, end)
		}
		if at, ok := req.Since[id]; ok {
			c.byChange, c.at, c.end = true, at, dialogs[id].LastChange
			if end, ok := endChanges[id]; ok {
				c.end = min(c.end, end) // nothing changed after a removal
			}
		}
		cursors = append(cursors, c)
	}
	// Members (for statuses) are read for the dialogs behind that this
	// request can reach: from the first without them, as many as the
	// budget covers by their counters (exact for seqs; an upper bound for
	// changes, whose rows may be fewer, so a second read may follow).
	members := map[int64][]Member{}
	loadMembers := func(from, budget int) error {
		var window []int64
		for _, c := range cursors[from:] {
			if budget <= 0 {
				break
			}
			if c.at < c.end {
				window = append(window, c.id)
				budget -= int(min(c.end-c.at, int64(budget)))
			}
		}
		ms, err := s.store.MembersOf(ctx, window)
		for _, m := range ms {
			members[m.DialogID] = append(members[m.DialogID], m)
		}
		for _, id := range window {
			if members[id] == nil {
				members[id] = []Member{} // loaded, whatever it holds
			}
		}
		return err
	}
	// Pages of at most SyncPage messages, each read by one batched store
	// call over the dialogs it reaches (Resume), in dialog order: a
	// dialog's window is what it still has by its counters (an upper
	// bound for changes), cut by the page's room and the budget; a cut
	// dialog goes on at the head of the next page.
	budget := MaxSyncMessages
	next := 0 // the first cursor not caught up
	for budget > 0 {
		for next < len(cursors) && (cursors[next].done || cursors[next].at >= cursors[next].end) {
			next++
		}
		if next == len(cursors) {
			break
		}
		release, err := s.syncSlot(ctx)
		if err != nil {
			return SyncResult{}, err
		}
		windows, idx, pages, views, err := s.syncPage(ctx, cursors[next:], next, budget, dialogs, members, loadMembers)
		release()
		if err != nil {
			return SyncResult{}, err
		}
		for w, page := range pages {
			c := &cursors[idx[w]]
			for i, m := range page {
				if c.byChange {
					c.at = m.Change
				} else {
					c.at = m.Seq
				}
				c.moved = true
				if m.Seq < floors[c.id] {
					continue // from before the caller joined a group that hides it
				}
				v := views[w][i]
				if end, ok := ends[c.id]; ok {
					if m.Seq > end {
						continue // after the caller's removal
					}
					if ec, ok := endChanges[c.id]; ok && m.Change > ec {
						continue // changed after it: its content is not theirs
					}
					v = withheldMedia(v)
				}
				if err := emit(v); err != nil {
					return SyncResult{}, err
				}
			}
			budget -= len(page)
			if len(page) < windows[w].Limit {
				// Caught up (anything newer than the counters read comes
				// live); a change cursor may stop short of its counter.
				c.done = true
			}
		}
		for next < len(cursors) && (cursors[next].done || cursors[next].at >= cursors[next].end) {
			next++
		}
	}
	for i := range cursors {
		c := &cursors[i]
		if end, ok := ends[c.id]; ok && !c.byChange && c.at > end {
			c.at = end // a page read past a former member's end
		}
		if end, ok := endChanges[c.id]; ok && c.byChange && c.at > end {
			c.at = end
		}
		if c.at < c.end && !c.done {
			res.More = true
		}
		if c.at > c.end && !c.moved {
			// A cursor past the dialog's end is a client's mistake;
			// answering it back would skip the changes up to it.
			c.at = c.end
		}
	}
	for _, c := range cursors {
		if c.byChange {
			res.Since[FormatID(c.id)] = c.at
		} else {
			res.Synced[FormatID(c.id)] = c.at
		}
	}
	return res, nil
}

// syncCursor is where a sync stands in one dialog.
type syncCursor struct {
	id       int64
	byChange bool
	at, end  int64 // the seq or change held, and the dialog's newest
	moved    bool  // at moved past a replayed message
	done     bool  // caught up short of end (changes are fewer than their numbers)
}

// syncPage reads one sync page: the windows of the cursors it reaches
// (from cursors[0], which is the request's cursor number first), each
// answered from the recent-changes cache when it stands at the counters
// read for the request, the others by one batched store call, and their
// views. idx maps each window to its cursor.
func (s *Service) syncPage(ctx context.Context, cursors []syncCursor, first, budget int, dialogs map[int64]Dialog, members map[int64][]Member,
	loadMembers func(from, budget int) error) (windows []ResumeWindow, idx []int, pages [][]Message, views [][]MessageView, err error) {
	room := min(SyncPage, budget)
	for i := range cursors {
		if room <= 0 {
			break
		}
		c := &cursors[i]
		if c.at >= c.end || c.done {
			continue
		}
		if members[c.id] == nil {
			if err := loadMembers(first+i, budget); err != nil {
				return nil, nil, nil, nil, err
			}
		}
		n := int(min(c.end-c.at, int64(room)))
		windows = append(windows, ResumeWindow{DialogID: c.id, ByChange: c.byChange, At: c.at, Limit: n})
		idx = append(idx, first+i)
		room -= n
	}
	pages = make([][]Message, len(windows))
	var missed []ResumeWindow
	var missedAt []int
	for w, win := range windows {
		d := dialogs[win.DialogID]
		if msgs, ok := s.recent.read(win, d.LastSeq, d.LastChange); ok {
			pages[w] = msgs
			s.syncCached.Add(1)
			continue
		}
		s.syncRead.Add(1)
		missed, missedAt = append(missed, win), append(missedAt, w)
	}
	if len(missed) > 0 {
		read, err := s.store.Resume(ctx, missed)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		for j, w := range missedAt {
			pages[w] = read[j]
		}
	}
	views, err = s.syncViews(ctx, pages, windows, members)
	return windows, idx, pages, views, err
}

// EditMessage replaces the text of one of the caller's messages; every
// member gets the edited message as a message event with the same id and
// the edit's change number.
func (s *Service) EditMessage(ctx context.Context, p Principal, dialogID, seq int64, text string) (MessageView, error) {
	if err := s.allow(ctx, "send:user:"+FormatID(p.UserID), limitRESTSendPerUser); err != nil {
		return MessageView{}, err
	}
	members, err := s.members.Check(ctx, p, dialogID)
	if err != nil {
		return MessageView{}, err
	}
	text, err = cleanText(text)
	if err != nil {
		return MessageView{}, err
	}
	m, err := s.store.EditMessage(ctx, dialogID, seq, p.UserID, text, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return MessageView{}, err
	}
	return s.announceChange(ctx, m, members)
}

// DeleteMessage drops the content of one of the caller's messages (or,
// for a group's admins and owner, of anyone's), keeping its seq; every member sees it deleted (live, or by a sync from a change
// cursor), and it no longer counts as unread. Its attachments' files are
// removed from disk once the deletion is committed, so their URLs answer
// 404 from then on.
func (s *Service) DeleteMessage(ctx context.Context, p Principal, dialogID, seq int64) (MessageView, error) {
	if err := s.allow(ctx, "send:user:"+FormatID(p.UserID), limitRESTSendPerUser); err != nil {
		return MessageView{}, err
	}
	members, err := s.members.Check(ctx, p, dialogID)
	if err != nil {
		return MessageView{}, err
	}
	// A group's admins and owner may delete anyone's message
	// (ActionDeleteOthers); everyone else only their own.
	sender := p.UserID
	if entries, err := s.store.Memberships(ctx, p.UserID, []int64{dialogID}); err != nil {
		return MessageView{}, err
	} else if len(entries) == 1 && entries[0].Dialog.Kind == DialogGroup && GroupCan(entries[0].Self.Role, ActionDeleteOthers) {
		sender = 0
	}
	m, err := s.store.DeleteMessage(ctx, dialogID, seq, sender, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return MessageView{}, err
	}
	removed, _ := parseStored(m.Attachments)
	if id := previewUploadID(m.Preview); len(removed) > 0 || id != 0 {
		ids := make([]int64, 0, len(removed)+1)
		for _, a := range removed {
			if a.Kind == CardKind {
				continue // no upload behind it
			}
			if id, err := ParseID(a.ID); err == nil {
				ids = append(ids, id)
			}
		}
		if id != 0 {
			ids = append(ids, id)
		}
		// What fails here is left in state deleted for the collector.
		if _, err := s.removeUploads(ctx, ids, len(ids)); err != nil {
			s.log.WarnContext(ctx, "attachments of a deleted message not removed", "dialog", dialogID, "seq", seq, "err", err)
		}
	}
	return s.announceChange(ctx, m, members)
}

func (s *Service) announceChange(ctx context.Context, m Message, members []int64) (MessageView, error) {
	views, err := s.views(ctx, m.DialogID, []Message{m})
	if err != nil {
		return MessageView{}, err
	}
	pubs := appendEvent(nil, Event{Type: EventMessage, Message: &views[0]}, 0, members, 0)
	if err := s.broker.Publish(ctx, pubs...); err != nil {
		s.log.WarnContext(ctx, "change not published", "dialog", m.DialogID, "seq", m.Seq, "err", err)
	}
	return views[0], nil
}

// TotalUnread is the number of messages userID has not read over every
// dialog they are in: the badge of a push. One query, whatever the number
// of dialogs.
func (s *Service) TotalUnread(ctx context.Context, userID int64) (int64, error) {
	totals, err := s.store.UnreadTotals(ctx, []int64{userID})
	return totals[userID], err
}

// Connected is called when a user's first connection on this node opens;
// if the user was offline everywhere, their watchers hear they are online.
// A connection opening within the reconnect grace of the user's last close
// on this node (Config.PresenceGrace) does nothing: the user stayed online.
func (s *Service) Connected(ctx context.Context, userID int64) {
	if s.grace.reopened(userID) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), presenceTimeout)
	defer cancel()
	came, err := s.presence.Connect(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "presence connect failed", "user", userID, "err", err)
		return
	}
	if came {
		s.announcePresence(ctx, userID, true, time.Time{})
	}
}

// Disconnected is called when a user's last connection on this node
// closes. After the reconnect grace (Config.PresenceGrace; at once without
// one), unless a connection of the user opened on this node meanwhile, it
// records last seen as the time of this close (gathered with other
// disconnects and written together, see lastSeen) and, if the user is now
// offline everywhere, tells their watchers.
func (s *Service) Disconnected(ctx context.Context, userID int64) {
	now := s.now().UTC().Truncate(time.Second)
	if s.grace.closed(userID, now) {
		return
	}
	s.goOffline(userID, now)
}

// goOffline is the offline step of userID, whose last connection on this
// node closed at at.
func (s *Service) goOffline(userID int64, at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	defer cancel()
	s.seen.add(ctx, userID, at)
	gone, err := s.presence.Disconnect(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "presence disconnect failed", "user", userID, "err", err)
		return
	}
	if gone {
		s.announcePresence(ctx, userID, false, at)
	}
}

// announcePresence tells userID's watchers they came online or went
// offline (last seen at lastSeen), in a batch with other users' changes
// (announcer), and returns once it is published.
func (s *Service) announcePresence(_ context.Context, userID int64, online bool, lastSeen time.Time) {
	s.announce.announce(userID, online, lastSeen)
}

// PresenceAnnouncements reports the presence announcer's work since
// start, for load tests and metrics: batches (one watcher query each),
// the users they announced, and announcements made inline because the
// queue was full (one query each).
func (s *Service) PresenceAnnouncements() (batches, users, inline int64) {
	return s.announce.batches.Load(), s.announce.users.Load(), s.announce.inline.Load()
}

// textRule and subjectRule are the text policy (CleanText) of message
// text and of dialog subjects. Code point caps keep a grapheme-heavy text
// within its column (subject: 255 in VARCHAR(255) and the direct key).
var (
	textRule    = TextRule{MaxChars: MaxTextLen, MaxRunes: 4 * MaxTextLen, Multiline: true}
	subjectRule = TextRule{MaxChars: MaxSubjectLen, MaxRunes: 255, Optional: true}
)

// cleanText applies the text policy to a message's text.
func cleanText(s string) (string, error) {
	t, err := CleanText(s, textRule)
	if err != nil {
		return "", textError(ErrInvalidText, err)
	}
	return t, nil
}

func validClientID(s string) bool {
	if s == "" || len(s) > MaxClientIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Cursors are opaque to clients: base64 of "<updated_at unix micros>:<id>".
func formatCursor(c DialogCursor) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%d", c.UpdatedAt.UnixMicro(), c.ID))
}

func parseCursor(s string) (DialogCursor, error) {
	if s == "" {
		return DialogCursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return DialogCursor{}, ErrInvalidCursor
	}
	ts, id, ok := strings.Cut(string(raw), ":")
	if !ok {
		return DialogCursor{}, ErrInvalidCursor
	}
	us, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return DialogCursor{}, ErrInvalidCursor
	}
	return DialogCursor{UpdatedAt: time.UnixMicro(us).UTC(), ID: n}, nil
}
