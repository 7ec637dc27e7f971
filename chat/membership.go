package chat

import (
	"context"
	"errors"
	"slices"
	"strconv"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Membership answers who is in a dialog, the question every dialog access
// starts with, from a cache in front of the store. A change of members
// (groups) goes through Invalidate, which drops the entry here and, through
// the broker, on every other node, so no node keeps serving a removed
// member.
type Membership struct {
	store  DialogStore
	broker Broker
	cache  *lru.Cache[int64, memberSet]
	// gens caches Dialog.MediaGen per dialog, read only when media is
	// fetched or signed, and invalidated with the members.
	gens *lru.Cache[int64, int64]
}

// memberSet is a dialog's members as cached: their ids, and the first seq
// of those who may not read all of the history (Member.VisibleFrom).
type memberSet struct {
	ids  []int64
	from map[int64]int64
}

// MembersTopic is the broker topic on which nodes announce dialogs whose
// members changed; the payload is the dialog id in decimal.
const MembersTopic = "members"

// NewMembership returns a Membership over store caching up to size
// dialogs; broker carries invalidations between nodes.
func NewMembership(store DialogStore, broker Broker, size int) *Membership {
	c, _ := lru.New[int64, memberSet](max(size, 1))
	g, _ := lru.New[int64, int64](max(size, 1))
	return &Membership{store: store, broker: broker, cache: c, gens: g}
}

// Members returns the ids of a dialog's members (ErrNotFound for no
// dialog). The slice is shared: callers must not modify it.
func (m *Membership) Members(ctx context.Context, dialogID int64) ([]int64, error) {
	set, err := m.set(ctx, dialogID)
	return set.ids, err
}

func (m *Membership) set(ctx context.Context, dialogID int64) (memberSet, error) {
	if set, ok := m.cache.Get(dialogID); ok {
		return set, nil
	}
	ms, err := m.store.Members(ctx, dialogID)
	if err != nil {
		return memberSet{}, err
	}
	set := memberSet{ids: make([]int64, len(ms))}
	for i, mb := range ms {
		set.ids[i] = mb.UserID
		if mb.VisibleFrom > 1 {
			if set.from == nil {
				set.from = map[int64]int64{}
			}
			set.from[mb.UserID] = mb.VisibleFrom
		}
	}
	m.cache.Add(dialogID, set)
	return set, nil
}

// MediaGeneration returns a dialog's media generation (Dialog.MediaGen),
// from the cache that removals invalidate on every node: chat.MediaGate.
func (m *Membership) MediaGeneration(ctx context.Context, dialogID int64) (int64, error) {
	if g, ok := m.gens.Get(dialogID); ok {
		return g, nil
	}
	d, err := m.store.Dialog(ctx, dialogID)
	if err != nil {
		return 0, err
	}
	m.gens.Add(dialogID, d.MediaGen)
	return d.MediaGen, nil
}

// VisibleFrom checks the caller's membership as Check does and returns
// the first seq of the dialog they may read (0 or 1: all of it).
func (m *Membership) VisibleFrom(ctx context.Context, p Principal, dialogID int64) (int64, error) {
	set, err := m.set(ctx, dialogID)
	if errors.Is(err, ErrNotFound) {
		return 0, errDialogNotFound
	}
	if err != nil {
		return 0, err
	}
	if !slices.Contains(set.ids, p.UserID) {
		return 0, errDialogNotFound
	}
	return set.from[p.UserID], nil
}

// Access is what a caller may read of a dialog: the seqs From..Until
// (From 0 or 1: from the start; Until 0: no end, a member). Former is set
// for a user removed from the group or who left it: they read up to
// Until, receive nothing, send nothing and get no media of it.
type Access struct {
	From, Until int64
	Former      *FormerMember
}

// Allows reports whether the message with seq is readable.
func (a Access) Allows(seq int64) bool {
	return seq >= a.From && (a.Until == 0 || seq <= a.Until)
}

// AllowsMessage reports whether m is readable as it is now: its seq is
// allowed and, for a former member, it has not changed since their
// removal (Former.EndChange), or its new content would reach them.
func (a Access) AllowsMessage(m Message) bool {
	return a.Allows(m.Seq) && (a.Former == nil || a.Former.EndChange == 0 || m.Change <= a.Former.EndChange)
}

// Access checks that the caller is a member of the dialog, or a former
// member of the group, and returns what they may read; anyone else gets
// not found. Members are answered from the cache; former members by one
// read by primary key (not cached, so a re-add is seen at once).
func (m *Membership) Access(ctx context.Context, p Principal, dialogID int64) (Access, error) {
	set, err := m.set(ctx, dialogID)
	if errors.Is(err, ErrNotFound) {
		return Access{}, errDialogNotFound
	}
	if err != nil {
		return Access{}, err
	}
	if slices.Contains(set.ids, p.UserID) {
		return Access{From: set.from[p.UserID]}, nil
	}
	f, err := m.store.FormerMember(ctx, dialogID, p.UserID)
	if errors.Is(err, ErrNotFound) {
		return Access{}, errDialogNotFound
	}
	if err != nil {
		return Access{}, err
	}
	return Access{From: f.VisibleFrom, Until: f.EndSeq, Former: &f}, nil
}

// Check returns the members of a dialog the caller belongs to. A dialog the
// caller is not in is reported as not found, like one that does not exist,
// so ids reveal nothing.
func (m *Membership) Check(ctx context.Context, p Principal, dialogID int64) ([]int64, error) {
	ids, err := m.Members(ctx, dialogID)
	if errors.Is(err, ErrNotFound) {
		return nil, errDialogNotFound
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ids, p.UserID) {
		return nil, errDialogNotFound
	}
	return ids, nil
}

// Invalidate drops the cached members of a dialog on this node at once and
// asks every other node to do the same. Call it after the change is
// committed.
func (m *Membership) Invalidate(ctx context.Context, dialogID int64) error {
	m.cache.Remove(dialogID)
	m.gens.Remove(dialogID)
	return m.broker.Publish(ctx, Publication{Topic: MembersTopic, Payload: strconv.AppendInt(nil, dialogID, 10)})
}

// Run receives other nodes' invalidations until ctx ends.
func (m *Membership) Run(ctx context.Context) error {
	err := m.broker.Subscribe(ctx, MembersTopic, func(payload []byte) {
		if id, err := strconv.ParseInt(string(payload), 10, 64); err == nil {
			m.cache.Remove(id)
			m.gens.Remove(id)
		}
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	return m.broker.Unsubscribe(context.WithoutCancel(ctx), MembersTopic)
}
