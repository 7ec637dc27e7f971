package main

import (
	"fmt"
	"testing"

	"github.com/korobka/korobka/chat/chattest"
)

// TestTwoNodes runs two korobka nodes on one MariaDB and one Redis, as
// behind a load balancer: what is sent on node A reaches a device on node
// B, receipts flow back, and a device resumes on the other node.
func TestTwoNodes(t *testing.T) {
	vars := map[string]string{
		"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
		"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
		"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
	}
	nodeA, nodeB := newEnv(t, vars), newEnv(t, vars)
	anna, boris, id := nodeA.pair()
	nodeA.befriend(anna, boris)

	onA := dial(t, nodeA.url, anna.AccessToken)
	onB := dial(t, nodeB.url, boris.AccessToken)
	onA.waitFor("boris online, seen across nodes", func(f map[string]any) bool {
		return f["type"] == "presence" && f["user_id"] == boris.User.ID && f["online"] == true
	})

	for i := 1; i <= 20; i++ {
		onA.send(map[string]any{"type": "send", "id": fmt.Sprint(i), "dialog_id": id, "client_id": fmt.Sprint("n-", i), "text": fmt.Sprint("from A ", i)})
	}
	for i := 1; i <= 20; i++ {
		r := onA.waitFor("reply", replyTo(fmt.Sprint(i)))
		if str(r, "message", "seq") != fmt.Sprint(i) {
			t.Fatalf("reply %d: got %v, want seq %d", i, r, i)
		}
		f := onB.waitFor("message on node B", messageWith(fmt.Sprint("n-", i)))
		if str(f, "message", "seq") != fmt.Sprint(i) {
			t.Fatalf("got %v on B, want seq %d", f, i)
		}
	}
	onB.send(map[string]any{"type": "read", "dialog_id": id, "seq": 20})
	onA.waitFor("read receipt from node B", func(f map[string]any) bool {
		return f["type"] == "status" && f["user_id"] == boris.User.ID && f["read_seq"] == float64(20)
	})
	// Boris answers through node B's REST API while his socket is there;
	// both nodes write the same dialog and seqs stay gapless.
	for i := 21; i <= 25; i++ {
		nodeB.want(nodeB.do("POST", "/v1/dialogs/"+id+"/messages", boris.AccessToken,
			map[string]any{"client_id": fmt.Sprint("b-", i), "text": "from B"}), 201)
		onA.waitFor("B's message on node A", messageWith(fmt.Sprint("b-", i)))
	}

	// Boris drops off node B, Anna keeps writing on A, Boris resumes on A.
	onB.close()
	for i := 26; i <= 30; i++ {
		onA.send(map[string]any{"type": "send", "id": fmt.Sprint(i), "dialog_id": id, "client_id": fmt.Sprint("n-", i), "text": "while away"})
		onA.waitFor("reply", replyTo(fmt.Sprint(i)))
	}
	back := dial(t, nodeA.url, boris.AccessToken)
	back.send(map[string]any{"type": "sync", "id": "s", "dialogs": map[string]any{id: 25}})
	for i := 26; i <= 30; i++ {
		back.waitFor("replayed message", messageWith(fmt.Sprint("n-", i)))
	}
	if r := back.waitFor("sync reply", replyTo("s")); str(r, "synced", id) != "30" {
		t.Fatalf("got %v, want synced to 30", r)
	}
	back.none("duplicate", typed("message"))

	// Logging out on node A closes Boris's socket on node B.
	onB2 := dial(t, nodeB.url, boris.AccessToken)
	nodeA.want(nodeA.do("POST", "/v1/auth/logout", boris.AccessToken, nil), 204)
	onB2.waitClosed()
}
