package main

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/httpapi"
)

// The admin API end to end: who may use which route (from the route
// table, so that a new route cannot be forgotten), blocks and roles that
// end sessions and sockets at once, dialog views and every change in the
// audit log.

// staff logs in a test number with a role given straight in the store, as
// `korobka admin create` does.
func (e *env) staff(phone, code string, role chat.Role) tokens {
	e.t.Helper()
	ctx := context.Background()
	if _, _, err := e.app.store.UpsertUser(ctx, phone, e.app.svc.Now()); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.app.store.SetRole(ctx, phone, role); err != nil {
		e.t.Fatal(err)
	}
	return e.loginTest(phone, code)
}

// operatorRoutes are the admin routes an operator may use: looking up the
// client they answer and the forms clients sent. Everything else under
// /v1/admin is for admins.
var operatorRoutes = map[string]bool{
	"GET /v1/admin/users":                         true,
	"GET /v1/admin/users/:id":                     true,
	"GET /v1/admin/forms/:collection/submissions": true,
}

// adminRoutes lists the staff routes of the running server: those under
// /v1/admin/ and /v1/operator/ (every one of the latter is an operator's).
func (e *env) adminRoutes() []httpapi.Route {
	e.t.Helper()
	var out []httpapi.Route
	operators := 0
	for _, r := range httpapi.RoutesOf(e.h) {
		if strings.HasPrefix(r.Path, "/v1/admin/") || strings.HasPrefix(r.Path, "/v1/operator/") {
			out = append(out, r)
		}
		if strings.HasPrefix(r.Path, "/v1/operator/") {
			operators++
		}
	}
	if operators < 6 {
		e.t.Fatalf("only %d operator routes in the route table: %v", operators, out)
	}
	if len(out) < len(operatorRoutes)+5 {
		e.t.Fatalf("only %d admin routes in the route table: %v", len(out), out)
	}
	return out
}

// concrete fills a route's parameters: ids with id, anything else with a
// plausible name.
func concrete(path, id string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			parts[i] = id
			if p != ":id" {
				parts[i] = "chat"
			}
		}
	}
	return strings.Join(parts, "/")
}

func TestAdminRoutesByRole(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		user := e.loginTest("+79990000001", "111111")
		target := e.loginTest("+79990000002", "222222")
		op := e.staff("+79991230010", "333333", chat.RoleOperator)
		admin := e.staff("+79991230011", "333333", chat.RoleAdmin)
		for _, r := range e.adminRoutes() {
			path := concrete(r.Path, target.User.ID)
			var body any
			if r.Method != "GET" && r.Method != "HEAD" && r.Method != "DELETE" {
				body = map[string]any{}
			}
			key := r.Method + " " + r.Path
			e.wantErr(e.do(r.Method, path, "", body), 401, "missing_token")
			// A user is refused before anything else is looked at.
			e.wantErr(e.do(r.Method, path, user.AccessToken, body), 403, "forbidden")
			if operatorRoutes[key] || strings.HasPrefix(r.Path, "/v1/operator/") {
				if res := e.do(r.Method, path, op.AccessToken, body); res.status == 403 || res.status == 401 {
					t.Errorf("%s as an operator: got %d %s, want an answer", key, res.status, res.body)
				}
			} else {
				e.wantErr(e.do(r.Method, path, op.AccessToken, body), 403, "forbidden")
			}
			// An admin is never refused for the role (the route may still
			// find the empty body wrong).
			if res := e.do(r.Method, path, admin.AccessToken, body); res.status == 403 || res.status == 401 {
				t.Errorf("%s as an admin: got %d %s", key, res.status, res.body)
			}
		}
		// The refused requests changed nothing.
		e.wantErr(e.do("GET", "/v1/me", target.AccessToken, nil), 401, "invalid_token") // the admin's block above ended it
		var u chat.AdminUser
		e.want(e.do("GET", "/v1/admin/users/"+target.User.ID, admin.AccessToken, nil), 200).json(t, &u)
		if u.Role != chat.RoleUser {
			t.Errorf("target's role: %q", u.Role)
		}
	})
}

