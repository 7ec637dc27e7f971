package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/ws"
	"github.com/korobka/korobka/renderer"
)

// Patcher is the gateway's ws.Patcher: it turns the chat events a user
// receives into patches of the screens the user's devices show, rendered
// with the current screens. docs/screens.md describes what each event
// patches.
//
// The gateway asks once per group of a user's connections with the same
// screen and variant; on top of that, a message bubble is rendered once per
// (message, variant, own, sender) for every user it is delivered to on this
// node, so a group chat of a hundred members open on a hundred devices in
// two languages costs four renders.
type Patcher struct {
	svc     Service
	screens Screens
	sources *Sources // for topic patches (WithSources)
	log     *slog.Logger
	now     func() time.Time
	locale  Locale

	// nodes caches rendered bubbles of the current engine; eng is the
	// engine they were rendered with (a hot reload empties the cache).
	nodes *lru.Cache[string, json.RawMessage]
	eng   atomic.Pointer[renderer.Engine]
	// names caches senders' names and avatars for group chats.
	names *lru.Cache[int64, cachedName]
	// ticks holds, per (viewer, dialog) with a chat open, the viewer's own
	// bubbles whose ticks may still change.
	ticks *lru.Cache[[2]int64, *tickState]
	// reads is the read_seq last seen per (viewer, dialog), so a status
	// that only moved delivered_seq does not re-render a chat list row.
	reads *lru.Cache[[2]int64, int64]
	// rows shares one read of a dialog among the deliveries of one
	// message event to its members on this node (chat list rows).
	rows *lru.Cache[rowKey, *sharedRows]

	// renders counts fragment renders: the evidence that a variant renders
	// once, however many devices show it.
	renders atomic.Int64
}

const (
	nodeCacheSize = 4096
	nameCacheSize = 4096
	tickCacheSize = 16384
	readCacheSize = 16384
	// rowCacheSize bounds the dialog reads kept for the deliveries of
	// recent message events; rowTTL how long one serves them. An event's
	// deliveries to the members on a node follow each other within
	// milliseconds; the TTL keeps a late one from showing an old row.
	rowCacheSize = 256
	rowTTL       = 2 * time.Second
	// nameTTL bounds how long a renamed sender keeps the old name in
	// patches (full renders always show the new one).
	nameTTL = time.Minute
	// tickWindow is how many recent messages of a chat are checked for
	// own bubbles whose ticks can still change: the page a chat screen
	// shows.
	tickWindow = 50
	// maxTicks bounds the own bubbles tracked per (viewer, dialog).
	maxTicks = 256
)

type cachedName struct {
	name, last, thumb string
	at                time.Time
}

// tickState is the viewer's own bubbles of one chat that are not read yet,
// with the tick each shows.
type tickState struct {
	mu  sync.Mutex
	own map[int64]int // seq -> rank shown: 0 unknown, 1 sent, 2 delivered
}

var _ ws.Patcher = (*Patcher)(nil)

// NewPatcher returns the Patcher of a node: svc reads what patches show,
// screens renders them.
func NewPatcher(svc Service, screens Screens, log *slog.Logger) *Patcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Patcher{svc: svc, screens: screens, log: log, now: time.Now}
	p.nodes, _ = lru.New[string, json.RawMessage](nodeCacheSize)
	p.names, _ = lru.New[int64, cachedName](nameCacheSize)
	p.ticks, _ = lru.New[[2]int64, *tickState](tickCacheSize)
	p.reads, _ = lru.New[[2]int64, int64](readCacheSize)
	p.rows, _ = lru.New[rowKey, *sharedRows](rowCacheSize)
	return p
}

// WithLocale sets the server's defaults (zone, phone region) and returns
// p; call it before serving.
func (p *Patcher) WithLocale(l Locale) *Patcher {
	p.locale = l
	return p
}

// Renders counts the fragments rendered so far: the evidence that a
// variant renders once, however many devices show it.
func (p *Patcher) Renders() int64 { return p.renders.Load() }

// watchState is what a watch resolves to, carried by the connection.
type watchState struct {
	variant renderer.Variant
	dialogs map[int64]chat.DialogKind // the screen's dialog:<id> topics
	list    bool                      // the screen's dialogs topic
	// media is the screen's media:<id> topics: the gallery kind shown
	// (the screen's kind param, photo by default).
	media map[int64]string
}

