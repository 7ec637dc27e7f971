package chattest

import (
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// The admin core's storage (chat.AdminStore): lists paged in a stable
// order, filters that combine, blocks and roles by id, and the daily
// figures summed over nodes.

// testAdminListUsers: newest registration first, paged by cursor without
// gaps or repeats, each filter applied.
func testAdminListUsers(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	var made []chat.User
	for i, name := range []string{"Анна", "Борис", "Вера", "Глеб", "Дарья"} {
		u, _, err := s.UpsertUser(ctx, "+7999000010"+string(rune('0'+i)), t0.Add(time.Duration(i)*time.Hour))
		noErr(t, "upsert", err)
		first := name
		u, err = s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{FirstName: &first})
		noErr(t, "profile", err)
		made = append(made, u)
	}
	// Two at the same time: the id decides.
	twin, _, err := s.UpsertUser(ctx, "+79990000199", t0.Add(4*time.Hour))
	noErr(t, "upsert twin", err)

	var got []int64
	var after chat.UserCursor
	for range 10 {
		page, err := s.ListUsers(ctx, chat.UserFilter{After: after}, 2)
		noErr(t, "list", err)
		for _, u := range page {
			got = append(got, u.ID)
		}
		if len(page) < 2 {
			break
		}
		last := page[len(page)-1]
		after = chat.UserCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	hi, lo := made[4].ID, twin.ID
	if lo > hi {
		hi, lo = lo, hi
	}
	want := []int64{hi, lo, made[3].ID, made[2].ID, made[1].ID, made[0].ID}
	if len(got) != len(want) {
		t.Fatalf("paged list: got %d users %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("paged list: got %v, want %v", got, want)
		}
	}

	count := func(what string, f chat.UserFilter, n int) []chat.User {
		t.Helper()
		us, err := s.ListUsers(ctx, f, 50)
		noErr(t, what, err)
		if len(us) != n {
			t.Fatalf("%s: got %d users, want %d", what, len(us), n)
		}
		return us
	}
	if us := count("name part, other case", chat.UserFilter{Query: "ВЕР"}, 1); us[0].ID != made[2].ID {
		t.Fatalf("name search found %+v", us[0])
	}
	count("phone prefix", chat.UserFilter{Query: "+79990000"}, 6)
	count("phone prefix, one", chat.UserFilter{Query: "+79990000103"}, 1)
	count("LIKE wildcard is literal", chat.UserFilter{Query: "%"}, 0)
	count("registered from", chat.UserFilter{RegisteredFrom: t0.Add(3 * time.Hour)}, 3)
	count("registered window", chat.UserFilter{RegisteredFrom: t0.Add(time.Hour), RegisteredTo: t0.Add(3 * time.Hour)}, 2)

	_, err = s.SetUserRole(ctx, made[1].ID, chat.RoleOperator)
	noErr(t, "set role", err)
	if us := count("role", chat.UserFilter{Role: chat.RoleOperator}, 1); us[0].Role != chat.RoleOperator {
		t.Fatalf("role filter found %+v", us[0])
	}
	yes, no := true, false
	_, err = s.SetBlocked(ctx, made[0].ID, t0)
	noErr(t, "block", err)
	count("blocked", chat.UserFilter{Blocked: &yes}, 1)
	count("not blocked", chat.UserFilter{Blocked: &no}, 5)
	count("not blocked operators", chat.UserFilter{Blocked: &no, Role: chat.RoleOperator}, 1)
}

// testAdminBlockRole: a block keeps its first time, an unblock clears it,
// a blocked user's sessions are not found; roles change by id; unknown ids
// are ErrNotFound.
func testAdminBlockRole(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000201")
	sess := chat.Session{ID: chat.NewID(), UserID: u.ID, Family: 1, AccessHash: []byte("a-201"), RefreshHash: []byte("r-201"),
		CreatedAt: t0, AccessExpiresAt: t0.Add(time.Hour), ExpiresAt: t0.Add(time.Hour)}
	noErr(t, "session", s.CreateSession(ctx, sess))

	b, err := s.SetBlocked(ctx, u.ID, t0.Add(time.Minute))
	noErr(t, "block", err)
	if !b.BlockedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("blocked at %v, want %v", b.BlockedAt, t0.Add(time.Minute))
	}
	b, err = s.SetBlocked(ctx, u.ID, t0.Add(time.Hour))
	noErr(t, "block again", err)
	stored, err := s.User(ctx, u.ID)
	noErr(t, "user", err)
	if !b.BlockedAt.Equal(t0.Add(time.Minute)) || !stored.BlockedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("a second block moved the time: %v, stored %v", b.BlockedAt, stored.BlockedAt)
	}
	_, _, err = s.SessionByAccess(ctx, sess.AccessHash, t0)
	wantErrIs(t, "session of a blocked user", err, chat.ErrNotFound)

	b, err = s.SetBlocked(ctx, u.ID, time.Time{})
	noErr(t, "unblock", err)
	stored, err = s.User(ctx, u.ID)
	noErr(t, "user", err)
	if !b.BlockedAt.IsZero() || !stored.BlockedAt.IsZero() {
		t.Fatalf("unblocked user: %v, stored %v", b.BlockedAt, stored.BlockedAt)
	}
	if _, _, err = s.SessionByAccess(ctx, sess.AccessHash, t0); err != nil {
		t.Fatalf("session after unblock: %v", err)
	}

	r, err := s.SetUserRole(ctx, u.ID, chat.RoleAdmin)
	noErr(t, "role", err)
	stored, err = s.User(ctx, u.ID)
	noErr(t, "user", err)
	if r.Role != chat.RoleAdmin || stored.Role != chat.RoleAdmin {
		t.Fatalf("role: got %q, stored %q", r.Role, stored.Role)
	}
	_, err = s.SetUserRole(ctx, 42, chat.RoleAdmin)
	wantErrIs(t, "role of nobody", err, chat.ErrNotFound)
	_, err = s.SetBlocked(ctx, 42, t0)
	wantErrIs(t, "block of nobody", err, chat.ErrNotFound)

	c, err := s.CountUsers(ctx)
	noErr(t, "count", err)
	if c.Total != 1 || c.Blocked != 0 || c.ByRole[chat.RoleAdmin] != 1 || c.ByRole[chat.RoleUser] != 0 {
		t.Fatalf("counts %+v", c)
	}
}