func TestAdminBlock(t *testing.T) {
	nodePair(t, nil, func(t *testing.T, nodeA, nodeB *env) {
		anna, boris, dialogID := nodeA.pair()
		admin := nodeA.staff("+79991230011", "333333", chat.RoleAdmin)
		borisA := dial(t, nodeA.url, boris.AccessToken)
		borisB := dial(t, nodeB.url, boris.AccessToken)

		nodeA.wantErr(nodeA.do("POST", "/v1/admin/users/"+admin.User.ID+"/block", admin.AccessToken, nil), 409, "own_account")
		nodeA.wantErr(nodeA.do("POST", "/v1/admin/users/123/block", admin.AccessToken, nil), 404, "not_found")
		var u chat.AdminUser
		nodeA.want(nodeA.do("POST", "/v1/admin/users/"+boris.User.ID+"/block", admin.AccessToken,
			map[string]string{"reason": "spam"}), 200).json(t, &u)
		if !u.Blocked || u.BlockedAt == nil {
			t.Fatalf("blocked user: %+v", u)
		}
		// At once, on every node: sockets close, tokens die, login is refused.
		for name, c := range map[string]*wsClient{"node A": borisA, "node B": borisB} {
			if code := closeCode(c); code != 4001 {
				t.Errorf("the blocked user's socket on %s: close %d, want 4001", name, code)
			}
		}
		nodeB.wantErr(nodeB.do("GET", "/v1/me", boris.AccessToken, nil), 401, "invalid_token")
		nodeB.wantErr(nodeB.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": boris.RefreshToken}), 401, "invalid_token")
		nodeB.want(nodeB.do("POST", "/v1/auth/otp", "", map[string]string{"phone": "+79990000002"}), 200)
		nodeB.wantErr(nodeB.do("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79990000002", "code": "222222"}), 403, "user_blocked")
		// Anna is untouched.
		nodeA.want(nodeA.do("POST", "/v1/dialogs/"+dialogID+"/messages", anna.AccessToken,
			map[string]any{"client_id": "after-block", "text": "hello?"}), 201)

		var page chat.AdminUserPage
		nodeB.want(nodeB.do("GET", "/v1/admin/users?blocked=true", admin.AccessToken, nil), 200).json(t, &page)
		if len(page.Users) != 1 || page.Users[0].ID != boris.User.ID {
			t.Fatalf("blocked users: %+v", page.Users)
		}

		nodeB.want(nodeB.do("POST", "/v1/admin/users/"+boris.User.ID+"/unblock", admin.AccessToken, nil), 200).json(t, &u)
		if u.Blocked {
			t.Fatalf("unblocked user: %+v", u)
		}
		again := nodeA.loginTest("+79990000002", "222222")
		nodeA.want(nodeA.do("GET", "/v1/me", again.AccessToken, nil), 200)

		// Who did what, when.
		var audit struct{ Entries []chat.AuditEntry }
		nodeA.want(nodeA.do("GET", "/v1/admin/audit?target_type=user&target_id="+boris.User.ID, admin.AccessToken, nil), 200).json(t, &audit)
		if len(audit.Entries) != 2 || audit.Entries[0].Action != "user.unblock" || audit.Entries[1].Action != "user.block" ||
			chat.FormatID(audit.Entries[1].ActorID) != admin.User.ID || audit.Entries[1].At.IsZero() ||
			!strings.Contains(string(audit.Entries[1].Details), "spam") {
			t.Fatalf("audit entries: %+v", audit.Entries)
		}
	})
}