// Watch resolves a watch frame like a screen request (the same Request,
// resolved the same way), and checks that every dialog the screen's live
// topics name is one of the viewer's. A frame with no screen clears the
// watch: Watch answers nil.
func (p *Patcher) Watch(ctx context.Context, pr chat.Principal, frame []byte) (*ws.Watch, error) {
	var req Request
	if err := json.Unmarshal(frame, &req); err != nil {
		return nil, &chat.Error{Kind: chat.KindInvalid, Code: "invalid_frame", Message: "A watch frame has a screen, params, lang, theme and shell of the documented types."}
	}
	if req.Screen == "" {
		return nil, nil
	}
	if err := req.check(); err != nil {
		// Out of bounds: the frame is malformed, whatever it names.
		return nil, &chat.Error{Kind: chat.KindInvalid, Code: "invalid_frame", Message: "The watch frame is over its bounds: " + chat.ErrorOf(err).Message}
	}
	eng := p.screens.Current()
	scr, rr, err := req.resolve(eng, pr.UserID, p.locale)
	if err != nil {
		return nil, err
	}
	if req.TZ != "" {
		p.svc.NoteTimeZone(ctx, pr, req.TZ)
	}
	key := scr.Name
	for _, sp := range scr.Params {
		if v := rr.Params[sp.Name]; v != "" {
			key += ":" + v
			break
		}
	}
	topics, err := eng.LiveTopics(rr)
	if err != nil {
		return nil, renderError(err)
	}
	st := &watchState{variant: renderer.Variant{Langs: rr.Langs, Theme: rr.Theme, Caps: rr.Caps, TZ: rr.TZ, Region: rr.Region}}
	for _, t := range topics {
		if t == "dialogs" {
			st.list = true
			continue
		}
		if raw, ok := strings.CutPrefix(t, "media:"); ok {
			id, err := chat.ParseID(raw)
			if err != nil {
				return nil, err
			}
			if _, err := p.svc.Dialog(ctx, pr, id); err != nil {
				return nil, err
			}
			kind := rr.Params["kind"]
			if _, err := chat.GalleryKind(kind); err != nil {
				kind = chat.GalleryPhoto
			}
			if st.media == nil {
				st.media = map[int64]string{}
			}
			st.media[id] = kind
			continue
		}
		raw, ok := strings.CutPrefix(t, "dialog:")
		if !ok {
			continue
		}
		id, err := chat.ParseID(raw)
		if err != nil {
			return nil, err
		}
		d, err := p.svc.Dialog(ctx, pr, id)
		if err != nil {
			return nil, err
		}
		if st.dialogs == nil {
			st.dialogs = map[int64]chat.DialogKind{}
		}
		st.dialogs[id] = d.Kind
		// The screen was just rendered: start its ticks from now.
		if ts, err := p.loadTicks(ctx, pr.UserID, id, true); err == nil {
			p.ticks.Add([2]int64{pr.UserID, id}, ts)
		} else {
			p.ticks.Remove([2]int64{pr.UserID, id})
		}
	}
	return &ws.Watch{
		Key:     key,
		Screen:  scr.Name,
		Params:  rr.Params,
		Topics:  topics,
		Variant: eng.Lang(rr.Langs) + "|" + rr.Theme + "|" + rr.Caps.String() + "|" + tzName(rr.TZ),
		State:   st,
	}, nil
}

// loadTicks reads the viewer's own bubbles among the newest messages of a
// chat. exact takes their statuses as shown; otherwise they are unknown,
// so the next status patches every one it covers.
func (p *Patcher) loadTicks(ctx context.Context, viewer, dialogID int64, exact bool) (*tickState, error) {
	msgs, err := p.svc.History(ctx, chat.Principal{UserID: viewer}, dialogID, 0, tickWindow)
	if err != nil {
		return nil, err
	}
	ts := &tickState{own: map[int64]int{}}
	me := chat.FormatID(viewer)
	for _, m := range msgs {
		if m.SenderID != me || m.Deleted {
			continue
		}
		switch {
		case !exact:
			ts.own[m.Seq] = 0
		case m.Status != chat.StatusRead:
			ts.own[m.Seq] = rankOf(m.Status)
		}
	}
	return ts, nil
}

var statusNames = [...]chat.MessageStatus{1: chat.StatusSent, 2: chat.StatusDelivered, 3: chat.StatusRead}

func rankOf(s chat.MessageStatus) int {
	switch s {
	case chat.StatusSent:
		return 1
	case chat.StatusDelivered:
		return 2
	case chat.StatusRead:
		return 3
	}
	return 0
}

