package chat

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message and dialog limits.
const (
	MaxTextLen      = 4096 // characters
	MaxClientIDLen  = 64
	MaxSubjectLen   = 128
	DefaultPage     = 50
	MaxPage         = 200
	MaxSyncDialogs  = 500
	SyncPerDialog   = 500
	typingInterval  = 3 * time.Second
	presenceTimeout = 5 * time.Second
)

// Messaging errors.
var (
	ErrInvalidText     = &Error{Kind: KindInvalid, Code: "invalid_text", Message: "A message is 1 to 4096 characters of text."}
	ErrInvalidClientID = &Error{Kind: KindInvalid, Code: "invalid_client_id", Message: "client_id is 1 to 64 letters, digits, '-' or '_'."}
	ErrInvalidSeq      = &Error{Kind: KindInvalid, Code: "invalid_seq", Message: "seq is a positive integer."}
	ErrInvalidSubject  = &Error{Kind: KindInvalid, Code: "invalid_subject", Message: "A subject is at most 128 printable characters."}
	ErrSelfDialog      = &Error{Kind: KindInvalid, Code: "invalid_user", Message: "A direct dialog needs another user."}
	ErrInvalidCursor   = &Error{Kind: KindInvalid, Code: "invalid_cursor", Message: "The cursor is not one this server gave."}
	ErrTooManyDialogs  = &Error{Kind: KindInvalid, Code: "too_many_dialogs", Message: "Sync at most 500 dialogs at a time."}
	errDialogNotFound  = &Error{Kind: KindNotFound, Code: "not_found", Message: "No such dialog."}
)

