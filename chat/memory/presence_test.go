package memory

import (
	"testing"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
)

func TestPresence(t *testing.T) {
	// One Presence serves every gateway of the process: both "nodes" are it.
	chattest.TestPresence(t, func(t *testing.T) (chat.Presence, chat.Presence) {
		p := NewPresence()
		return p, p
	})
}