// Delivery prepares one event delivered to uid for patching. Typing and
// presence change no screen: nil.
func (p *Patcher) Delivery(uid int64, ev chat.Event) ws.Delivery {
	e := &event{p: p, uid: uid, kind: ev.Type}
	switch ev.Type {
	case chat.EventMessage:
		m := ev.Message
		d, seq, err := chat.ParseMessageID(m.ID)
		if err != nil {
			return nil
		}
		e.msg, e.dialog, e.seq = m, d, seq
		e.sender, _ = chat.ParseID(m.SenderID)
		// A link preview is always a later change of its message: a
		// new message never carries one.
		e.changed = m.EditedAt != nil || m.Deleted || m.Preview != nil
		if e.sender == uid && !e.changed {
			p.ownSent(uid, d, seq)
		}
	case chat.EventStatus:
		e.dialog, e.by = ev.DialogID, ev.UserID
		e.delivered, e.read = max(ev.DeliveredSeq, ev.ReadSeq), ev.ReadSeq
		if e.by == uid {
			k := [2]int64{uid, e.dialog}
			last, ok := p.reads.Get(k)
			e.readMoved = !ok || last != e.read
			p.reads.Add(k, e.read)
		}
	case chat.EventDialog:
		id, err := chat.ParseID(ev.Dialog.ID)
		if err != nil {
			return nil
		}
		e.dialog, e.view = id, ev.Dialog
	default:
		return nil
	}
	return e
}

