package chat_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// group creates a group owned by owner with the others as members.
func (f *fixture) group(t testing.TB, owner *user, title string, others ...*user) chat.DialogView {
	t.Helper()
	ids := make([]string, len(others))
	for i, u := range others {
		ids[i] = chat.FormatID(u.id)
	}
	v, err := f.svc.CreateGroup(context.Background(), owner.p, chat.NewGroup{Title: title, MemberIDs: ids})
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	return v
}

// systemTypes lists the system message types among a user's message
// events of a dialog, in order.
func systemTypes(t testing.TB, u *user, dialogID string) []string {
	t.Helper()
	var out []string
	for _, e := range u.events.of(t, "message") {
		if e.Message.DialogID == dialogID && e.Message.System != nil {
			out = append(out, e.Message.System.Type)
		}
	}
	return out
}

func memberRoles(t testing.TB, f *fixture, u *user, dialogID int64) map[int64]chat.GroupRole {
	t.Helper()
	page, err := f.svc.GroupMembers(context.Background(), u.p, dialogID, "", 0)
	if err != nil {
		t.Fatalf("members: %v", err)
	}
	out := map[int64]chat.GroupRole{}
	for _, m := range page.Members {
		out[parseID(t, m.User.ID)] = m.Role
	}
	return out
}

