package chattest

import (
	"context"
	"testing"

	"github.com/korobka/korobka/chat"
)

// TestPresence checks that a chat.Presence reports transitions as the
// gateway relies on: online on the first node's Connect, offline only after
// the last node's Disconnect, and Online answering for many users at once.
//
// newNodes returns two nodes' Presences over one fresh, empty backend for a
// subtest. An in-process implementation, shared by every gateway of its
// process, returns the same value twice. Expiry of a dead node's entries is
// implementation-specific and tested beside the implementation.
func TestPresence(t *testing.T, newNodes func(t *testing.T) (a, b chat.Presence)) {
	t.Helper()

	t.Run("OneNode", func(t *testing.T) {
		a, _ := newNodes(t)
		wantOnline(t, a, map[int64]bool{1: false})
		if came := connect(t, a, 1); !came {
			t.Fatal("first Connect: got cameOnline false, want true")
		}
		wantOnline(t, a, map[int64]bool{1: true, 2: false})
		if went := disconnect(t, a, 1); !went {
			t.Fatal("last Disconnect: got wentOffline false, want true")
		}
		wantOnline(t, a, map[int64]bool{1: false, 2: false})
		// Back again: a new transition.
		if came := connect(t, a, 1); !came {
			t.Fatal("Connect after going offline: got cameOnline false, want true")
		}
	})

	t.Run("TwoNodes", func(t *testing.T) {
		a, b := newNodes(t)
		if came := connect(t, a, 7); !came {
			t.Fatal("Connect on A: got cameOnline false, want true")
		}
		if came := connect(t, b, 7); came {
			t.Fatal("Connect on B while online on A: got cameOnline true, want false")
		}
		if went := disconnect(t, a, 7); went {
			t.Fatal("Disconnect from A while on B: got wentOffline true, want false")
		}
		wantOnline(t, a, map[int64]bool{7: true})
		wantOnline(t, b, map[int64]bool{7: true})
		if went := disconnect(t, b, 7); !went {
			t.Fatal("Disconnect from B, the last node: got wentOffline false, want true")
		}
		wantOnline(t, a, map[int64]bool{7: false})
		wantOnline(t, b, map[int64]bool{7: false})
	})

	t.Run("UsersIndependent", func(t *testing.T) {
		a, b := newNodes(t)
		want := make(map[int64]bool)
		var ids []int64
		for id := int64(1); id <= 200; id++ {
			ids = append(ids, id)
			want[id] = id%3 != 0
			if !want[id] {
				continue
			}
			node := a
			if id%2 == 0 {
				node = b
			}
			if came := connect(t, node, id); !came {
				t.Fatalf("Connect(%d): got cameOnline false, want true", id)
			}
		}
		wantOnline(t, a, want)
		got, err := a.Online(t.Context(), nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("Online(nil): got (%v, %v), want (empty, nil)", got, err)
		}
	})

	t.Run("DisconnectUnknown", func(t *testing.T) {
		a, b := newNodes(t)
		if went := disconnect(t, a, 3); went {
			t.Fatal("Disconnect of a user never connected: got wentOffline true, want false")
		}
		if came := connect(t, b, 3); !came {
			t.Fatal("Connect after a stray Disconnect: got cameOnline false, want true")
		}
		wantOnline(t, a, map[int64]bool{3: true})
	})

	t.Run("CancelledContext", func(t *testing.T) {
		a, _ := newNodes(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := a.Connect(ctx, 1); err == nil {
			t.Error("Connect with a cancelled context: got nil error, want one")
		}
		if _, err := a.Online(ctx, []int64{1}); err == nil {
			t.Error("Online with a cancelled context: got nil error, want one")
		}
	})
}

func connect(t *testing.T, p chat.Presence, userID int64) bool {
	t.Helper()
	came, err := p.Connect(t.Context(), userID)
	if err != nil {
		t.Fatalf("Connect(%d): %v", userID, err)
	}
	return came
}

func disconnect(t *testing.T, p chat.Presence, userID int64) bool {
	t.Helper()
	went, err := p.Disconnect(t.Context(), userID)
	if err != nil {
		t.Fatalf("Disconnect(%d): %v", userID, err)
	}
	return went
}

// wantOnline checks Online for exactly the users in want.
func wantOnline(t *testing.T, p chat.Presence, want map[int64]bool) {
	t.Helper()
	ids := make([]int64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	got, err := p.Online(t.Context(), ids)
	if err != nil {
		t.Fatalf("Online(%v): %v", ids, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Online(%v): got %d answers, want %d", ids, len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Fatalf("Online: user %d got %v, want %v", id, got[id], w)
		}
	}
}
