package main

import (
	"fmt"
	"strings"
)

// groups exercises the group routes for the contract test: a group of a,
// b and cc with a photo, its members, a rename, a role, a message and its
// readers, a removal and a leave, each with its typical errors.
func (c *contract) groups(a, b, cc tokens) {
	t := c.t
	t.Helper()
	outsider := c.login("+79991230005", "333333")
	ct, form := multipartFile("file", "group.png", pngBytes(t, 64, 64))
	photo := c.req("POST", "/v1/uploads", a.AccessToken, ct, form, nil, 201).field(t, "id").(string)
	g := c.json("POST", "/v1/dialogs", a.AccessToken, map[string]any{"kind": "group", "title": "Клуб",
		"member_ids": []string{b.User.ID, cc.User.ID}, "avatar_upload_id": photo}, 201)
	id := g.field(t, "id").(string)
	if u, _ := g.field(t, "avatar_url").(string); u == "" {
		t.Errorf("group without its photo: %s", g.body)
	} else {
		c.req("GET", u, "", "", nil, nil, 200)
	}
	c.fail("POST", "/v1/dialogs", a.AccessToken, map[string]any{"kind": "group", "title": "\u200b"}, 400, "invalid_title")
	c.fail("POST", "/v1/dialogs", a.AccessToken, map[string]any{"kind": "group", "title": "x", "member_ids": []string{"1"}}, 400, "unknown_user")
	c.fail("POST", "/v1/dialogs", a.AccessToken, map[string]any{"kind": "channel", "title": "x"}, 400, "invalid_kind")
	c.fail("POST", "/v1/dialogs", a.AccessToken, map[string]any{"kind": "group", "title": "x", "avatar_upload_id": "1"}, 400, "invalid_avatar")

	base := "/v1/dialogs/" + id
	c.json("GET", base, cc.AccessToken, nil, 200)
	c.json("GET", base+"/members?limit=2", b.AccessToken, nil, 200)
	c.fail("GET", base+"/members?cursor=x", b.AccessToken, nil, 400, "invalid_cursor")
	c.json("PATCH", base, a.AccessToken, map[string]any{"title": "Книжный клуб", "history_visible": false}, 200)
	c.fail("PATCH", base, b.AccessToken, map[string]any{"title": "Мой клуб"}, 403, "not_permitted")
	c.fail("PATCH", base, a.AccessToken, map[string]any{"title": " "}, 400, "invalid_title")
	c.req("PUT", base+"/members/"+b.User.ID+"/role", a.AccessToken, "", map[string]any{"role": "admin"}, nil, 204)
	c.fail("PUT", base+"/members/"+cc.User.ID+"/role", b.AccessToken, map[string]any{"role": "admin"}, 403, "not_permitted")
	c.fail("PUT", base+"/members/"+cc.User.ID+"/role", a.AccessToken, map[string]any{"role": "owner"}, 400, "invalid_role")

	m := c.json("POST", base+"/messages", cc.AccessToken, map[string]any{"client_id": "g-1", "text": "всем привет"}, 201)
	seq := fmt.Sprint(m.field(t, "seq"))
	c.json("POST", base+"/messages", a.AccessToken, map[string]any{"client_id": "g-r", "text": "@Вера да", "reply_to": m.field(t, "seq"),
		"entities": []map[string]any{{"type": "mention", "offset": 0, "length": 5, "user_id": cc.User.ID}}}, 201)
	c.fail("POST", base+"/messages", a.AccessToken, map[string]any{"client_id": "g-r2", "text": "x", "reply_to": 999}, 400, "invalid_reply")
	c.fail("POST", base+"/messages", a.AccessToken, map[string]any{"client_id": "g-r3", "text": "x",
		"entities": []map[string]any{{"type": "mention", "offset": 0, "length": 1, "user_id": cc.User.ID}}}, 400, "invalid_entities")
	c.json("POST", base+"/read", b.AccessToken, map[string]any{"seq": m.field(t, "seq")}, 200)
	readers := c.json("GET", base+"/messages/"+seq+"/readers", cc.AccessToken, nil, 200)
	// Boris read it, and Anna's answer implies she did.
	if list, _ := readers.field(t, "members").([]any); len(list) != 2 {
		t.Errorf("readers: %s, want two", readers.body)
	}
	c.fail("GET", base+"/messages/999/readers", cc.AccessToken, nil, 404, "not_found")
	c.fail("GET", base+"/messages/"+seq+"/readers?limit=0", cc.AccessToken, nil, 400, "invalid_limit")
	c.json("GET", base+"/messages", a.AccessToken, nil, 200)
	// Pins: admins and the owner; the dialog carries the message.
	c.fail("PUT", base+"/pin", cc.AccessToken, map[string]any{"seq": m.field(t, "seq")}, 403, "not_permitted")
	c.fail("PUT", base+"/pin", a.AccessToken, map[string]any{"seq": 1}, 400, "cannot_pin")
	c.fail("PUT", base+"/pin", a.AccessToken, map[string]any{}, 400, "invalid_seq")
	c.fail("PUT", base+"/pin", outsider.AccessToken, map[string]any{"seq": m.field(t, "seq")}, 404, "not_found")
	pinned := c.json("PUT", base+"/pin", b.AccessToken, map[string]any{"seq": m.field(t, "seq")}, 200)
	if pinned.field(t, "pinned", "text") != "всем привет" {
		t.Errorf("pinned dialog: %.400s", pinned.body)
	}
	pc := c.req("GET", "/v1/screens/group_chat?dialog_id="+id, cc.AccessToken, "", nil, map[string]string{"Accept-Language": "ru"}, 200)
	if !strings.Contains(string(pc.body), "закрепляет сообщение «всем привет»") || !strings.Contains(string(pc.body), "Закреплённое сообщение") {
		t.Errorf("group_chat without the pin: %.400s", pc.body)
	}
	c.fail("DELETE", base+"/pin", cc.AccessToken, nil, 403, "not_permitted")
	c.json("DELETE", base+"/pin", a.AccessToken, nil, 200)
	// The group screens render for members, with the system messages.
	gc := c.req("GET", "/v1/screens/group_chat?dialog_id="+id, b.AccessToken, "", nil, map[string]string{"Accept-Language": "ru"}, 200)
	if !strings.Contains(string(gc.body), "создаёт группу «Клуб»") {
		t.Errorf("group_chat without its system messages: %.400s", gc.body)
	}
	c.req("GET", "/v1/screens/group_info?dialog_id="+id, a.AccessToken, "", nil, nil, 200)
	c.req("GET", "/v1/screens/new_group", a.AccessToken, "", nil, nil, 200)
	c.fail("GET", "/v1/screens/group_info?dialog_id="+id, outsider.AccessToken, nil, 404, "not_found")

	c.fail("DELETE", base+"/members/"+a.User.ID, b.AccessToken, nil, 403, "cannot_remove_owner")
	c.fail("POST", base+"/members", b.AccessToken, map[string]any{"user_ids": []string{cc.User.ID}}, 409, "already_member")
	c.req("DELETE", base+"/members/"+cc.User.ID, b.AccessToken, "", nil, nil, 204)
	c.fail("DELETE", base+"/members/"+cc.User.ID, b.AccessToken, nil, 404, "not_a_member")
	c.fail("POST", base+"/messages", cc.AccessToken, map[string]any{"client_id": "g-2", "text": "я тут?"}, 404, "not_found")
	c.json("POST", base+"/members", b.AccessToken, map[string]any{"user_ids": []string{cc.User.ID}}, 200)
	c.fail("POST", base+"/members", b.AccessToken, map[string]any{"user_ids": []string{"x"}}, 400, "invalid_members")
	c.req("POST", base+"/leave", a.AccessToken, "", nil, nil, 204)
	c.fail("POST", base+"/leave", a.AccessToken, nil, 404, "not_found")
	members := c.json("GET", base+"/members", b.AccessToken, nil, 200)
	if list, _ := members.field(t, "members").([]any); len(list) != 2 {
		t.Errorf("members after a leave: %s, want 2", members.body)
	}
}