func TestGroupCreate(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris, vera := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera")
	v := f.group(t, anna, "  Book club ", boris, vera)
	if v.Kind != chat.DialogGroup || v.Title != "Book club" || v.Role != chat.GroupOwner || v.MemberCount != 3 || v.Unread != 0 {
		t.Fatalf("view = %+v, want a group \"Book club\" of 3 owned by the caller with nothing unread", v)
	}
	if !slices.Contains(v.Permissions, chat.ActionPromote) {
		t.Errorf("owner permissions = %v, want promote among them", v.Permissions)
	}
	id := parseID(t, v.ID)
	for _, u := range []*user{boris, vera} {
		d := u.events.wait(t, "dialog", 1)[0]
		if d.Dialog.ID != v.ID || d.Dialog.Kind != "group" || d.Dialog.Unread != 0 {
			t.Errorf("dialog event = %+v, want the group with nothing unread", d.Dialog)
		}
		u.events.wait(t, "message", 2)
		if got := systemTypes(t, u, v.ID); !slices.Equal(got, []string{"created", "member_added"}) {
			t.Errorf("system messages = %v, want created, member_added", got)
		}
		dv, err := f.svc.Dialog(ctx, u.p, id)
		if err != nil || dv.Role != chat.GroupMember || dv.Unread != 0 || slices.Contains(dv.Permissions, chat.ActionAddMembers) {
			t.Errorf("member's view = %+v, %v; want role member, no unread, no add right", dv, err)
		}
	}
	roles := memberRoles(t, f, boris, id)
	if roles[anna.id] != chat.GroupOwner || roles[boris.id] != chat.GroupMember || len(roles) != 3 {
		t.Errorf("roles = %v", roles)
	}
	// A message counts as unread; the system messages do not.
	f.send(t, anna, id, "m1", "hello")
	if dv, _ := f.svc.Dialog(ctx, boris.p, id); dv.Unread != 1 {
		t.Errorf("unread after one message = %d, want 1", dv.Unread)
	}
	hist, err := f.svc.History(ctx, boris.p, id, 0, 0)
	if err != nil || len(hist) != 3 || hist[0].System == nil || hist[0].System.Type != chat.SystemCreated || hist[2].Text != "hello" {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	if s := hist[1].System; s.ActorName != "Anna" || s.UserNames != "Boris, Vera" && s.UserNames != "Vera, Boris" {
		t.Errorf("names in the added event = %q / %q", s.ActorName, s.UserNames)
	}
}

func TestGroupBadInput(t *testing.T) {
	f := newTestService(t, func(_ *fixture, c *chat.Config) { c.Groups = chat.GroupConfig{MaxMembers: 3, MaxPerUser: 2} })
	ctx := context.Background()
	anna, boris, vera, gleb := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera"), f.newUser(t, "Gleb")
	_, err := f.svc.CreateGroup(ctx, anna.p, chat.NewGroup{Title: "\u200b \u2060"})
	wantCode(t, "invisible title", err, "invalid_title")
	_, err = f.svc.CreateGroup(ctx, anna.p, chat.NewGroup{Title: "x", MemberIDs: []string{"999999"}})
	wantCode(t, "unknown member", err, "unknown_user")
	_, err = f.svc.CreateGroup(ctx, anna.p, chat.NewGroup{Title: "x", MemberIDs: []string{"abc"}})
	wantCode(t, "malformed member", err, "invalid_members")
	_, err = f.svc.CreateGroup(ctx, anna.p, chat.NewGroup{Title: "x", MemberIDs: []string{chat.FormatID(boris.id), chat.FormatID(vera.id), chat.FormatID(gleb.id)}})
	wantCode(t, "over the member limit", err, "too_many_members")
	if page, _ := f.svc.Dialogs(ctx, anna.p, "", 0); len(page.Dialogs) != 0 {
		t.Fatalf("refused creations left dialogs: %+v", page.Dialogs)
	}

	g := f.group(t, anna, "G", boris, vera)
	id := parseID(t, g.ID)
	last := g.LastMessage.Seq
	_, err = f.svc.AddMembers(ctx, anna.p, id, []string{chat.FormatID(gleb.id)})
	wantCode(t, "add over the member limit", err, "too_many_members")
	err = f.svc.RemoveMember(ctx, boris.p, id, vera.id)
	wantCode(t, "member removing another", err, "not_permitted")
	_, err = f.svc.UpdateGroup(ctx, boris.p, id, chat.GroupUpdate{Title: ptr("Mine")})
	wantCode(t, "member renaming", err, "not_permitted")
	if err := f.svc.SetMemberRole(ctx, anna.p, id, boris.id, chat.GroupAdmin); err != nil {
		t.Fatal(err)
	}
	err = f.svc.RemoveMember(ctx, boris.p, id, anna.id)
	wantCode(t, "admin removing the owner", err, "cannot_remove_owner")
	err = f.svc.SetMemberRole(ctx, boris.p, id, vera.id, chat.GroupAdmin)
	wantCode(t, "admin promoting", err, "not_permitted")
	_, err = f.svc.AddMembers(ctx, anna.p, id, []string{chat.FormatID(vera.id)})
	wantCode(t, "adding a member again", err, "already_member")
	err = f.svc.RemoveMember(ctx, anna.p, id, gleb.id)
	wantCode(t, "removing a non-member", err, "not_a_member")
	_, err = f.svc.AddMembers(ctx, gleb.p, id, []string{chat.FormatID(gleb.id)})
	wantCode(t, "outsider adding", err, "not_found")
	direct := f.direct(t, anna, boris)
	_, err = f.svc.AddMembers(ctx, anna.p, direct, []string{chat.FormatID(vera.id)})
	wantCode(t, "adding to a direct dialog", err, "not_a_group")

	// Nothing changed but the one promotion.
	dv, err := f.svc.Dialog(ctx, anna.p, id)
	if err != nil || dv.LastMessage.Seq != last+1 || dv.MemberCount != 3 || dv.Title != "G" {
		t.Errorf("after refusals: %+v, %v; want seq %d, 3 members, title G", dv, err, last+1)
	}
	// Groups per user: Boris is in one; a second is fine, a third is not.
	f.group(t, boris, "second")
	_, err = f.svc.CreateGroup(ctx, anna.p, chat.NewGroup{Title: "third", MemberIDs: []string{chat.FormatID(boris.id)}})
	wantCode(t, "over the groups limit", err, "too_many_groups")
}

func ptr[T any](v T) *T { return &v }

// TestGroupRemovedKeepsHistoryUpToRemoval: a removed member gets the
// system message and nothing more live; they still list the group
// (marked removed) and read its messages up to their removal through
// history, change pages and sync, without media, and nothing after; they
// cannot send. Adding them again resumes the membership.
func TestGroupRemovedKeepsHistoryUpToRemoval(t *testing.T) {
	f, _ := newTestServiceWith(t, func(c *chat.Config) { c.MediaSigner = signer(t) })
	ctx := context.Background()
	anna, boris, vera := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera")
	g := f.group(t, anna, "G", boris, vera)
	id := parseID(t, g.ID)
	f.send(t, anna, id, "m1", "before")
	up, err := f.svc.Upload(ctx, anna.p, strings.NewReader("the plan"), "plan.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Send(ctx, anna.p, 1, chat.SendRequest{DialogID: id, ClientID: "p1", Text: "plan",
		Attachments: json.RawMessage(`[{"upload_id":"` + up.ID + `"}]`)}); err != nil {
		t.Fatal(err)
	}
	vera.events.wait(t, "message", 4)
	if err := f.svc.RemoveMember(ctx, anna.p, id, vera.id); err != nil {
		t.Fatal(err)
	}
	got := vera.events.wait(t, "message", 5)
	if s := got[4].Message.System; s == nil || s.Type != "member_removed" || s.Users[0] != chat.FormatID(vera.id) {
		t.Fatalf("removed member's last event = %+v, want member_removed naming them", got[4].Message)
	}
	end := got[4].Message.Seq
	f.send(t, anna, id, "m2", "after")
	boris.events.wait(t, "message", 6)
	if n := len(vera.events.of(t, "message")); n != 5 {
		t.Errorf("removed member got %d message events, want 5 (nothing after the removal)", n)
	}
	_, _, err = f.svc.Send(ctx, vera.p, 0, chat.SendRequest{DialogID: id, ClientID: "v1", Text: "still here?"})
	wantCode(t, "send after removal", err, "not_found")

	checkHistory := func(what string, msgs []chat.MessageView) {
		t.Helper()
		if len(msgs) == 0 || msgs[len(msgs)-1].Seq != end {
			t.Fatalf("%s = %+v, want the history up to the removal (seq %d)", what, msgs, end)
		}
		for _, m := range msgs {
			if m.Seq > end || m.Text == "after" {
				t.Errorf("%s holds seq %d %q, after the removal", what, m.Seq, m.Text)
			}
			if m.Text == "plan" && string(m.Attachments) != "[]" {
				t.Errorf("%s: the removed member got media %s", what, m.Attachments)
			}
		}
		if !slices.ContainsFunc(msgs, func(m chat.MessageView) bool { return m.Text == "before" }) {
			t.Errorf("%s lost the message before the removal", what)
		}
	}
	hist, err := f.svc.History(ctx, vera.p, id, 0, 0)
	if err != nil {
		t.Fatalf("history after removal: %v", err)
	}
	checkHistory("history", hist)
	changes, err := f.svc.Changes(ctx, vera.p, id, 0, 0)
	if err != nil {
		t.Fatalf("changes after removal: %v", err)
	}
	checkHistory("changes", changes)
	for _, req := range []chat.SyncRequest{{Seqs: map[int64]int64{id: 0}}, {Since: map[int64]int64{id: 0}}} {
		var synced []chat.MessageView
		res, err := f.svc.Sync(ctx, vera.p, req, func(m chat.MessageView) error {
			synced = append(synced, m)
			return nil
		})
		if err != nil {
			t.Fatalf("sync after removal: %v", err)
		}
		checkHistory("sync", synced)
		if req.Seqs != nil && res.Synced[g.ID] != end {
			t.Errorf("sync answered seq %d, want %d (the removal)", res.Synced[g.ID], end)
		}
	}
	if _, err := f.svc.DialogMedia(ctx, vera.p, id, "", "", 0); err == nil {
		t.Error("the removed member read the group's gallery")
	}
	page, err := f.svc.Dialogs(ctx, vera.p, "", 0)
	if err != nil || len(page.Dialogs) != 1 {
		t.Fatalf("removed member lists %+v, %v; want the group", page.Dialogs, err)
	}
	dv := page.Dialogs[0]
	if dv.ID != g.ID || dv.Membership != chat.EndRemoved || dv.LastMessage == nil || dv.LastMessage.Seq != end ||
		dv.MemberCount != 0 || len(dv.Members) != 1 || len(dv.Permissions) != 0 || dv.Unread != 0 {
		t.Errorf("removed member's entry = %+v, want the group marked removed, ending at seq %d", dv, end)
	}
	if one, err := f.svc.Dialog(ctx, vera.p, id); err != nil || one.Membership != chat.EndRemoved {
		t.Errorf("removed member's dialog = %+v, %v", one, err)
	}
	if dv, _ := f.svc.Dialog(ctx, anna.p, id); dv.MemberCount != 2 || dv.Membership != "" {
		t.Errorf("members after removal = %d (%q), want 2", dv.MemberCount, dv.Membership)
	}
	// A stranger still gets not found.
	gleb := f.newUser(t, "Gleb")
	_, err = f.svc.History(ctx, gleb.p, id, 0, 0)
	wantCode(t, "stranger's history", err, "not_found")

	// Added again: a member again, reading everything, live.
	if _, err := f.svc.AddMembers(ctx, anna.p, id, []string{chat.FormatID(vera.id)}); err != nil {
		t.Fatal(err)
	}
	dv, err = f.svc.Dialog(ctx, vera.p, id)
	if err != nil || dv.Membership != "" || dv.Role != chat.GroupMember {
		t.Fatalf("re-added member's dialog = %+v, %v", dv, err)
	}
	hist, err = f.svc.History(ctx, vera.p, id, 0, 0)
	if err != nil || !slices.ContainsFunc(hist, func(m chat.MessageView) bool { return m.Text == "after" }) {
		t.Errorf("re-added member's history = %+v, %v; want everything", hist, err)
	}
	f.send(t, vera, id, "v2", "back")
	if page, _ := f.svc.Dialogs(ctx, vera.p, "", 0); len(page.Dialogs) != 1 || page.Dialogs[0].Membership != "" {
		t.Errorf("re-added member lists %+v, want the group once, as a member", page.Dialogs)
	}
}