// DialogView is a dialog in the wire form of the shell contract, as one
// member sees it: a direct dialog is titled by the partner.
type DialogView struct {
	ID             string       `json:"id"`
	Kind           DialogKind   `json:"kind"`
	Title          string       `json:"title"`
	AvatarURL      string       `json:"avatar_url"`
	AvatarThumbURL string       `json:"avatar_thumb_url"`
	Subject        string       `json:"subject,omitempty"`
	Members        []Profile    `json:"members,omitempty"`
	LastMessage    *MessageView `json:"last_message"`
	Unread         int64        `json:"unread"`
	UpdatedAt      time.Time    `json:"updated_at"`
	// Muted says the caller muted the dialog (no pushes for it); MutedUntil
	// is when that ends, absent while not muted or muted until unmuted.
	Muted      bool       `json:"muted"`
	MutedUntil *time.Time `json:"muted_until,omitempty"`
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
// optional subject, creating it on first use; created says which.
func (s *Service) OpenDirect(ctx context.Context, p Principal, otherID int64, subject string) (DialogView, bool, error) {
	if otherID == p.UserID {
		return DialogView{}, false, ErrSelfDialog
	}
	subject = strings.TrimSpace(subject)
	if !printable(subject, MaxSubjectLen) {
		return DialogView{}, false, ErrInvalidSubject
	}
	if _, err := s.store.User(ctx, otherID); err != nil {
		return DialogView{}, false, err
	}
	if err := s.allow(ctx, "dialog:user:"+FormatID(p.UserID), limitDialogsPerUser); err != nil {
		return DialogView{}, false, err
	}
	d, created, err := s.store.DirectDialog(ctx, p.UserID, otherID, subject, s.now())
	if err != nil {
		return DialogView{}, false, err
	}
	views, err := s.dialogViews(ctx, []DialogEntry{{Dialog: d, Self: Member{DialogID: d.ID, UserID: p.UserID}}}, []int64{p.UserID, otherID})
	if err != nil {
		return DialogView{}, false, err
	}
	if created {
		s.announceDialog(ctx, d, p.UserID, otherID)
	}
	return views[p.UserID][0], created, nil
}

// announceDialog sends each member a dialog event, titled for them.
func (s *Service) announceDialog(ctx context.Context, d Dialog, a, b int64) {
	views, err := s.dialogViews(ctx, []DialogEntry{{Dialog: d}}, []int64{a, b})
	if err != nil {
		s.log.WarnContext(ctx, "dialog event not sent", "dialog", d.ID, "err", err)
		return
	}
	pubs := make([]Publication, 0, 2)
	for _, uid := range []int64{a, b} {
		pubs = appendEvent(pubs, Event{Type: EventDialog, Dialog: &views[uid][0]}, 0, []int64{uid}, 0)
	}
	if err := s.broker.Publish(ctx, pubs...); err != nil {
		s.log.WarnContext(ctx, "dialog event not sent", "dialog", d.ID, "err", err)
	}
}

// Dialog returns one of the caller's dialogs.
func (s *Service) Dialog(ctx context.Context, p Principal, dialogID int64) (DialogView, error) {
	if _, err := s.members.Check(ctx, p, dialogID); err != nil {
		return DialogView{}, err
	}
	d, err := s.store.Dialog(ctx, dialogID)
	if err != nil {
		return DialogView{}, err
	}
	// dialogViews finds the caller's own membership among the members.
	e := DialogEntry{Dialog: d}
	if d.LastSeq > 0 {
		last, err := s.store.Messages(ctx, dialogID, 0, 1)
		if err != nil {
			return DialogView{}, err
		}
		if len(last) == 1 {
			e.LastMessage = &last[0]
		}
	}
	views, err := s.dialogViews(ctx, []DialogEntry{e}, []int64{p.UserID})
	if err != nil {
		return DialogView{}, err
	}
	return views[p.UserID][0], nil
}

// DialogVersion is a token that changes whenever one of the caller's
// dialogs, as a screen shows it, changes: for ETags without reading it.
func (s *Service) DialogVersion(ctx context.Context, p Principal, dialogID int64) (string, error) {
	if _, err := s.members.Check(ctx, p, dialogID); err != nil {
		return "", err
	}
	return s.store.DialogVersion(ctx, dialogID)
}

// DialogsVersion is a token that changes whenever the caller's dialog list
// changes.
func (s *Service) DialogsVersion(ctx context.Context, p Principal) (string, error) {
	return s.store.DialogsVersion(ctx, p.UserID)
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
	page := DialogPage{Dialogs: []DialogView{}}
	if len(entries) > limit {
		entries = entries[:limit]
		last := entries[limit-1].Dialog
		page.NextCursor = formatCursor(DialogCursor{UpdatedAt: last.UpdatedAt(), ID: last.ID})
	}
	views, err := s.dialogViews(ctx, entries, []int64{p.UserID})
	if err != nil {
		return DialogPage{}, err
	}
	page.Dialogs = append(page.Dialogs, views[p.UserID]...)
	return page, nil
}

// dialogViews renders entries for each viewer: titles, avatars and message
// statuses depend on who looks. It loads all members' profiles in one call.
func (s *Service) dialogViews(ctx context.Context, entries []DialogEntry, viewers []int64) (map[int64][]DialogView, error) {
	dialogIDs := make([]int64, len(entries))
	for i, e := range entries {
		dialogIDs[i] = e.Dialog.ID
	}
	all, err := s.store.MembersOf(ctx, dialogIDs)
	if err != nil {
		return nil, err
	}
	byDialog := make(map[int64][]Member, len(entries))
	ids := make([]int64, 0, len(all))
	for _, m := range all {
		byDialog[m.DialogID] = append(byDialog[m.DialogID], m)
		ids = append(ids, m.UserID)
	}
	members := make([][]Member, len(entries))
	for i, e := range entries {
		members[i] = byDialog[e.Dialog.ID]
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	users, err := s.store.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	out := make(map[int64][]DialogView, len(viewers))
	for _, viewer := range viewers {
		views := make([]DialogView, 0, len(entries))
		for i, e := range entries {
			d := e.Dialog
			v := DialogView{
				ID:        FormatID(d.ID),
				Kind:      d.Kind,
				Title:     d.Title,
				Subject:   d.Subject,
				UpdatedAt: d.UpdatedAt().UTC(),
			}
			self := e.Self
			for _, m := range members[i] {
				if m.UserID == viewer {
					self = m
				}
				u, ok := byID[m.UserID]
				if !ok {
					continue
				}
				// Members see each other's phones only as contacts allow;
				// the dialog list does not reveal numbers.
				v.Members = append(v.Members, u.Profile(u.ID == viewer))
				if d.Kind == DialogDirect && u.ID != viewer {
					v.Title = strings.TrimSpace(u.FirstName + " " + u.LastName)
					if u.Avatar != "" {
						v.AvatarURL, v.AvatarThumbURL = AvatarURL(u.Avatar), AvatarThumbURL(u.Avatar)
					}
				}
			}
			if d.Kind != DialogDirect && d.Avatar != "" {
				v.AvatarURL, v.AvatarThumbURL = AvatarURL(d.Avatar), AvatarThumbURL(d.Avatar)
			}
			v.Unread = max(d.LastSeq-self.ReadSeq, 0)
			if ms := muteState(d.ID, self.MutedUntil, s.now()); ms.Muted {
				v.Muted, v.MutedUntil = true, ms.MutedUntil
			}
			if e.LastMessage != nil {
				mv := viewOf(*e.LastMessage, statusOf(*e.LastMessage, members[i]))
				v.LastMessage = &mv
			}
			views = append(views, v)
		}
		out[viewer] = views
	}
	return out, nil
}

// Send stores a message and fans it out. origin is the sending WebSocket
// connection (0 for REST), which gets the answer instead of the event. A
// retry with the same client_id returns the stored message and stores
// nothing.
func (s *Service) Send(ctx context.Context, p Principal, origin int64, req SendRequest) (MessageView, error) {
	if !validClientID(req.ClientID) {
		return MessageView{}, ErrInvalidClientID
	}
	members, err := s.members.Check(ctx, p, req.DialogID)
	if err != nil {
		return MessageView{}, err
	}
	att, err := s.attachments(ctx, p, req.Attachments)
	if err != nil {
		return MessageView{}, err
	}
	// A photo needs no caption; a message without attachments needs text.
	text, err := cleanText(req.Text)
	if err != nil && !(att != nil && strings.TrimSpace(req.Text) == "" && utf8.ValidString(req.Text)) {
		return MessageView{}, err
	}
	if origin == 0 {
		// The WebSocket limits each connection; REST sends are limited per
		// user, so a script cannot go around that.
		if err := s.allow(ctx, "send:user:"+FormatID(p.UserID), limitRESTSendPerUser); err != nil {
			return MessageView{}, err
		}
	}
	app := &Append{Msg: Message{
		DialogID:    req.DialogID,
		SenderID:    p.UserID,
		ClientID:    req.ClientID,
		Text:        text,
		Attachments: att,
		CreatedAt:   s.now().UTC().Truncate(time.Microsecond),
	}}
	if err := s.commitAndWait(ctx, &job{app: app, members: members, origin: origin}); err != nil {
		return MessageView{}, err
	}
	status := StatusSent
	if app.Dup {
		// A retry: report the status the message has reached by now.
		ms, err := s.store.Members(ctx, req.DialogID)
		if err != nil {
			return MessageView{}, err
		}
		status = statusOf(app.Msg, ms)
	}
	return viewOf(app.Msg, status), nil
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
	r := &Receipt{DialogID: dialogID, UserID: p.UserID, Delivered: seq, Read: seq}
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
	j := &job{rcpt: &Receipt{DialogID: dialogID, UserID: p.UserID, Delivered: delivered, Read: read}, members: members}
	if wait {
		return s.commitAndWait(ctx, j)
	}
	return s.commits.submit(ctx, j)
}

// Typing tells the other members that the caller is typing. Typing is not
// stored; repeats within a few seconds are dropped, since shells show the
// indicator for that long anyway.
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
	return s.broker.Publish(ctx, pubs...)
}

// History returns messages of a dialog with seq < before (before <= 0: the
// newest), in seq order.
func (s *Service) History(ctx context.Context, p Principal, dialogID, before int64, limit int) ([]MessageView, error) {
	if _, err := s.members.Check(ctx, p, dialogID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	msgs, err := s.store.Messages(ctx, dialogID, before, limit)
	if err != nil {
		return nil, err
	}
	return s.views(ctx, dialogID, msgs)
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
		out[i] = viewOf(m, statusOf(m, ms))
	}
	return out, nil
}

// Sync answers a client that resumes after a gap: for each dialog it holds,
// the messages after the seq it has, in order. A dialog with more than one
// round's worth sets More; the client syncs again from Synced.
func (s *Service) Sync(ctx context.Context, p Principal, have map[int64]int64) (SyncResult, error) {
	if len(have) > MaxSyncDialogs {
		return SyncResult{}, ErrTooManyDialogs
	}
	res := SyncResult{Messages: []MessageView{}, Synced: make(map[string]int64, len(have))}
	ids := make([]int64, 0, len(have))
	for id := range have {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		after := have[id]
		if after < 0 {
			return SyncResult{}, ErrInvalidSeq
		}
		if _, err := s.members.Check(ctx, p, id); err != nil {
			return SyncResult{}, err
		}
		msgs, err := s.store.MessagesAfter(ctx, id, after, SyncPerDialog)
		if err != nil {
			return SyncResult{}, err
		}
		views, err := s.views(ctx, id, msgs)
		if err != nil {
			return SyncResult{}, err
		}
		res.Messages = append(res.Messages, views...)
		if len(msgs) > 0 {
			after = msgs[len(msgs)-1].Seq
		}
		res.Synced[FormatID(id)] = after
		if len(msgs) == SyncPerDialog {
			res.More = true
		}
	}
	return res, nil
}

// EditMessage replaces the text of one of the caller's messages; the other
// members get the edited message as a message event with the same id.
func (s *Service) EditMessage(ctx context.Context, p Principal, dialogID, seq int64, text string) (MessageView, error) {
	members, err := s.members.Check(ctx, p, dialogID)
	if err != nil {
		return MessageView{}, err
	}
	if err := s.allow(ctx, "send:user:"+FormatID(p.UserID), limitRESTSendPerUser); err != nil {
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

// DeleteMessage drops the content of one of the caller's messages, keeping
// its seq; the other members see it deleted.
func (s *Service) DeleteMessage(ctx context.Context, p Principal, dialogID, seq int64) (MessageView, error) {
	members, err := s.members.Check(ctx, p, dialogID)
	if err != nil {
		return MessageView{}, err
	}
	if err := s.allow(ctx, "send:user:"+FormatID(p.UserID), limitRESTSendPerUser); err != nil {
		return MessageView{}, err
	}
	m, err := s.store.DeleteMessage(ctx, dialogID, seq, p.UserID, s.now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return MessageView{}, err
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

// Connected is called when a user's first connection on this node opens;
// if the user was offline everywhere, their watchers hear they are online.
func (s *Service) Connected(ctx context.Context, userID int64) {
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
// closes; it records last seen and, if the user is now offline everywhere,
// tells their watchers.
func (s *Service) Disconnected(ctx context.Context, userID int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), presenceTimeout)
	defer cancel()
	now := s.now().UTC().Truncate(time.Second)
	if err := s.store.TouchLastSeen(ctx, userID, now); err != nil {
		s.log.WarnContext(ctx, "last seen not stored", "user", userID, "err", err)
	}
	gone, err := s.presence.Disconnect(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "presence disconnect failed", "user", userID, "err", err)
		return
	}
	if gone {
		s.announcePresence(ctx, userID, false, now)
	}
}

func (s *Service) announcePresence(ctx context.Context, userID int64, online bool, lastSeen time.Time) {
	watchers, err := s.store.Watchers(ctx, userID)
	if err != nil || len(watchers) == 0 {
		if err != nil {
			s.log.WarnContext(ctx, "presence not announced", "user", userID, "err", err)
		}
		return
	}
	e := Event{Type: EventPresence, UserID: userID, Online: online}
	if !online {
		e.LastSeen = &lastSeen
	}
	pubs := appendEvent(nil, e, 0, watchers, 0)
	if err := s.broker.Publish(ctx, pubs...); err != nil {
		s.log.WarnContext(ctx, "presence not announced", "user", userID, "err", err)
	}
}

func cleanText(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrInvalidText
	}
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > MaxTextLen {
		return "", ErrInvalidText
	}
	return s, nil
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

// printable reports whether s is valid UTF-8 of at most n characters with
// no control characters.
func printable(s string, n int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > n {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
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