// testAdminDialogs: every dialog, newest first, paged by id.
func testAdminDialogs(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	a := newUser(t, s, "+79990000301")
	var ids []int64
	for i := range 5 {
		b := newUser(t, s, "+7999000031"+string(rune('0'+i)))
		d, _, err := s.DirectDialog(ctx, a.ID, b.ID, "", t0)
		noErr(t, "dialog", err)
		ids = append(ids, d.ID)
	}
	var got []int64
	var before int64
	for range 10 {
		page, err := s.AllDialogs(ctx, before, 2)
		noErr(t, "all dialogs", err)
		for _, d := range page {
			got = append(got, d.ID)
		}
		if len(page) < 2 {
			break
		}
		before = page[len(page)-1].ID
	}
	if len(got) != 5 {
		t.Fatalf("got %v, want the 5 dialogs %v", got, ids)
	}
	for i := range got {
		if got[i] != ids[4-i] {
			t.Fatalf("got %v, want %v newest first", got, ids)
		}
	}
}

// testAdminDailyFigures: actives are distinct users per day, counters the
// sum over nodes and flushes, days outside the range left out.
func testAdminDailyFigures(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	noErr(t, "mark", s.MarkActive(ctx, 20260101, []int64{1, 2, 3}))
	noErr(t, "mark again", s.MarkActive(ctx, 20260101, []int64{3, 2, 4, 4}))
	noErr(t, "mark next day", s.MarkActive(ctx, 20260102, []int64{1}))
	noErr(t, "mark outside", s.MarkActive(ctx, 20260110, []int64{1}))
	add := func(node string, m map[chat.DayCounter]int64) {
		t.Helper()
		noErr(t, "add counts", s.AddDailyCounts(ctx, node, m))
	}
	add("a", map[chat.DayCounter]int64{{Day: 20260101, Counter: chat.CounterMessages}: 5, {Day: 20260101, Counter: chat.CounterPushes}: 2})
	add("a", map[chat.DayCounter]int64{{Day: 20260101, Counter: chat.CounterMessages}: 1})
	add("b", map[chat.DayCounter]int64{{Day: 20260101, Counter: chat.CounterMessages}: 10, {Day: 20260103, Counter: chat.CounterPushes}: 7})
	got, err := s.DailyFigures(ctx, 20260101, 20260105)
	noErr(t, "figures", err)
	want := []chat.DayFigures{
		{Day: "2026-01-01", Actives: 4, Messages: 16, Pushes: 2},
		{Day: "2026-01-02", Actives: 1},
		{Day: "2026-01-03", Pushes: 7},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

// testBroadcastProgress: a broadcast advances from the batch it is at,
// once; a second advance from the same batch changes nothing.
func testBroadcastProgress(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	from := t0.Add(-time.Hour)
	b, err := s.CreateBroadcast(ctx, chat.Broadcast{CreatedBy: 7, CreatedAt: t0, Text: "Привет",
		Segment: chat.Segment{Role: chat.RoleUser, RegisteredFrom: &from}, Status: chat.BroadcastSending})
	noErr(t, "create", err)
	cur := chat.UserCursor{CreatedAt: t0.Add(time.Minute), ID: 42}
	ok, err := s.AdvanceBroadcast(ctx, b.ID, 0, 100, cur, false, t0)
	noErr(t, "advance", err)
	if !ok {
		t.Fatal("the first advance from batch 0 was refused")
	}
	ok, err = s.AdvanceBroadcast(ctx, b.ID, 0, 100, cur, false, t0)
	noErr(t, "advance again", err)
	if ok {
		t.Fatal("a second advance from batch 0 counted")
	}
	ok, err = s.AdvanceBroadcast(ctx, b.ID, 1, 5, chat.UserCursor{CreatedAt: t0.Add(2 * time.Minute), ID: 43}, true, t0.Add(time.Hour))
	noErr(t, "finish", err)
	if !ok {
		t.Fatal("the advance from batch 1 was refused")
	}
	got, err := s.Broadcast(ctx, b.ID)
	noErr(t, "read", err)
	if got.Sent != 105 || got.Batches != 2 || got.Status != chat.BroadcastDone || got.FinishedAt == nil ||
		!got.FinishedAt.Equal(t0.Add(time.Hour)) || got.Cursor.ID != 43 || !got.Cursor.CreatedAt.Equal(t0.Add(2*time.Minute)) ||
		got.Segment.Role != chat.RoleUser || got.Segment.RegisteredFrom == nil || !got.Segment.RegisteredFrom.Equal(from) || got.Text != "Привет" {
		t.Fatalf("got %+v", got)
	}
	if ok, _ := s.AdvanceBroadcast(ctx, b.ID, 2, 1, cur, false, t0); ok {
		t.Fatal("a finished broadcast advanced")
	}
	b2, err := s.CreateBroadcast(ctx, chat.Broadcast{CreatedBy: 7, CreatedAt: t0, Text: "2", Status: chat.BroadcastSending})
	noErr(t, "create 2", err)
	list, err := s.Broadcasts(ctx, 0, 10)
	noErr(t, "list", err)
	if len(list) != 2 || list[0].ID != b2.ID || list[1].ID != b.ID {
		t.Fatalf("list %+v", list)
	}
	list, err = s.Broadcasts(ctx, b2.ID, 10)
	noErr(t, "list before", err)
	if len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("list before: %+v", list)
	}
	_, err = s.Broadcast(ctx, 999999)
	wantErrIs(t, "unknown broadcast", err, chat.ErrNotFound)
}

// testScreenVersions: the newest version that is not retired is live; a
// retire brings the one before back.
func testScreenVersions(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	add := func(name, src string) chat.ScreenVersion {
		t.Helper()
		v, err := s.AddScreenVersion(ctx, chat.ScreenVersion{Name: name, Source: []byte(src), CreatedBy: 7, CreatedAt: t0})
		noErr(t, "add", err)
		return v
	}
	live := func() map[string]string {
		t.Helper()
		vs, err := s.LiveScreenVersions(ctx)
		noErr(t, "live", err)
		m := map[string]string{}
		for _, v := range vs {
			m[v.Name] = string(v.Source)
		}
		return m
	}
	_, err := s.RetireScreenVersion(ctx, "login", t0)
	wantErrIs(t, "retire nothing", err, chat.ErrNotFound)
	add("login", "v1")
	v2 := add("login", "v2")
	add("chat", "c1")
	if m := live(); len(m) != 2 || m["login"] != "v2" || m["chat"] != "c1" {
		t.Fatalf("live %v", m)
	}
	old, err := s.RetireScreenVersion(ctx, "login", t0)
	noErr(t, "retire", err)
	if old.ID != v2.ID {
		t.Fatalf("retired %+v, want v2", old)
	}
	if m := live(); m["login"] != "v1" {
		t.Fatalf("after rollback: %v", m)
	}
	_, err = s.RetireScreenVersion(ctx, "login", t0)
	noErr(t, "retire v1", err)
	if m := live(); len(m) != 1 || m["chat"] != "c1" {
		t.Fatalf("after two rollbacks: %v", m)
	}
}