// ownSent records a bubble the viewer sent, whose ticks will move.
func (p *Patcher) ownSent(uid, dialogID, seq int64) {
	ts, ok := p.ticks.Get([2]int64{uid, dialogID})
	if !ok {
		return // no chat of it open here: a watch loads the state afresh
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if _, ok := ts.own[seq]; !ok {
		ts.own[seq] = 1
	}
	for len(ts.own) > maxTicks {
		delete(ts.own, minKey(ts.own))
	}
}

func minKey(m map[int64]int) int64 {
	first, k := true, int64(0)
	for s := range m {
		if first || s < k {
			first, k = false, s
		}
	}
	return k
}

// event is one delivery to one user. What the groups share is computed
// once: the user's dialog for a chat list row, the tick changes.
type event struct {
	p      *Patcher
	uid    int64
	kind   chat.EventType
	dialog int64

	// message
	msg     *chat.MessageView
	msgVal  any // msg as the renderer binds it, shaped once per delivery
	seq     int64
	sender  int64
	changed bool // edited or deleted: replace the bubble, do not add one

	// status
	by, delivered, read int64
	readMoved           bool // by the user: their read_seq moved

	// dialog
	view *chat.DialogView

	row       any
	rowErr    error
	rowDone   bool
	tickOps   []renderer.Op
	ticksDone bool
}

// Patch builds one group's patch frame.
func (e *event) Patch(ctx context.Context, w *ws.Watch) ([]byte, error) {
	st, _ := w.State.(*watchState)
	if st == nil {
		return nil, nil
	}
	eng := e.p.screens.Current()
	var buf [3]renderer.Op
	ops := buf[:0]
	kind, inChat := st.dialogs[e.dialog]
	rowID := "dialog-" + chat.FormatID(e.dialog)
	switch e.kind {
	case chat.EventMessage:
		if kind, ok := st.media[e.dialog]; ok {
			mops, err := e.mediaOps(eng, st.variant, kind)
			if err != nil {
				return nil, err
			}
			ops = append(ops, mops...)
		}
		if inChat {
			node, err := e.bubble(ctx, eng, w.Variant, st.variant, kind)
			if err != nil {
				return nil, err
			}
			if e.changed {
				ops = append(ops, renderer.Replace("msg-"+e.msg.ID, node))
			} else {
				ops = append(ops, renderer.Insert("messages", "end", node))
			}
		}
		if st.list {
			row, err := e.dialogRow(ctx, eng, st.variant)
			if err != nil {
				return nil, err
			}
			if e.changed {
				ops = append(ops, renderer.Replace(rowID, row))
			} else {
				ops = append(ops, renderer.Remove(rowID), renderer.Insert("dialogs", "start", row))
			}
		}
	case chat.EventStatus:
		if inChat && e.by != e.uid {
			ops = append(ops, e.ticks(ctx)...)
		}
		if st.list && e.by == e.uid && e.readMoved {
			row, err := e.dialogRow(ctx, eng, st.variant)
			if err != nil {
				return nil, err
			}
			ops = append(ops, renderer.Replace(rowID, row))
		}
	case chat.EventDialog:
		if st.list {
			view, err := bindable(e.view)
			if err != nil {
				return nil, err
			}
			row, err := e.p.render(eng, "dialog_row", map[string]any{"dialog": view, "me": chat.FormatID(e.uid), "lang": eng.Lang(st.variant.Langs)}, st.variant)
			if err != nil {
				return nil, err
			}
			ops = append(ops, renderer.Remove(rowID), renderer.Insert("dialogs", "start", row))
		}
	}
	if len(ops) == 0 {
		return nil, nil
	}
	return renderer.AppendPatch(nil, w.Key, ops...), nil
}

// bubble renders the message for the viewer, or takes it from the node
// cache when another delivery of the event rendered it for this variant.
// Group chats name the sender and show their avatar as group_chat does
// (the fragment's sender is the profile's first_name, last_name and
// avatar_thumb_url); direct chats do not.
func (e *event) bubble(ctx context.Context, eng *renderer.Engine, variantKey string, v renderer.Variant, kind chat.DialogKind) (json.RawMessage, error) {
	own := e.sender == e.uid
	var sender any
	name := ""
	if kind == chat.DialogGroup && !own {
		c := e.p.senderName(ctx, e.uid, e.sender)
		name = c.name + "\x00" + c.last + "\x00" + c.thumb
		sender = map[string]any{"first_name": c.name, "last_name": c.last, "avatar_thumb_url": c.thumb}
	}
	m := e.msg
	edited := ""
	if m.EditedAt != nil {
		edited = m.EditedAt.Format(time.RFC3339Nano)
	}
	// The local date keys the cache too, so a bubble that shows day()
	// is not served from before midnight; the attachments too: their URLs
	// are signed per bucket, so a bubble rendered in an earlier bucket is
	// not reused.
	day := e.p.now().In(tzOrUTC(v.TZ)).Format(time.DateOnly)
	// The change number keys the message's state (edits, deletes, its
	// link preview), and the preview image's URL its bucket.
	previewImage := ""
	if m.Preview != nil && m.Preview.Image != nil {
		previewImage = m.Preview.Image.URL
	}
	key := strings.Join([]string{variantKey, m.ID, strconv.FormatInt(m.Change, 10), string(m.Status), edited, bit(m.Deleted), bit(own), name, day, string(m.Attachments), previewImage}, "\x00")
	if e.p.eng.Swap(eng) != eng {
		e.p.nodes.Purge()
	}
	if node, ok := e.p.nodes.Get(key); ok {
		return node, nil
	}
	if e.msgVal == nil {
		val, err := bindable(m)
		if err != nil {
			return nil, err
		}
		e.msgVal = val
	}
	// A group's system message is a centred line, as group_chat draws it.
	fragment, vars := "message_bubble", map[string]any{"m": e.msgVal, "own": own, "sender": sender}
	if m.System != nil {
		fragment, vars = "system_message", map[string]any{"m": e.msgVal}
	}
	node, err := e.p.render(eng, fragment, vars, v)
	if err != nil {
		return nil, err
	}
	e.p.nodes.Add(key, node)
	return node, nil
}

func tzOrUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func tzName(loc *time.Location) string { return tzOrUTC(loc).String() }

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (p *Patcher) render(eng *renderer.Engine, name string, vars map[string]any, v renderer.Variant) (json.RawMessage, error) {
	p.renders.Add(1)
	return eng.Fragment(name, vars, v)
}

// senderName is a sender's names and avatar thumb, as group_chat shows
// them; empty when the sender cannot be read.
func (p *Patcher) senderName(ctx context.Context, viewer, sender int64) cachedName {
	if c, ok := p.names.Get(sender); ok && p.now().Sub(c.at) < nameTTL {
		return c
	}
	u, err := p.svc.User(ctx, chat.Principal{UserID: viewer}, sender)
	if err != nil {
		p.log.Debug("patch: sender name", "user", sender, "err", err)
		return cachedName{}
	}
	c := cachedName{name: u.FirstName, last: u.LastName, thumb: u.AvatarThumbURL, at: p.now()}
	p.names.Add(sender, c)
	return c
}

// mediaOps patches a media gallery of kind (photo, video, file) for a
// message: a new message's attachments of the kind are inserted at the
// top, as media_item nodes (media-<seq>-<index>); a deleted message's are
// removed (the event no longer lists them, so every index a message may
// use is removed, chat.MaxAttachments at most); an edit changes no media.
func (e *event) mediaOps(eng *renderer.Engine, v renderer.Variant, kind string) ([]renderer.Op, error) {
	prefix := "media-" + strconv.FormatInt(e.seq, 10) + "-"
	if e.msg.Deleted {
		ops := make([]renderer.Op, 0, chat.MaxAttachments)
		for i := range chat.MaxAttachments {
			ops = append(ops, renderer.Remove(prefix+strconv.Itoa(i)))
		}
		return ops, nil
	}
	if e.changed || len(e.msg.Attachments) == 0 {
		return nil, nil
	}
	uk, _ := chat.GalleryKind(kind)
	var atts []map[string]any
	if err := json.Unmarshal(e.msg.Attachments, &atts); err != nil {
		return nil, err
	}
	var ops []renderer.Op
	// Inserted at the top one by one: the last first, so they keep their
	// order, the newest message above.
	for i := len(atts) - 1; i >= 0; i-- {
		if atts[i]["kind"] != uk {
			continue
		}
		item := map[string]any{"seq": float64(e.seq), "index": float64(i), "sender_id": e.msg.SenderID,
			"created_at": e.msg.CreatedAt.UTC().Format(time.RFC3339Nano), "attachment": atts[i]}
		node, err := e.p.render(eng, "media_item", map[string]any{"it": item}, v)
		if err != nil {
			return nil, err
		}
		ops = append(ops, renderer.Insert("media", "start", node))
	}
	return ops, nil
}

// dialogRow renders the user's dialog as a chat list row. The dialog is
// fetched once per delivery, whatever the number of variants; for a new
// message or a change of one, once per event on this node, whatever the
// number of members it is delivered to (sharedRow).
func (e *event) dialogRow(ctx context.Context, eng *renderer.Engine, v renderer.Variant) (json.RawMessage, error) {
	if !e.rowDone {
		e.rowDone = true
		var d chat.DialogView
		if e.kind == chat.EventMessage {
			d, e.rowErr = e.p.sharedRow(ctx, e.uid, e.dialog, e.msg.ID, e.msg.Change)
		} else {
			d, e.rowErr = e.p.svc.Dialog(ctx, chat.Principal{UserID: e.uid}, e.dialog)
		}
		if e.rowErr == nil {
			e.row, e.rowErr = bindable(d)
		}
	}
	if e.rowErr != nil {
		return nil, e.rowErr
	}
	return e.p.render(eng, "dialog_row", map[string]any{"dialog": e.row, "me": chat.FormatID(e.uid), "lang": eng.Lang(v.Langs)}, v)
}

// RowReader is the optional ability of a Service to read a dialog once
// for the chat list rows of all its members (*chat.Service has it). A
// Patcher over a Service without it reads the dialog per member.
type RowReader interface {
	DialogRows(ctx context.Context, p chat.Principal, dialogID int64) (*chat.DialogRows, error)
}

// rowKey names a state of a dialog: the message event (id and change
// number) its rows are for.
type rowKey struct {
	dialog int64
	msg    string
	change int64
}

// sharedRows is one read of a dialog, made by the first delivery of an
// event that needs it and used by the others.
type sharedRows struct {
	mu   sync.Mutex
	done bool
	at   time.Time
	rows *chat.DialogRows
	err  error
}

// sharedRow is uid's chat list row of dialog after the message event
// (msgID, change): the dialog is read once for every member the event is
// delivered to on this node within rowTTL (three queries in all, instead
// of three or four per member). The read happens after the event's
// commit, so the row shows the message; a watermark that moves later
// sends its own status event, which reads the row afresh.
func (p *Patcher) sharedRow(ctx context.Context, uid, dialog int64, msgID string, change int64) (chat.DialogView, error) {
	rr, ok := p.svc.(RowReader)
	if !ok {
		return p.svc.Dialog(ctx, chat.Principal{UserID: uid}, dialog)
	}
	k := rowKey{dialog, msgID, change}
	fresh := &sharedRows{}
	sh, found, _ := p.rows.PeekOrAdd(k, fresh)
	if !found {
		sh = fresh
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.done || sh.err != nil || p.now().Sub(sh.at) > rowTTL {
		sh.rows, sh.err = rr.DialogRows(ctx, chat.Principal{UserID: uid}, dialog)
		sh.done, sh.at = true, p.now()
		if sh.err != nil {
			return chat.DialogView{}, sh.err
		}
	}
	d, err := sh.rows.Row(ctx, uid)
	if chat.ErrorOf(err).Kind == chat.KindNotFound {
		// Not a member when the dialog was read (joined since): read it
		// as this member.
		return p.svc.Dialog(ctx, chat.Principal{UserID: uid}, dialog)
	}
	return d, err
}

// bindable turns a view into the values the renderer binds: the JSON
// shapes a screen's data has (sources.go binds its data the same way), so
// a patched node renders exactly as the same data in a full screen.
func bindable(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(raw, &out)
}

// ticks moves the ticks of the viewer's own bubbles that a member's new
// watermarks cover: set ops on msg-<id>, cheaper than re-rendering the
// bubbles. Computed once per delivery and shared by every variant, since
// statuses are not translated.
func (e *event) ticks(ctx context.Context) []renderer.Op {
	if e.ticksDone {
		return e.tickOps
	}
	e.ticksDone = true
	k := [2]int64{e.uid, e.dialog}
	ts, ok := e.p.ticks.Get(k)
	if !ok {
		var err error
		if ts, err = e.p.loadTicks(ctx, e.uid, e.dialog, false); err != nil {
			e.p.log.Warn("patch: ticks not loaded", "user", e.uid, "dialog", e.dialog, "err", err)
			return nil
		}
		e.p.ticks.Add(k, ts)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var seqs []int64
	for seq, shown := range ts.own {
		if tickFor(seq, e.delivered, e.read) > shown {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		r := tickFor(seq, e.delivered, e.read)
		e.tickOps = append(e.tickOps, renderer.Set("msg-"+chat.MessageID(e.dialog, seq), map[string]any{"status": string(statusNames[r])}))
		if r == 3 {
			delete(ts.own, seq)
		} else {
			ts.own[seq] = r
		}
	}
	return e.tickOps
}

// tickFor is the rank a bubble reaches under a member's watermarks.
func tickFor(seq, delivered, read int64) int {
	switch {
	case seq <= read:
		return 3
	case seq <= delivered:
		return 2
	}
	return 0
}

var _ ws.TopicPatcher = (*Patcher)(nil)

// WithSources gives p the data sources to render whole screens with, for
// topic patches (content:<name>); call it before serving. Without them
// content changes patch nothing and open screens update on their next
// fetch.
func (p *Patcher) WithSources(s *Sources) *Patcher {
	p.sources = s
	return p
}

// TopicPatch answers a change of a content collection for a screen that
// watches "content:<name>": the screen is rendered for the viewer as a
// fetch would, and the node whose id is the collection's name (the list
// showing it) is replaced (docs/screens.md, "Live patches"). A screen
// without such a node gets no patch.
func (p *Patcher) TopicPatch(ctx context.Context, uid int64, topic string, w *ws.Watch) ([]byte, error) {
	name, ok := strings.CutPrefix(topic, "content:")
	st, _ := w.State.(*watchState)
	if !ok || st == nil || p.sources == nil {
		return nil, nil
	}
	eng := p.screens.Current()
	rr := renderer.Request{
		Screen: w.Screen, Params: w.Params, Langs: st.variant.Langs, Theme: st.variant.Theme,
		Caps: st.variant.Caps, TZ: st.variant.TZ, Region: st.variant.Region, Viewer: chat.FormatID(uid),
	}
	p.renders.Add(1)
	body, _, err := eng.AppendRender(ctx, nil, rr, p.sources.scope(&chat.Principal{UserID: uid}))
	if err != nil {
		return nil, renderError(err)
	}
	var layout struct {
		Root any `json:"root"`
	}
	if err := json.Unmarshal(body, &layout); err != nil {
		return nil, err
	}
	node := nodeByID(layout.Root, name)
	if node == nil {
		return nil, nil
	}
	raw, err := json.Marshal(node)
	if err != nil {
		return nil, err
	}
	return renderer.AppendPatch(nil, w.Key, renderer.Replace(name, raw)), nil
}

// nodeByID finds the layout node with the id, depth first.
func nodeByID(n any, id string) map[string]any {
	switch v := n.(type) {
	case map[string]any:
		if v["id"] == id {
			return v
		}
		for _, c := range v {
			if found := nodeByID(c, id); found != nil {
				return found
			}
		}
	case []any:
		for _, c := range v {
			if found := nodeByID(c, id); found != nil {
				return found
			}
		}
	}
	return nil
}