func TestAdminRoles(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		user := e.loginTest("+79990000001", "111111")
		admin := e.staff("+79991230011", "333333", chat.RoleAdmin)
		sock := dial(t, e.url, user.AccessToken)
		e.wantErr(e.do("PUT", "/v1/admin/users/"+user.User.ID+"/role", admin.AccessToken, map[string]string{"role": "king"}), 400, "invalid_role")
		e.wantErr(e.do("PUT", "/v1/admin/users/"+admin.User.ID+"/role", admin.AccessToken, map[string]string{"role": "user"}), 409, "own_account")
		var u chat.AdminUser
		e.want(e.do("PUT", "/v1/admin/users/"+user.User.ID+"/role", admin.AccessToken, map[string]string{"role": "operator"}), 200).json(t, &u)
		if u.Role != chat.RoleOperator {
			t.Fatalf("role: %+v", u)
		}
		if code := closeCode(sock); code != 4001 {
			t.Errorf("socket after a role change: close %d, want 4001", code)
		}
		e.wantErr(e.do("GET", "/v1/me", user.AccessToken, nil), 401, "invalid_token")
		op := e.loginTest("+79990000001", "111111")
		e.want(e.do("GET", "/v1/admin/users?role=operator", op.AccessToken, nil), 200)
		e.wantErr(e.do("GET", "/v1/admin/stats", op.AccessToken, nil), 403, "forbidden")

		var audit struct{ Entries []chat.AuditEntry }
		e.want(e.do("GET", "/v1/admin/audit?action=user.role&actor="+admin.User.ID, admin.AccessToken, nil), 200).json(t, &audit)
		if len(audit.Entries) != 1 || !strings.Contains(string(audit.Entries[0].Details), `"role":"operator"`) {
			t.Fatalf("audit: %+v", audit.Entries)
		}
	})
}

func TestAdminUsersAndDialogs(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		anna, boris, dialogID := e.pair()
		admin := e.staff("+79991230011", "333333", chat.RoleAdmin)
		e.want(e.do("POST", "/v1/dialogs/"+dialogID+"/messages", anna.AccessToken,
			map[string]any{"client_id": "m1", "text": "Привет"}), 201)

		var page chat.AdminUserPage
		e.want(e.do("GET", "/v1/admin/users?q="+url.QueryEscape("борис"), admin.AccessToken, nil), 200).json(t, &page)
		if len(page.Users) != 1 || page.Users[0].ID != boris.User.ID || page.Users[0].Phone != "+79990000002" {
			t.Fatalf("search by name: %+v", page.Users)
		}
		e.want(e.do("GET", "/v1/admin/users?q="+url.QueryEscape("8 999 000-00-01"), admin.AccessToken, nil), 200).json(t, &page)
		if len(page.Users) != 0 {
			t.Fatalf("a national number is not a prefix of E.164: %+v", page.Users)
		}
		e.want(e.do("GET", "/v1/admin/users?q="+url.QueryEscape("+7 999 000-00-01"), admin.AccessToken, nil), 200).json(t, &page)
		if len(page.Users) != 1 || page.Users[0].ID != anna.User.ID {
			t.Fatalf("search by phone: %+v", page.Users)
		}
		// Paged: three users, two a page.
		e.want(e.do("GET", "/v1/admin/users?limit=2", admin.AccessToken, nil), 200).json(t, &page)
		if len(page.Users) != 2 || page.Next == "" {
			t.Fatalf("first page: %+v", page)
		}
		seen := map[string]bool{page.Users[0].ID: true, page.Users[1].ID: true}
		next := page.Next
		page = chat.AdminUserPage{}
		e.want(e.do("GET", "/v1/admin/users?limit=2&cursor="+url.QueryEscape(next), admin.AccessToken, nil), 200).json(t, &page)
		if len(page.Users) != 1 || seen[page.Users[0].ID] || page.Next != "" {
			t.Fatalf("second page: %+v", page)
		}
		e.wantErr(e.do("GET", "/v1/admin/users?cursor=nope", admin.AccessToken, nil), 400, "invalid_cursor")
		e.wantErr(e.do("GET", "/v1/admin/users?registered_from=yesterday", admin.AccessToken, nil), 400, "invalid_registered_from")
		e.wantErr(e.do("GET", "/v1/admin/users?blocked=maybe", admin.AccessToken, nil), 400, "invalid_blocked")
		e.wantErr(e.do("GET", "/v1/admin/users?q="+strings.Repeat("a", 101), admin.AccessToken, nil), 400, "invalid_query")

		var dialogs chat.AdminDialogPage
		e.want(e.do("GET", "/v1/admin/dialogs", admin.AccessToken, nil), 200).json(t, &dialogs)
		if len(dialogs.Dialogs) != 1 || dialogs.Dialogs[0].ID != dialogID || len(dialogs.Dialogs[0].Members) != 2 || dialogs.Dialogs[0].Messages != 1 {
			t.Fatalf("dialogs: %+v", dialogs)
		}
		var d chat.AdminDialog
		e.want(e.do("GET", "/v1/admin/dialogs/"+dialogID, admin.AccessToken, nil), 200).json(t, &d)
		if len(d.History) != 1 || d.History[0].Text != "Привет" {
			t.Fatalf("dialog view: %+v", d)
		}
		e.wantErr(e.do("GET", "/v1/admin/dialogs/999999", admin.AccessToken, nil), 404, "not_found")
		// The admin is not a member: the user API still says no.
		e.wantErr(e.do("GET", "/v1/dialogs/"+dialogID, admin.AccessToken, nil), 404, "not_found")

		var audit struct{ Entries []chat.AuditEntry }
		e.want(e.do("GET", "/v1/admin/audit?action=dialog.view", admin.AccessToken, nil), 200).json(t, &audit)
		if len(audit.Entries) != 1 || audit.Entries[0].TargetID != dialogID || chat.FormatID(audit.Entries[0].ActorID) != admin.User.ID {
			t.Fatalf("dialog views in the audit log: %+v", audit.Entries)
		}
	})
}