// TestGroupLeftListedAndPaged: a group one left is listed as left, among
// the others by when one left, and pages through the list with them.
func TestGroupLeftListedAndPaged(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris := f.newUser(t, "Anna"), f.newUser(t, "Boris")
	var ids []string
	for i := range 4 {
		f.clock.Advance(time.Second)
		g := f.group(t, anna, "G"+itoa(i), boris)
		ids = append(ids, g.ID)
	}
	f.clock.Advance(time.Second)
	if err := f.svc.LeaveGroup(ctx, boris.p, parseID(t, ids[1])); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	f.send(t, anna, parseID(t, ids[0]), "m", "hi")
	// Newest first: G0 (a message now), G1 (left before it), G3, G2.
	want := []string{ids[0], ids[1], ids[3], ids[2]}
	var got []string
	cursor := ""
	for range 5 {
		page, err := f.svc.Dialogs(ctx, boris.p, cursor, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Dialogs {
			got = append(got, d.ID)
			if (d.ID == ids[1]) != (d.Membership == chat.EndLeft) {
				t.Errorf("dialog %s membership %q", d.ID, d.Membership)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
}

func TestGroupOwnerLeaves(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris, vera, gleb := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera"), f.newUser(t, "Gleb")
	g := f.group(t, anna, "G", boris, vera)
	id := parseID(t, g.ID)
	f.clock.Advance(1e9)
	if _, err := f.svc.AddMembers(ctx, anna.p, id, []string{chat.FormatID(gleb.id)}); err != nil {
		t.Fatal(err)
	}
	// Gleb joined last but is the only admin: he inherits.
	if err := f.svc.SetMemberRole(ctx, anna.p, id, gleb.id, chat.GroupAdmin); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.LeaveGroup(ctx, anna.p, id); err != nil {
		t.Fatal(err)
	}
	roles := memberRoles(t, f, boris, id)
	if roles[gleb.id] != chat.GroupOwner || len(roles) != 3 {
		t.Fatalf("after the owner left: %v, want Gleb (the admin) owner", roles)
	}
	// With no admin the earliest member inherits (Boris and Vera joined
	// together: the lower id wins).
	if err := f.svc.LeaveGroup(ctx, gleb.p, id); err != nil {
		t.Fatal(err)
	}
	roles = memberRoles(t, f, boris, id)
	if heir := min(boris.id, vera.id); roles[heir] != chat.GroupOwner {
		t.Fatalf("after the second owner left: %v, want %d owner", roles, heir)
	}
	types := systemTypes(t, vera, g.ID)
	if n := len(types); n < 2 || types[n-2] != "member_left" || types[n-1] != "ownership" {
		t.Errorf("system messages end with %v, want member_left, ownership", types)
	}
}

func TestGroupHistoryFromJoin(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris, vera := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera")
	g := f.group(t, anna, "G", boris)
	id := parseID(t, g.ID)
	f.send(t, anna, id, "m1", "secret")
	if _, err := f.svc.UpdateGroup(ctx, anna.p, id, chat.GroupUpdate{HistoryVisible: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddMembers(ctx, anna.p, id, []string{chat.FormatID(vera.id)}); err != nil {
		t.Fatal(err)
	}
	f.send(t, anna, id, "m2", "welcome")
	hist, err := f.svc.History(ctx, vera.p, id, 0, 0)
	if err != nil || len(hist) != 2 || hist[0].System == nil || hist[0].System.Type != chat.SystemMemberAdded || hist[1].Text != "welcome" {
		t.Fatalf("newcomer's history = %+v, %v; want member_added, welcome", hist, err)
	}
	var synced []chat.MessageView
	if _, err := f.svc.Sync(ctx, vera.p, chat.SyncRequest{Seqs: map[int64]int64{id: 0}}, func(m chat.MessageView) error {
		synced = append(synced, m)
		return nil
	}); err != nil || len(synced) != 2 {
		t.Errorf("newcomer's sync = %d messages, %v; want 2", len(synced), err)
	}
	synced = nil
	if _, err := f.svc.Sync(ctx, vera.p, chat.SyncRequest{Since: map[int64]int64{id: 0}}, func(m chat.MessageView) error {
		synced = append(synced, m)
		return nil
	}); err != nil || len(synced) != 2 {
		t.Errorf("newcomer's change sync = %d messages, %v; want 2", len(synced), err)
	}
	// Boris, there from the start, reads everything, system messages
	// included, from a change cursor.
	synced = nil
	if _, err := f.svc.Sync(ctx, boris.p, chat.SyncRequest{Since: map[int64]int64{id: 0}}, func(m chat.MessageView) error {
		synced = append(synced, m)
		return nil
	}); err != nil || len(synced) != 5 {
		t.Errorf("member's change sync = %d messages, %v; want 5", len(synced), err)
	}
}

func TestGroupReceipts(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris, vera := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera")
	g := f.group(t, anna, "G", boris, vera)
	id := parseID(t, g.ID)
	m := f.send(t, anna, id, "m1", "hello")
	if _, err := f.svc.Read(ctx, boris.p, id, m.Seq); err != nil {
		t.Fatal(err)
	}
	hist, _ := f.svc.History(ctx, anna.p, id, 0, 0)
	if last := hist[len(hist)-1]; last.Status != chat.StatusRead || last.ReadBy != 1 {
		t.Errorf("after one read: status %s, read_by %d; want read, 1", last.Status, last.ReadBy)
	}
	if _, err := f.svc.Read(ctx, vera.p, id, m.Seq); err != nil {
		t.Fatal(err)
	}
	page, err := f.svc.Readers(ctx, anna.p, id, m.Seq, "", 1)
	if err != nil || len(page.Members) != 1 || page.NextCursor == "" {
		t.Fatalf("readers page 1 = %+v, %v", page, err)
	}
	page2, err := f.svc.Readers(ctx, anna.p, id, m.Seq, page.NextCursor, 1)
	if err != nil || len(page2.Members) != 1 || page2.NextCursor != "" {
		t.Fatalf("readers page 2 = %+v, %v", page2, err)
	}
	got := []string{page.Members[0].User.ID, page2.Members[0].User.ID}
	if !slices.Contains(got, chat.FormatID(boris.id)) || !slices.Contains(got, chat.FormatID(vera.id)) {
		t.Errorf("readers = %v, want Boris and Vera", got)
	}
	// A newcomer's watermark says nothing of older messages.
	gleb := f.newUser(t, "Gleb")
	if _, err := f.svc.AddMembers(ctx, anna.p, id, []string{chat.FormatID(gleb.id)}); err != nil {
		t.Fatal(err)
	}
	if page, _ := f.svc.Readers(ctx, anna.p, id, m.Seq, "", 0); len(page.Members) != 2 {
		t.Errorf("readers after a join = %d, want 2", len(page.Members))
	}
	_, err = f.svc.Readers(ctx, gleb.p, id, 99, "", 0)
	wantCode(t, "readers of a missing message", err, "not_found")
	outsider := f.newUser(t, "Out")
	_, err = f.svc.Readers(ctx, outsider.p, id, m.Seq, "", 0)
	wantCode(t, "readers for an outsider", err, "not_found")
}

func TestGroupAdminDeletes(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris, vera := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera")
	g := f.group(t, anna, "G", boris, vera)
	id := parseID(t, g.ID)
	m := f.send(t, boris, id, "b1", "spam")
	_, err := f.svc.DeleteMessage(ctx, vera.p, id, m.Seq)
	wantCode(t, "member deleting another's message", err, "not_found")
	if v, err := f.svc.DeleteMessage(ctx, anna.p, id, m.Seq); err != nil || !v.Deleted {
		t.Fatalf("owner deleting: %+v, %v", v, err)
	}
	_, err = f.svc.DeleteMessage(ctx, anna.p, id, 1)
	wantCode(t, "deleting a system message", err, "not_found")
	_, err = f.svc.EditMessage(ctx, anna.p, id, 1, "x")
	wantCode(t, "editing a system message", err, "not_found")
}

// TestPermissionTableDocumented keeps the table in docs/api.md equal to
// the one in code.
func TestPermissionTableDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	who := map[string]string{"admin": "admin, owner", "owner": "owner", "member": "member, admin, owner"}
	for _, r := range chat.GroupRules() {
		row := "| `" + r[0] + "` | " + who[r[1]] + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/api.md lacks the row %q", row)
		}
	}
}

func TestSystemText(t *testing.T) {
	names := map[string]string{"1": "Анна", "2": "Борис", "3": "Вера"}
	for _, tc := range []struct {
		e      chat.SystemEvent
		ru, en string
	}{
		{chat.SystemEvent{Type: chat.SystemCreated, Actor: "1", Title: "Клуб"}, "Анна создаёт группу «Клуб»", "Анна created the group «Клуб»"},
		{chat.SystemEvent{Type: chat.SystemMemberAdded, Actor: "1", Users: []string{"2", "3"}}, "Анна добавляет в группу: Борис, Вера", "Анна added Борис, Вера"},
		{chat.SystemEvent{Type: chat.SystemMemberLeft, Actor: "9"}, "Участник покидает группу", "A member left the group"},
		{chat.SystemEvent{Type: chat.SystemOwnership, Actor: "1", Users: []string{"2"}}, "Борис теперь владелец группы", "Борис is the owner now"},
		{chat.SystemEvent{Type: chat.SystemRoleChanged, Actor: "1", Users: []string{"2"}, Role: chat.GroupAdmin}, "Анна назначает администратором: Борис", "Анна made Борис an admin"},
	} {
		if got := chat.SystemText(tc.e, "ru", names); got != tc.ru {
			t.Errorf("ru %s: got %q, want %q", tc.e.Type, got, tc.ru)
		}
		if got := chat.SystemText(tc.e, "en", names); got != tc.en {
			t.Errorf("en %s: got %q, want %q", tc.e.Type, got, tc.en)
		}
	}
}

func TestMentionsAndReplies(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris, vera, out := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera"), f.newUser(t, "Out")
	g := f.group(t, anna, "G", boris, vera)
	id := parseID(t, g.ID)
	first := f.send(t, boris, id, "b1", "Кто идёт в субботу?")
	mention := func(off, n int, u *user) []byte {
		return []byte(`[{"type":"mention","offset":` + itoa(off) + `,"length":` + itoa(n) + `,"user_id":"` + chat.FormatID(u.id) + `"}]`)
	}
	// "🙂 @Вера" — the emoji is two UTF-16 units, so the mention starts at 3.
	v, _, err := f.svc.Send(ctx, anna.p, 0, chat.SendRequest{DialogID: id, ClientID: "a1", Text: "🙂 @Вера, ты?",
		ReplyTo: first.Seq, Entities: mention(3, 5, vera)})
	if err != nil {
		t.Fatal(err)
	}
	if v.ReplyTo == nil || v.ReplyTo.Seq != first.Seq || v.ReplyTo.Text != "Кто идёт в субботу?" || len(v.Entities) == 0 {
		t.Fatalf("sent view = %+v", v)
	}
	// The event every member gets quotes the reply too.
	ev := vera.events.wait(t, "message", 4)
	if ev[len(ev)-1].Message.ClientID != "a1" {
		t.Fatalf("last event %+v", ev[len(ev)-1].Message)
	}
	hist, _ := f.svc.History(ctx, boris.p, id, 0, 0)
	last := hist[len(hist)-1]
	if last.ReplyTo == nil || last.ReplyTo.SenderID != chat.FormatID(boris.id) || string(last.Entities) == "" {
		t.Errorf("history view = %+v", last)
	}
	// A device that resumes gets the quote too.
	var synced []chat.MessageView
	if _, err := f.svc.Sync(ctx, vera.p, chat.SyncRequest{Seqs: map[int64]int64{id: first.Seq}}, func(m chat.MessageView) error {
		synced = append(synced, m)
		return nil
	}); err != nil || len(synced) != 1 || synced[0].ReplyTo == nil || synced[0].ReplyTo.Seq != first.Seq {
		t.Errorf("synced reply = %+v, %v", synced, err)
	}
	// The quote follows the replied message: deleted, it says so.
	if _, err := f.svc.DeleteMessage(ctx, boris.p, id, first.Seq); err != nil {
		t.Fatal(err)
	}
	hist, _ = f.svc.History(ctx, boris.p, id, 0, 0)
	if q := hist[len(hist)-1].ReplyTo; q == nil || !q.Deleted || q.Text != "" {
		t.Errorf("quote of a deleted message = %+v", q)
	}
	for _, tc := range []struct {
		name string
		req  chat.SendRequest
		code string
	}{
		{"not at an @", chat.SendRequest{Text: "hi Vera", Entities: mention(3, 4, vera)}, "invalid_entities"},
		{"out of range", chat.SendRequest{Text: "@V", Entities: mention(0, 5, vera)}, "invalid_entities"},
		{"not a member", chat.SendRequest{Text: "@Out", Entities: mention(0, 4, out)}, "invalid_entities"},
		{"not an array", chat.SendRequest{Text: "@Out", Entities: []byte(`{}`)}, "invalid_entities"},
		{"reply to nothing", chat.SendRequest{Text: "x", ReplyTo: 999}, "invalid_reply"},
		{"reply to a system message", chat.SendRequest{Text: "x", ReplyTo: 1}, "invalid_reply"},
	} {
		tc.req.DialogID, tc.req.ClientID = id, "bad"
		_, _, err := f.svc.Send(ctx, anna.p, 0, tc.req)
		wantCode(t, tc.name, err, tc.code)
	}
	// Direct dialogs too.
	d := f.direct(t, anna, boris)
	m := f.send(t, boris, d, "d1", "ping")
	v, _, err = f.svc.Send(ctx, anna.p, 0, chat.SendRequest{DialogID: d, ClientID: "d2", Text: "@Boris pong", ReplyTo: m.Seq, Entities: mention(0, 6, boris)})
	if err != nil || v.ReplyTo == nil || v.ReplyTo.Text != "ping" {
		t.Errorf("direct reply = %+v, %v", v, err)
	}
}

func itoa(n int) string { return chat.FormatID(int64(n)) }

// TestGroupPushHonoursMute: a group message pushes every member but the
// sender, except the one who muted the group; system messages push no one.
func TestGroupPushHonoursMute(t *testing.T) {
	pf := newPushService(t, pushOptions{})
	ctx := context.Background()
	anna, boris, vera := pf.newUser(t, "Anna"), pf.newUser(t, "Boris"), pf.newUser(t, "Vera")
	pf.register(t, boris, chat.PlatformAPNs, apnsToken, "en")
	pf.register(t, vera, chat.PlatformAPNs, apnsToken2, "en")
	g := pf.group(t, anna, "G", boris, vera)
	id := parseID(t, g.ID)
	if _, err := pf.svc.MuteDialog(ctx, vera.p, id, true, nil); err != nil {
		t.Fatal(err)
	}
	pf.send(t, anna, id, "c1", "to the group")
	pf.settle(t, 2)
	if title, body := pf.shown(t, apnsToken, 1)[0].Alert(); title != "G" || body != "Anna: to the group" {
		t.Errorf("Boris's push = %q / %q, want G / Anna: to the group", title, body)
	}
	if pf.metrics.get("skipped:muted") != 1 || len(pf.apns.Shown(apnsToken2)) != 0 {
		t.Errorf("metrics %v; Vera muted the group and must get nothing", pf.metrics.snapshot())
	}
	if n := pf.metrics.get("queued:message"); n != 2 {
		t.Errorf("message jobs queued = %d, want 2 (no system message is pushed)", n)
	}
}

// TestGroupReadNotifiesSenders: in a group a read tells the reader's
// devices and the senders of the messages it passed (whose ticks and
// read counts changed), not every member; a direct dialog tells both.
func TestGroupReadNotifiesSenders(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris, vera, gleb := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera"), f.newUser(t, "Gleb")
	g := f.group(t, anna, "G", boris, vera, gleb)
	id := parseID(t, g.ID)
	m1 := f.send(t, anna, id, "m1", "from Anna")
	m2 := f.send(t, boris, id, "m2", "from Boris")
	statusesFrom := func(u *user, reader *user) int {
		n := 0
		for _, e := range u.events.of(t, "status") {
			if e.DialogID == g.ID && e.UserID == chat.FormatID(reader.id) {
				n++
			}
		}
		return n
	}
	if _, err := f.svc.Read(ctx, vera.p, id, m2.Seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Vera's read reaching Anna, Boris and Vera", func() bool {
		return statusesFrom(anna, vera) == 1 && statusesFrom(boris, vera) == 1 && statusesFrom(vera, vera) == 1
	})
	// Gleb reads only Anna's message: Anna and Gleb hear of it.
	if _, err := f.svc.Read(ctx, gleb.p, id, m1.Seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Gleb's read reaching Anna and Gleb", func() bool {
		return statusesFrom(anna, gleb) == 1 && statusesFrom(gleb, gleb) == 1
	})
	// Events of one topic arrive in order: a later message to everyone
	// shows that nothing more came before it.
	f.send(t, anna, id, "m3", "sync point")
	for _, u := range []*user{boris, vera, gleb} {
		u.events.wait(t, "message", 5)
	}
	if n := statusesFrom(gleb, vera); n != 0 {
		t.Errorf("Gleb got %d status events of Vera's read, want 0 (none of his messages)", n)
	}
	if n := statusesFrom(boris, gleb) + statusesFrom(vera, gleb); n != 0 {
		t.Errorf("Boris and Vera got %d status events of Gleb's read of Anna's message, want 0", n)
	}
	// A direct dialog: both members hear of a read.
	d := f.direct(t, anna, boris)
	dm := f.send(t, anna, d, "d1", "hi")
	if _, err := f.svc.Read(ctx, boris.p, d, dm.Seq); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a direct read reaching both", func() bool {
		n := 0
		for _, e := range anna.events.of(t, "status") {
			if e.DialogID == chat.FormatID(d) {
				n++
			}
		}
		return n == 1
	})
}

