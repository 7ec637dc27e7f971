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
	cache  *lru.Cache[int64, []int64]
}

// MembersTopic is the broker topic on which nodes announce dialogs whose
// members changed; the payload is the dialog id in decimal.
const MembersTopic = "members"

// NewMembership returns a Membership over store caching up to size
// dialogs; broker carries invalidations between nodes.
func NewMembership(store DialogStore, broker Broker, size int) *Membership {
	c, _ := lru.New[int64, []int64](max(size, 1))
	return &Membership{store: store, broker: broker, cache: c}
}

// Members returns the ids of a dialog's members (ErrNotFound for no
// dialog). The slice is shared: callers must not modify it.
func (m *Membership) Members(ctx context.Context, dialogID int64) ([]int64, error) {
	if ids, ok := m.cache.Get(dialogID); ok {
		return ids, nil
	}
	ms, err := m.store.Members(ctx, dialogID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(ms))
	for i, mb := range ms {
		ids[i] = mb.UserID
	}
	m.cache.Add(dialogID, ids)
	return ids, nil
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
	return m.broker.Publish(ctx, Publication{Topic: MembersTopic, Payload: strconv.AppendInt(nil, dialogID, 10)})
}

// Run receives other nodes' invalidations until ctx ends.
func (m *Membership) Run(ctx context.Context) error {
	err := m.broker.Subscribe(ctx, MembersTopic, func(payload []byte) {
		if id, err := strconv.ParseInt(string(payload), 10, 64); err == nil {
			m.cache.Remove(id)
		}
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	return m.broker.Unsubscribe(context.WithoutCancel(ctx), MembersTopic)
}
