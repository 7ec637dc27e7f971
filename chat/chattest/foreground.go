package chattest

import (
	"context"
	"testing"

	"github.com/korobka/korobka/chat"
)

// TestForeground checks that a chat.Foreground keeps foreground state per
// connection and shares it between nodes: a user is in the foreground
// while any of their connections, on any node, last said so; a connection
// that never said so is in the background.
//
// newNodes returns two nodes' Foregrounds over one fresh backend (an
// in-process implementation returns the same value twice).
func TestForeground(t *testing.T, newNodes func(t *testing.T) (a, b chat.Foreground)) {
	t.Helper()
	t.Run("BackgroundUntilSaid", func(t *testing.T) {
		a, _ := newNodes(t)
		wantForeground(t, a, map[int64]bool{1: false, 2: false})
		setForeground(t, a, 1, 10, true)
		wantForeground(t, a, map[int64]bool{1: true, 2: false})
		setForeground(t, a, 1, 10, false)
		wantForeground(t, a, map[int64]bool{1: false, 2: false})
	})
	t.Run("PerConnection", func(t *testing.T) {
		a, _ := newNodes(t)
		setForeground(t, a, 1, 10, true)
		setForeground(t, a, 1, 11, true)
		setForeground(t, a, 1, 12, false) // a background connection changes nothing
		setForeground(t, a, 1, 10, false)
		wantForeground(t, a, map[int64]bool{1: true})
		setForeground(t, a, 1, 11, false)
		wantForeground(t, a, map[int64]bool{1: false})
	})
	t.Run("AcrossNodes", func(t *testing.T) {
		a, b := newNodes(t)
		// Background on A, foreground on B: the user is in the foreground.
		setForeground(t, a, 7, 70, false)
		setForeground(t, b, 7, 71, true)
		wantForeground(t, a, map[int64]bool{7: true})
		wantForeground(t, b, map[int64]bool{7: true})
		setForeground(t, b, 7, 71, false)
		wantForeground(t, a, map[int64]bool{7: false})
	})
	t.Run("Idempotent", func(t *testing.T) {
		a, _ := newNodes(t)
		setForeground(t, a, 3, 30, true)
		setForeground(t, a, 3, 30, true)
		setForeground(t, a, 3, 30, false)
		wantForeground(t, a, map[int64]bool{3: false})
		setForeground(t, a, 3, 30, false)
		wantForeground(t, a, map[int64]bool{3: false})
	})
	t.Run("Empty", func(t *testing.T) {
		a, _ := newNodes(t)
		got, err := a.Foreground(t.Context(), nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("Foreground(nil): got (%v, %v), want (empty, nil)", got, err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		a, _ := newNodes(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := a.SetForeground(ctx, 1, 1, true); err == nil {
			t.Error("SetForeground with a cancelled context: got nil error, want one")
		}
		if _, err := a.Foreground(ctx, []int64{1}); err == nil {
			t.Error("Foreground with a cancelled context: got nil error, want one")
		}
	})
}

func setForeground(t *testing.T, f chat.Foreground, userID, connID int64, fg bool) {
	t.Helper()
	if err := f.SetForeground(t.Context(), userID, connID, fg); err != nil {
		t.Fatalf("SetForeground(%d, %d, %v): %v", userID, connID, fg, err)
	}
}

func wantForeground(t *testing.T, f chat.Foreground, want map[int64]bool) {
	t.Helper()
	ids := make([]int64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	got, err := f.Foreground(t.Context(), ids)
	if err != nil {
		t.Fatalf("Foreground(%v): %v", ids, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Foreground(%v): got %d answers, want %d", ids, len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Fatalf("Foreground: user %d got %v, want %v", id, got[id], w)
		}
	}
}
