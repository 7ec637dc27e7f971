package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/korobka/korobka/chat"
)

// queryStore counts the store reads of the chat list and sync paths; each
// is one query (their IN-lists are chunked only past hundreds of ids).
type queryStore struct {
	chat.Store
	n atomic.Int64
}

func (s *queryStore) UserDialogs(ctx context.Context, userID int64, ids []int64) ([]chat.DialogEntry, error) {
	s.n.Add(1)
	return s.Store.UserDialogs(ctx, userID, ids)
}

func (s *queryStore) Memberships(ctx context.Context, userID int64, ids []int64) ([]chat.DialogEntry, error) {
	s.n.Add(1)
	return s.Store.Memberships(ctx, userID, ids)
}

func (s *queryStore) MembersOf(ctx context.Context, ids []int64) ([]chat.Member, error) {
	s.n.Add(1)
	return s.Store.MembersOf(ctx, ids)
}

func (s *queryStore) Users(ctx context.Context, ids []int64) ([]chat.User, error) {
	s.n.Add(1)
	return s.Store.Users(ctx, ids)
}

func (s *queryStore) KnowsPhone(ctx context.Context, owner int64, phone string) (bool, error) {
	s.n.Add(1)
	return s.Store.KnowsPhone(ctx, owner, phone)
}

func (s *queryStore) MessagesAfter(ctx context.Context, dialogID, after int64, limit int) ([]chat.Message, error) {
	s.n.Add(1)
	return s.Store.MessagesAfter(ctx, dialogID, after, limit)
}

func (s *queryStore) Changes(ctx context.Context, dialogID, since int64, limit int) ([]chat.Message, error) {
	s.n.Add(1)
	return s.Store.Changes(ctx, dialogID, since, limit)
}

func (s *queryStore) MessagesBySeq(ctx context.Context, dialogID int64, seqs []int64) ([]chat.Message, error) {
	s.n.Add(1)
	return s.Store.MessagesBySeq(ctx, dialogID, seqs)
}

func newCountedService(t testing.TB) (*fixture, *queryStore) {
	var qs *queryStore
	f, _ := newTestServiceWith(t, func(c *chat.Config) {
		qs = &queryStore{Store: c.Store}
		c.Store = qs
	})
	return f, qs
}

func viewJSON(t testing.TB, v chat.DialogView) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestDialogRowsMatchDialog: the row DialogRows builds for each member is
// exactly what Dialog answers that member (unread counts, titles of a
// nameless partner, roles differ per member), and a non-member gets none.
func TestDialogRowsMatchDialog(t *testing.T) {
	f, _ := newCountedService(t)
	ctx := context.Background()
	owner, a, b := f.newUser(t, "Owner"), f.newUser(t, "Anna"), f.newUser(t, "")
	stranger := f.newUser(t, "Stranger")
	g := f.group(t, owner, "Team", a, b)
	gid := parseID(t, g.ID)
	f.send(t, owner, gid, "g1", "hello")
	f.send(t, a, gid, "g2", "hi")
	last := f.send(t, b, gid, "g3", "hey")
	if err := f.svc.MarkRead(ctx, a.p, gid, last.Seq); err != nil {
		t.Fatal(err)
	}
	d := f.direct(t, a, b) // b is nameless: a's title of it depends on a's contacts
	f.send(t, a, d, "d1", "ping")
	for _, tc := range []struct {
		dialog  int64
		members []*user
	}{{gid, []*user{owner, a, b}}, {d, []*user{a, b}}} {
		rows, err := f.svc.DialogRows(ctx, tc.members[0].p, tc.dialog)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range tc.members {
			want, err := f.svc.Dialog(ctx, u.p, tc.dialog)
			if err != nil {
				t.Fatal(err)
			}
			got, err := rows.Row(ctx, u.id)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := viewJSON(t, got), viewJSON(t, want); g != w {
				t.Errorf("dialog %d, member %d:\n row    %s\n dialog %s", tc.dialog, u.id, g, w)
			}
		}
		if _, err := rows.Row(ctx, stranger.id); chat.ErrorOf(err).Kind != chat.KindNotFound {
			t.Errorf("a stranger's row: got %v, want not found", err)
		}
	}
	if _, err := f.svc.DialogRows(ctx, stranger.p, gid); chat.ErrorOf(err).Kind != chat.KindNotFound {
		t.Errorf("rows read through a stranger: got %v, want not found", err)
	}
}

// BenchmarkChatListRows is the chat list patch of one message to every
// member of a 50-member group watching their chat list: the dialog read
// per member (the old path, Dialog) against one DialogRows and a Row per
// member. queries/msg counts store reads.
//
//	go test ./chat -run '^$' -bench BenchmarkChatListRows -benchmem
func BenchmarkChatListRows(b *testing.B) {
	f, qs := newCountedService(b)
	ctx := context.Background()
	const n = 50
	owner := f.newUser(b, "Owner")
	users := []*user{owner}
	for i := range n - 1 {
		users = append(users, f.newUser(b, fmt.Sprint("M", i)))
	}
	g := f.group(b, owner, "Team", users[1:]...)
	gid := parseID(b, g.ID)
	f.send(b, owner, gid, "m1", "hello")
	b.Run("per-member", func(b *testing.B) {
		b.ReportAllocs()
		before := qs.n.Load()
		for b.Loop() {
			for _, u := range users {
				if _, err := f.svc.Dialog(ctx, u.p, gid); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(qs.n.Load()-before)/float64(b.N), "queries/msg")
	})
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		before := qs.n.Load()
		for b.Loop() {
			rows, err := f.svc.DialogRows(ctx, owner.p, gid)
			if err != nil {
				b.Fatal(err)
			}
			for _, u := range users {
				if _, err := rows.Row(ctx, u.id); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(qs.n.Load()-before)/float64(b.N), "queries/msg")
	})
}

func (s *queryStore) Resume(ctx context.Context, windows []chat.ResumeWindow) ([][]chat.Message, error) {
	s.n.Add(1)
	return s.Store.Resume(ctx, windows)
}

func (s *queryStore) MessagesAt(ctx context.Context, keys []chat.MessageKey) ([]chat.Message, error) {
	s.n.Add(1)
	return s.Store.MessagesAt(ctx, keys)
}