func TestAdminStats(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		anna, _, dialogID := e.pair()
		admin := e.staff("+79991230011", "333333", chat.RoleAdmin)
		for i := range 3 {
			e.want(e.do("POST", "/v1/dialogs/"+dialogID+"/messages", anna.AccessToken,
				map[string]any{"client_id": "m" + string(rune('0'+i)), "text": "hi"}), 201)
		}
		// A retried send is one message.
		e.want(e.do("POST", "/v1/dialogs/"+dialogID+"/messages", anna.AccessToken,
			map[string]any{"client_id": "m0", "text": "hi"}), 200)
		var st chat.Stats
		e.want(e.do("GET", "/v1/admin/stats?days=7", admin.AccessToken, nil), 200).json(t, &st)
		if st.Users.Total != 3 || st.Users.ByRole[chat.RoleAdmin] != 1 || st.Users.ByRole[chat.RoleUser] != 2 {
			t.Errorf("users: %+v", st.Users)
		}
		if len(st.Days) != 7 {
			t.Fatalf("days: %+v", st.Days)
		}
		today := st.Days[6]
		if today.Day != chat.DayString(chat.DayNumber(e.app.svc.Now())) || today.Messages != 3 || today.Actives != 3 {
			t.Errorf("today: %+v, want 3 messages and 3 actives", today)
		}
		e.wantErr(e.do("GET", "/v1/admin/stats?days=91", admin.AccessToken, nil), 400, "invalid_days")
	})
}