// TestPinMessage: in a group only roles with the pin right pin (admins
// and the owner), a pin is a system message every member gets, the
// dialog shows the pinned message; in a direct dialog either member pins;
// deleted and system messages cannot be pinned; unpinning clears it.
func TestPinMessage(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	anna, boris, vera := f.newUser(t, "Anna"), f.newUser(t, "Boris"), f.newUser(t, "Vera")
	g := f.group(t, anna, "G", boris, vera)
	id := parseID(t, g.ID)
	m := f.send(t, boris, id, "m1", "meeting at five")
	_, err := f.svc.PinMessage(ctx, boris.p, id, m.Seq)
	wantCode(t, "a member pinning", err, "not_permitted")
	_, err = f.svc.PinMessage(ctx, anna.p, id, 1)
	wantCode(t, "pinning a system message", err, "cannot_pin")
	_, err = f.svc.PinMessage(ctx, anna.p, id, 99)
	wantCode(t, "pinning a missing message", err, "not_found")
	outsider := f.newUser(t, "Out")
	_, err = f.svc.PinMessage(ctx, outsider.p, id, m.Seq)
	wantCode(t, "an outsider pinning", err, "not_found")

	dv, err := f.svc.PinMessage(ctx, anna.p, id, m.Seq)
	if err != nil || dv.Pinned == nil || dv.Pinned.Seq != m.Seq || dv.Pinned.Text != "meeting at five" {
		t.Fatalf("pinned view = %+v, %v", dv.Pinned, err)
	}
	got := vera.events.wait(t, "message", 4)
	if s := got[3].Message.System; s == nil || s.Type != "pinned" || s.Title != "meeting at five" {
		t.Fatalf("members' event = %+v, want the pinned system message", got[3].Message)
	}
	if bv, _ := f.svc.Dialog(ctx, boris.p, id); bv.Pinned == nil || bv.Pinned.Seq != m.Seq || bv.Unread != 0 {
		t.Errorf("member's view = %+v; want the pin, and the system message not unread", bv)
	}
	hist, _ := f.svc.History(ctx, vera.p, id, 0, 0)
	last := hist[len(hist)-1]
	if last.System == nil || chat.SystemText(*last.System, "en", map[string]string{last.System.Actor: "Anna"}) != "Anna pinned «meeting at five»" {
		t.Errorf("system text of %+v", last.System)
	}
	// Promoted, Boris may pin; deleting the pinned message hides the pin.
	if err := f.svc.SetMemberRole(ctx, anna.p, id, boris.id, chat.GroupAdmin); err != nil {
		t.Fatal(err)
	}
	m2 := f.send(t, vera, id, "m2", "second")
	if dv, err := f.svc.PinMessage(ctx, boris.p, id, m2.Seq); err != nil || dv.Pinned.Seq != m2.Seq {
		t.Fatalf("admin's pin = %+v, %v", dv.Pinned, err)
	}
	if _, err := f.svc.DeleteMessage(ctx, vera.p, id, m2.Seq); err != nil {
		t.Fatal(err)
	}
	if dv, _ := f.svc.Dialog(ctx, anna.p, id); dv.Pinned != nil {
		t.Errorf("a deleted pinned message still shows: %+v", dv.Pinned)
	}
	_, err = f.svc.PinMessage(ctx, anna.p, id, m2.Seq)
	wantCode(t, "pinning a deleted message", err, "cannot_pin")
	dv, err = f.svc.UnpinMessage(ctx, anna.p, id)
	if err != nil || dv.Pinned != nil {
		t.Fatalf("unpinned view = %+v, %v", dv.Pinned, err)
	}
	if types := systemTypes(t, vera, g.ID); types[len(types)-1] != "unpinned" {
		t.Errorf("system messages = %v, want the unpin last", types)
	}
	// A direct dialog: either member pins.
	d := f.direct(t, anna, boris)
	dm := f.send(t, anna, d, "d1", "address")
	if dv, err := f.svc.PinMessage(ctx, boris.p, d, dm.Seq); err != nil || dv.Pinned == nil || dv.Pinned.Seq != dm.Seq {
		t.Fatalf("direct pin = %+v, %v", dv, err)
	}
	if av, _ := f.svc.Dialog(ctx, anna.p, d); av.Pinned == nil || av.Unread != 0 {
		t.Errorf("partner's view = %+v", av)
	}
}