// adminAPI checks the admin routes' answers against the contract: a
// success and an error of each. user is a plain user in dialogID.
func (c *contract) adminAPI(admin, user tokens, dialogID string) {
	c.t.Helper()
	victim := c.login("+79991230005", "333333")
	v := "/v1/admin/users/" + victim.User.ID
	c.json("GET", "/v1/admin/users?q=%2B7999&role=user&blocked=false&registered_from=2020-01-01&limit=2", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/users?role=king", admin.AccessToken, nil, 400, "invalid_role")
	c.fail("GET", "/v1/admin/users", user.AccessToken, nil, 403, "forbidden")
	c.json("GET", v, admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/users/1", admin.AccessToken, nil, 404, "not_found")
	c.json("POST", v+"/block", admin.AccessToken, map[string]string{"reason": "spam"}, 200)
	c.fail("POST", "/v1/admin/users/"+admin.User.ID+"/block", admin.AccessToken, nil, 409, "own_account")
	c.json("POST", v+"/unblock", admin.AccessToken, nil, 200)
	c.fail("POST", v+"/unblock", admin.AccessToken, map[string]string{"why": "x"}, 400, "unknown_field")
	c.json("PUT", v+"/role", admin.AccessToken, map[string]string{"role": "operator"}, 200)
	c.fail("PUT", v+"/role", admin.AccessToken, map[string]string{"role": "king"}, 400, "invalid_role")
	c.json("GET", "/v1/admin/dialogs?limit=5", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/dialogs?cursor=x", admin.AccessToken, nil, 400, "invalid_cursor")
	c.json("GET", "/v1/admin/dialogs/"+dialogID+"?limit=10", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/dialogs/"+dialogID, user.AccessToken, nil, 403, "forbidden")
	c.json("GET", "/v1/admin/stats?days=3", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/stats?days=0", admin.AccessToken, nil, 400, "invalid_days")
	r := c.json("GET", "/v1/admin/audit?limit=2", admin.AccessToken, nil, 200)
	if next, _ := r.field(c.t, "next").(string); next != "" {
		c.json("GET", "/v1/admin/audit?before="+next+"&target_type=user", admin.AccessToken, nil, 200)
	}
	c.fail("GET", "/v1/admin/audit?actor=x", admin.AccessToken, nil, 400, "invalid_actor")
	r = c.json("POST", "/v1/admin/broadcasts", admin.AccessToken, map[string]any{"text": "Hello", "segment": map[string]any{"role": "admin"}}, 202)
	c.fail("POST", "/v1/admin/broadcasts", admin.AccessToken, map[string]any{"text": "Hello", "to": "all"}, 400, "unknown_field")
	c.json("GET", "/v1/admin/broadcasts/"+r.field(c.t, "id").(string), admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/broadcasts/1234", admin.AccessToken, nil, 404, "not_found")
	c.json("GET", "/v1/admin/broadcasts?limit=1", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/broadcasts?before=x", admin.AccessToken, nil, 400, "invalid_cursor")
	c.json("GET", "/v1/admin/screens", admin.AccessToken, nil, 200)
	c.fail("GET", "/v1/admin/screens", user.AccessToken, nil, 403, "forbidden")
	src := c.json("GET", "/v1/admin/screens/login", admin.AccessToken, nil, 200).field(c.t, "source").(string)
	c.fail("GET", "/v1/admin/screens/nope", admin.AccessToken, nil, 404, "unknown_screen")
	c.fail("POST", "/v1/admin/screens/login/rollback", admin.AccessToken, nil, 404, "no_version")
	c.req("PUT", "/v1/admin/screens/login", admin.AccessToken, "application/yaml", strings.Replace(src, "padding: xl", "padding: l", 1), nil, 200)
	r = c.req("PUT", "/v1/admin/screens/login", admin.AccessToken, "application/yaml", "screen: login\nroot: 7\n", nil, 400)
	if r.errCode(c.t) != "invalid_screen" {
		c.t.Errorf("a broken screen: %s", r.body)
	}
	c.json("POST", "/v1/admin/screens/login/rollback", admin.AccessToken, nil, 200)
	c.req("GET", "/admin", "", "", nil, nil, 301)
	c.req("GET", "/admin/", "", "", nil, nil, 200)
	c.req("GET", "/admin/admin.js", "", "", nil, nil, 200)
	c.req("HEAD", "/admin/admin.css", "", "", nil, nil, 200)
	c.req("GET", "/admin/nope.js", "", "", nil, nil, 404)
	c.req("HEAD", "/admin/nope.js", "", "", nil, nil, 404)
}

func TestAdminBroadcast(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		anna, boris, _ := e.pair()
		admin := e.staff("+79991230011", "333333", chat.RoleAdmin)
		sock := dial(t, e.url, boris.AccessToken)
		e.wantErr(e.do("POST", "/v1/admin/broadcasts", admin.AccessToken, map[string]any{"text": ""}), 400, "invalid_text")
		e.wantErr(e.do("POST", "/v1/admin/broadcasts", admin.AccessToken,
			map[string]any{"text": "x", "segment": map[string]any{"role": "king"}}), 400, "invalid_role")
		// A condition sent empty is refused, not read as absent (which
		// sent the broadcast to every user), and starts nothing.
		e.wantErr(e.do("POST", "/v1/admin/broadcasts", admin.AccessToken,
			map[string]any{"text": "x", "segment": map[string]any{"tag": ""}}), 400, "invalid_tags")
		e.wantErr(e.do("POST", "/v1/admin/broadcasts", admin.AccessToken,
			map[string]any{"text": "x", "segment": map[string]any{"role": ""}}), 400, "invalid_role")
		if n := len(e.want(e.do("GET", "/v1/admin/broadcasts", admin.AccessToken, nil), 200).field(t, "broadcasts").([]any)); n != 0 {
			t.Fatalf("refused segments started %d broadcasts", n)
		}
		var b chat.Broadcast
		e.want(e.do("POST", "/v1/admin/broadcasts", admin.AccessToken,
			map[string]any{"text": "Мы открылись!", "segment": map[string]any{"role": "user"}}), 202).json(t, &b)
		sock.waitFor("the broadcast on Boris's socket", func(f map[string]any) bool {
			return f["type"] == "message" && str(f, "message", "text") == "Мы открылись!"
		})
		deadline := time.Now().Add(20 * time.Second)
		for b.Status != chat.BroadcastDone && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			e.want(e.do("GET", "/v1/admin/broadcasts/"+chat.FormatID(b.ID), admin.AccessToken, nil), 200).json(t, &b)
		}
		if b.Status != chat.BroadcastDone || b.Sent != 2 {
			t.Fatalf("progress: %+v, want done with Anna and Boris", b)
		}
		// Anna's dialog list shows the business account's message.
		var page struct {
			Dialogs []struct {
				LastMessage struct{ Text string } `json:"last_message"`
			}
		}
		e.want(e.do("GET", "/v1/dialogs", anna.AccessToken, nil), 200).json(t, &page)
		found := 0
		for _, d := range page.Dialogs {
			if d.LastMessage.Text == "Мы открылись!" {
				found++
			}
		}
		if found != 1 {
			t.Fatalf("Anna's dialogs: %+v, want the broadcast once", page.Dialogs)
		}
		e.want(e.do("GET", "/v1/admin/broadcasts", admin.AccessToken, nil), 200)
		e.wantErr(e.do("GET", "/v1/admin/broadcasts/12345", admin.AccessToken, nil), 404, "not_found")
	})
}

func TestAdminScreens(t *testing.T) {
	nodePair(t, nil, func(t *testing.T, nodeA, nodeB *env) {
		admin := nodeA.staff("+79991230011", "333333", chat.RoleAdmin)
		etag := func(e *env) string {
			t.Helper()
			r := e.want(e.do("GET", "/v1/screens/login", "", nil), 200)
			return r.header.Get("ETag")
		}
		// Every node serves what the first says, within the deadline.
		converge := func(what, want string) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for etag(nodeB) != want {
				if time.Now().After(deadline) {
					t.Fatalf("%s: node B still serves %s, want %s", what, etag(nodeB), want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		before := etag(nodeA)
		var list struct{ Screens []struct{ Name string } }
		nodeA.want(nodeA.do("GET", "/v1/admin/screens", admin.AccessToken, nil), 200).json(t, &list)
		if len(list.Screens) < 5 {
			t.Fatalf("screens: %+v", list)
		}
		var src struct {
			Version int64
			Source  string
		}
		nodeA.want(nodeA.do("GET", "/v1/admin/screens/login", admin.AccessToken, nil), 200).json(t, &src)
		if src.Version != 0 || !strings.Contains(src.Source, "padding: xl") {
			t.Fatalf("login source: %+v", src)
		}

		// A broken screen changes nothing.
		broken := strings.Replace(src.Source, "type: input", "type: hologram", 1)
		r := nodeA.doType("PUT", "/v1/admin/screens/login", admin.AccessToken, "application/yaml", broken)
		nodeA.wantErr(r, 400, "invalid_screen")
		if !strings.Contains(string(r.body), "diagnostics") {
			t.Fatalf("no diagnostics: %s", r.body)
		}
		// Worded in the admin's language, like every error.
		ru := nodeA.doHeaders("PUT", "/v1/admin/screens/login", admin.AccessToken, "application/yaml", broken, map[string]string{"Accept-Language": "ru-RU,ru;q=0.9"})
		nodeA.wantErr(ru, 400, "invalid_screen")
		if !strings.Contains(string(ru.body), "Экран не прошёл проверку") || ru.header.Get("Content-Language") != "ru" || !strings.Contains(string(ru.body), "diagnostics") {
			t.Fatalf("a refused screen in Russian: %s %v", ru.body, ru.header)
		}
		if etag(nodeA) != before || etag(nodeB) != before {
			t.Fatal("a failed upload changed the live screen")
		}
		nodeA.wantErr(nodeA.doType("PUT", "/v1/admin/screens/nope", admin.AccessToken, "application/yaml", src.Source), 404, "unknown_screen")
		nodeA.wantErr(nodeA.doType("PUT", "/v1/admin/screens/login", admin.AccessToken, "image/png", src.Source), 415, "unsupported_media_type")
		nodeA.wantErr(nodeA.do("POST", "/v1/admin/screens/login/rollback", admin.AccessToken, nil), 404, "no_version")

		// A good one is live on every node.
		changed := strings.Replace(src.Source, "padding: xl", "padding: l", 1)
		var info struct{ Version int64 }
		nodeA.want(nodeA.doType("PUT", "/v1/admin/screens/login", admin.AccessToken, "application/yaml", changed), 200).json(t, &info)
		if info.Version == 0 {
			t.Fatal("no version")
		}
		after := etag(nodeA)
		if after == before {
			t.Fatal("the upload did not change the screen")
		}
		converge("upload", after)
		nodeB.want(nodeB.do("GET", "/v1/admin/screens/login", admin.AccessToken, nil), 200).json(t, &src)
		if src.Version != info.Version || !strings.Contains(src.Source, "padding: l\n") {
			t.Fatalf("node B's source: %+v", src)
		}

		// One call brings the previous version back everywhere.
		nodeB.want(nodeB.do("POST", "/v1/admin/screens/login/rollback", admin.AccessToken, nil), 200).json(t, &info)
		if info.Version != 0 || etag(nodeB) != before {
			t.Fatalf("rollback: %+v", info)
		}
		deadline := time.Now().Add(10 * time.Second)
		for etag(nodeA) != before {
			if time.Now().After(deadline) {
				t.Fatal("node A still serves the rolled-back version")
			}
			time.Sleep(20 * time.Millisecond)
		}
		var audit struct{ Entries []chat.AuditEntry }
		nodeA.want(nodeA.do("GET", "/v1/admin/audit?target_type=screen&target_id=login", admin.AccessToken, nil), 200).json(t, &audit)
		if len(audit.Entries) != 2 || audit.Entries[0].Action != "screen.rollback" || audit.Entries[1].Action != "screen.upload" {
			t.Fatalf("audit: %+v", audit.Entries)
		}
	})
}

// TestAdminBroadcastByTag: a broadcast to a content tag reaches the users
// who interacted with content carrying it (a dialog about a tagged news
// post, a submission of a tagged form), combined with the other
// conditions, and nobody else; a tag nothing carries is refused.
func TestAdminBroadcastByTag(t *testing.T) {
	backendsWith(t, map[string]string{"KOROBKA_BUSINESS_NAME": "Acme support"}, func(t *testing.T, e *env) {
		reader := e.loginTest("+79990000001", "111111") // discussed the launch post (seeded tag "app")
		buyer := e.loginTest("+79990000002", "222222")  // ordered a service (the form's seeded tag "orders")
		bystander := e.loginTest("+79991230020", "333333")
		admin := e.staff("+79991230011", "333333", chat.RoleAdmin)
		e.want(e.do("POST", "/v1/business/dialog", reader.AccessToken, map[string]any{"subject": "news:launch"}), 201)
		e.want(e.do("POST", "/v1/business/dialog", bystander.AccessToken, map[string]any{"subject": "news:video-tour"}), 201)
		e.want(e.do("POST", "/v1/forms/order_service", buyer.AccessToken,
			map[string]any{"service": "business", "name": "Борис", "phone": "+79161234567"}), 201)

		e.wantErr(e.do("POST", "/v1/admin/broadcasts", admin.AccessToken,
			map[string]any{"text": "x", "segment": map[string]any{"tag": "Not A Tag"}}), 400, "invalid_tags")
		e.wantErr(e.do("POST", "/v1/admin/broadcasts", admin.AccessToken,
			map[string]any{"text": "x", "segment": map[string]any{"tag": "nobody-has-it"}}), 400, "unknown_tag")

		// Tags are checked where they are defined.
		e.wantErr(e.do("PUT", "/v1/admin/collections/promos", admin.AccessToken,
			map[string]any{"schema": map[string]any{"type": "object"}, "tags": []string{"Sale!"}}), 400, "invalid_tags")
		e.wantErr(e.do("GET", "/v1/admin/collections/promos", admin.AccessToken, nil), 404, "no_collection")
		var col chat.Collection
		e.want(e.do("PUT", "/v1/admin/collections/promos", admin.AccessToken,
			map[string]any{"schema": map[string]any{"type": "object"}, "tags": []string{"sale", "spb", "sale"}}), 201).json(t, &col)
		if !slices.Equal(col.Tags, []string{"sale", "spb"}) {
			t.Fatalf("defined tags: %+v", col.Tags)
		}

		// An admin tags another post: its discussion joins the segment.
		e.want(e.do("PUT", "/v1/admin/collections/news/documents/video-tour", admin.AccessToken, map[string]any{
			"data": map[string]any{"id": "video-tour", "title": "A two-minute tour", "body": "Three steps.",
				"published_at": "2025-03-10T12:30:00Z", "tags": []string{"app", "video"}}}), 200)

		run := func(text string, seg map[string]any) chat.Broadcast {
			t.Helper()
			var b chat.Broadcast
			e.want(e.do("POST", "/v1/admin/broadcasts", admin.AccessToken, map[string]any{"text": text, "segment": seg}), 202).json(t, &b)
			deadline := time.Now().Add(20 * time.Second)
			for b.Status != chat.BroadcastDone && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				e.want(e.do("GET", "/v1/admin/broadcasts/"+chat.FormatID(b.ID), admin.AccessToken, nil), 200).json(t, &b)
			}
			if b.Status != chat.BroadcastDone {
				t.Fatalf("broadcast %q not done: %+v", text, b)
			}
			return b
		}
		got := func(who tokens, text string) bool {
			t.Helper()
			var page struct {
				Dialogs []struct {
					LastMessage *struct{ Text string } `json:"last_message"`
				}
			}
			e.want(e.do("GET", "/v1/dialogs", who.AccessToken, nil), 200).json(t, &page)
			for _, d := range page.Dialogs {
				if d.LastMessage != nil && d.LastMessage.Text == text {
					return true
				}
			}
			return false
		}

		b := run("Новая версия приложения", map[string]any{"tag": "app", "subjects": []string{"news:nothing"}})
		if b.Sent != 2 || b.Segment.Tag != "app" || !slices.Equal(b.Segment.Subjects, []string{"news:launch", "news:video-tour"}) || len(b.Segment.Forms) != 0 {
			t.Fatalf("by tag app: %+v", b)
		}
		if !got(reader, "Новая версия приложения") || !got(bystander, "Новая версия приложения") || got(buyer, "Новая версия приложения") {
			t.Fatal("the app broadcast reached the wrong people")
		}
		b = run("Скидка на повторный заказ", map[string]any{"tag": "orders"})
		if b.Sent != 1 || !slices.Equal(b.Segment.Forms, []string{"order_service"}) || !got(buyer, "Скидка на повторный заказ") || got(reader, "Скидка на повторный заказ") {
			t.Fatalf("by tag orders: %+v", b)
		}
		// Combined with the other conditions: nobody with the tag is an
		// operator.
		if b := run("Только операторам", map[string]any{"tag": "app", "role": "operator"}); b.Sent != 0 {
			t.Fatalf("tag and role: %+v", b)
		}
	})
}
